"""Bringing dead jobs back: a queued job whose message was lost is sent again, a running
one whose holder died goes back in the queue, one out of attempts is failed (beat's sweep,
a restarted worker, the owner's 重试 button). Also the jobs the portal starts by itself
after a change (one at a time per kind), and their purge."""

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.choices import JobKind, JobState
from accounts.models import Job, User
from accounts.services.audit import audit_record
from accounts.services.jobs import (
    JOB_TASKS,
    job_create,
    job_enqueue,
    job_give_up_message,
)
from core.errors import DomainError


def job_is_dead(job: Job, *, now=None) -> bool:
    """A queued job whose message is older than half JOB_STALE_SECONDS (lost, or waiting
    so long that another copy does no harm), or a running one whose heartbeat is older
    than JOB_STALE_SECONDS."""
    now = now or timezone.now()
    cutoff = now - timezone.timedelta(seconds=settings.JOB_STALE_SECONDS)
    if job.state == JobState.QUEUED:
        return (job.heartbeat_at or job.created_at) < now - timezone.timedelta(seconds=settings.JOB_STALE_SECONDS / 2)
    if job.state == JobState.RUNNING:
        return job.heartbeat_at is None or job.heartbeat_at < cutoff
    return False


def job_recover(*, job: Job, acting_user: User | None = None, reason: str = "处理进程中断") -> Job:
    """Bring a dead job back: re-send a queued one, re-queue a running one, or fail it
    when its attempts are used up. Safe to call twice: every step is conditional."""
    task = JOB_TASKS.get(job.kind)
    now = timezone.now()
    if task is None:
        return job
    if job.state == JobState.QUEUED:
        # Its message may be lost: send another (the claim makes a duplicate harmless).
        if Job.objects.filter(pk=job.pk, state=JobState.QUEUED, heartbeat_at=job.heartbeat_at).update(heartbeat_at=now):
            job_enqueue(job, task)
    elif job.state == JobState.RUNNING:
        if job.attempts >= settings.JOB_MAX_ATTEMPTS:
            if Job.objects.filter(pk=job.pk, state=JobState.RUNNING, heartbeat_at=job.heartbeat_at).update(
                state=JobState.FAILED, message=job_give_up_message(job, reason)[:500], finished_at=now
            ):
                audit_record(user=acting_user, action="job_give_up", obj=job, comment=reason)
        elif Job.objects.filter(pk=job.pk, state=JobState.RUNNING, heartbeat_at=job.heartbeat_at).update(
            state=JobState.QUEUED, message=f"{reason}，已自动重新排队", heartbeat_at=now, worker=""
        ):
            audit_record(user=acting_user, action="job_recover", obj=job, comment=reason)
            job_enqueue(job, task)
    job.refresh_from_db()
    return job


def jobs_sweep(*, stale_after: int | None = None, live_workers: set[str] | None = None) -> list[int]:
    """Beat's sweep: recover every dead job of a registered kind. `live_workers` (the
    "<node>|<boot>" of workers whose liveness key is fresh) lets a running job whose
    worker is gone be recovered after three missed heartbeats instead of the threshold."""
    now = timezone.now()
    stale = settings.JOB_STALE_SECONDS if stale_after is None else stale_after
    cutoff = now - timezone.timedelta(seconds=stale)
    # A queued message is sent again after half the threshold: a lost one is back within
    # two minutes with the defaults, and a copy of one that waits in a long queue is harmless.
    queued_cutoff = now - timezone.timedelta(seconds=stale / 2)
    quick = now - timezone.timedelta(seconds=3 * settings.JOB_HEARTBEAT_SECONDS)
    candidates = Job.objects.filter(kind__in=list(JOB_TASKS)).filter(
        Q(state=JobState.QUEUED, heartbeat_at__lt=queued_cutoff)
        | Q(state=JobState.QUEUED, heartbeat_at__isnull=True, created_at__lt=queued_cutoff)
        | Q(state=JobState.RUNNING, heartbeat_at__lt=cutoff if live_workers is None else quick)
        | Q(state=JobState.RUNNING, heartbeat_at__isnull=True)
    )
    recovered = []
    for job in candidates.order_by("created_at"):
        if job.state == JobState.RUNNING and live_workers is not None and job.heartbeat_at:
            holder = job.worker.rpartition("|")[0]
            if job.heartbeat_at >= cutoff and (not holder or holder in live_workers):
                continue  # its worker is alive: only the full threshold counts
        with transaction.atomic():
            job_recover(job=job, acting_user=None)
        recovered.append(job.pk)
    return recovered


