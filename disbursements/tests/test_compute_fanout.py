"""A fanned-out computation whose districts wait in a busy compute queue (behind another
programme's districts) longer than JOB_STALE_SECONDS: the sweep puts the parent back in
the queue, its districts still count when they run, and the parent's own message, behind
them, closes the job without sending a district twice or failing it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Job
from accounts.services.job_recovery import jobs_sweep
from disbursements.models import Entitlement
from disbursements.tasks import compute_start
from programs.demo import demo_programme as programme
from tests.factories import reg

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the fan-out is for PostgreSQL with a real broker"),
]


def test_districts_waiting_in_a_busy_queue_still_count_after_the_sweep(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    from disbursements import tasks

    p = programme()
    reg(p, "130110", "410102")
    reg(p, "130903", "410102")
    reg(p, "130723", "130723", category="hardship")
    sent, parents = [], []
    monkeypatch.setattr(tasks.compute_district_task, "apply_async", lambda args, queue=None: sent.append(tuple(args)))
    monkeypatch.setattr(tasks.compute_entitlements_task, "delay", lambda job_id: parents.append(job_id))
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with django_capture_on_commit_callbacks(execute=True):
        job = compute_start(programme=p)
    assert parents == [job.pk]
    with django_capture_on_commit_callbacks(execute=True):
        tasks.compute_entitlements_task(job.pk)  # the parent claims and fans out
    assert sorted(code for _, code in sent) == ["130110", "130723", "130903"]

    # None of its districts has started (the workers are busy elsewhere): no heartbeat.
    Job.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS + 5)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep() == [job.pk]
    job.refresh_from_db()
    assert job.state == "queued" and parents == [job.pk, job.pk]

    # The districts reach a worker first (they were queued before the parent's new message).
    for job_id, code in sent:
        tasks.compute_district_task(job_id, code)
    job.refresh_from_db()
    assert job.state == "queued" and sorted(job.result["done"]) == ["130110", "130723", "130903"]

    # Then the parent's message: nothing left to send, the job closes.
    with django_capture_on_commit_callbacks(execute=True):
        tasks.compute_entitlements_task(job.pk)
    job.refresh_from_db()
    assert len(sent) == 3  # no district sent twice
    assert job.state == "done" and job.attempts == 2 and job.progress_done == 3
    assert job.result["amount"] == "1300.00"
    assert Entitlement.objects.filter(programme=p, status="granted").count() == 3
