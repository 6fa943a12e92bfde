"""The app's Celery tasks, all of them thin callers of disbursements.services.

Each long operation is a Job on the common engine (accounts.services): the task takes a
Job id, claims the row with a conditional update (`job_run`), and calls a service. The
services are idempotent from database state (locks, "only pending lines change", upserts,
files renamed into place), so a task delivered twice, or killed half way and run again,
ends with the same result. Every task keeps its registered name (`name=`): beat
(portal/settings.py) and messages already queued refer to tasks by it.

- entitlements: `disbursements.services.entitlements.entitlements_compute`, district by
  district — one transaction per district, progress reported per district. With a real
  broker the districts of a run are fanned out, one task each, so that many workers share
  a run; in-process (make run, tests) they run in a loop.
- rollups: a change marks its districts (`rollups_mark`, services.rollups; from
  beneficiaries through `registry_changed`, from surveys through `survey_changed`) and
  queues one catch-up job per burst of changes (services.freshness: the people or
  districts to recompute, then the marked districts' rollups); beat starts the catch-up
  every ROLLUP_CATCH_UP_SECONDS and runs `rollups_refresh_all` as the safety net. A
  programme's whole computation or an import still queues a whole refresh.
- fraud signals: recomputed (a job) after every import and every rollup refresh
  (`signals_compute_soon`); `signals_compute` reconciles the stored signals in one
  transaction, so running it again changes nothing.
- batches: build, export, import bank results; beat's sweep of stuck jobs.
- vouchers: issuing a batch's vouchers (chunk by chunk, never a second voucher per
  entitlement) and importing the voucher platform's redemption file.
- notifications of a bank results file, told after the import commits.
"""

import os
import socket
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Sum
from django.dispatch import receiver
from django.utils import timezone

from accounts.choices import JobKind, JobState
from accounts.models import Job, User
from accounts.services.job_recovery import (
    job_is_dead,
    job_retry,
    job_revive_or_none,
    job_start_unless_waiting,
    jobs_sweep,
)
from accounts.services.jobs import (
    Heartbeat,
    Progress,
    _not_recorded,
    close_broken_connection,
    job_attempt_failed,
    job_claim,
    job_create,
    job_enqueue,
    job_failed,
    job_message_lost,
    job_run,
    job_start_after_commit,
    job_step,
    job_task_register,
    record,
)
from beneficiaries.signals import registry_changed
from core.errors import ConflictError, DomainError, PermissionDenied
from core.money import format_yuan
from core.private_files import open_private, private_dir
from disbursements.choices import BatchStatus
from disbursements.models import Batch
from disbursements.services.bank_results import batch_import_results, can_import_results
from disbursements.services.batches import batches_build
from disbursements.services.entitlements import entitlement_districts, entitlement_totals, entitlements_compute
from disbursements.services.fraud import signals_compute
from disbursements.services.fraud_patterns import PATTERN_STEPS
from disbursements.services.freshness import catch_up_owed, rollups_catch_up
from disbursements.services.notify import NOTIFY_BATCH_RESULTS_TASK, batch_results_notify
from disbursements.services.payment_files import (
    EXPORTABLE,
    FORMATS,
    bank_files_dir,
    bank_leftovers_purge,
    batch_export,
    can_export,
)
from disbursements.services.rollups import (
    ROLLUP_STEPS,
    rollups_catch_up_start,
    rollups_job_start,
    rollups_mark,
    rollups_refresh,
    rollups_refresh_all,
    rollups_refresh_soon,
    rollups_refreshed,
)
from disbursements.services.vouchers import (
    ISSUE_CHUNK,
    _check,
    vouchers_expire,
    vouchers_import_redemptions,
    vouchers_issue,
)
from programs.choices import ProgrammeStatus
from programs.models import Programme
from programs.surveys.services import survey_changed
from regions.models import Region

# --------------------------------------------------------------------------- entitlements


