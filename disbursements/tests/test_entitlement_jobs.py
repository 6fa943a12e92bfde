"""The thin callers: the CLI, the Celery task and its Job, the nightly beat task, and
the recompute after an import (beneficiaries.signals.import_finished)."""

import json
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from accounts.choices import JobKind
from accounts.models import Job
from beneficiaries.models import Registration
from beneficiaries.signals import import_finished
from disbursements.models import Entitlement
from disbursements.tasks import compute_start, recompute_nightly_task
from programs.demo import demo_programme as programme
from tests.factories import reg

pytestmark = pytest.mark.django_db


def test_cli_json_output():
    p = programme()
    reg(p, "130723", "130723", category="hardship")
    reg(p, "130723", "130723", category="hardship")
    reg(p, "131102", "410102", duty_days=2)
    out = StringIO()
    call_command("compute_entitlements", "--programme", "HEBEI-2021", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["programme"] == "HEBEI-2021"
    assert data["count"] == 4 and data["amount"] == "1200.00"
    by_name = {r["name"]: r for r in data["rules"]}
    kangbao = by_name["康保县困难群众春节慰问金"]
    assert kangbao == {
        "rule": p.rules.get(rule_key="KANGBAO-RELIEF").pk,
        "name": "康保县困难群众春节慰问金",
        "region": "130723",
        "count": 2,
        "amount": "600.00",
        "refused": 0,
        "refused_amount": "0.00",
    }
    # One district only; a second run prints the same totals.
    out = StringIO()
    call_command("compute_entitlements", "--programme", "HEBEI-2021", "--district", "131102", "--json", stdout=out)
    assert json.loads(out.getvalue())["amount"] == "600.00"


def test_cli_unknown_programme():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="找不到项目"):
        call_command("compute_entitlements", "--programme", "NOPE")


def test_a_second_start_returns_the_queued_job(province_staff):
    p = programme()
    first = compute_start(programme=p, acting_user=province_staff)  # on_commit never fires in this test
    assert compute_start(programme=p, acting_user=province_staff).pk == first.pk
    assert Job.objects.filter(kind=JobKind.COMPUTE).count() == 1


def test_import_finished_recomputes_that_district(django_capture_on_commit_callbacks):
    p = programme()
    r = reg(p, "130903", "410102")
    with django_capture_on_commit_callbacks(execute=True):
        import_finished.send(sender=Registration, programme_id=p.pk, district_code="130903", job_id=None)
    job = Job.objects.get(kind=JobKind.COMPUTE)
    assert job.state == "done" and job.params["district"] == "130903"
    assert Entitlement.objects.get(registration=r).amount == 500


def test_nightly_task_forces_every_active_programme(django_capture_on_commit_callbacks):
    p = programme()
    reg(p, "130110", "410102")
    with django_capture_on_commit_callbacks(execute=True):
        ids = recompute_nightly_task()
    job = Job.objects.get(pk=ids[0])
    assert job.params["force"] is True and job.state == "done" and job.result["amount"] == "500.00"
    assert "entitlements-recompute-nightly" in settings.CELERY_BEAT_SCHEDULE


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the fan-out is for PostgreSQL with a real broker",
)
def test_fanout_one_task_per_district_closes_the_job_once(settings, monkeypatch, django_capture_on_commit_callbacks):
    """With a real broker the run is split by district; here the subtasks are collected
    and run by hand, one of them twice (a redelivery), in a different order."""
    from disbursements import tasks

    p = programme()
    reg(p, "130110", "410102")
    reg(p, "130903", "410102")
    reg(p, "130723", "130723", category="hardship")
    job = compute_start(programme=p)
    sent = []
    monkeypatch.setattr(tasks.compute_district_task, "apply_async", lambda args, queue=None: sent.append(tuple(args)))
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with django_capture_on_commit_callbacks(execute=True):
        tasks.compute_entitlements_task(job.pk)
    job.refresh_from_db()
    assert (
        job.state == "running"
        and job.progress_total == 3
        and sorted(c for _, c in sent)
        == [
            "130110",
            "130723",
            "130903",
        ]
    )
    for job_id, code in reversed(sent):
        tasks.compute_district_task(job_id, code)
        job.refresh_from_db()
        assert job.progress_done == len(job.result.get("done", job.result.get("districts", {})))
    tasks.compute_district_task(*sent[0])  # redelivered after the end: nothing changes
    job.refresh_from_db()
    assert job.state == "done" and job.progress_done == 3
    assert job.result["amount"] == "1300.00" and set(job.result["districts"]) == {"130110", "130723", "130903"}
    assert Entitlement.objects.filter(programme=p, status="granted").count() == 3


def test_a_stuck_job_does_not_block_a_new_one(province_staff, settings):
    from datetime import timedelta

    from django.utils import timezone

    p = programme()
    stuck = compute_start(programme=p, acting_user=province_staff)
    dead = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
    Job.objects.filter(pk=stuck.pk).update(state="running", heartbeat_at=dead, attempts=1)
    # A dead job with attempts left is brought back (re-queued), not returned as if alive.
    again = compute_start(programme=p, acting_user=province_staff)
    assert again.pk == stuck.pk and again.state == "queued" and "重新排队" in again.message
    # Out of attempts: it fails with a message for its owner, and a new job replaces it.
    Job.objects.filter(pk=stuck.pk).update(state="running", heartbeat_at=dead, attempts=settings.JOB_MAX_ATTEMPTS)
    fresh = compute_start(programme=p, acting_user=province_staff)
    assert fresh.pk != stuck.pk and fresh.state == "queued"
    stuck.refresh_from_db()
    assert stuck.state == "failed" and "已停止自动重试" in stuck.message
