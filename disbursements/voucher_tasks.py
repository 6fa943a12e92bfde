"""Celery tasks of vouchers: issuing a batch's vouchers and importing the voucher
platform's redemption file, as Jobs on the common engine (accounts.services: claimed
by a conditional update, heartbeat, swept, retried, 重试 for the owner).

Both services are idempotent from database state (disbursements.vouchers): issuing
goes chunk by chunk and never gives an entitlement a second voucher; a redemption
import changes only vouchers still issued, and checkpoints its count in its own
commit. A task delivered twice, or killed half way and run again, ends with the same
vouchers and the same counts.
"""

from pathlib import Path

from celery import shared_task
from django.utils import timezone

from accounts.choices import JobKind, JobState
from accounts.models import Job, User
from accounts.services.job_recovery import job_revive_or_none
from accounts.services.jobs import Progress, job_create, job_enqueue, job_run, job_task_register
from core.errors import ConflictError, DomainError
from core.private_files import open_private, private_dir
from disbursements.batch_tasks import progress_callback
from disbursements.choices import BatchStatus
from disbursements.models import Batch
from disbursements.payment_files import bank_files_dir
from disbursements.vouchers import ISSUE_CHUNK, _check, vouchers_import_redemptions, vouchers_issue

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
    existing = Job.objects.filter(
        kind=JobKind.ISSUE_VOUCHERS, state__in=[JobState.QUEUED, JobState.RUNNING], params__batch_id=batch.pk
    ).first()
    existing = job_revive_or_none(existing)
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
    if suffix not in (".csv", ".xlsx", ".txt"):
        raise DomainError("核销文件应为 CSV 或 XLSX。")
    directory = private_dir(bank_files_dir() / "redemptions")
    path = directory / f"{batch.number}-{timezone.now():%Y%m%d%H%M%S%f}{suffix}"
    with open_private(path, "wb") as fh:
        for chunk_bytes in uploaded.chunks() if hasattr(uploaded, "chunks") else [uploaded.read()]:
            fh.write(chunk_bytes)
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
