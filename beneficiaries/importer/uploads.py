"""The web/API flow of an import: upload → preview (dry run) → confirm (a Celery Job).

An upload is a private directory named by a random token under IMPORT_ROOT (outside
MEDIA_ROOT: these files carry ID and account numbers and are never served as static
files). Its meta.json says who uploaded it, what kind, for which employer and
programme; preview.json keeps the dry run's summary; report.xlsx/.csv are the
rejected-rows reports, downloaded through a view that checks the user. Only the user
who uploaded a file sees it: anybody else gets "not found".

Confirming is claimed once by creating confirm.lock exclusively, so a double click
(or two API calls) starts one Job, and both get that Job.
"""

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.choices import JobKind
from accounts.models import Job
from accounts.services.jobs import JOB_TASKS, job_create, job_enqueue
from beneficiaries.importer import reports
from beneficiaries.importer.employers import employers_import
from beneficiaries.importer.workers import may_import_for, workers_import
from beneficiaries.models import Employer, Registration
from beneficiaries.signals import import_finished
from beneficiaries.spreadsheets import check_size
from core.errors import DomainError, PermissionDenied
from core.private_files import open_private, private_dir, write_private_text
from programs.models import Programme

KINDS = ("workers", "employers")
KEEP_DAYS = 7


class UploadNotFound(Exception):
    """No such upload for this user (shown as 404)."""


def import_root() -> Path:
    if settings.IMPORT_ROOT:
        return Path(settings.IMPORT_ROOT)
    media = Path(settings.MEDIA_ROOT)
    return media.parent / f"{media.name}-private" / "imports"


@dataclass
class Upload:
    token: str
    directory: Path
    meta: dict

    @property
    def kind(self) -> str:
        return self.meta["kind"]

    @property
    def source(self) -> Path:
        return self.directory / self.meta["stored_name"]

    @property
    def filename(self) -> str:
        return self.meta["filename"]

    @property
    def preview(self) -> dict | None:
        path = self.directory / "preview.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    @property
    def job_id(self) -> int | None:
        return self.meta.get("job_id")

    def employer(self) -> Employer | None:
        eid = self.meta.get("employer_id")
        return Employer.objects.select_related("district").get(pk=eid) if eid else None

    def programme(self) -> Programme | None:
        pid = self.meta.get("programme_id")
        return Programme.objects.get(pk=pid) if pid else None

    def save_meta(self) -> None:
        tmp = self.directory / "meta.json.tmp"
        write_private_text(tmp, json.dumps(self.meta, ensure_ascii=False))
        os.replace(tmp, self.directory / "meta.json")

    def report_path(self, stage: str, fmt: str) -> Path:
        return self.directory / f"report-{stage}.{fmt}"


def import_upload_create(*, user, kind: str, fileobj, filename: str, employer=None, programme=None) -> Upload:
    """Store an uploaded file (after the size check) and return its Upload."""
    if kind not in KINDS:
        raise DomainError("请选择导入类型：留岗人员或用人单位。")
    size = getattr(fileobj, "size", None)
    if size is not None:
        check_size(size)
    if kind == "workers":
        if employer is None or programme is None:
            raise DomainError("请选择用人单位和项目。")
        if not may_import_for(user, employer):
            raise PermissionDenied("只能为本人经办的单位（或本辖区的单位）导入留岗人员。")
    elif not (user.is_superuser or user.is_staff_role):
        raise PermissionDenied("只有人社部门工作人员可以批量导入用人单位。")
    token = secrets.token_urlsafe(18)
    directory = private_dir(import_root()) / token
    directory.mkdir(mode=0o700)
    suffix = Path(filename or "").suffix.lower()
    stored = "source" + (suffix if suffix in (".xlsx", ".csv", ".txt", ".xls", ".xlsm", ".ods") else ".bin")
    written = 0
    with open_private(directory / stored, "wb") as out:
        chunks = fileobj.chunks() if hasattr(fileobj, "chunks") else iter(lambda: fileobj.read(1024 * 1024), b"")
        for chunk in chunks:
            written += len(chunk)
            check_size(written if written > 0 else 1)
            out.write(chunk)
    if written == 0:
        shutil.rmtree(directory, ignore_errors=True)
        check_size(0)
    upload = Upload(
        token,
        directory,
        {
            "kind": kind,
            "user_id": user.pk,
            "employer_id": employer.pk if employer is not None else None,
            "programme_id": programme.pk if programme is not None else None,
            "filename": Path(filename or stored).name[:200],
            "stored_name": stored,
            "size": written,
            "created_at": timezone.now().isoformat(),
            "job_id": None,
        },
    )
    upload.save_meta()
    return upload


def import_upload_get(*, user, token: str) -> Upload:
    """The user's own upload, or UploadNotFound."""
    if not token or not all(c.isalnum() or c in "-_" for c in token):
        raise UploadNotFound
    directory = import_root() / token
    try:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UploadNotFound from None
    if meta.get("user_id") != user.pk and not user.is_superuser:
        raise UploadNotFound
    return Upload(token, directory, meta)


