"""Celery tasks of batches: build, export, import results; and beat's retry of stuck jobs.

Thin by design: each task takes a Job id, claims the Job row with a conditional update
(`job_run`), and calls a service. The services are idempotent (locks, "only pending
lines change", files renamed into place), so a task delivered twice, or killed half
way and run again, ends with the same batches, lines, totals and files.
"""

from pathlib import Path

from celery import shared_task
from django.db.models import Sum
from django.utils import timezone

from accounts.choices import JobKind, JobState
from accounts.models import Job, User
from accounts.services.job_recovery import job_is_dead, job_retry, job_revive_or_none, jobs_sweep
from accounts.services.jobs import JOB_TASKS, Progress, job_create, job_enqueue, job_run, job_task_register
from core.errors import ConflictError, DomainError, PermissionDenied
from core.private_files import open_private, private_dir
from disbursements.bank_results import batch_import_results, can_import_results
from disbursements.batches import batches_build
from disbursements.models import Batch
from disbursements.payment_files import (
    EXPORTABLE,
    FORMATS,
    bank_files_dir,
    bank_leftovers_purge,
    batch_export,
    can_export,
)
from disbursements.vouchers import vouchers_expire
from programs.models import Programme
from regions.models import Region


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
        progress=progress_callback(progress),
        delay=float(params.get("delay", 0)),
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


def build_job_start(*, programme, district=None, acting_user: User | None, delay: float = 0) -> Job:
    """Queue a build. A build of the same programme and district that is already queued
    or running is returned instead of starting another (a double click); a dead one is
    recovered (re-queued) first, or, out of attempts, replaced by a new one."""
    params = {"programme_id": programme.pk, "district": district.code if district else None}
    existing = Job.objects.filter(
        kind=JobKind.BUILD_BATCHES,
        state__in=[JobState.QUEUED, JobState.RUNNING],
        params__programme_id=params["programme_id"],
        params__district=params["district"],
    ).first()
    existing = job_revive_or_none(existing)
    if existing is not None:
        return existing
    if delay:
        params["delay"] = delay
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
        delay=float(job.params.get("delay", 0)),
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


def results_job_start(*, batch, uploaded, acting_user: User | None) -> Job:
    """Save the uploaded result file beside the bank files and queue its import."""

    if acting_user is not None and not can_import_results(acting_user, batch):
        raise PermissionDenied("只有本区县的人社专员可以导入银行结果。")
    suffix = Path(getattr(uploaded, "name", "result.csv")).suffix.lower()
    if suffix not in (".csv", ".xlsx", ".txt"):
        raise DomainError("结果文件应为 CSV 或 XLSX。")
    directory = private_dir(bank_files_dir() / "results")
    path = directory / f"{batch.number}-{timezone.now():%Y%m%d%H%M%S%f}{suffix}"
    with open_private(path, "wb") as fh:
        for chunk in uploaded.chunks() if hasattr(uploaded, "chunks") else [uploaded.read()]:
            fh.write(chunk)
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
# The registry of every kind (accounts.services): tests put a task on a queue of their own here.
TASKS = JOB_TASKS


def stuck_jobs():
    """This app's jobs that are dead (see accounts.services.job_is_dead)."""
    jobs = Job.objects.filter(kind__in=BATCH_KINDS, state__in=[JobState.QUEUED, JobState.RUNNING])
    return [job for job in jobs if job_is_dead(job)]


def job_retry_batch(*, job: Job, acting_user: User | None) -> Job:
    """An officer's 重试: back to the queue, with the task of its kind."""
    if job.kind not in BATCH_KINDS:
        raise DomainError("这个任务不能在这里重试。")
    return job_retry(job=job, acting_user=acting_user, task=TASKS.get(job.kind))


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
