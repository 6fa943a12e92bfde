"""Two real Celery workers on the real Redis share one computation, district by district."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.choices import JobKind, JobState
from accounts.services.jobs import job_create
from disbursements.models import Entitlement
from disbursements.tasks import compute_entitlements_task
from programs.demo import demo_programme as programme
from tests.factories import reg

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def regions_back_after_flush(django_db_blocker):
    """The transactional test ends with a flush that empties the region tree too."""
    yield
    from regions.services import regions_load

    with django_db_blocker.unblock():
        regions_load()


def start_worker(queue: str) -> subprocess.Popen:
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.test_settings",
        "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{connection.settings_dict['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_EAGER": "false",
    }
    cmd = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", queue, "-c", "1", "--pool", "solo"]
    return subprocess.Popen(
        [*cmd, "-l", "warning", "-n", f"w{time.time_ns()}@%h"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            return proc.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.communicate()[0]


@pytest.mark.worker
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL and Redis only")
def test_two_workers_share_a_run_by_district(regions_back_after_flush, transactional_db):
    from regions.models import Region
    from regions.services import regions_load

    if not Region.objects.filter(code="130110").exists():
        regions_load()
    p = programme()
    districts = ["130110", "130172", "130903", "130921", "131102", "130723"]
    for code in districts:
        for _ in range(5):
            reg(p, code, "130723" if code == "130723" else "410102", category="hardship")
    queue = f"test-compute-{os.getpid()}-{time.time_ns()}"
    workers = [start_worker(queue), start_worker(queue)]
    try:
        job = job_create(kind=JobKind.COMPUTE, requested_by=None, params={"programme_id": p.pk, "district": None})
        from portal.celery import app

        eager, app.conf.task_always_eager = app.conf.task_always_eager, False  # really send it
        try:
            compute_entitlements_task.apply_async(args=[job.pk], queue=queue)
        finally:
            app.conf.task_always_eager = eager
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.state in (JobState.DONE, JobState.FAILED):
                break
            time.sleep(0.5)
    finally:
        logs = [stop(w) for w in workers]
    assert job.state == JobState.DONE, (job.message, logs)
    assert (job.progress_done, job.progress_total) == (6, 6)
    assert set(job.result["districts"]) == set(districts)
    # 鹿泉 needs ownership and a full stay (defaults qualify); 5 × (500 + 800 + 500 + 500 + 500 + 300)
    assert job.result["amount"] == "15500.00"
    assert Entitlement.objects.filter(programme=p, status="granted").count() == 30
    assert all(d["worker"] for d in job.result["districts"].values())  # fanned out: one task per district
    print("workers that took part:", sorted({d["worker"] for d in job.result["districts"].values()}))
