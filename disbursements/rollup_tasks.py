"""Celery tasks that keep the dashboard rollups current: on change and by beat.

Thin callers of disbursements.rollups. A change (a survey approved, a computation,
batch build or bank-result import finished) calls `rollups_refresh_soon(programme_id)`;
a burst of changes sends one task: the first change sets a cache flag and sends the
task, the task clears the flag as it starts, so a change made while it runs sends
another one. Beat runs `rollups_refresh_all` as a safety net (CELERY_BEAT_SCHEDULE).
"""

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.dispatch import receiver

from disbursements.rollups import rollups_refresh, rollups_refresh_all, rollups_refreshed
from programs.surveys import survey_changed

PENDING_KEY = "rollups:pending:{}"
PENDING_TTL = (
    90  # a lost task (worker killed) holds back new ones at most this long (JOB_STALE_SECONDS); beat covers the gap
)


@shared_task(name="disbursements.rollups_refresh", acks_late=True)
def rollups_refresh_task(programme_id: int) -> dict:
    cache.delete(PENDING_KEY.format(programme_id))
    result = rollups_refresh(programme=programme_id)
    rollups_refreshed.send(sender=None, programme_id=programme_id)
    return result


@shared_task(name="disbursements.rollups_refresh_all", acks_late=True)
def rollups_refresh_all_task() -> list[dict]:
    results = rollups_refresh_all()
    for result in results:
        rollups_refreshed.send(sender=None, programme_id=result["programme_id"])
    return results


def rollups_refresh_soon(programme_id: int) -> None:
    """Refresh the programme's rollups once the current transaction commits (so the
    task reads the rows that triggered it)."""

    def send():
        try:
            if cache.add(PENDING_KEY.format(programme_id), 1, PENDING_TTL):
                rollups_refresh_task.delay(programme_id)
        except Exception:
            # Redis is restarting: the change that called us must not fail for it;
            # beat's rollups_refresh_all refreshes the figures within its period.
            if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
                raise
            cache_delete_quietly(PENDING_KEY.format(programme_id))

    transaction.on_commit(send)


def cache_delete_quietly(key: str) -> None:
    try:
        cache.delete(key)  # a flag left behind would hold back the next change's refresh
    except Exception:  # noqa: S110 (it expires after PENDING_TTL)
        pass


@receiver(survey_changed, dispatch_uid="rollups_on_survey_changed")
def _survey_changed(sender, programme_id: int, **kwargs) -> None:
    rollups_refresh_soon(programme_id)