# Jobs that the portal starts by itself after each change (no user asked for them, and
# no row points at them): kept JOB_KEEP_DAYS, then deleted, or they would grow by the
# thousand a day. A user's job (an import, a build, an export …) is its record: kept.
SYSTEM_JOB_KINDS = (JobKind.REFRESH_ROLLUPS, JobKind.COMPUTE_SIGNALS, JobKind.SEND_SMS, JobKind.DEMO)


def jobs_purge(*, now=None) -> int:
    """Delete the finished system jobs older than JOB_KEEP_DAYS; the number deleted."""
    now = now or timezone.now()
    cutoff = now - timezone.timedelta(days=settings.JOB_KEEP_DAYS)
    old = Job.objects.filter(
        kind__in=SYSTEM_JOB_KINDS, state__in=[JobState.DONE, JobState.FAILED], finished_at__lt=cutoff
    )
    deleted = 0
    while ids := list(old.values_list("pk", flat=True)[:10_000]):
        deleted += Job.objects.filter(pk__in=ids).delete()[0]
    return deleted


def job_revive_or_none(job: Job | None) -> Job | None:
    """For "return the job already queued or running" checks: a live job as it is, a
    dead one recovered (re-sent or re-queued), a dead one out of attempts: None (the
    caller starts a new one)."""
    if job is None or not job_is_dead(job):
        return job
    job = job_recover(job=job, acting_user=None)
    return None if job.state == JobState.FAILED else job


def job_start_unless_waiting(
    *,
    kind: JobKind,
    task,
    message: str,
    params: dict | None = None,
    match: dict | None = None,
    states: tuple = (JobState.QUEUED,),
) -> Job:
    """Queue a job the portal starts by itself after a change (no user asked for it), unless
    one of its kind whose params contain `match` (default: `params`) is already in `states`:
    a burst of changes queues one job. Waiting is the row's state, not a cache flag, so it
    survives a Redis restart; a dead one is recovered, or replaced when out of attempts."""
    params = params or {}
    match = params if match is None else match
    waiting = Job.objects.filter(kind=kind, state__in=states, **{f"params__{k}": v for k, v in match.items()})
    existing = job_revive_or_none(waiting.order_by("-created_at").first())
    if existing is not None:
        return existing
    return job_enqueue(job_create(kind=kind, requested_by=None, params=params, message=message), task)


def job_retry(*, job: Job, acting_user: User | None, task=None) -> Job:
    """Put a failed job, or a dead one, back in the queue (the owner's 重试 button).
    Its attempts start again; a live job is left alone."""

    task = task or JOB_TASKS.get(job.kind)
    if task is None:
        raise DomainError("这个任务不能重试，请重新提交。")
    if job.state == JobState.DONE:
        raise DomainError("任务已完成，无需重试。")
    if job.state != JobState.FAILED and not job_is_dead(job):
        raise DomainError("任务仍在运行中，请稍候。")
    updated = Job.objects.filter(pk=job.pk, state=job.state).update(
        state=JobState.QUEUED,
        message="已重新排队",
        finished_at=None,
        heartbeat_at=timezone.now(),
        attempts=0,
        worker="",
    )
    if updated:
        audit_record(user=acting_user, action="job_retry", obj=job)
        job_enqueue(job, task)
    job.refresh_from_db()
    return job
