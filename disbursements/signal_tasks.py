"""The job that recomputes a programme's fraud signals (风险预警) after its data changed.

Thin callers of disbursements.fraud. An import that finished, and every rollup refresh
(which follows each computation, batch build and survey change), calls
`signals_compute_soon(programme_id)`, which queues a job (kind compute_signals) on the
common engine (accounts.services): claimed by a conditional update, heartbeat, swept and
retried like every job, so a computation lost with a killed worker or a restarted
PostgreSQL or Redis comes back by itself. A burst of changes queues one job: a change
finds the programme's computation still queued and leaves it (the row says so, and it
survives a Redis restart); a change made while one runs queues the next, which then
sees that change. `signals_compute` reconciles the stored signals with the patterns
found, in one transaction, so running it again changes nothing.
"""

from celery import shared_task

from accounts.choices import JobKind
from accounts.models import Job
from accounts.services.job_recovery import job_start_unless_waiting
from accounts.services.jobs import Progress, job_run, job_start_after_commit, job_task_register, job_test_pause
from disbursements.fraud import signals_compute
from disbursements.fraud_patterns import PATTERN_STEPS
from programs.models import Programme


@shared_task(name="disbursements.compute_signals", acks_late=True)
def compute_signals_task(job_id: int) -> None:
    job_run(job_id, _signals_work)


def _signals_work(job: Job, progress: Progress) -> dict:
    programme = Programme.objects.filter(pk=job.params["programme_id"]).first()
    if programme is None:  # deleted since: nothing to look at
        return {"message": "项目已不存在，未计算风险预警"}
    progress.set_total(PATTERN_STEPS + 1)
    stats = signals_compute(programme=programme, step=lambda n: progress.advance(n, force=True))
    progress.advance(PATTERN_STEPS + 1, force=True)
    job_test_pause()
    return {
        **stats,
        "message": (
            f"风险预警已更新：新增 {stats['opened']} 条，重新打开 {stats['reopened']} 条，"
            f"已消失 {stats['gone']} 条，未变 {stats['kept']} 条"
        ),
    }


def signals_job_start(programme_id: int) -> Job:
    """Queue a computation of the programme's signals, unless one is already queued (a
    running one may have read the rows before this change: a new one is queued)."""
    return job_start_unless_waiting(
        kind=JobKind.COMPUTE_SIGNALS,
        task=compute_signals_task,
        params={"programme_id": programme_id},
        message="计算风险预警",
    )


def signals_compute_soon(programme_id: int) -> None:
    """Recompute the programme's signals once the current transaction commits. Not queued
    while the database or Redis restarts: the next import, computation or rollup refresh
    (beat's, within its period) queues the computation again."""
    job_start_after_commit(lambda: signals_job_start(programme_id), what=f"signals of programme {programme_id}")


@shared_task(name="disbursements.signals_compute", acks_late=True)
def signals_compute_task(programme_id: int) -> None:
    """Messages sent by an older release (a programme id, not a job id): queued as a job."""
    signals_job_start(programme_id)


def on_rollups_refreshed(sender, *, programme_id: int, **kwargs) -> None:
    """Receiver: an import, computation, batch build or survey change was just rolled up."""
    signals_compute_soon(programme_id)


def on_import_finished(sender, *, programme_id: int, **kwargs) -> None:
    signals_compute_soon(programme_id)


job_task_register(JobKind.COMPUTE_SIGNALS, compute_signals_task)
