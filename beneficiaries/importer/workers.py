"""Importing an employer's stay-behind workers from a spreadsheet, at province scale.

Two phases (house style 9), the second one set-based (PERFORMANCE.md):

A. Stream the rows (csv module / calamine), validate each one in Python (ID check
   digit, phone, dates, numbers, category, account), encrypt the ID and account
   numbers, and write every clean row, already in COPY text format, to a file on
   disk; every row's outcome goes to an outcome file (beneficiaries.importer.outcomes).
   Nothing is held per row in memory except a map ID → first row, to reject the
   second row of a person who appears twice. Progress is reported here, outside any
   transaction, so the progress bar moves.

B. In one transaction: COPY the clean rows into a TEMP staging table (never logged,
   dropped at commit), find the persons already known (by the blind index) and reject
   rows whose ID number is known under another name, then (unless a rejected row means
   nothing may be written) two plain `INSERT … SELECT`s for new persons and their
   registrations, and one `INSERT … SELECT … ON CONFLICT DO NOTHING` for the
   registrations of known persons, which marks a person already registered by another
   employer in the programme as a conflict for the district officer, in SQL
   (`_Stage.insert`). The registrations'
   foreign keys are checked set-based rather than by a trigger per row and key where
   the database role allows it (`_Stage.check_references_here`).
   In a job or the CLI (no surrounding transaction), unless settings.IMPORT_PIPELINE
   is False (or pipeline=False), the two phases overlap instead: a writer thread with
   its own connection stages and inserts chunks of 10,000 clean rows while the main
   thread validates the next ones (`_Pipeline`), and rolls everything back at the end
   when a rejected row means nothing may be written. Once the per-row foreign-key
   triggers and JIT were out of phase B (see `_Stage.check_references_here`), the two
   phases cost about the same and overlap well even on 2 cores: 100,000 rows in 3.8 s
   (validation ~2.5 s, the writer's statements ~3.4 s; it was 14.6 s while the
   commit-time trigger checks dominated).
   Databases other than PostgreSQL (SQLite for `make run`) take the ORM path instead:
   the same checks with bulk_create in batches, rolled back when nothing may be
   written. Both give the same result.

Re-importing the same file changes nothing: persons are found by blind index and a
registration is unique on person × programme × employer.
"""

import datetime as dt
import gc
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q

from accounts.services import audit_record, job_checkpoint
from beneficiaries import pii
from beneficiaries.choices import EmployerStatus, RegistrationStatus, Source
from beneficiaries.idcard import IdNumberError, current_code_of, validate_id_number
from beneficiaries.importer.cells import (
    CellError,
    bank_name,
    date_value,
    identifier,
    int_value,
    person_name,
    text,
)
from beneficiaries.importer.columns import (
    CATEGORY_BY_LABEL,
    PAYOUT_CHOICES,
    WORKER_COLUMNS,
    chinese,
    header_scorer,
    map_headers,
)
from beneficiaries.importer.outcomes import Outcomes
from beneficiaries.models import Employer, Person, Registration
from beneficiaries.phone import PhoneError, validate_mobile
from beneficiaries.signals import import_finished
from beneficiaries.spreadsheets import open_table
from core.errors import DomainError, PermissionDenied
from core.private_files import open_private, private_dir
from programs.choices import ProgrammeStatus

BATCH = 2000
SAMPLE_ROWS = 20
CONFLICT_NOTE = "该人员已由其他单位登记，待区县人社专员核实"
NAME_MISMATCH = "该身份证号在系统中已登记的姓名与本行姓名不一致：请核对姓名和身份证号是否填错"
STAGE_COLUMNS = (
    "row_no",
    "id_hash",
    "id_cipher",
    "id_masked",
    "name",
    "sex",
    "birth_date",
    "hukou_code_raw",
    "hukou_code",
    "phone_cipher",
    "phone_hash",
    "phone_tail",
    "phone_masked",
    "start_date",
    "end_date",
    "duty_days",
    "seniority_years",
    "category",
    "bank_name",
    "account_cipher",
    "account_masked",
    "payout_choice",
)
HEADER = {c.key: c.header for c in WORKER_COLUMNS}
_ID_CHECK_VALUE = {c: i for i, c in enumerate("0123456789X")}


class NoProgress:
    """Stands in for accounts.services.Progress when there is no Job (CLI, preview)."""

    def set_total(self, total: int) -> None:
        pass

    def advance(self, done: int, *, message: str | None = None, force: bool = False) -> None:
        pass


