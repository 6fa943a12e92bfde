"""Celery tasks of accounts: the self-check job that proves the worker pipeline, beat's
sweep that brings back every dead job of every kind, and the job that sends the SMS."""

import time

from celery import shared_task
from django.conf import settings

from accounts.choices import JobKind, JobState
from accounts.models import Job
from accounts.services import (
    job_checkpoint,
    job_run,
    job_start_unless_waiting,
    job_task_register,
    jobs_purge,
    jobs_sweep,
)


@shared_task(name="accounts.self_check", acks_late=True)
def self_check(job_id: int) -> None:
    """系统自检: walks through `steps` steps so that an operator (and the test suite)
    can see a worker pick up a job and report progress end to end."""

    def work(job, progress):
        steps = int(job.params.get("steps", 5))
        delay = float(job.params.get("delay", 0.5))
        progress.set_total(steps)
        for step in range(1, steps + 1):
            time.sleep(delay)
            progress.advance(step, message=f"第 {step}/{steps} 步", force=True)
        return {"steps": steps, "message": "自检完成：任务队列工作正常"}

    job_run(job_id, work)


job_task_register(JobKind.DEMO, self_check)


@shared_task(name="accounts.sweep_jobs")
def sweep_jobs() -> list[int]:
    """Beat, every JOB_SWEEP_SECONDS: recover dead jobs (see accounts.services), and
    stamp the time so that /healthz knows beat and a worker run."""
    from accounts import worker

    live = None
    client = None
    if settings.REDIS_URL:
        try:
            client = worker.redis_client()
            live = worker.live_workers(client)
        except Exception:  # Redis restarts: sweep on heartbeats alone
            client = None
    recovered = jobs_sweep(live_workers=live)
    if client is not None:
        try:
            worker.sweep_stamp(client)
        except Exception:  # noqa: S110 (the next sweep stamps it)
            pass
    return recovered


@shared_task(name="accounts.purge_jobs")
def purge_jobs() -> int:
    """Beat, nightly: the finished system jobs older than JOB_KEEP_DAYS are deleted."""
    return jobs_purge()


# --------------------------------------------------------------------------- SMS
#
# Sending the outbox's SMS is a job (kind send_sms) on the common engine: claimed,
# heartbeat, swept and retried like every job, so sending cut by a killed worker or a
# restarted PostgreSQL or Redis comes back by itself and goes on from the rows still
# pending (each message is its own transaction). Written rows start it once they are
# committed; beat's `accounts.sms_due` starts it for retries that fall due and for rows
# whose start was lost. One job drains the outbox: a change finds it queued or running.


@shared_task(name="accounts.send_sms", acks_late=True)
def send_sms_task(job_id: int) -> None:
    job_run(job_id, _sms_work)


def _sms_work(job, progress) -> dict:
    from django.db import transaction

    from accounts.notifications import sms_backend, sms_due, sms_send_one

    backend = sms_backend()
    # Counts checkpointed with each message: a resumed attempt adds to them.
    counts = {k: int((job.result or {}).get(k, 0)) for k in ("sent", "retry", "failed")}
    chunk = int(job.params.get("chunk", 100))
    progress.set_total(sum(counts.values()) + sms_due().count())
    last = 0
    while ids := list(sms_due().filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:chunk]):
        for nid in ids:
            with transaction.atomic():
                outcome = sms_send_one(nid, backend)
                if outcome:
                    counts[outcome] += 1
                    job_checkpoint(job.pk, **counts)
        last = ids[-1]
        progress.advance(sum(counts.values()), force=True)
    return {
        **counts,
        "message": f"短信已发送 {counts['sent']} 条，待重试 {counts['retry']} 条，发送失败 {counts['failed']} 条",
    }


def sms_job_start(*, chunk: int | None = None) -> Job:
    """Start sending the outbox's due SMS, unless a job already does (queued, or running
    and alive: it reaches rows written after it started, and beat catches the rest).
    `chunk`: ids read per query (and progress reports); 100 unless a test asks less."""
    return job_start_unless_waiting(
        kind=JobKind.SEND_SMS,
        task=send_sms_task,
        params={"chunk": chunk} if chunk else {},
        match={},
        states=(JobState.QUEUED, JobState.RUNNING),
        message="发送短信",
    )


@shared_task(name="accounts.sms_due")
def sms_due_task() -> int | None:
    """Beat, every SMS_SWEEP_SECONDS: start the sending job when SMS are due (retries, or
    rows whose start was lost). Returns the job's id, or None when nothing is due."""
    from accounts.notifications import sms_due

    if not sms_due().exists():
        return None
    return sms_job_start().pk


@shared_task(name="accounts.notifications_send_sms", acks_late=True)
def notifications_send_sms(notification_ids: list[int]) -> int:
    """Messages sent by an older release (a list of ids): the sending job sends them."""
    return sms_job_start().pk


job_task_register(JobKind.SEND_SMS, send_sms_task)
