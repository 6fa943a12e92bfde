"""Celery tasks of the entitlement computation (helper C's batch tasks live in batch_tasks.py).

Thin: a task takes a Job id, claims the Job row, and calls
`disbursements.entitlements.entitlements_compute`, which works district by district —
one transaction per district, progress reported per district. With a real broker the
districts of a run are fanned out, one task each, so that many workers share a run;
in-process (make run, tests) they run in a loop. The computation is idempotent, so a
task delivered twice or killed half way and run again ends the same.
"""

import os
import socket

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from accounts.choices import JobKind, JobState
from accounts.models import Job
from accounts.services.job_recovery import job_revive_or_none
from accounts.services.jobs import (
    Heartbeat,
    close_broken_connection,
    job_attempt_failed,
    job_claim,
    job_create,
    job_enqueue,
    job_failed,
    job_message_lost,
    job_run,
    job_task_register,
    job_test_pause,
    record,
)
from core.errors import DomainError
from core.money import format_yuan
from disbursements.entitlements import entitlement_districts, entitlement_totals, entitlements_compute
from programs.choices import ProgrammeStatus
from programs.models import Programme
from regions.models import Region


def compute_start(
    *, programme: Programme, district: Region | None = None, acting_user=None, force: bool = False
) -> Job:
    """A compute Job for `programme` (or one district), queued after commit.

    While a compute job of the same programme and district is queued or running, that
    job is returned instead of a second one: pressing the button twice, an import
    finishing during the nightly run, … all end up in one run. A dead one (no heartbeat
    for JOB_STALE_SECONDS) is recovered first, or replaced when out of attempts.
    """
    params = {
        "programme_id": programme.pk,
        "programme": programme.code,
        "district": district.code if district else None,
        "force": force,
    }
    with transaction.atomic():
        # Serialize the check-then-create per programme (a row lock on the programme).
        Programme.objects.select_for_update().filter(pk=programme.pk).first()
        existing = (
            Job.objects.filter(state__in=[JobState.QUEUED, JobState.RUNNING], kind=JobKind.COMPUTE)
            .filter(params__programme_id=programme.pk, params__district=params["district"])
            .order_by("created_at")
            .first()
        )
        existing = job_revive_or_none(existing)
        if existing is not None:
            return existing
        where = f"{district.name}" if district else "全部区县"
        job = job_create(
            kind=JobKind.COMPUTE, requested_by=acting_user, params=params, message=f"排队中：{programme.code} {where}"
        )
        job_enqueue(job, compute_entitlements_task)
    return job


# Above this many districts a run is split: one Celery task per district, so that every
# worker on the queue takes a share (PostgreSQL and a real broker only).
FANOUT_MIN_DISTRICTS = 2


