"""The Job engine: every long operation (import, computation, batch build, export …) is a
Celery task with a Job row, and this module runs it: created and queued after commit,
claimed by a conditional update, kept alive by a heartbeat, its progress reported, and
its end (done, failed, or one attempt lost) recorded over a fresh connection.

The sweep that brings dead jobs back, the 重试 button and the system jobs the portal
starts by itself are in `accounts.services.job_recovery`.

Why accounts and not core: a Job row points at the user who asked for it (and an audit
row at the user who acted), and core sits below regions and accounts, so it may not
import the user model; core holds what needs no table of the portal. The engine stays
here, one floor above regions, where every app that queues a job may import it.
"""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.choices import JobKind, JobState
from accounts.models import Job, User
from core.errors import DomainError
from core.forkpool import fork_safe_thread, no_fork

logger = logging.getLogger(__name__)


def job_create(*, kind: JobKind, requested_by: User | None, params: dict | None = None, message: str = "") -> Job:
    return Job.objects.create(
        kind=kind,
        requested_by=requested_by if (requested_by is not None and requested_by.is_authenticated) else None,
        params=params or {},
        message=message,
    )


def job_enqueue(job: Job, task) -> Job:
    """Send `task(job.id)` to Celery once the current transaction commits, so the
    worker never looks for a Job row that is not visible yet."""
    transaction.on_commit(lambda: _send(task, job.id))
    return job


def _send(task, job_id: int) -> None:
    """Send a job's message. A broker that is down loses nothing: the row stays queued
    and the sweep sends it again (`jobs_sweep`), so the web request does not fail."""
    try:
        task.delay(job_id)
    except Exception:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            raise  # in-process: the task itself failed, let the caller see it
        logger.warning("job %s: the broker refused its message; the next sweep sends it again", job_id)
        job_message_lost(job_id)


def job_message_lost(job_id: int) -> None:
    """A job whose message could not be sent (the broker is down): queued, and dated
    back so that the next sweep sends it without waiting for the threshold."""
    long_ago = timezone.now() - timezone.timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
    try:
        Job.objects.filter(pk=job_id, state__in=[JobState.QUEUED, JobState.RUNNING]).update(
            state=JobState.QUEUED, heartbeat_at=long_ago, worker=""
        )
    except DatabaseError:  # the sweep finds it by its heartbeat anyway
        close_broken_connection()


# --------------------------------------------------------------------------- recovery
#
# One mechanism for every job kind: a kind registers its task (`job_task_register`);
# a running job beats a heartbeat (`Heartbeat`, every JOB_HEARTBEAT_SECONDS); beat's
# sweep (`jobs_sweep`, every JOB_SWEEP_SECONDS) re-queues a running job whose heartbeat
# is older than JOB_STALE_SECONDS (or whose worker is gone) and re-sends a queued job
# whose message is older than that; a job is claimed at most JOB_MAX_ATTEMPTS times,
# then it is failed with a message the owner reads beside the 重试 button.

# kind -> Celery task taking the job id. Filled by each app's tasks module.
JOB_TASKS: dict[str, object] = {}


def job_task_register(kind: str, task) -> None:
    JOB_TASKS[str(kind)] = task


def worker_identity() -> str:
    """ "<node>|<boot id>|<pid>" of this process. A Celery worker sets PORTAL_WORKER_ID
    ("<node>|<boot id>") when it starts (accounts.worker); its pool processes inherit it.
    It is the process's identity, handed down through the environment, not a setting:
    read from os.environ, never declared in settings."""
    return f"{os.environ.get('PORTAL_WORKER_ID') or socket.gethostname() + '|-'}|{os.getpid()}"


def _holder_is_dead(worker: str) -> bool:
    """True when `worker` was a process of this very worker boot that no longer exists
    (a pool process killed: its message comes back at once, and may be claimed)."""
    node_boot, _, pid = worker.rpartition("|")
    mine = os.environ.get("PORTAL_WORKER_ID")
    if not mine or node_boot != mine or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def job_claim(job_id: int, *, stale_after_seconds: int | None = None) -> Job | None:
    """Mark a job running and return it, or None when another worker has it.

    A conditional update is the claim: of two deliveries of the same task (acks_late
    redelivery, a re-send by the sweep) only one moves the row from queued, or from a
    running state whose holder is dead (heartbeat older than JOB_STALE_SECONDS, or a
    pool process of this worker that is gone), to running.
    """
    now = timezone.now()
    stale = now - timezone.timedelta(
        seconds=settings.JOB_STALE_SECONDS if stale_after_seconds is None else stale_after_seconds
    )
    claimable = Q(state=JobState.QUEUED) | Q(state=JobState.RUNNING, heartbeat_at__lt=stale)
    holder = Job.objects.filter(pk=job_id, state=JobState.RUNNING).values_list("worker", flat=True).first()
    if holder and _holder_is_dead(holder):
        # Compare-and-set on the dead holder: two deliveries still claim it once.
        claimable |= Q(state=JobState.RUNNING, worker=holder)
    claimed = (
        Job.objects.filter(pk=job_id)
        .filter(claimable)
        .update(
            state=JobState.RUNNING,
            started_at=now,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            worker=worker_identity()[:200],
        )
    )
    if claimed != 1:
        return None
    return Job.objects.get(pk=job_id)


