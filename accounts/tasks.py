"""Celery tasks of accounts: the self-check job that proves the worker pipeline."""

import time

from celery import shared_task

from accounts.services import job_run


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
