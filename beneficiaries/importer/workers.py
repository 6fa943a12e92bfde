"""Importing an employer's stay-behind workers from a spreadsheet, at province scale.

Two phases (house style 9), the second one set-based (PERFORMANCE.md):

A. Stream the rows (csv module / calamine), validate each one in Python (ID check
   digit, phone, dates, numbers, category, account), encrypt the ID and account
   numbers, and write every clean row, already in COPY text format, to a file on
   disk; every row's outcome goes to an outcome file (beneficiaries.importer.outcomes).
   Nothing is held per row in memory except a map ID → first row, to reject the
   second row of a person who appears twice. Progress is reported here, outside any
   transaction, so the progress bar moves. A large file on PostgreSQL is validated and
   encrypted by forked worker processes a chunk at a time, and finished here in file
   order (validation.checking_pool): the same result, to the byte, on every core.

B. In one transaction: COPY the clean rows into a TEMP staging table (never logged,
   dropped at commit), find the persons already known (by the blind index) and reject
   rows whose ID number is known under another name, then (unless a rejected row means
   nothing may be written) two plain `INSERT … SELECT`s for new persons and their
   registrations, and one `INSERT … SELECT … ON CONFLICT DO NOTHING` for the
   registrations of known persons, which marks a person already registered by another
   employer in the programme as a conflict for the district officer, in SQL
   (`copy_write.Stage.insert`). The registrations'
   foreign keys are checked set-based rather than by a trigger per row and key where
   the database role allows it (`copy_write.Stage.check_references_here`).
   In a job or the CLI (no surrounding transaction), unless settings.IMPORT_PIPELINE
   is False (or pipeline=False), the two phases overlap instead: a writer thread with
   its own connection stages and inserts chunks of 10,000 clean rows while the main
   thread validates the next ones (`copy_write.Pipeline`), and rolls everything back at the end
   when a rejected row means nothing may be written. Once the per-row foreign-key
   triggers and JIT were out of phase B (see `copy_write.Stage.check_references_here`), the two
   phases cost about the same and overlap well even on 2 cores: 100,000 rows in 3.8 s
   (validation ~2.5 s, the writer's statements ~3.4 s; it was 14.6 s while the
   commit-time trigger checks dominated).
   Databases other than PostgreSQL (SQLite for `make run`) take the ORM path instead:
   the same checks with bulk_create in batches, rolled back when nothing may be
   written. Both give the same result.

Re-importing the same file changes nothing: persons are found by blind index and a
registration is unique on person × programme × employer.
"""

import shutil
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from accounts.services.audit import audit_record
from beneficiaries.choices import EmployerStatus
from beneficiaries.importer.columns import (
    WORKER_COLUMNS,
    header_scorer,
    map_headers,
)
from beneficiaries.importer.copy_write import apply_copy, run_pipeline
from beneficiaries.importer.orm_write import apply_orm
from beneficiaries.importer.outcomes import Outcomes
from beneficiaries.importer.result import ImportResult, NoProgress
from beneficiaries.importer.validation import checking_pool, validate
from beneficiaries.models import Employer, Registration
from beneficiaries.signals import import_finished
from beneficiaries.spreadsheets import open_table
from core.errors import DomainError, PermissionDenied
from core.private_files import open_private, private_dir
from programs.choices import ProgrammeStatus


def may_import_for(user, employer: Employer) -> bool:
    """An employer agent for its own employers; staff for employers in their subtree."""
    if user is None:
        return True  # the system (management command)
    return Employer.objects.for_user(user).filter(pk=employer.pk).exists()