@shared_task(name="disbursements.compute_entitlements", acks_late=True, bind=True)
def compute_entitlements_task(self, job_id: int) -> None:
    """Compute a programme (or a region) for a Job. With a real broker the districts are
    fanned out to `compute_district_task`, one each; in-process they run in a loop."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        return
    programme = Programme.objects.get(pk=job.params["programme_id"])
    district = Region.objects.filter(code=job.params.get("district") or "").first()
    codes = entitlement_districts(programme=programme, region=district)
    if (
        not settings.CELERY_TASK_ALWAYS_EAGER
        and connection.vendor == "postgresql"
        and len(codes) >= FANOUT_MIN_DISTRICTS
    ):
        claimed = job_claim(job_id)
        if claimed is None:  # another delivery has it
            return
        # A retried job keeps the districts an earlier attempt finished: only the rest is sent.
        done = dict((claimed.result or {}).get("done", {}))
        todo = [code for code in codes if code not in done]
        Job.objects.filter(pk=job_id).update(
            progress_total=len(codes),
            progress_done=len(done),
            result={"done": done},
            message=f"已分派 {len(todo)} 个区县" + (f"（{len(done)} 个此前已完成）" if done else ""),
        )
        if not todo:
            _finish_if_complete(job_id, programme)
            return
        # The districts go to the queue this task came from (the workers serving it).
        queue = (getattr(self.request, "delivery_info", None) or {}).get("routing_key") or None
        # After commit: the subtasks must see the job as running.
        transaction.on_commit(lambda: _fan_out(job_id, todo, queue))
        return
    _compute_in_loop(job_id)


def _fan_out(job_id: int, codes: list[str], queue: str | None) -> None:
    try:
        for code in codes:
            compute_district_task.apply_async(args=[job_id, code], queue=queue)
    except Exception:
        # The broker went away half way: the next sweep sends the job again, and its
        # claim fans out only the districts not done yet.
        job_message_lost(job_id)


@shared_task(name="disbursements.compute_district", acks_late=True)
def compute_district_task(job_id: int, code: str) -> None:
    """One district of a fanned-out Job. Idempotent: the Job row (locked) records which
    districts are done, so a redelivered task adds nothing; the last one closes the Job.
    An unexpected error (the database restarted …) puts the whole Job back in the queue
    (its finished districts are kept); the failure is recorded over a fresh connection."""
    try:
        job = record(lambda: Job.objects.filter(pk=job_id, state=JobState.RUNNING).first(), what=f"job {job_id}")
    except (OperationalError, InterfaceError) as exc:
        _not_recorded(exc)
    if job is None or code in (job.result or {}).get("done", {}):
        return
    programme = Programme.objects.get(pk=job.params["programme_id"])
    try:
        job_test_pause()
        with Heartbeat(job_id):
            result = entitlements_compute(
                programme=programme, district=code, acting_user=job.requested_by, force=bool(job.params.get("force"))
            )
    except DomainError as exc:
        close_broken_connection()
        message = f"{code}：{exc.message}"
        _record_or_requeue(lambda: job_failed(job, message=message), job_id)
        return
    except Exception as exc:
        close_broken_connection()
        reason = "数据库连接中断" if isinstance(exc, (OperationalError, InterfaceError)) else exc.__class__.__name__
        _record_or_requeue(lambda: job_attempt_failed(job, message=f"区县 {code}：{reason}"), job_id)
        raise
    stats = {
        **result.districts.get(code, {"written": 0, "withdrawn": 0, "flagged": 0}),
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
    _record_or_requeue(lambda: _district_done(job_id, code, stats, programme), job_id)


def _not_recorded(exc):
    from accounts.services.jobs import _not_recorded as not_recorded

    not_recorded(exc)


def _record_or_requeue(fn, job_id: int) -> None:
    try:
        record(fn, what=f"job {job_id}")
    except (OperationalError, InterfaceError) as exc:
        _not_recorded(exc)


def _district_done(job_id: int, code: str, stats: dict, programme: Programme) -> None:
    with transaction.atomic():
        # The row lock orders the districts' reports; two workers never lose one.
        job = Job.objects.select_for_update().get(pk=job_id)
        done = dict((job.result or {}).get("done", {}))
        if job.state != JobState.RUNNING or code in done:
            return
        done[code] = stats
        name = Region.objects.filter(code=code).values_list("name", flat=True).first() or code
        job.result = {**(job.result or {}), "done": done}
        job.progress_done = len(done)
        job.heartbeat_at = timezone.now()
        job.message = f"已完成 {len(done)}/{job.progress_total} 个区县（{name}）"
        job.save(update_fields=["result", "progress_done", "heartbeat_at", "message"])
    _finish_if_complete(job_id, programme)


def _finish_if_complete(job_id: int, programme: Programme) -> None:
    """Close a fanned-out Job once every district is done: its result counts the
    districts of every attempt."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        done = dict((job.result or {}).get("done", {}))
        if job.state != JobState.RUNNING or len(done) < job.progress_total:
            return
        totals = entitlement_totals(
            programme=programme, region=Region.objects.filter(code=job.params.get("district") or "").first()
        )
        written = sum(d.get("written", 0) for d in done.values())
        withdrawn = sum(d.get("withdrawn", 0) for d in done.values())
        flagged = sum(d.get("flagged", 0) for d in done.values())
        topups = sum(d.get("topups", 0) for d in done.values())
        job.result = {
            "programme": programme.code,
            "district": job.params.get("district"),
            "written": written,
            "withdrawn": withdrawn,
            "flagged": flagged,
            "topups": topups,
            "skipped": sum(1 for d in done.values() if d.get("skipped")),
            "districts": done,
            "count": totals["count"],
            "amount": format_yuan(totals["amount"]),
        }
        job.state, job.finished_at, job.heartbeat_at = JobState.DONE, timezone.now(), timezone.now()
        job.progress_done = len(done)
        job.message = f"计算完成：写入 {written} 条，撤销 {withdrawn} 条，补差 {topups} 条，多发待核查 {flagged} 条"
        job.save(update_fields=["result", "state", "finished_at", "heartbeat_at", "progress_done", "message"])


