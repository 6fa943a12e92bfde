"""Celery tasks of accounts: the self-check job that proves the worker pipeline, and
beat's sweep that brings back every dead job of every kind."""

import time

from celery import shared_task
from django.conf import settings

from accounts.choices import JobKind
from accounts.services import job_run, job_task_register, jobs_sweep


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


@shared_task(name="accounts.notifications_send_sms", bind=True, acks_late=True, max_retries=None)
def notifications_send_sms(self, notification_ids: list[int]) -> int:
    """Send queued SMS through settings.SMS_BACKEND; the ones that failed are tried again
    with exponential backoff (SMS_RETRY_SECONDS × 2^n) until SMS_MAX_ATTEMPTS."""
    from accounts.notifications import sms_send

    retry = sms_send(notification_ids=notification_ids)
    if retry and not self.request.is_eager:  # in-process mode (no broker) leaves them pending
        countdown = settings.SMS_RETRY_SECONDS * (2 ** min(self.request.retries, 8))
        raise self.retry(args=[retry], countdown=countdown)
    return len(notification_ids) - len(retry)
