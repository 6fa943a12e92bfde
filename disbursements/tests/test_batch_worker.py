"""Kill-and-resume with a real Celery worker on the real Redis, and concurrent builds.

The worker is `celery -A portal worker` in a process group of its own, on the test
database. It is killed with SIGKILL while a build is half done (inside its one
transaction, which the worker's JOB_TEST_SLOWDOWN pauses at its job_step long enough to
hit), started again, and the stuck job is retried the way beat retries it. The end state must be exactly what an
uninterrupted build gives: one batch per district × channel, every entitlement in
exactly one line, totals to the fen.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections
from django.db.models import Count, Sum

from accounts.choices import JobState
from accounts.models import Job, User
from accounts.services.jobs import JOB_TASKS
from disbursements.models import Batch, Entitlement, PaymentLine
from tests.factories import make_entitlements, make_programme, make_rule

ROOT = Path(__file__).resolve().parents[2]
DISTRICTS = ["130102", "130104", "130105", "130107", "130108", "130110"]


@pytest.fixture
def regions_back_after_flush(django_db_blocker):
    """A transactional test ends with a flush that empties every table, regions too;
    put them back for the tests that follow (this teardown runs after the flush)."""
    yield
    from regions.services import regions_load

    with django_db_blocker.unblock():
        regions_load()


@pytest.fixture
def regions(regions_back_after_flush, transactional_db):
    from regions.models import Region
    from regions.services import regions_load

    if not Region.objects.filter(code="130110").exists():
        regions_load()


class Worker:
    """Start, SIGKILL and restart `celery -A portal worker` on the test database."""

    def __init__(self, queue: str):
        self.queue = queue
        db = settings.DATABASES["default"]
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.test_settings",
            "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{connection.settings_dict['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_EAGER": "false",
        }
        self.proc = None
        self.logs = []

    def start(self):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.faults.worker",  # celery -A portal worker, with JOB_TEST_SLOWDOWN's pauses
                "-Q",
                self.queue,
                "-c",
                "1",
                "--pool",
                "solo",
                "-l",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: SIGKILL takes all of it
        )

    def slow_down(self, seconds: float) -> None:
        """Each progress report of the worker's jobs, and each step a fault test waits
        on (after a district built, before a written file is recorded), pauses this long
        (JOB_TEST_SLOWDOWN), from the worker's next start."""
        self.env["JOB_TEST_SLOWDOWN"] = str(seconds)

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        out, _ = self.proc.communicate(timeout=10)
        self.logs.append(out)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                out, _ = self.proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                out, _ = self.proc.communicate()
            self.logs.append(out)


class OnQueue:
    """`task.delay(...)` sent to a given queue (what job_enqueue and job_retry call)."""

    def __init__(self, task, queue: str):
        self.task, self.queue = task, queue

    def delay(self, *args):
        return self.task.apply_async(args=args, queue=self.queue)


@pytest.fixture
def worker(regions, monkeypatch):
    """A worker on a queue of its own; the build task is sent there (by the service and
    by the retry of stuck jobs), so no other test's messages are touched."""
    from accounts.choices import JobKind
    from disbursements import tasks

    app = tasks.build_batches_task.app
    queue = f"test-batches-{os.getpid()}-{time.time_ns()}"
    shim = OnQueue(tasks.build_batches_task, queue)
    monkeypatch.setattr(tasks, "build_batches_task", shim)
    monkeypatch.setitem(JOB_TASKS, JobKind.BUILD_BATCHES, shim)
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    w = Worker(queue)
    try:
        yield w
    finally:
        app.conf.task_always_eager = previous
        w.stop()
        if os.environ.get("SHOW_WORKER_LOG"):
            print("\n".join(w.logs))


def _population():
    programme = make_programme("HB-KILL")
    rule = make_rule(programme, "sjz_cash", region="130100", amount="500.00")
    ss = make_rule(programme, "sjz_ss", region="130100", channel="ss_card", amount="123.45")
    for i, code in enumerate(DISTRICTS):
        make_entitlements(programme, rule, 12 + i, district=code, start=10_000 + i * 100)
        make_entitlements(programme, ss, 3, district=code, start=20_000 + i * 100)
    return programme


def _expected(programme):
    rows = (
        Entitlement.objects.filter(programme=programme)
        .values("district_id", "channel")
        .annotate(n=Count("id"), total=Sum("amount"))
        .order_by("district_id", "channel")
    )
    return [(r["district_id"], r["channel"], r["n"], r["total"]) for r in rows]


def _actual(programme):
    return list(
        Batch.objects.filter(programme=programme)
        .order_by("district_id", "channel")
        .values_list("district_id", "channel", "line_count", "total")
    )


def _assert_complete(programme):
    assert _actual(programme) == _expected(programme)
    lines = PaymentLine.objects.filter(batch__programme=programme)
    per_entitlement = Counter(lines.values_list("entitlement_id", flat=True))
    assert set(per_entitlement.values()) == {1}
    assert len(per_entitlement) == Entitlement.objects.filter(programme=programme).count()
    for batch in Batch.objects.filter(programme=programme):
        seqs = sorted(batch.lines.values_list("seq", flat=True))
        assert seqs == list(range(1, batch.line_count + 1))
        assert sum(batch.lines.values_list("amount", flat=True), Decimal("0")) == batch.total