# The heartbeat thread (below) sleeps between beats and beats inside no_fork(): a job may
# still fork worker processes (an import's, core.forkpool) while it runs.
fork_safe_thread("job-")


class Heartbeat:
    """Beats a running job's heartbeat every JOB_HEARTBEAT_SECONDS from a thread of its
    own (its own database connection), so a job in a long silent step (one district's
    SQL, a COPY, a commit) still looks alive, and a killed one stops beating.

    Only on PostgreSQL outside a transaction (a real worker): SQLite would lock, and a
    job run inside a caller's transaction (tests) is invisible to another connection.
    """

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.stop_event = threading.Event()
        self.thread = None
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            self.thread = threading.Thread(target=self._run, name=f"job-{job_id}-heartbeat", daemon=True)

    def __enter__(self):
        if self.thread is not None:
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _run(self) -> None:
        from django.db import connection as own  # this thread's own connection

        interval = settings.JOB_HEARTBEAT_SECONDS
        try:
            while not self.stop_event.wait(interval):
                try:
                    with no_fork():  # a job's worker processes (core.forkpool) never fork mid-query
                        Job.objects.filter(pk=self.job_id, state=JobState.RUNNING).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    close_broken_connection(own)  # the database restarts: beat again on a new one
        finally:
            own.close()


def job_step() -> None:
    """The boundary between two steps of a job's work that report no progress (a district,
    a chunk): nothing happens here; it names the places where a fault may land. The fault suite's worker (tests/faults/worker.py) patches it, and the
    progress reports, to wait, so that its faults land part way through any job kind."""


class Progress:
    """Reports a job's progress to its row at most about once a second."""

    def __init__(self, job: Job, *, total: int = 0, interval: float = 1.0):
        self.job = job
        self.interval = interval
        self._last = 0.0
        if total:
            self.set_total(total)

    def set_total(self, total: int) -> None:
        self.job.progress_total = total
        Job.objects.filter(pk=self.job.pk).update(progress_total=total, heartbeat_at=timezone.now())

    def advance(self, done: int, *, message: str | None = None, force: bool = False) -> None:
        self.job.progress_done = done
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        fields = {"progress_done": done, "heartbeat_at": timezone.now()}
        if message is not None:
            fields["message"] = message[:500]
        Job.objects.filter(pk=self.job.pk).update(**fields)


def job_checkpoint(job_id: int, **data) -> None:
    """Merge `data` into the job's result, in the caller's transaction: written in the
    same transaction as the work it describes, a checkpoint is there exactly when the
    work is, so a retried attempt resumes after it and its result covers every attempt."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).only("result").first()
        if job is None:
            return
        Job.objects.filter(pk=job_id).update(result={**(job.result or {}), **data}, heartbeat_at=timezone.now())


def job_done(job: Job, *, result: dict | None = None, message: str = "", errors: list | None = None) -> None:
    Job.objects.filter(pk=job.pk).update(
        state=JobState.DONE,
        progress_done=F("progress_total"),
        result=result or {},
        message=message[:500],
        errors=errors or [],
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )


def job_failed(job: Job, *, message: str, errors: list | None = None) -> None:
    """Record a failure. The connection that raised may be broken (the database
    restarted): it is closed first, so the record goes over a fresh one."""
    close_broken_connection()
    Job.objects.filter(pk=job.pk).update(
        state=JobState.FAILED, message=message[:500], errors=errors or [], finished_at=timezone.now()
    )


def close_broken_connection(conn=None) -> None:
    """Close the connection after an error, so the next query opens a fresh one.

    Never inside a transaction (a caller's or a test's): closing would break it, and a
    broken connection there is the transaction owner's to handle."""
    conn = conn or connection
    if conn.in_atomic_block:
        return
    try:
        conn.close()
    except Exception:  # an already broken socket may fail to close: drop it
        conn.connection = None


def record(fn: Callable[[], object], *, what: str = "job"):
    """Run a short write that records a job's state, retrying over fresh connections
    while the database restarts (JOB_RECORD_RETRY_SECONDS). Raises the last error."""
    deadline = time.monotonic() + settings.JOB_RECORD_RETRY_SECONDS
    delay = 0.5
    while True:
        try:
            return fn()
        except (OperationalError, InterfaceError):
            close_broken_connection()
            if connection.in_atomic_block or time.monotonic() + delay > deadline:
                raise
            logger.warning("%s: the database is unreachable, recording again in %.1f s", what, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5)