def _live_job(kind: JobKind, **params) -> Job | None:
    """The job of `kind` with these params already queued or running (a double click, an
    import finishing during the nightly run …), recovered first when dead; None when
    there is none, or it is out of attempts (the caller starts a new one)."""
    live = Job.objects.filter(kind=kind, state__in=[JobState.QUEUED, JobState.RUNNING])
    live = live.filter(**{f"params__{name}": value for name, value in params.items()})
    return job_revive_or_none(live.order_by("created_at").first())


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
        existing = _live_job(JobKind.COMPUTE, programme_id=programme.pk, district=params["district"])
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


# A fanned-out Job takes its districts' reports while running, and also while queued: its
# districts may wait in a busy compute queue (behind another programme's) for longer than
# JOB_STALE_SECONDS with none of them running to beat the heartbeat, and the sweep then
# puts the parent back in the queue. Its districts still count when they run; the parent's
# own message, behind them in the queue, claims it again and sends only what is not done.
_FANOUT_LIVE = (JobState.RUNNING, JobState.QUEUED)


@shared_task(name="disbursements.compute_district", acks_late=True)
def compute_district_task(job_id: int, code: str) -> None:
    """One district of a fanned-out Job. Idempotent: the Job row (locked) records which
    districts are done, so a redelivered task adds nothing; the last one closes the Job.
    An unexpected error (the database restarted …) puts the whole Job back in the queue
    (its finished districts are kept); the failure is recorded over a fresh connection."""
    try:
        job = record(lambda: Job.objects.filter(pk=job_id, state__in=_FANOUT_LIVE).first(), what=f"job {job_id}")
    except (OperationalError, InterfaceError) as exc:
        _not_recorded(exc)
    if job is None or code in (job.result or {}).get("done", {}):
        return
    programme = Programme.objects.get(pk=job.params["programme_id"])
    try:
        job_step()
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
        if job.state not in _FANOUT_LIVE or code in done:
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


@shared_task(name=NOTIFY_BATCH_RESULTS_TASK, acks_late=True)
def notify_batch_results(batch_id: int) -> int:
    """Tell workers, employers and officers what a bank results file did (disbursements.services.notify).
    Idempotent by the outbox's keys: a redelivered task writes nothing twice."""
    return batch_results_notify(batch_id=batch_id)


# --------------------------------------------------------------------------- rollups


@shared_task(name="disbursements.refresh_rollups", acks_late=True)
def refresh_rollups_task(job_id: int) -> None:
    job_run(job_id, _refresh_work)


def _refresh_work(job: Job, progress: Progress) -> dict:
    if job.params.get("catch_up"):
        return _catch_up_work(progress)
    programme_id = job.params["programme_id"]
    progress.set_total(ROLLUP_STEPS)
    # Nothing is written to the job's row inside the refresh's transaction (its heartbeat
    # thread would wait for the row until the commit); the steps only give the fault
    # suite its window (tests/faults/worker.py).
    result = rollups_refresh(programme=programme_id, progress=lambda step: job_step())
    progress.advance(ROLLUP_STEPS, force=True)
    rollups_refreshed.send(sender=None, programme_id=programme_id)
    return {**result, "message": f"统计已刷新：{result['programme']}（{result['districts']} 个区县）"}


def _catch_up_work(progress: Progress) -> dict:
    """The marked changes (services.freshness): recomputed, then their districts' rollups.
    No rollups_refreshed here: warming every panel of a programme, or its fraud signals,
    for one edited registration would cost more than the change; the panels of the
    refreshed regions get a new version and are built on their next view."""
    # A total before the work (nothing is written to the job's row inside a refresh's
    # transaction); the steps give the fault suite its window, as in _refresh_work.
    progress.set_total(ROLLUP_STEPS)
    done = rollups_catch_up(progress=job_step)
    progress.advance(ROLLUP_STEPS, force=True)
    return {
        **done,
        "message": (
            f"统计已刷新：{done['districts_refreshed']} 个区县"
            f"（重新核定 {done['people_computed']} 人、{done['districts_computed']} 个区县）"
        ),
    }


@shared_task(name="disbursements.rollups_catch_up", acks_late=True)
def rollups_catch_up_task() -> None:
    """Beat, every ROLLUP_CATCH_UP_SECONDS: queue the catch-up when a change waits for it
    (its own after-commit message may have been lost while Redis restarted)."""
    if catch_up_owed():
        rollups_catch_up_start()


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