def _wait(predicate, timeout=60.0, what=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.worker
def test_sigkill_half_way_then_restart_gives_the_same_batches(worker):
    from disbursements.services.batches import BUILD_LOCK_NAMESPACE
    from disbursements.tasks import build_job_start, retry_stuck_jobs

    programme = _population()
    officer = User.objects.create_superuser("kill_admin", "k@example.invalid", "Test-pass-2021", role="admin")
    worker.slow_down(1.5)
    worker.start()
    job = build_job_start(programme=programme, acting_user=officer)

    def building():
        # The build holds its districts' locks only inside its one transaction (where
        # the worker's JOB_TEST_SLOWDOWN pauses it at its job_step).
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND granted",
                [BUILD_LOCK_NAMESPACE + programme.pk],
            )
            return cur.fetchone()[0] == len(DISTRICTS)

    _wait(building, 90, "the build to hold its districts' locks")
    worker.kill()  # SIGKILL half way through the build's transaction
    job.refresh_from_db()
    assert job.state == JobState.RUNNING, job.message
    # All or nothing: the killed transaction left no batch and no line behind.
    assert not Batch.objects.filter(programme=programme).exists()
    assert not PaymentLine.objects.filter(entitlement__programme=programme).exists()

    worker.start()
    assert retry_stuck_jobs(stuck_after=0) == [job.pk]  # what beat does after STUCK_AFTER_SECONDS
    _wait(lambda: Job.objects.get(pk=job.pk).state in (JobState.DONE, JobState.FAILED), 120, "the retried job")
    job.refresh_from_db()
    assert job.state == JobState.DONE, job.message
    assert job.attempts == 2
    _assert_complete(programme)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_builds_give_one_set_of_batches(regions):
    from disbursements.services.batches import batches_build

    programme = _population()
    admin = User.objects.create_superuser("conc_admin", "c@example.invalid", "Test-pass-2021", role="admin")
    results, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            results.append(batches_build(programme=programme, acting_user=admin))
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(len(r) for r in results) == len(_expected(programme))
    _assert_complete(programme)


@pytest.mark.django_db(transaction=True)
def test_two_process_csv_export_writes_the_same_bytes(regions):
    """A large CSV is written by two processes (the child on its own connection, which
    sees only committed rows: hence a transactional test)."""
    import io

    from disbursements.services.batches import batches_build
    from disbursements.services.payment_files import write_csv

    programme = _population()
    batch = max(batches_build(programme=programme, acting_user=None, system=True), key=lambda b: b.line_count)
    single, forked = io.BytesIO(), io.BytesIO()
    assert write_csv(batch, single, parallel=False) == write_csv(batch, forked, parallel=True)
    assert single.getvalue() == forked.getvalue()
    assert single.getvalue().count(b"\r\n") == batch.line_count + 2


@pytest.mark.worker
def test_sigkill_during_export_then_retry_gives_the_same_file(worker, monkeypatch, tmp_path, settings):
    """A bank file export killed after writing but before recording: no file under the
    real name, no record, the batch still approved; the retried job writes exactly the
    bytes an uninterrupted export writes."""
    import io
    from pathlib import Path

    from accounts.choices import JobKind
    from accounts.services.jobs import job_create, job_enqueue
    from disbursements import tasks
    from disbursements.models import BatchExport
    from disbursements.services.batches import batch_approve, batch_review, batch_submit, batches_build
    from disbursements.services.payment_files import bank_files_dir, file_name, write_csv
    from tests.factories import make_user

    # The worker and this process must share the bank files directory.
    settings.BANK_FILES_DIR = str(tmp_path)
    worker.env["BANK_FILES_DIR"] = str(tmp_path)
    shim = OnQueue(tasks.export_batch_task, worker.queue)
    monkeypatch.setitem(JOB_TASKS, JobKind.EXPORT_BATCH, shim)
    programme = _population()
    officer = make_user("kill_off", "district", "130102")
    batch = next(b for b in batches_build(programme=programme, acting_user=officer) if b.district_id == "130102")
    batch_submit(batch=batch, acting_user=officer)
    batch_review(batch=batch, acting_user=make_user("kill_city", "city", "130100"))
    batch = batch_approve(batch=batch, acting_user=make_user("kill_prov", "province", "130000"))
    expected = io.BytesIO()
    write_csv(batch, expected)

    worker.slow_down(30)  # the window between the file written and the export recorded
    worker.start()
    job = job_create(
        kind=JobKind.EXPORT_BATCH,
        requested_by=officer,
        params={"batch_id": batch.pk, "fmt": "csv", "encoding": "utf-8"},
    )
    job_enqueue(job, shim)
    final = Path(bank_files_dir()) / file_name(batch, "csv")
    _wait(lambda: any(Path(bank_files_dir()).glob(f"{final.name}.part-*")), 90, "the export to write its file")
    worker.kill()
    batch.refresh_from_db()
    assert batch.status == "approved" and not BatchExport.objects.filter(batch=batch).exists()
    assert not final.exists()

    worker.slow_down(0)
    worker.start()
    from disbursements.tasks import retry_stuck_jobs

    # The build's rollups refresh (a job too) waits on a queue no worker here reads: swept as well.
    assert job.pk in retry_stuck_jobs(stuck_after=0)
    _wait(lambda: Job.objects.get(pk=job.pk).state in (JobState.DONE, JobState.FAILED), 120, "the retried export")
    job.refresh_from_db()
    assert job.state == JobState.DONE, job.message
    batch.refresh_from_db()
    assert batch.status == "exported"
    assert final.read_bytes() == expected.getvalue()
    assert BatchExport.objects.get(batch=batch).checksum == batch.file_checksum