def _not_recorded(exc: BaseException):
    """The job's state could not be written: do not let the broker forget the message.
    In a worker the message is put back in the queue (never acked); in-process the
    error goes to the caller."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        raise exc
    from celery.exceptions import Reject

    raise Reject(exc, requeue=True) from exc


def job_attempt_failed(job: Job, *, message: str) -> Job:
    """An attempt ended in an unexpected error (the database went away, a bug …): put
    the job back in the queue while attempts are left, else fail it for good."""
    close_broken_connection()
    job.refresh_from_db()
    task = JOB_TASKS.get(job.kind)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # In-process (make run, tests): no worker to hand it to; the owner's 重试 runs it again.
        job_failed(job, message=f"任务出错（{message}），请点击“重试”；如仍失败，请联系系统管理员。")
    elif task is None or job.attempts >= settings.JOB_MAX_ATTEMPTS:
        job_failed(job, message=job_give_up_message(job, message))
    elif (
        Job.objects.filter(pk=job.pk, state=JobState.RUNNING).update(
            state=JobState.QUEUED,
            message=f"第 {job.attempts} 次尝试中断（{message}），稍后自动重试",
            heartbeat_at=timezone.now(),
            worker="",
        )
        == 1
    ):
        _send(task, job.pk)
    job.refresh_from_db()
    return job


def job_give_up_message(job: Job, reason: str) -> str:
    return (
        f"任务已尝试 {job.attempts} 次仍未完成（{reason}），已停止自动重试。"
        "请点击“重试”再试一次；如仍失败，请联系系统管理员。"
    )


def job_run(job_id: int, work: Callable[[Job, Progress], dict | None]) -> Job | None:
    """Claim the job, run `work(job, progress)` with a heartbeat, and record done or failed.

    `work` returns the result dict. A domain error is the user's problem and becomes
    the job's message. Anything else (the database restarted, a bug) costs one attempt:
    the job goes back to the queue until JOB_MAX_ATTEMPTS, then fails; the error is
    re-raised for the worker's log. Every record goes over a fresh connection, and a
    record that cannot be written at all leaves the message unacknowledged.
    """

    try:
        job = record(lambda: job_claim(job_id), what=f"job {job_id}")
    except (OperationalError, InterfaceError) as exc:
        _not_recorded(exc)
    if job is None:
        return None
    if job.attempts > settings.JOB_MAX_ATTEMPTS:
        # A job whose every attempt killed its pool process (out of memory …): its message
        # comes back each time (task_reject_on_worker_lost); stop here instead of looping.
        try:
            record(lambda: job_failed(job, message=job_give_up_message(job, "处理进程异常退出")), what=f"job {job_id}")
        except (OperationalError, InterfaceError) as exc:
            _not_recorded(exc)
        return job
    progress = Progress(job)
    try:
        with Heartbeat(job.pk):
            result = work(job, progress) or {}
    except DomainError as exc:
        close_broken_connection()
        errors = exc.errors if isinstance(exc.errors, list) else []
        message = exc.message
        try:
            record(lambda: job_failed(job, message=message, errors=errors), what=f"job {job_id}")
        except (OperationalError, InterfaceError) as rec_exc:
            _not_recorded(rec_exc)
        return job
    except Exception as exc:
        close_broken_connection()
        reason = "数据库连接中断" if isinstance(exc, (OperationalError, InterfaceError)) else exc.__class__.__name__
        try:
            record(lambda: job_attempt_failed(job, message=reason), what=f"job {job_id}")
        except (OperationalError, InterfaceError) as rec_exc:
            _not_recorded(rec_exc)
        raise
    try:
        record(lambda: job_done(job, result=result, message=result.get("message", "完成")), what=f"job {job_id}")
    except (OperationalError, InterfaceError) as exc:
        _not_recorded(exc)
    return job


def job_start_after_commit(start: Callable[[], object], *, what: str, robust: bool = False) -> None:
    """Call `start` (which queues a job) once the current transaction commits, so the job
    reads the rows that triggered it. A database or broker restarting then must not fail
    the change that called us: it is logged, and the job's own safety net (beat) catches
    up; in-process (no broker) the error is raised, unless `robust` (Django's on_commit)."""

    def send():
        try:
            with transaction.atomic():
                start()
        except Exception:
            if settings.CELERY_TASK_ALWAYS_EAGER:
                raise
            logger.warning("%s: the job could not be queued; beat catches up", what)

    transaction.on_commit(send, robust=robust)