@dataclass
class ImportResult:
    """What an import did (or, for a dry run, would do)."""

    kind: str
    dry_run: bool
    valid_only: bool
    written: bool = False
    total: int = 0
    accepted: int = 0
    rejected: int = 0
    created: int = 0  # registrations (or employers) created
    unchanged: int = 0  # already there: the same file imported again
    conflicts: int = 0  # created as conflicts (registered by another employer too)
    persons_created: int = 0
    conflict_rows: list[int] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # the first rows' errors
    sample: list[dict] = field(default_factory=list)  # the first accepted rows, masked
    format: str = ""
    sheet: str = ""
    other_sheets: list[str] = field(default_factory=list)  # sheets with data that were not read
    encoding: str = ""
    header_row: int = 0
    headers: list[str] = field(default_factory=list)
    seconds: float = 0.0
    engine: str = ""
    outcomes: Outcomes | None = field(default=None, repr=False)
    workdir: str = ""

    @property
    def message(self) -> str:
        if self.total == 0:
            return "文件中没有数据行。"
        unit = "条登记" if self.kind == "workers" else "家单位"
        head = f"共 {self.total:,} 行，无误 {self.accepted:,} 行，有误 {self.rejected:,} 行。"
        conflicts = f"（其中 {self.conflicts:,} 条与其他单位重复，待区县核实）" if self.conflicts else ""
        if self.dry_run:
            if self.rejected and not self.valid_only:
                head += "默认有错误行时不导入任何数据：请修改后重新上传，或选择“仅导入无误的行”。"
            return head + f"无误的行导入后将新增 {self.created:,} {unit}{conflicts}，{self.unchanged:,} 行此前已导入。"
        if not self.written:
            return head + "因有错误行，未导入任何数据：请下载错误行报告，修改后重新上传。"
        text = head + f"已新增 {self.created:,} {unit}{conflicts}"
        if self.unchanged:
            text += f"，{self.unchanged:,} 行此前已导入、未改动"
        if self.rejected:
            text += f"；{self.rejected:,} 行有误未导入，请下载错误行报告修改后只上传这些行"
        return text + "。"

    def cleanup(self) -> None:
        """Remove the working files (outcomes) once the reports are written."""
        if self.outcomes is not None:
            self.outcomes.close()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def as_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "outcomes"}
        data["message"] = self.message
        return data


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
    if acting_user is not None and not may_import_for(acting_user, employer):
        raise PermissionDenied("只能为本人经办的单位（或本辖区的单位）导入留岗人员。")
    if programme.status != ProgrammeStatus.ACTIVE:
        raise DomainError(f"项目“{programme.name}”不在进行中，不能导入。")
    if employer.status == EmployerStatus.RETURNED:
        raise DomainError(f"单位已被退回（{employer.return_reason}），请先修改单位信息重新提交审核后再导入。")
    progress = progress or NoProgress()
    table = open_table(
        Path(path), filename=filename, score=header_scorer(WORKER_COLUMNS), row_limit=max_rows, size_limit=max_bytes
    )
    positions = map_headers(WORKER_COLUMNS, table.headers)
    # The working folder only once the file is known to be readable: a refused file
    # leaves no empty portal-import-* folder behind.
    own_dir = workdir is None
    workdir = private_dir(workdir or tempfile.mkdtemp(prefix="portal-import-"))
    result = ImportResult(
        kind="workers",
        dry_run=dry_run,
        valid_only=valid_only,
        format=table.format,
        sheet=table.sheet_name,
        other_sheets=table.other_sheets,
        encoding=table.encoding,
        header_row=table.header_row,
        headers=table.headers,
        workdir=str(workdir),
    )
    outcomes = Outcomes(workdir, keep=keep_errors)
    result.outcomes = outcomes
    progress.set_total(table.estimated_rows)
    clean_path = workdir / "clean.tsv"
    engine = engine or ("copy" if connection.vendor == "postgresql" else "orm")
    if pipeline is None:
        pipeline = bool(getattr(settings, "IMPORT_PIPELINE", True))
    if engine == "copy" and not dry_run and not connection.in_atomic_block and pipeline:
        engine = "copy+pipeline"
    result.engine = engine
    common = dict(employer=employer, programme=programme, job=job, valid_only=valid_only, result=result)
    try:
        if engine == "copy+pipeline":
            _run_pipeline(table, positions, progress=progress, **common)
        else:
            with open_private(clean_path, "w", encoding="utf-8") as clean:
                _validate(
                    table,
                    positions,
                    programme=programme,
                    outcomes=outcomes,
                    out=clean,
                    progress=progress,
                    result=result,
                )
            outcomes.close()
            progress.advance(outcomes.total, message="数据已校验，正在写入数据库…", force=True)
            apply = _apply_copy if engine == "copy" else _apply_orm
            apply(clean_path, dry_run=dry_run, **common)
        if not dry_run and not result.written:  # nothing was written: nothing was created
            result.created = result.conflicts = result.unchanged = result.persons_created = 0
            result.conflict_rows = []
        result.total, result.accepted, result.rejected = outcomes.total, outcomes.accepted, outcomes.rejected
        result.errors = outcomes.summary_errors()
        if result.written:
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
    except BaseException:
        outcomes.close()
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    finally:
        clean_path.unlink(missing_ok=True)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


_MOBILE = re.compile(r"1[3-9][0-9]{9}")
PII_BATCH = 4096  # accepted rows encrypted and indexed together


def fast_masks():
    """(mask_id, mask_account) for already normalized numbers (an 18-character ID, an
    account of 12–19 digits), checked against beneficiaries.pii."""

    def mask_id(number: str) -> str:
        return f"{number[:6]}********{number[-4:]}"

    def mask_account(number: str) -> str:
        return f"{number[:4]} **** **** {number[-4:]}"

    if mask_id("13010219900101123X") == pii.mask_id("13010219900101123X") and mask_account(
        "6222021234567890123"
    ) == pii.mask_account("6222021234567890123"):
        return mask_id, mask_account
    return pii.mask_id, pii.mask_account


# -- phase A: validate in Python, stream clean rows to disk ---------------------------------


