"""Every beat entry names a task the worker knows (a typo would fail silently at 3 a.m.)."""

from django.conf import settings

from portal.celery import app


def test_every_beat_entry_is_a_registered_task():
    app.loader.import_default_modules()
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert names <= set(app.tasks), names - set(app.tasks)
    assert {"beneficiaries.purge_import_uploads", "disbursements.vouchers_expire"} <= names