def _compute_in_loop(job_id: int) -> None:
    def work(job, progress):
        programme = Programme.objects.get(pk=job.params["programme_id"])
        district = Region.objects.filter(code=job.params.get("district") or "").first()
        names = dict(Region.objects.values_list("code", "name"))

        def on_district(done: int, total: int, code: str) -> None:
            if progress.job.progress_total != total:
                progress.set_total(total)
            progress.advance(
                done, message=f"已完成 {done}/{total} 个区县（{names.get(code, code)}）", force=done == total
            )

        result = entitlements_compute(
            programme=programme,
            district=district,
            acting_user=job.requested_by,
            progress=on_district,
            force=bool(job.params.get("force")),
        )
        totals = result.totals()
        return {
            "message": (
                f"计算完成：写入 {result.written} 条，撤销 {result.withdrawn} 条，"
                f"补差 {result.topups} 条，多发待核查 {result.flagged} 条"
            ),
            "programme": programme.code,
            "district": district.code if district else None,
            "written": result.written,
            "withdrawn": result.withdrawn,
            "flagged": result.flagged,
            "topups": result.topups,
            "skipped": sum(1 for d in result.districts.values() if d.get("skipped")),
            "districts": result.districts,
            "count": totals["count"],
            "amount": format_yuan(totals["amount"]),
            "seconds": round(result.seconds, 2),
        }

    job_run(job_id, work)


job_task_register(JobKind.COMPUTE, compute_entitlements_task)


@shared_task(name="disbursements.recompute_nightly")
def recompute_nightly_task() -> list[int]:
    """Beat, every night: recompute every active programme (catches anything a missed
    signal or a manual database fix left behind)."""
    active = Programme.objects.filter(status=ProgrammeStatus.ACTIVE)
    return [compute_start(programme=p, force=True).pk for p in active]


def enqueue_recompute(programme_id: int, district_code: str | None = None) -> Job | None:
    """Called when an import has finished (beneficiaries.signals.import_finished)."""
    programme = Programme.objects.filter(pk=programme_id).first()
    if programme is None or programme.status == ProgrammeStatus.CLOSED:
        return None
    district = Region.objects.filter(code=district_code).first() if district_code else None
    return compute_start(programme=programme, district=district)


def on_import_finished(sender, *, programme_id: int, district_code: str | None = None, **kwargs) -> None:
    """Receiver of beneficiaries.signals.import_finished (connected in apps.ready)."""
    enqueue_recompute(programme_id, district_code)


@shared_task(name="disbursements.notify_batch_results", acks_late=True)
def notify_batch_results(batch_id: int) -> int:
    """Tell workers, employers and officers what a bank results file did (disbursements.notify).
    Idempotent by the outbox's keys: a redelivered task writes nothing twice."""
    from disbursements.notify import batch_results_notify

    return batch_results_notify(batch_id=batch_id)
