"""A real Celery worker on the real Redis takes a job from queued to done, with its
progress advancing on the way."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.choices import JobKind, JobState
from accounts.models import Job
from accounts.services.jobs import job_create
from accounts.tasks import self_check

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def celery_worker_process(transactional_db):
    """`celery -A portal worker` as a separate process, on the test database and on a
    queue of its own, so that it can only take this test's tasks."""
    queue = f"test-{os.getpid()}-{time.time_ns()}"
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.test_settings",
        "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST']}:{db['PORT']}/{connection.settings_dict['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_EAGER": "false",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-Q",
            queue,
            "-c",
            "1",
            "--pool",
            "solo",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    previous = self_check.app.conf.task_always_eager
    self_check.app.conf.task_always_eager = False
    try:
        yield queue
    finally:
        self_check.app.conf.task_always_eager = previous
        proc.terminate()
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        if os.environ.get("SHOW_WORKER_LOG"):
            print(output)


@pytest.mark.worker
def test_real_worker_runs_a_job_with_progress(celery_worker_process):
    job = job_create(kind=JobKind.DEMO, requested_by=None, params={"steps": 4, "delay": 0.7})
    assert job.state == JobState.QUEUED
    self_check.apply_async(args=[job.pk], queue=celery_worker_process)

    seen_progress = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state == JobState.RUNNING:
            seen_progress.add(job.progress_done)
        if job.finished:
            break
        time.sleep(0.2)
    assert job.state == JobState.DONE, job.message
    assert job.progress_done == job.progress_total == 4
    assert job.result["steps"] == 4
    # Progress was seen advancing through intermediate values, not jumping to the end.
    assert len(seen_progress & {0, 1, 2, 3}) >= 2, seen_progress
    assert job.started_at and job.finished_at and job.attempts == 1


@pytest.mark.django_db
def test_a_job_delivered_twice_runs_once():
    job = job_create(kind=JobKind.DEMO, requested_by=None, params={"steps": 1, "delay": 0})
    self_check.run(job.pk)
    self_check.run(job.pk)  # a redelivery finds the row done and does nothing
    job.refresh_from_db()
    assert job.state == JobState.DONE and job.attempts == 1


@pytest.mark.django_db
def test_a_stale_running_job_can_be_claimed_again():
    from django.utils import timezone

    from accounts.services.jobs import job_claim

    job = job_create(kind=JobKind.DEMO, requested_by=None)
    assert job_claim(job.pk) is not None
    assert job_claim(job.pk) is None  # running, heartbeat fresh: nobody else takes it
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timezone.timedelta(hours=1))
    assert job_claim(job.pk) is not None  # its worker died: it may be taken again