def _validate(table, positions, **kw) -> None:
    """Validate every row (below) with the cyclic garbage collector paused. Holding a
    batch of accepted rows for pii's batch API (4,096 tuples of strings) made the
    collector traverse them again and again: +3.7k instructions a row (callgrind,
    20,000 rows), more than the batch saved; the loop makes no reference cycles
    (its objects are freed by reference counting). The collector runs again after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        _validate_rows(table, positions, **kw)
    finally:
        if was_enabled:
            gc.enable()


def _validate_rows(table, positions, *, programme, outcomes: Outcomes, out, progress, result: ImportResult) -> None:
    i_name = positions["name"]
    i_id = positions["id_number"]
    i_phone = positions["phone"]
    i_start = positions["start_date"]
    i_end = positions["end_date"]
    blank = max(positions.values()) + 1
    i_duty = positions.get("duty_days", blank)
    i_sen = positions.get("seniority_years", blank)
    i_cat = positions["category"]
    i_bank = positions.get("bank_name", blank)
    i_acct = positions.get("account", blank)
    i_hukou = positions.get("hukou_code", blank)
    i_payout = positions.get("payout_choice", blank)
    p_start, p_end = programme.start_date, programme.end_date
    holiday_days = (programme.holiday_end - programme.holiday_start).days + 1
    period = f"{p_start:%Y-%m-%d} 至 {p_end:%Y-%m-%d}"
    today = dt.date.today()
    seen: dict[int, int] = {}  # ID number as an int → the first row that has it
    protect_rows = pii.fast().protect_rows
    mask_id, mask_account = fast_masks()
    write = out.write
    pending: list[tuple] = []  # accepted rows waiting for their batch's encryption

    def flush() -> None:
        """Encrypt and index the pending rows' numbers in one batch and write their lines:
        row, ID blind index, ID cipher, …, phone cipher, phone blind index, the keyed
        digest of its last four digits (for the public lookup), …, account cipher."""
        if not pending:
            return
        numbers, phones, accounts, heads, middles, tails, ends = zip(*pending, strict=True)
        sealed = protect_rows(list(numbers), list(phones), list(accounts))
        write(
            "".join(
                f"{h}{id_hash}\t{id_cipher}{m}{phone_cipher}\t{phone_hash}\t{phone_tail}{t}{account_cipher}{e}"
                for h, m, t, e, (id_hash, id_cipher, phone_cipher, phone_hash, phone_tail, account_cipher) in zip(
                    heads, middles, tails, ends, sealed, strict=True
                )
            )
        )
        pending.clear()

    sample = result.sample
    done = 0
    # Only the canonical text of each valid number (str(n)): int_value gives the same n
    # for it, so the shortcut accepts nothing that int_value would refuse.
    duty_values = {str(n): n for n in range(holiday_days + 1)}
    seniority_values = {str(n): n for n in range(61)}
    banks: dict[str, str] = {}  # cell text → cleaned bank name
    # A file holds few distinct dates: their text → date, and date → "YYYY-MM-DD".
    dates: dict[str, dt.date] = {}
    iso: dict[dt.date, str] = {}

    width = max(positions.values()) + 2  # cells[width - 1] is always "" (a missing optional column)
    pad = [""] * width
    for row_no, cells in table:
        if len(cells) < width:
            cells = cells + pad[: width - len(cells)]
        errors = []
        try:
            name = person_name(cells[i_name])
        except CellError as exc:
            errors.append(("姓名", str(exc)))
        info = None
        try:
            info = validate_id_number(identifier(cells[i_id], "身份证号"), today=today)
        except (CellError, IdNumberError) as exc:
            errors.append(("身份证号", str(exc)))
        if info is not None:
            number = info.number
            key = int(number[:17]) * 11 + _ID_CHECK_VALUE[number[17]]
            first = seen.setdefault(key, row_no)
            if first != row_no:
                errors.append(("身份证号", f"与第{first}行的身份证号重复：同一人只需登记一次，请删除本行"))
        try:
            phone = cells[i_phone]
            if not (type(phone) is str and _MOBILE.fullmatch(phone)):  # else the full cleaning
                phone = validate_mobile(identifier(phone, "手机号"))
        except (CellError, PhoneError) as exc:
            errors.append(("手机号", str(exc)))
        start = end = None
        try:
            raw = cells[i_start]
            start = dates.get(raw) if type(raw) is str else None
            if start is None:
                start = date_value(raw, "留岗开始日期")
                if type(raw) is str and len(dates) < 1000:
                    dates[raw] = start
            if not p_start <= start <= p_end:
                errors.append(("留岗开始日期", f"留岗开始日期 {start:%Y-%m-%d} 不在项目期间（{period}）内"))
        except CellError as exc:
            errors.append(("留岗开始日期", str(exc)))
        try:
            raw = cells[i_end]
            end = dates.get(raw) if type(raw) is str else None
            if end is None:
                end = date_value(raw, "留岗结束日期")
                if type(raw) is str and len(dates) < 1000:
                    dates[raw] = end
            if not p_start <= end <= p_end:
                errors.append(("留岗结束日期", f"留岗结束日期 {end:%Y-%m-%d} 不在项目期间（{period}）内"))
            elif start is not None and end < start:
                errors.append(("留岗结束日期", "留岗结束日期不能早于开始日期"))
        except CellError as exc:
            errors.append(("留岗结束日期", str(exc)))
        # Small whole numbers typed as text are read from a dict of the valid ones (a
        # call of int_value and int() per cell was ~1 µs each); anything else, and
        # every error, goes through int_value.
        duty = duty_values.get(cells[i_duty])
        if duty is None:
            try:
                duty = int_value(cells[i_duty], "春节在岗天数", high=holiday_days, unit="天")
            except CellError as exc:
                errors.append(("春节在岗天数", str(exc)))
        seniority = seniority_values.get(cells[i_sen])
        if seniority is None:
            try:
                seniority = int_value(cells[i_sen], "工龄", high=60, unit="年")
            except CellError as exc:
                errors.append(("工龄", str(exc)))
        label = cells[i_cat]
        category = CATEGORY_BY_LABEL.get(label) or CATEGORY_BY_LABEL.get(text(label))
        if category is None:
            shown = text(label)[:20]
            errors.append(
                (
                    "人员类别",
                    f"人员类别“{shown}”无效：请从下拉列表选择 外来务工人员、困难群众、失业人员 之一"
                    if shown
                    else "人员类别不能为空：请从下拉列表选择",
                )
            )
        bank = account = ""
        raw_bank = cells[i_bank]
        bank = banks.get(raw_bank) if type(raw_bank) is str else None  # a file names a handful of banks
        if bank is None:
            try:
                bank = bank_name(raw_bank)
                if type(raw_bank) is str and len(banks) < 1000:
                    banks[raw_bank] = bank
            except CellError as exc:
                bank = ""
                errors.append(("开户银行", str(exc)))
        try:
            account = cells[i_acct]
            if not (type(account) is str and account.isdigit() and account.isascii()):  # else the full cleaning
                account = pii.normalize_account(identifier(account, "银行账号"))
            if account and not (account.isdigit() and 12 <= len(account) <= 19):
                errors.append(("银行账号", "银行账号应为12至19位数字，请核对（本列应为文本格式）"))
            elif account and not bank:
                errors.append(("开户银行", "填写了银行账号，请同时填写开户银行"))
            elif bank and not account:
                errors.append(("银行账号", "填写了开户银行，请同时填写银行账号"))
        except CellError as exc:
            errors.append(("银行账号", str(exc)))
        hukou = info.current_code if info is not None else ""
        raw_hukou = cells[i_hukou]
        if raw_hukou != "":
            try:
                code = identifier(raw_hukou, "户籍地区代码")
                current = current_code_of(code) if len(code) == 6 and code.isdigit() else None
                if current is None:
                    errors.append(("户籍地区代码", f"户籍地区代码“{code}”不存在：应为6位行政区划代码，不清楚可不填"))
                else:
                    hukou = current
            except CellError as exc:
                errors.append(("户籍地区代码", str(exc)))

        payout = ""
        if cells[i_payout] != "":
            shown = text(cells[i_payout])[:20]
            choice = PAYOUT_CHOICES.get(shown)
            if choice is None:
                errors.append(
                    ("领取方式", f"领取方式“{shown}”无效：请从下拉列表选择 电子红包、现金、银行卡 之一，或不填")
                )
            else:
                payout = choice.value

        if errors:
            outcomes.reject(row_no, errors)
        else:
            outcomes.accept(row_no)
            if "\\" in bank:
                bank = bank.replace("\\", "\\\\")
            start_iso = iso.get(start) or iso.setdefault(start, start.isoformat())
            end_iso = iso.get(end) or iso.setdefault(end, end.isoformat())
            # The ID, phone and account numbers are encrypted and indexed a batch at a
            # time (pii's batch API); the rest of the line waits with them.
            pending.append(
                (
                    number,
                    phone,
                    account,
                    f"{row_no}\t",
                    f"\t{mask_id(number)}\t{name}\t{info.sex}\t"
                    f"{number[6:10]}-{number[10:12]}-{number[12:14]}\t{info.address_code}\t{hukou}\t",
                    f"\t{phone[:3]}****{phone[-4:]}\t"
                    f"{start_iso}\t{end_iso}\t{duty}\t{seniority}\t{category.value}\t{bank}\t",
                    f"\t{mask_account(account) if account else ''}\t{payout}\n",
                )
            )
            if len(pending) >= PII_BATCH:
                flush()
            if len(sample) < SAMPLE_ROWS:
                sample.append(
                    {
                        "row": row_no,
                        "name": name,
                        "id_masked": mask_id(number),
                        "start_date": start.isoformat(),
                        "end_date": end.isoformat(),
                        "duty_days": duty,
                        "category": chinese(category.label),
                        "bank_name": bank,
                        "account_masked": mask_account(account) if account else "",
                    }
                )
        done += 1
        if done % 2000 == 0:
            progress.advance(done, message="正在读取并校验…")
    flush()


def _read_clean(path: Path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield line.rstrip("\n").split("\t")


# -- phase B on PostgreSQL: COPY to a staging table, then set-based statements -------------

# Serialises imports into one programme: the conflict check ("is this person active
# with another employer?") and the insert must not interleave with another import's.
LOCK_NAMESPACE = 20210121
# (The SQL below interpolates only table names from model meta; every value is a parameter.)


class _Stage:
    """The TEMP staging table and the set-based statements that move it into place."""

    def __init__(self, cur, *, employer, programme, job):
        self.cur = cur
        self.person_t = Person._meta.db_table
        self.reg_t = Registration._meta.db_table
        self.params = {
            "programme": programme.pk,
            "employer": employer.pk,
            "district": employer.district_id,
            "note": CONFLICT_NOTE,
            "source": Source.IMPORT,
            "job": job.pk if job is not None else None,
        }
        self.other_active = (
            f"EXISTS (SELECT 1 FROM {self.reg_t} o WHERE o.person_id = p.id AND o.programme_id = %(programme)s"  # noqa: S608
            " AND o.employer_id <> %(employer)s AND o.status IN ('active', 'conflict'))"
        )
        self.saved_role: str | None = None  # see check_references_here
        self.lock_persons = ""
        self.optimistic = True  # see insert()

    def create(self, *, reserve_ids: bool = True) -> None:
        """The staging table. With `reserve_ids`, COPY draws each row a person id from
        the person sequence (a column default, evaluated by COPY itself): a row whose
        person turns out to exist already leaves a gap in the ids, which costs nothing
        (bigint) and saves matching inserted persons back to their rows."""
        cur = self.cur
        # Sorting and hashing 100,000s of staged rows in memory, not in temp files.
        cur.execute("SET LOCAL work_mem = '64MB'")
        # The temp table has no statistics, so the planner overestimates these statements
        # and JIT-compiles them: ~0.4 s per statement of compiling for no gain.
        cur.execute("SET LOCAL jit = off")
        # ON COMMIT DROP does not fire inside an outer transaction (tests, a caller's
        # atomic block): drop a leftover explicitly; drop() at the end does too.
        cur.execute("DROP TABLE IF EXISTS pg_temp.import_stage")
        new_id = "new_id bigint"
        if reserve_ids:
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [self.person_t])
            new_id += " DEFAULT nextval(%s::regclass)"
        cur.execute(
            "CREATE TEMP TABLE import_stage ("
            " row_no integer PRIMARY KEY, id_hash text, id_cipher text, id_masked text, name text, sex text,"
            " birth_date date, hukou_code_raw text, hukou_code text, phone_cipher text,"
            " phone_hash text, phone_tail text, phone_masked text, start_date date, end_date date,"
            " duty_days integer, seniority_years integer, category text, bank_name text, account_cipher text,"
            f" account_masked text, payout_choice text, {new_id}, person_id bigint, name_ok boolean NOT NULL DEFAULT true)"
            " ON COMMIT DROP",
            [cur.fetchone()[0]] if reserve_ids else None,
        )

    def check_references_here(self) -> None:
        """Check the registrations' foreign keys set-based instead of by trigger.

        Django's foreign keys are checked by one trigger per row and key, deferred to
        COMMIT: four lookups per registration, ~4.4 s of a 100,000-row import's 7.6 s.
        Every value is known here, so the same guarantee costs one statement each: the
        programme, employer, district (and job) are constants, locked FOR KEY SHARE once
        here, as the trigger would lock them, and each person is locked FOR KEY SHARE by
        the INSERT that references it (`insert`). With those locks, `session_replication_role
        = replica` turns the per-row triggers off for this transaction only (SET LOCAL;
        reverted by restore_triggers, or by a rollback to the surrounding savepoint).

        Setting it needs a superuser or, since PostgreSQL 15, `GRANT SET ON PARAMETER
        session_replication_role TO <role>`; without that right the triggers stay on and
        the import is only slower. Rules and user triggers would be skipped too: the
        registration table has none (only Django's foreign-key triggers), and
        test_import_fk_checks guards that."""
        cur = self.cur
        try:
            with transaction.atomic():  # a savepoint: a refusal leaves the transaction usable
                cur.execute("SELECT current_setting('session_replication_role')")
                self.saved_role = cur.fetchone()[0]
                cur.execute("SET LOCAL session_replication_role = replica")
        except DatabaseError:
            self.saved_role = None
            return
        for field_name, key in (
            ("programme", "programme"),
            ("employer", "employer"),
            ("district", "district"),
            ("import_job", "job"),
        ):
            if self.params[key] is None:
                continue
            target = Registration._meta.get_field(field_name).target_field
            cur.execute(
                f"SELECT 1 FROM {target.model._meta.db_table} WHERE {target.column} = %s FOR KEY SHARE",  # noqa: S608
                [self.params[key]],
            )
            if cur.fetchone() is None:  # what the trigger would have raised at COMMIT
                raise IntegrityError(f"{target.model._meta.db_table} {self.params[key]!r} no longer exists")
        self.lock_persons = " FOR KEY SHARE OF p"

    def restore_triggers(self) -> None:
        if self.saved_role is not None:
            self.cur.execute("SELECT set_config('session_replication_role', %s, true)", [self.saved_role])
            self.saved_role = None

    def load(self, fileobj) -> None:
        # 1 MB reads instead of psycopg2's 8 kB: fewer round trips through the GIL while
        # the pipeline's other thread validates.
        self.cur.cursor.copy_expert(f"COPY import_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN", fileobj, size=1 << 20)

    def reject_mismatches(self) -> list[int]:
        """Find each staged row's person if already known (one probe of the blind index
        per row) and remove (and return) rows whose ID number is known under another
        name: most likely a typo in one of the two."""
        self.cur.execute(
            f"UPDATE import_stage s SET person_id = p.id, name_ok = (p.name = s.name) FROM {self.person_t} p"  # noqa: S608
            " WHERE p.id_hash = s.id_hash"
        )
        if not self.cur.rowcount:
            return []
        self.cur.execute("DELETE FROM import_stage WHERE NOT name_ok RETURNING row_no")
        return sorted(r[0] for r in self.cur.fetchall())

    def predict(self) -> tuple[int, int, int, int]:
        """(staged, new persons, already registered here, would be conflicts) — no writes."""
        self.cur.execute(
            "SELECT count(*), count(*) FILTER (WHERE p.id IS NULL), count(r.id),"  # noqa: S608
            f" count(*) FILTER (WHERE r.id IS NULL AND p.id IS NOT NULL AND {self.other_active})"
            f" FROM import_stage s LEFT JOIN {self.person_t} p ON p.id_hash = s.id_hash"
            f" LEFT JOIN {self.reg_t} r ON r.person_id = p.id AND r.programme_id = %(programme)s"
            " AND r.employer_id = %(employer)s",
            self.params,
        )
        return self.cur.fetchone()

    def predicted_conflict_rows(self, limit: int) -> list[int]:
        self.cur.execute(
            f"SELECT s.row_no FROM import_stage s JOIN {self.person_t} p ON p.id_hash = s.id_hash"  # noqa: S608
            f" LEFT JOIN {self.reg_t} r ON r.person_id = p.id AND r.programme_id = %(programme)s"
            " AND r.employer_id = %(employer)s"
            f" WHERE r.status = 'conflict' OR (r.id IS NULL AND {self.other_active}) ORDER BY s.row_no LIMIT {int(limit)}",
            self.params,
        )
        return [r[0] for r in self.cur.fetchall()]

    def insert(self) -> tuple[int, int, int, int, list[int]]:
        """Persons, then registrations. Returns (staged, persons created, registrations
        created, conflicts, rows rejected late: a known ID number under another name).

        Persons not known yet are inserted (with the id reserved in create) by a plain
        INSERT, and their registrations by another: no lookup of the person by blind
        index, no check for other employers' registrations, no lock and no ON CONFLICT,
        because a person this transaction creates is invisible to everyone else. Only
        persons known before go through the full statement (`_insert_known`).

        Optimistically, while no chunk of this import has met a known person, the plain
        INSERT is tried on the whole chunk before any lookup: an employer's list is
        mostly people nobody registered before. A known person makes it fail on the
        blind index; the chunk is rolled back to a savepoint, and from then on each
        chunk first looks its persons up (reject_mismatches). The same savepoint covers
        a person committed by someone else (another programme's import, a form) after
        the lookup."""
        cur = self.cur
        cur.execute("SELECT count(*) FROM import_stage")
        staged = cur.fetchone()[0]
        late = [] if self.optimistic else self.reject_mismatches()
        cur.execute("SELECT count(*) FILTER (WHERE person_id IS NULL) FROM import_stage")
        new = cur.fetchone()[0]
        columns = (
            f"INSERT INTO {self.reg_t} (person_id, programme_id, employer_id, district_id, start_date,"
            " end_date, duty_days, seniority_years, category, bank_name, account_cipher, account_masked,"
            " payout_choice, status, status_note, source, import_job_id, created_at, updated_at)"
        )
        persons = created = conflicts = 0
        if new:
            # Sorted by blind index: two imports inserting the same persons take their
            # index locks in the same order.
            insert_persons = (
                f"INSERT INTO {self.person_t} (id, id_hash, id_cipher, id_masked, name, sex, birth_date,"  # noqa: S608
                " hukou_code_raw, hukou_code, phone_cipher, phone_hash, phone_tail, phone_masked, created_at)"
                " SELECT new_id, id_hash, id_cipher, id_masked, name, sex, birth_date, hukou_code_raw, hukou_code,"
                " phone_cipher, phone_hash, phone_tail, phone_masked, now()"
                " FROM import_stage WHERE person_id IS NULL ORDER BY id_hash"
            )
            try:
                with transaction.atomic():
                    cur.execute(insert_persons)
                    persons = cur.rowcount
                    cur.execute(
                        columns  # noqa: S608
                        + " SELECT new_id, %(programme)s, %(employer)s, %(district)s, start_date, end_date,"
                        " duty_days, seniority_years, category, bank_name, account_cipher, account_masked,"
                        " payout_choice, 'active', '', %(source)s, %(job)s, now(), now() FROM import_stage WHERE person_id IS NULL",
                        self.params,
                    )
                    created = cur.rowcount
            except IntegrityError:
                persons = created = 0
                if self.optimistic:  # a known person: look them up, this chunk and the next ones
                    self.optimistic = False
                    # Statistics lag behind a large import (or a TRUNCATE): believing the
                    # persons few, the planner, without hash joins in the pipeline, put them
                    # on the outside of a nested loop over the staging table (a re-import
                    # right after an import ran for many minutes). A sampled ANALYZE is
                    # ~0.1 s, once per import.
                    cur.execute(f"ANALYZE {self.person_t}, {self.reg_t}")
                    late = self.reject_mismatches()
                    cur.execute("SELECT count(*) FILTER (WHERE person_id IS NULL) FROM import_stage")
                    if cur.fetchone()[0]:
                        cur.execute(insert_persons + " ON CONFLICT (id_hash) DO NOTHING")
                        persons = cur.rowcount
                else:  # committed by someone else since the lookup
                    cur.execute(insert_persons + " ON CONFLICT (id_hash) DO NOTHING")
                    persons = cur.rowcount
                late += self.reject_mismatches()  # now every row has its person_id
        staged -= len(late)
        if staged > created:
            known_created, conflicts = self._insert_known(columns)
            created += known_created
        return staged, persons, created, conflicts, sorted(late)

    def _insert_known(self, columns: str) -> tuple[int, int]:
        """Registrations of persons known before this chunk: a conflict when the person
        is active with another employer; nothing when already registered here."""
        self.cur.execute(
            f"WITH ins AS ({columns}"  # noqa: S608
            " SELECT p.id, %(programme)s, %(employer)s, %(district)s, s.start_date, s.end_date, s.duty_days,"
            " s.seniority_years, s.category, s.bank_name, s.account_cipher, s.account_masked, s.payout_choice,"
            " CASE WHEN c.other THEN 'conflict' ELSE 'active' END, CASE WHEN c.other THEN %(note)s ELSE '' END,"
            " %(source)s, %(job)s, now(), now()"
            f" FROM import_stage s JOIN {self.person_t} p ON p.id = s.person_id"
            # "Active with another employer" as one index probe per row (LIMIT 1 keeps it
            # a probe): as EXISTS the planner may hash every registration of the
            # programme instead, once per statement, which the pipeline runs per chunk.
            f" LEFT JOIN LATERAL (SELECT true AS other FROM {self.reg_t} o WHERE o.person_id = p.id"
            " AND o.programme_id = %(programme)s AND o.employer_id <> %(employer)s"
            " AND o.status IN ('active', 'conflict') LIMIT 1) c ON true"
            f" WHERE s.person_id IS NOT NULL ORDER BY p.id{self.lock_persons}"
            " ON CONFLICT (person_id, programme_id, employer_id) DO NOTHING RETURNING status)"
            " SELECT status, count(*) FROM ins GROUP BY status",
            self.params,
        )
        by_status = dict(self.cur.fetchall())
        return sum(by_status.values()), by_status.get(RegistrationStatus.CONFLICT, 0)

    def conflict_rows(self, limit: int) -> list[int]:
        """The first staged rows registered here as conflicts (after insert). Only known
        persons can be (a new person has no other registration), and each is one probe
        of the unique index from the staged row: the LATERAL … LIMIT 1 keeps the planner
        from starting at the programme's conflicts instead, which with the pipeline's
        nested loops meant a scan of the staging table per conflict (75 s for one chunk
        of a file whose persons were all registered by another employer)."""
        self.cur.execute(
            "SELECT s.row_no FROM import_stage s CROSS JOIN LATERAL"  # noqa: S608
            f" (SELECT 1 FROM {self.reg_t} r WHERE r.person_id = s.person_id AND r.programme_id = %(programme)s"
            " AND r.employer_id = %(employer)s AND r.status = 'conflict' LIMIT 1) c"
            f" WHERE s.person_id IS NOT NULL ORDER BY s.row_no LIMIT {int(limit)}",
            self.params,
        )
        return [r[0] for r in self.cur.fetchall()]

    def truncate(self) -> None:
        self.cur.execute("TRUNCATE import_stage")

    def drop(self) -> None:
        self.cur.execute("DROP TABLE import_stage")


def _apply_copy(clean_path: Path, *, employer, programme, job, dry_run, valid_only, result: ImportResult) -> None:
    """Phase B in one go, after phase A wrote every clean row to `clean_path`."""
    outcomes = result.outcomes
    with transaction.atomic(), connection.cursor() as cur:
        if not dry_run:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, programme.pk])
        stage = _Stage(cur, employer=employer, programme=programme, job=job)
        stage.create(reserve_ids=not dry_run and (valid_only or outcomes.rejected == 0))
        with open(clean_path, encoding="utf-8") as f:
            stage.load(f)
        # No ANALYZE: it cost ~10 % of the statement time here; without statistics the planner
        # sizes the temp table from its pages, which is enough to choose the hash joins.
        for row_no in stage.reject_mismatches():
            outcomes.reject_late(row_no, [("姓名", NAME_MISMATCH)])
        stage.optimistic = False  # the persons were just looked up
        if dry_run or not (valid_only or outcomes.rejected == 0):
            staged, new_persons, unchanged, conflicts = stage.predict()
            result.persons_created, result.unchanged, result.conflicts = new_persons, unchanged, conflicts
            result.created = staged - unchanged
            result.conflict_rows = stage.predicted_conflict_rows(100)
            stage.drop()
            return
        stage.check_references_here()
        sid = transaction.savepoint()
        staged, result.persons_created, result.created, result.conflicts, late = stage.insert()
        for row_no in late:
            outcomes.reject_late(row_no, [("姓名", NAME_MISMATCH)])
        if late and not valid_only:  # a row rejected this late still means nothing is written
            transaction.savepoint_rollback(sid)
            stage.restore_triggers()
            stage.drop()
            return
        transaction.savepoint_commit(sid)
        stage.restore_triggers()
        result.unchanged = staged - result.created
        result.conflict_rows = stage.conflict_rows(100)
        stage.drop()
        _checkpoint_result(job, result)
        result.written = True


def _checkpoint(job, **committed) -> None:
    """Record what this import wrote in the Job row, inside the transaction that writes
    it: a worker killed after the commit leaves the checkpoint, and the retried attempt
    finishes from it instead of reporting "新增 0 条" (see uploads.import_job_work)."""
    if job is not None:
        job_checkpoint(job.pk, committed=committed)


def _checkpoint_result(job, result: ImportResult) -> None:
    _checkpoint(
        job,
        created=result.created,
        conflicts=result.conflicts,
        persons_created=result.persons_created,
        unchanged=result.unchanged,
        conflict_rows=result.conflict_rows[:100],
    )


class _Pipeline:
    """Phase B overlapped with phase A: a writer thread (its own database connection
    and transaction) stages and inserts chunks of clean rows while the main thread
    validates the next ones, so that Python and PostgreSQL use both cores.

    Everything is written in the writer's one transaction, and rolled back at the end
    when a rejected row means nothing may be written: the result is the one of
    `_apply_copy`. Used only when the caller holds no transaction (a Celery job, the
    CLI): a thread's connection could not see the caller's uncommitted rows.
    """

    CHUNK = 10_000

    def __init__(self, *, employer, programme, job, valid_only: bool):
        import queue
        import threading

        self.employer, self.programme, self.job, self.valid_only = employer, programme, job, valid_only
        self.queue: queue.Queue = queue.Queue(maxsize=4)
        self.lines: list[str] = []
        self.pending_lines = 0  # lines in self.lines
        self.late: list[int] = []
        self.error: BaseException | None = None
        self.stop_inserting = False  # set when a rejected row already means a rollback
        self.counts = [0, 0, 0, 0]  # staged, persons, created, conflicts
        self.conflict_rows: list[int] = []
        self.written = False
        self.outcomes = None
        self.thread = threading.Thread(target=self._run, name="import-writer", daemon=True)
        self.thread.start()

    # main thread ------------------------------------------------------------------
    def write(self, text: str) -> None:
        """Take staged lines: one line, or a batch of them (validation writes a PII batch
        at a time). Chunks are counted in lines, not in calls: counted in calls, a batch
        of 4,096 lines counted as one, so no chunk left before the end, the whole file
        waited in memory (3.2 GB for 1,000,000 rows) and nothing was written meanwhile."""
        self.lines.append(text)
        self.pending_lines += text.count("\n")
        if self.pending_lines >= self.CHUNK:
            if not self.valid_only and self.outcomes.rejected:
                self.stop_inserting = True  # the end will roll back: stage only (for the name check)
            self._put("".join(self.lines))
            self.lines = []
            self.pending_lines = 0

    def _put(self, item) -> None:
        import queue

        while True:
            if self.error is not None:
                raise self.error
            try:
                self.queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if not self.thread.is_alive():
                    raise RuntimeError("import writer stopped") from self.error

    def finish(self, *, rejected_so_far: int) -> None:
        """Send the last chunk and the verdict inputs; wait for the writer."""
        if self.lines:
            self._put("".join(self.lines))
            self.lines = []
        self._put(("end", rejected_so_far))
        self.thread.join()
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        if self.thread.is_alive():
            self.error = self.error or RuntimeError("aborted")
            try:
                self.queue.put_nowait(("abort", 0))
            except Exception:  # noqa: S110 (the writer also stops on self.error)
                pass
            self.thread.join(timeout=30)

    # writer thread ------------------------------------------------------------------
    def _run(self) -> None:
        import io

        from django.db import connection as conn

        try:
            with transaction.atomic(), conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, self.programme.pk])
                # Django's foreign keys are deferred to COMMIT, where their per-row checks
                # (four or five per registration) would run after validation has ended:
                # checked with each chunk's INSERT instead, they overlap with it too.
                cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
                # A chunk is small next to the person table, which grows by a chunk each
                # time: probing its id_hash index per staged row (~4 µs) costs the same at
                # any size, where the hash joins the planner picks from stale statistics
                # hash the whole person table again for every chunk (quadratic over a
                # large file: 10,000 more persons hashed per chunk, ~8 ms each time).
                cur.execute("SET LOCAL enable_hashjoin = off")
                cur.execute("SET LOCAL enable_mergejoin = off")
                stage = _Stage(cur, employer=self.employer, programme=self.programme, job=self.job)
                stage.create()
                stage.check_references_here()
                while True:
                    item = self.queue.get()
                    if isinstance(item, tuple):
                        kind, rejected = item
                        if kind == "abort":
                            raise _Rollback
                        break
                    if self.error is not None:
                        raise _Rollback
                    stage.load(io.StringIO(item))
                    if self.stop_inserting:  # staged only for the name check, for the report
                        self.late.extend(stage.reject_mismatches())
                    else:
                        staged, persons, created, conflicts, late = stage.insert()
                        self.late.extend(late)
                        if late and not self.valid_only:
                            self.stop_inserting = True
                        for i, v in enumerate((staged, persons, created, conflicts)):
                            self.counts[i] += v
                        if len(self.conflict_rows) < 100:
                            self.conflict_rows += stage.conflict_rows(100 - len(self.conflict_rows))
                    stage.truncate()
                if self.stop_inserting or not (self.valid_only or rejected + len(self.late) == 0):
                    raise _Rollback
                stage.restore_triggers()
                stage.drop()
                staged, persons, created, conflicts = self.counts
                _checkpoint(
                    self.job,
                    created=created,
                    conflicts=conflicts,
                    persons_created=persons,
                    unchanged=staged - created,
                    conflict_rows=self.conflict_rows[:100],
                )
                self.written = True
        except _Rollback:
            pass
        except BaseException as exc:  # handed to the main thread
            self.error = exc
        finally:
            conn.close()


def _run_pipeline(table, positions, *, employer, programme, job, valid_only, progress, result: ImportResult) -> None:
    outcomes = result.outcomes
    pipe = _Pipeline(employer=employer, programme=programme, job=job, valid_only=valid_only)
    pipe.outcomes = outcomes
    try:
        _validate(table, positions, programme=programme, outcomes=outcomes, out=pipe, progress=progress, result=result)
        outcomes.close()
        progress.advance(outcomes.total, message="数据已校验，正在完成写入…", force=True)
        pipe.finish(rejected_so_far=outcomes.rejected)
    except BaseException:
        pipe.abort()
        raise
    for row_no in pipe.late:
        outcomes.reject_late(row_no, [("姓名", NAME_MISMATCH)])
    staged, result.persons_created, result.created, result.conflicts = pipe.counts
    result.unchanged = staged - result.created
    result.conflict_rows = pipe.conflict_rows[:100]
    result.written = pipe.written


# -- phase B anywhere else (SQLite for `make run`): the ORM in batches ----------------------


class _Rollback(Exception):
    pass


def _apply_orm(clean_path: Path, *, employer, programme, job, dry_run, valid_only, result: ImportResult) -> None:
    outcomes = result.outcomes
    staged = 0
    try:
        with transaction.atomic():
            batch: list[list[str]] = []
            for fields in _read_clean(clean_path):
                batch.append(fields)
                if len(batch) >= BATCH:
                    staged += _orm_batch(batch, employer=employer, programme=programme, job=job, result=result)
                    batch = []
            if batch:
                staged += _orm_batch(batch, employer=employer, programme=programme, job=job, result=result)
            write = not dry_run and (valid_only or outcomes.rejected == 0)
            result.unchanged = staged - result.created
            result.conflict_rows = result.conflict_rows[:100]
            if not write:
                raise _Rollback
            _checkpoint_result(job, result)
            result.written = True
    except _Rollback:
        pass


def _orm_batch(batch: list[list[str]], *, employer, programme, job, result: ImportResult) -> int:
    rows = [dict(zip(STAGE_COLUMNS, f, strict=True)) for f in batch]
    for r in rows:
        r["bank_name"] = r["bank_name"].replace("\\\\", "\\")
    hashes = [r["id_hash"] for r in rows]
    existing = {
        h: (pk, name) for h, pk, name in Person.objects.filter(id_hash__in=hashes).values_list("id_hash", "pk", "name")
    }
    keep = []
    for r in rows:
        found = existing.get(r["id_hash"])
        if found is not None and found[1] != r["name"]:
            result.outcomes.reject_late(int(r["row_no"]), [("姓名", NAME_MISMATCH)])
        else:
            keep.append(r)
    new = [
        Person(
            id_hash=r["id_hash"],
            id_cipher=r["id_cipher"],
            id_masked=r["id_masked"],
            name=r["name"],
            sex=r["sex"],
            birth_date=dt.date.fromisoformat(r["birth_date"]),
            hukou_code_raw=r["hukou_code_raw"],
            hukou_code=r["hukou_code"],
            phone_cipher=r["phone_cipher"],
            phone_hash=r["phone_hash"],
            phone_tail=r["phone_tail"],
            phone_masked=r["phone_masked"],
        )
        for r in keep
        if r["id_hash"] not in existing
    ]
    Person.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    result.persons_created += len(new)
    ids = dict(Person.objects.filter(id_hash__in=[r["id_hash"] for r in keep]).values_list("id_hash", "pk"))
    person_ids = list(ids.values())
    same = dict(
        Registration.objects.filter(person_id__in=person_ids, programme=programme, employer=employer).values_list(
            "person_id", "status"
        )
    )
    others = set(
        Registration.objects.filter(
            Q(person_id__in=person_ids),
            Q(programme=programme),
            Q(status__in=[RegistrationStatus.ACTIVE, RegistrationStatus.CONFLICT]),
        )
        .exclude(employer=employer)
        .values_list("person_id", flat=True)
    )
    regs = []
    for r in keep:
        pid = ids[r["id_hash"]]
        if pid in same:
            if same[pid] == RegistrationStatus.CONFLICT:
                result.conflict_rows.append(int(r["row_no"]))
            continue
        conflict = pid in others
        if conflict:
            result.conflict_rows.append(int(r["row_no"]))
        regs.append(
            Registration(
                person_id=pid,
                programme=programme,
                employer=employer,
                district_id=employer.district_id,
                start_date=dt.date.fromisoformat(r["start_date"]),
                end_date=dt.date.fromisoformat(r["end_date"]),
                duty_days=int(r["duty_days"]),
                seniority_years=int(r["seniority_years"]),
                category=r["category"],
                bank_name=r["bank_name"],
                account_cipher=r["account_cipher"],
                account_masked=r["account_masked"],
                payout_choice=r["payout_choice"],
                status=RegistrationStatus.CONFLICT if conflict else RegistrationStatus.ACTIVE,
                status_note=CONFLICT_NOTE if conflict else "",
                source=Source.IMPORT,
                import_job=job,
            )
        )
    Registration.objects.bulk_create(regs, batch_size=1000)
    result.created += len(regs)
    result.conflicts += sum(1 for g in regs if g.status == RegistrationStatus.CONFLICT)
    return len(keep)