job_task_register(JobKind.REFRESH_ROLLUPS, refresh_rollups_task)


@receiver(survey_changed, dispatch_uid="rollups_on_survey_changed")
def _survey_changed(sender, programme_id: int, district_code: str | None = None, **kwargs) -> None:
    # One report: its district (and the regions above it); a batch of reports: all.
    rollups_refresh_soon(programme_id, districts=[district_code] if district_code else None)


@receiver(registry_changed, dispatch_uid="rollups_on_registry_changed")
def _registry_changed(
    sender, *, districts, programme_id=None, person_ids=(), recompute: bool = False, **kwargs
) -> None:
    # Sent inside the change's transaction: the marks commit, or roll back, with it.
    rollups_mark(
        programme_ids=None if programme_id is None else [programme_id],
        districts=districts,
        person_ids=person_ids,
        recompute=recompute,
    )


# --------------------------------------------------------------------------- fraud signals


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
    job_step()
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


def signals_on_import_finished(sender, *, programme_id: int, **kwargs) -> None:
    """Receiver: an import finished (beneficiaries.signals.import_finished)."""
    signals_compute_soon(programme_id)


job_task_register(JobKind.COMPUTE_SIGNALS, compute_signals_task)


# --------------------------------------------------------------------------- batches


def progress_callback(progress: Progress):
    state = {"total": None}

    def cb(done: int, total: int) -> None:
        if state["total"] != total:
            state["total"] = total
            progress.set_total(total)
        progress.advance(done, message=f"已处理 {done}/{total}", force=done == total)

    return cb


# --------------------------------------------------------------------------- build


@shared_task(name="disbursements.build_batches", acks_late=True)
def build_batches_task(job_id: int) -> None:

    job_run(job_id, _build_work)


def _build_work(job: Job, progress: Progress) -> dict:

    params = job.params
    programme = Programme.objects.get(pk=params["programme_id"])
    district = Region.objects.get(code=params["district"]) if params.get("district") else None
    batches_build(
        programme=programme,
        district=district,
        acting_user=job.requested_by,
        system=job.requested_by is None,  # a build the portal queued by itself
        progress=progress_callback(progress),
        job=job,
    )
    # The whole job across attempts: every batch that any attempt of it built (a retried
    # build builds only the districts an earlier attempt had not committed).
    built = Batch.objects.filter(build_job=job).order_by("pk")
    agg = built.aggregate(lines=Sum("line_count"), total=Sum("total"))
    count, lines, total = built.count(), agg["lines"] or 0, agg["total"] or 0
    return {
        "batches": list(built.values_list("pk", flat=True)),
        "lines": lines,
        "total": str(total),
        "message": f"生成 {count} 个批次，{lines} 笔，{total} 元" if count else "没有待生成批次的补贴核定记录",
    }


def build_job_start(*, programme, district=None, acting_user: User | None) -> Job:
    """Queue a build. A build of the same programme and district that is already queued
    or running is returned instead of starting another (a double click); a dead one is
    recovered (re-queued) first, or, out of attempts, replaced by a new one."""
    params = {"programme_id": programme.pk, "district": district.code if district else None}
    existing = _live_job(JobKind.BUILD_BATCHES, programme_id=params["programme_id"], district=params["district"])
    if existing is not None:
        return existing
    label = f"{programme.name}{' · ' + district.name if district else ''}"
    job = job_create(
        kind=JobKind.BUILD_BATCHES, requested_by=acting_user, params=params, message=f"生成发放批次：{label}"
    )
    return job_enqueue(job, build_batches_task)


# --------------------------------------------------------------------------- export


@shared_task(name="disbursements.export_batch", acks_late=True)
def export_batch_task(job_id: int) -> None:

    job_run(job_id, _export_work)


