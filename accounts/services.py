"""Writes shared by every app: the audit trail and the lifecycle of a Job."""

import time
from collections.abc import Callable

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.choices import JobKind, JobState
from accounts.models import AuditEntry, Job, User


def audit_record(
    *, user: User | None, action: str, obj=None, object_type: str = "", object_id: str = "", changes=None, comment=""
) -> AuditEntry:
    """Add one row to the audit trail. `obj` gives type and id unless they are named."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    return AuditEntry.objects.create(
        user=user if (user is not None and user.is_authenticated) else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        changes=changes or {},
        comment=comment[:500],
    )


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
    transaction.on_commit(lambda: task.delay(job.id))
    return job


def job_claim(job_id: int, *, stale_after_seconds: int = 900) -> Job | None:
    """Mark a job running and return it, or None when another worker has it.

    A conditional update is the claim: of two deliveries of the same task (acks_late
    redelivery, a retry by beat) only one moves the row from queued, or from a running
    state whose heartbeat has gone stale (its worker died), to running.
    """
    now = timezone.now()
    stale = now - timezone.timedelta(seconds=stale_after_seconds)
    claimed = (
        Job.objects.filter(pk=job_id)
        .filter(Q(state=JobState.QUEUED) | Q(state=JobState.RUNNING, heartbeat_at__lt=stale))
        .update(state=JobState.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1)
    )
    if claimed != 1:
        return None
    return Job.objects.get(pk=job_id)


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
    Job.objects.filter(pk=job.pk).update(
        state=JobState.FAILED, message=message[:500], errors=errors or [], finished_at=timezone.now()
    )


def job_run(job_id: int, work: Callable[[Job, Progress], dict | None]) -> Job | None:
    """Claim the job, run `work(job, progress)`, and record done or failed.

    `work` returns the result dict. A domain error is the user's problem and becomes
    the job's message; anything else is recorded and re-raised for the worker's log.
    """
    from portal.errors import DomainError

    job = job_claim(job_id)
    if job is None:
        return None
    progress = Progress(job)
    try:
        result = work(job, progress) or {}
    except DomainError as exc:
        job_failed(job, message=exc.message, errors=exc.errors if isinstance(exc.errors, list) else [])
        return job
    except Exception as exc:
        job_failed(job, message=f"任务出错：{exc.__class__.__name__}，请联系管理员或重试。")
        raise
    job_done(job, result=result, message=result.get("message", "完成"))
    return job


def job_retry(*, job: Job, acting_user: User | None, task) -> Job:
    """Put a failed or stuck job back in the queue (an officer's 重试 button, or beat)."""
    updated = Job.objects.filter(pk=job.pk, state__in=[JobState.FAILED, JobState.RUNNING]).update(
        state=JobState.QUEUED, message="已重新排队", finished_at=None
    )
    if updated:
        audit_record(user=acting_user, action="job_retry", obj=job)
        job_enqueue(job, task)
    job.refresh_from_db()
    return job
