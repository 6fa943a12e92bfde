"""Celery tasks of accounts: the self-check job that proves the worker pipeline, beat's
sweep that brings back every dead job of every kind, and the job that sends the SMS."""

import time

from celery import shared_task
from django.conf import settings

from accounts import worker
from accounts.choices import JobKind
from accounts.services.job_recovery import jobs_purge, jobs_sweep
from accounts.services.jobs import job_run, job_task_register
from accounts.services.notifications import sms_due, sms_job_start, sms_job_work


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
    """Beat, every JOB_SWEEP_SECONDS: recover dead jobs (see accounts.services.job_recovery), and
    stamp the time so that /healthz knows beat and a worker run."""
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
# The sending job and how it starts live in accounts.services.notifications (sms_job_start,
# sms_job_work); the tasks here are its thin Celery entry points.


@shared_task(name="accounts.send_sms", acks_late=True)
def send_sms_task(job_id: int) -> None:
    job_run(job_id, sms_job_work)


@shared_task(name="accounts.sms_due")
def sms_due_task() -> int | None:
    """Beat, every SMS_SWEEP_SECONDS: start the sending job when SMS are due (retries, or
    rows whose start was lost). Returns the job's id, or None when nothing is due."""
    if not sms_due().exists():
        return None
    return sms_job_start().pk


@shared_task(name="accounts.notifications_send_sms", acks_late=True)
def notifications_send_sms(notification_ids: list[int]) -> int:
    """Messages sent by an older release (a list of ids): the sending job sends them."""
    return sms_job_start().pk


job_task_register(JobKind.SEND_SMS, send_sms_task)