def _export_work(job: Job, progress: Progress) -> dict:

    batch = Batch.objects.get(pk=job.params["batch_id"])
    progress.set_total(batch.line_count)
    record = batch_export(
        batch=batch,
        fmt=job.params.get("fmt", "csv"),
        encoding=job.params.get("encoding", "utf-8"),
        acting_user=job.requested_by,
        job=job,
        progress=lambda done: progress.advance(done),
    )
    return {
        "export_id": record.pk,
        "checksum": record.checksum,
        "lines": record.line_count,
        "total": str(record.total),
        "message": f"已生成银行文件 {Path(record.path).name}（{record.line_count} 笔，{record.total} 元）",
    }


def export_job_start(*, batch, fmt: str, encoding: str, acting_user: User | None) -> Job:

    if fmt not in FORMATS:
        raise DomainError(f"不支持的文件格式“{fmt}”。")
    if acting_user is not None and not can_export(acting_user, batch):
        raise PermissionDenied("只有本区县人社专员或省级人员可以导出银行文件。")
    if batch.status not in EXPORTABLE:
        raise ConflictError("省级审批通过后才能导出银行文件。")
    job = job_create(
        kind=JobKind.EXPORT_BATCH,
        requested_by=acting_user,
        params={"batch_id": batch.pk, "fmt": fmt, "encoding": encoding},
        message=f"导出银行文件：{batch.number}",
    )
    return job_enqueue(job, export_batch_task)


# --------------------------------------------------------------------------- results


@shared_task(name="disbursements.import_bank_results", acks_late=True)
def import_results_task(job_id: int) -> None:

    job_run(job_id, _results_work)


def _results_work(job: Job, progress: Progress) -> dict:

    batch = Batch.objects.get(pk=job.params["batch_id"])
    return batch_import_results(
        batch=batch, path=Path(job.params["path"]), acting_user=job.requested_by, progress=progress_callback(progress)
    )


def _keep_upload(batch, uploaded, folder: str, suffix: str, *, refused: str) -> Path:
    """Keep an uploaded file of the batch (0600, in a 0700 folder beside the bank files)
    for the job that imports it; a file that is not CSV or XLSX is refused."""
    if suffix not in (".csv", ".xlsx", ".txt"):
        raise DomainError(refused)
    directory = private_dir(bank_files_dir() / folder)
    path = directory / f"{batch.number}-{timezone.now():%Y%m%d%H%M%S%f}{suffix}"
    with open_private(path, "wb") as fh:
        for chunk in uploaded.chunks() if hasattr(uploaded, "chunks") else [uploaded.read()]:
            fh.write(chunk)
    return path


def results_job_start(*, batch, uploaded, acting_user: User | None) -> Job:
    """Save the uploaded result file beside the bank files and queue its import."""

    if acting_user is not None and not can_import_results(acting_user, batch):
        raise PermissionDenied("只有本区县的人社专员可以导入银行结果。")
    suffix = Path(getattr(uploaded, "name", "result.csv")).suffix.lower()
    path = _keep_upload(batch, uploaded, "results", suffix, refused="结果文件应为 CSV 或 XLSX。")
    job = job_create(
        kind=JobKind.IMPORT_RESULTS,
        requested_by=acting_user,
        params={"batch_id": batch.pk, "path": str(path), "file": getattr(uploaded, "name", path.name)},
        message=f"导入银行结果：{batch.number}",
    )
    return job_enqueue(job, import_results_task)


# --------------------------------------------------------------------------- retry

# The kinds whose jobs the batch pages list and retry.
BATCH_KINDS = (
    JobKind.BUILD_BATCHES,
    JobKind.EXPORT_BATCH,
    JobKind.IMPORT_RESULTS,
    JobKind.ISSUE_VOUCHERS,
    JobKind.IMPORT_REDEMPTIONS,
)
job_task_register(JobKind.BUILD_BATCHES, build_batches_task)
job_task_register(JobKind.EXPORT_BATCH, export_batch_task)
job_task_register(JobKind.IMPORT_RESULTS, import_results_task)


def stuck_jobs():
    """This app's jobs that are dead (see accounts.services.job_is_dead)."""
    jobs = Job.objects.filter(kind__in=BATCH_KINDS, state__in=[JobState.QUEUED, JobState.RUNNING])
    return [job for job in jobs if job_is_dead(job)]


