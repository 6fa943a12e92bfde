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

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from accounts.choices import JobKind, JobState
from accounts.models import Job
from accounts.services import (
    Progress,
    job_create,
    job_enqueue,
    job_revive_or_none,
    job_run,
    job_task_register,
    job_test_pause,
)
from disbursements.fraud import signals_compute
from disbursements.fraud_patterns import PATTERN_STEPS
from programs.models import Programme

logger = logging.getLogger(__name__)


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
    existing = Job.objects.filter(
        kind=JobKind.COMPUTE_SIGNALS, state=JobState.QUEUED, params__programme_id=programme_id
    ).first()
    existing = job_revive_or_none(existing)
    if existing is not None:
        return existing
    job = job_create(
        kind=JobKind.COMPUTE_SIGNALS, requested_by=None, params={"programme_id": programme_id}, message="计算风险预警"
    )
    return job_enqueue(job, compute_signals_task)


def signals_compute_soon(programme_id: int) -> None:
    """Recompute the programme's signals once the current transaction commits (so the
    job reads the rows that triggered it)."""

    def send():
        try:
            with transaction.atomic():
                signals_job_start(programme_id)
        except Exception:
            # The database or Redis is restarting: the change that called us must not fail
            # for it; the next import, computation or rollup refresh (beat's, within its
            # period) queues the computation again.
            if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
                raise
            logger.warning("signals of programme %s: the computation could not be queued", programme_id)

    transaction.on_commit(send)


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