def workers_import(
    *,
    path,
    employer: Employer,
    programme,
    acting_user=None,
    filename: str = "",
    dry_run: bool = False,
    valid_only: bool = False,
    job=None,
    progress=None,
    max_rows: int | None = None,
    max_bytes: int | None = None,
    engine: str | None = None,
    workdir: Path | None = None,
    keep_errors: int = 500,
    pipeline: bool | None = None,
) -> ImportResult:
    """Validate the file and, unless `dry_run`, import its workers for `employer`.

    By default a file with any rejected row writes nothing; `valid_only` imports the
    rows that passed. Raises DomainError (SpreadsheetError) when the file as a whole
    cannot be read. The outcome of every row is in `result.outcomes`."""
    started = time.perf_counter()
    _check_may_import(acting_user, employer, programme)
    progress = progress or NoProgress()
    table = open_table(
        Path(path), filename=filename, score=header_scorer(WORKER_COLUMNS), row_limit=max_rows, size_limit=max_bytes
    )
    positions = map_headers(WORKER_COLUMNS, table.headers)
    # The working folder only once the file is known to be readable: a refused file
    # leaves no empty portal-import-* folder behind.
    own_dir = workdir is None
    workdir = private_dir(workdir or tempfile.mkdtemp(prefix="portal-import-"))
    result = ImportResult.of_table(
        table,
        kind="workers",
        dry_run=dry_run,
        valid_only=valid_only,
        workdir=workdir,
        engine=_engine(engine, dry_run=dry_run, pipeline=pipeline),
    )
    outcomes = Outcomes(workdir, keep=keep_errors)
    result.outcomes = outcomes
    progress.set_total(table.estimated_rows)
    clean_path = workdir / "clean.tsv"
    common = dict(employer=employer, programme=programme, job=job, valid_only=valid_only, result=result)
    try:
        _run_phases(table, positions, clean_path, dry_run=dry_run, progress=progress, **common)
        if not dry_run and not result.written:  # nothing was written: nothing was created
            result.created = result.conflicts = result.unchanged = result.persons_created = 0
            result.conflict_rows = []
        result.total, result.accepted, result.rejected = outcomes.total, outcomes.accepted, outcomes.rejected
        result.errors = outcomes.summary_errors()
        if result.written:
            _record(acting_user=acting_user, filename=filename, **common)
    except BaseException:
        outcomes.close()
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    finally:
        clean_path.unlink(missing_ok=True)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _check_may_import(acting_user, employer: Employer, programme) -> None:
    if acting_user is not None and not may_import_for(acting_user, employer):
        raise PermissionDenied("只能为本人经办的单位（或本辖区的单位）导入留岗人员。")
    if programme.status != ProgrammeStatus.ACTIVE:
        raise DomainError(f"项目“{programme.name}”不在进行中，不能导入。")
    if employer.status == EmployerStatus.RETURNED:
        raise DomainError(f"单位已被退回（{employer.return_reason}），请先修改单位信息重新提交审核后再导入。")


def _engine(engine: str | None, *, dry_run: bool, pipeline: bool | None) -> str:
    """copy (PostgreSQL), copy+pipeline (PostgreSQL, the phases overlapped: only outside a
    transaction, which the writer thread's connection could not see) or orm."""
    engine = engine or ("copy" if connection.vendor == "postgresql" else "orm")
    if pipeline is None:
        pipeline = settings.IMPORT_PIPELINE
    if engine == "copy" and not dry_run and not connection.in_atomic_block and pipeline:
        engine = "copy+pipeline"
    return engine


def _run_phases(table, positions, clean_path: Path, *, dry_run: bool, progress, result: ImportResult, **common) -> None:
    """Phase A then phase B, or both at once (the pipeline). Phase A runs on every core
    for a large file on PostgreSQL (validation.checking_pool); the ORM path (SQLite for
    `make run`) checks the rows in this process."""
    outcomes = result.outcomes
    pool = checking_pool(table, positions, programme=common["programme"], parallel=result.engine != "orm")
    if result.engine == "copy+pipeline":
        run_pipeline(table, pool, progress=progress, result=result, **common)
        return
    with pool, open_private(clean_path, "wb") as clean:
        validate(table, pool, outcomes=outcomes, out=clean, progress=progress, result=result)
    outcomes.close()
    progress.advance(outcomes.total, message="数据已校验，正在写入数据库…", force=True)
    apply = apply_copy if result.engine == "copy" else apply_orm
    apply(clean_path, dry_run=dry_run, result=result, **common)


def _record(*, result: ImportResult, acting_user, filename: str, employer, programme, job, valid_only: bool) -> None:
    """The audit row of a written import and, once it commits, the signal that has the
    district's entitlements recomputed."""
    audit_record(
        user=acting_user,
        action="registrations_import",
        obj=employer,
        changes={
            "programme": programme.code,
            "job": job.pk if job is not None else None,
            "created": result.created,
            "conflicts": result.conflicts,
            "unchanged": result.unchanged,
            "rejected": result.rejected,
            "valid_only": valid_only,
        },
        comment=filename[:200],
    )
    if result.created:
        # Entitlements of this programme and district are recomputed (disbursements
        # listens), once the rows are committed and visible to the compute job.
        district_code = employer.district_id
        job_id = job.pk if job is not None else None
        transaction.on_commit(
            lambda: import_finished.send(
                sender=Registration, programme_id=programme.pk, district_code=district_code, job_id=job_id
            )
        )