def job_retry_batch(*, job: Job, acting_user: User | None) -> Job:
    """An officer's 重试: back to the queue, with the task of its kind."""
    if job.kind not in BATCH_KINDS:
        raise DomainError("这个任务不能在这里重试。")
    return job_retry(job=job, acting_user=acting_user)


@shared_task(name="disbursements.bank_leftovers_purge")
def bank_leftovers_purge_task() -> list[str]:
    """Hourly: half-written bank files and scratch directories of exports killed half way
    (an export also purges them as it starts; this covers a directory nobody exports to)."""

    return bank_leftovers_purge()


@shared_task(name="disbursements.retry_stuck_jobs")
def retry_stuck_jobs(stuck_after: int | None = None) -> list[int]:
    """Kept for beat schedules of older deployments: the sweep of every job kind."""
    return jobs_sweep(stale_after=stuck_after)


@shared_task(name="disbursements.vouchers_expire")
def vouchers_expire_task() -> int:
    """Daily: issued vouchers past their expiry (衡水's: 2021-03-08) become expired."""

    return vouchers_expire()


# --------------------------------------------------------------------------- vouchers

# --------------------------------------------------------------------------- issue


@shared_task(name="disbursements.issue_vouchers", acks_late=True)
def issue_vouchers_task(job_id: int) -> None:
    job_run(job_id, _issue_work)


def _issue_work(job: Job, progress: Progress) -> dict:
    batch = Batch.objects.select_related("programme").get(pk=job.params["batch_id"])
    return vouchers_issue(
        batch=batch,
        acting_user=job.requested_by,
        job=job,
        progress=progress_callback(progress),
        chunk=int(job.params.get("chunk", ISSUE_CHUNK)),
    )


def issue_job_start(*, batch: Batch, acting_user: User | None, chunk: int | None = None) -> Job:
    """Queue the issuing of a batch's vouchers. An issuing job of the batch already
    queued or running is returned (a double click); a dead one is recovered first."""
    _check(acting_user, batch)
    if batch.status != BatchStatus.APPROVED:
        raise ConflictError(f"批次当前状态为“{batch.get_status_display()}”，省级审批通过后才能发券。")
    existing = _live_job(JobKind.ISSUE_VOUCHERS, batch_id=batch.pk)
    if existing is not None:
        return existing
    params = {"batch_id": batch.pk, **({"chunk": chunk} if chunk else {})}
    job = job_create(
        kind=JobKind.ISSUE_VOUCHERS, requested_by=acting_user, params=params, message=f"发放消费券：{batch.number}"
    )
    return job_enqueue(job, issue_vouchers_task)


# --------------------------------------------------------------------------- redemptions


@shared_task(name="disbursements.import_redemptions", acks_late=True)
def import_redemptions_task(job_id: int) -> None:
    job_run(job_id, _redemptions_work)


def _redemptions_work(job: Job, progress: Progress) -> dict:
    return vouchers_import_redemptions(
        path=Path(job.params["path"]),
        acting_user=job.requested_by,
        job=job,
        progress=progress_callback(progress),
        chunk=int(job.params.get("chunk", 500)),
    )


def redemptions_job_start(*, batch: Batch, uploaded, acting_user: User | None, chunk: int | None = None) -> Job:
    """Keep the uploaded redemption file (0600, in a 0700 folder beside the bank files)
    and queue its import."""
    suffix = Path(getattr(uploaded, "name", "redemptions.csv")).suffix.lower() or ".csv"
    path = _keep_upload(batch, uploaded, "redemptions", suffix, refused="核销文件应为 CSV 或 XLSX。")
    params = {"batch_id": batch.pk, "path": str(path), "file": getattr(uploaded, "name", path.name)}
    if chunk:
        params["chunk"] = chunk
    job = job_create(
        kind=JobKind.IMPORT_REDEMPTIONS,
        requested_by=acting_user,
        params=params,
        message=f"导入消费券核销：{batch.number}",
    )
    return job_enqueue(job, import_redemptions_task)


job_task_register(JobKind.ISSUE_VOUCHERS, issue_vouchers_task)
job_task_register(JobKind.IMPORT_REDEMPTIONS, import_redemptions_task)