def _run(upload: Upload, *, user, dry_run: bool, valid_only: bool, job=None, progress=None):
    work = upload.directory / ("work-preview" if dry_run else "work-import")
    shutil.rmtree(work, ignore_errors=True)
    common = dict(
        path=upload.source,
        filename=upload.filename,
        acting_user=user,
        dry_run=dry_run,
        valid_only=valid_only,
        job=job,
        progress=progress,
        workdir=work,
    )
    if upload.kind == "workers":
        return workers_import(employer=upload.employer(), programme=upload.programme(), **common)
    return employers_import(**common)


def _write_reports(upload: Upload, result, stage: str) -> dict:
    files = {}
    if result.rejected:
        for fmt, writer in (("xlsx", reports.write_rejected_xlsx), ("csv", reports.write_rejected_csv)):
            path = upload.report_path(stage, fmt)
            writer(path, source=upload.source, filename=upload.filename, kind=upload.kind, outcomes=result.outcomes)
            files[fmt] = path.name
    return files


def import_upload_preview(*, upload: Upload, user) -> dict:
    """The dry run: every row checked, nothing written. Kept in preview.json."""
    result = _run(upload, user=user, dry_run=True, valid_only=False)
    try:
        data = result.as_dict()
        data["reports"] = _write_reports(upload, result, "preview")
    finally:
        result.cleanup()
    write_private_text(upload.directory / "preview.json", json.dumps(data, ensure_ascii=False))
    return data


def import_upload_confirm(*, upload: Upload, user, valid_only: bool) -> Job:
    """Start the import Job (once per upload; a second confirm returns the same Job)."""
    if upload.kind == "workers" and not may_import_for(user, upload.employer()):
        raise PermissionDenied("只能为本人经办的单位（或本辖区的单位）导入留岗人员。")
    lock = upload.directory / "confirm.lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        for _ in range(50):  # the other request is creating the Job
            meta = json.loads((upload.directory / "meta.json").read_text(encoding="utf-8"))
            if meta.get("job_id"):
                return Job.objects.get(pk=meta["job_id"])
            time.sleep(0.1)
        raise DomainError("该文件正在提交导入，请稍后刷新页面。") from None
    os.close(fd)
    kind = JobKind.IMPORT_WORKERS if upload.kind == "workers" else JobKind.IMPORT_EMPLOYERS
    # The job engine's registry (filled by beneficiaries.tasks at start-up), not the task
    # module: tasks call this module, and this module must not import them back.
    task = JOB_TASKS[kind]
    with transaction.atomic():
        job = job_create(
            kind=kind,
            requested_by=user,
            params={
                "upload": upload.token,
                "valid_only": bool(valid_only),
                "filename": upload.filename,
                "employer_id": upload.meta.get("employer_id"),
                "programme_id": upload.meta.get("programme_id"),
            },
            message="排队中，等待导入",
        )
        upload.meta["job_id"] = job.pk
        upload.meta["valid_only"] = bool(valid_only)
        upload.save_meta()
        job_enqueue(job, task)
    job.refresh_from_db()
    return job


def import_job_work(job: Job, progress) -> dict:
    """The body of the Celery task: import the upload named in the job's params."""
    directory = import_root() / job.params["upload"]
    meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    upload = Upload(job.params["upload"], directory, meta)
    user = job.requested_by
    # An earlier attempt committed the rows and was killed before it could say so: do
    # not import again ("新增 0 条"), read the file again (a dry run rebuilds the rejected
    # rows' report) and report what that attempt wrote, from its checkpoint.
    committed = (job.result or {}).get("committed")
    result = _run(
        upload,
        user=user,
        dry_run=bool(committed),
        valid_only=job.params.get("valid_only", False),
        job=job,
        progress=progress,
    )
    if committed:
        result.dry_run, result.written = False, True
        for name, value in committed.items():
            setattr(result, name, value)
        if result.created and upload.kind == "workers":
            _announce_import(upload, job)
    progress.advance(result.total, message="正在生成导入结果和错误行报告…", force=True)
    try:
        data = result.as_dict()
        data["reports"] = _write_reports(upload, result, "import")
    finally:
        result.cleanup()
    data["upload"] = upload.token
    data.pop("sample", None)
    data["errors"] = data["errors"][:100]
    return data


def _announce_import(upload: Upload, job: Job) -> None:
    """What the killed attempt's commit would have announced: recompute the district
    (idempotent, and a compute already queued for it absorbs this one)."""
    employer = upload.employer()
    transaction.on_commit(
        lambda: import_finished.send(
            sender=Registration,
            programme_id=upload.meta.get("programme_id"),
            district_code=employer.district_id if employer else None,
            job_id=job.pk,
        )
    )


def import_report_path(*, upload: Upload, stage: str, fmt: str) -> Path:
    if stage not in ("preview", "import") or fmt not in ("xlsx", "csv"):
        raise UploadNotFound
    path = upload.report_path(stage, fmt)
    if not path.exists():
        raise UploadNotFound
    return path


def import_uploads_purge(*, older_than_days: int = KEEP_DAYS) -> int:
    """Delete uploads (and their reports) older than the given number of days."""
    root = import_root()
    if not root.exists():
        return 0
    cutoff = time.time() - older_than_days * 86400
    removed = 0
    for directory in root.iterdir():
        if directory.is_dir() and directory.stat().st_mtime < cutoff:
            shutil.rmtree(directory, ignore_errors=True)
            removed += 1
    return removed
