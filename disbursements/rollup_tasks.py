"""Celery tasks that keep the dashboard rollups current: on change and by beat.

Thin callers of disbursements.rollups. A change (a survey approved, a computation,
batch build or bank-result import finished) calls `rollups_refresh_soon(programme_id)`,
which queues a refresh Job (kind refresh_rollups) on the common engine
(accounts.services): claimed by a conditional update, heartbeat, swept and retried
like every job, so a refresh lost with a killed worker or a restarted PostgreSQL or
Redis comes back by itself. A burst of changes queues one job: a change finds the
programme's refresh still queued and leaves it (the row, not a cache flag, says so,
and it survives a Redis restart); a change made while one runs queues the next. The
refresh replaces the programme's rows in one transaction, so running it again is
harmless. Beat runs `rollups_refresh_all` as a safety net (CELERY_BEAT_SCHEDULE): a
periodic task whose retry is its next run.
"""

from celery import shared_task
from django.dispatch import receiver

from accounts.choices import JobKind
from accounts.models import Job
from accounts.services.job_recovery import job_start_unless_waiting
from accounts.services.jobs import Progress, job_run, job_start_after_commit, job_task_register, job_test_pause
from disbursements.rollups import ROLLUP_STEPS, rollups_refresh, rollups_refresh_all, rollups_refreshed
from programs.surveys.services import survey_changed


@shared_task(name="disbursements.refresh_rollups", acks_late=True)
def refresh_rollups_task(job_id: int) -> None:
    job_run(job_id, _refresh_work)


def _refresh_work(job: Job, progress: Progress) -> dict:
    programme_id = job.params["programme_id"]
    progress.set_total(ROLLUP_STEPS)
    # Nothing is written to the job's row inside the refresh's transaction (its heartbeat
    # thread would wait for the row until the commit); the steps only give the fault
    # suite its window (JOB_TEST_SLOWDOWN).
    result = rollups_refresh(programme=programme_id, progress=lambda step: job_test_pause())
    progress.advance(ROLLUP_STEPS, force=True)
    rollups_refreshed.send(sender=None, programme_id=programme_id)
    return {**result, "message": f"统计已刷新：{result['programme']}（{result['districts']} 个区县）"}


def rollups_job_start(programme_id: int) -> Job:
    """Queue a refresh of the programme's rollups, unless one is already queued (a
    running one may have read the rows before this change: a new one is queued)."""
    return job_start_unless_waiting(
        kind=JobKind.REFRESH_ROLLUPS,
        task=refresh_rollups_task,
        params={"programme_id": programme_id},
        message="刷新统计",
    )


@shared_task(name="disbursements.rollups_refresh", acks_late=True)
def rollups_refresh_task(programme_id: int) -> None:
    """Messages sent by an older release (a programme id, not a job id): queued as a job."""
    rollups_job_start(programme_id)


@shared_task(name="disbursements.rollups_refresh_all", acks_late=True)
def rollups_refresh_all_task() -> list[dict]:
    results = rollups_refresh_all()
    for result in results:
        rollups_refreshed.send(sender=None, programme_id=result["programme_id"])
    return results


def rollups_refresh_soon(programme_id: int) -> None:
    """Refresh the programme's rollups once the current transaction commits (so the
    job reads the rows that triggered it). Not queued while the database or Redis
    restarts: beat's rollups_refresh_all refreshes the figures within its period."""
    job_start_after_commit(lambda: rollups_job_start(programme_id), what=f"rollups of programme {programme_id}")


job_task_register(JobKind.REFRESH_ROLLUPS, refresh_rollups_task)


@receiver(survey_changed, dispatch_uid="rollups_on_survey_changed")
def _survey_changed(sender, programme_id: int, **kwargs) -> None:
    rollups_refresh_soon(programme_id)
