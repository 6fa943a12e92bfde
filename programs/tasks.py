"""Celery tasks of programs: the daily reminder of overdue 摸排 reports."""

from celery import shared_task

from programs.surveys import reminders


@shared_task(name="programs.surveys_overdue_notify", acks_late=True)
def surveys_overdue_notify() -> int:
    """Beat, daily (portal/settings.py): idempotent per survey and day (programs.surveys.reminders)."""
    return reminders.surveys_overdue_notify()
