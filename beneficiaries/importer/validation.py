"""Phase A of an import of workers (beneficiaries.importer.workers): every row read and
validated in Python, its ID, phone and account numbers encrypted and indexed a batch at
a time, and each clean row written as a line in COPY text format.

A large file is checked on every core: the importing process reads the rows a chunk at
a time and hands each chunk to a forked worker process (core.forkpool), which checks and
encrypts it (`RowChecks`) and sends back its clean lines and outcomes; the importing
process finishes the chunks in file order (`_Finish`: a second row of the same person,
which needs every row before it) and writes them on. A small file, or the ORM path, runs
the same RowChecks in the importing process."""

import datetime as dt
import gc
import os
import re
from array import array
from contextlib import contextmanager
from typing import NamedTuple

from django.conf import settings

from beneficiaries import pii
from beneficiaries.idcard import (
    IdNumberError,
    current_code_of,
    division_codes,
    nationality_codes,
    validate_id_number,
)
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
    chinese,
)
from beneficiaries.importer.outcomes import Outcomes, accepted_line, rejected_line
from beneficiaries.importer.result import (
    ImportResult,
)
from beneficiaries.phone import PhoneError, validate_mobile
from beneficiaries.spreadsheets import chunk_rows
from core.forkpool import ForkPool

SAMPLE_ROWS = 20
_ID_CHECK_VALUE = {c: i for i, c in enumerate("0123456789X")}
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
PII_BATCH = 4096  # rows checked together (a chunk), their accepted rows encrypted and indexed together


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

# A file of this many rows or more is checked by settings.IMPORT_PROCESSES forked worker
# processes; a smaller one here (forking and pickling would cost more than they save).
PARALLEL_MIN_ROWS = 20_000
DUPLICATE_ID = "与第{first}行的身份证号重复：同一人只需登记一次，请删除本行"


class Checked(NamedTuple):
    """A chunk of rows checked by `RowChecks`, in a worker process or here: what `_Finish`
    needs to finish them in file order."""

    rows: int  # how many
    lines: bytes  # the accepted rows' clean lines (COPY text, UTF-8: written on as they are)
    outcomes: str  # every row's outcome line (beneficiaries.importer.outcomes)
    rejects: list[tuple[int, list]]  # (row, errors) of the rejected rows
    id_rows: array  # the rows whose ID number is valid, and that number as an int: a
    ids: array  # second row of the same person is found across chunks by _Finish
    pid: int  # the process that checked them


def checking_pool(table, positions, *, programme, parallel: bool) -> ForkPool:
    """The pool that checks the rows of `table` (validate): with `parallel`, for a file
    of PARALLEL_MIN_ROWS rows or more, settings.IMPORT_PROCESSES forked worker
    processes; else none, and the same RowChecks run here. Enter it (`with`) before
    starting any thread."""
    processes = settings.IMPORT_PROCESSES if parallel and table.estimated_rows >= PARALLEL_MIN_ROWS else 1
    return ForkPool(RowChecks(positions, programme), processes)


@contextmanager
def _gc_paused():
    """The cyclic garbage collector paused. Holding a batch of accepted rows for pii's
    batch API (4,096 tuples of strings) made the collector traverse them again and again:
    +3.7k instructions a row (callgrind, 20,000 rows), more than the batch saved; the
    checks make no reference cycles (their objects are freed by reference counting)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def validate(table, pool: ForkPool, *, outcomes: Outcomes, out, progress, result: ImportResult) -> None:
    """Phase A: the rows read here a chunk of PII_BATCH at a time (of a plain CSV, only
    its lines: the worker process parses them), each chunk checked by the pool
    (`RowChecks`, in a worker process or here), then finished here in file order
    (`_Finish`): a second row of the same person, the outcome lines, the clean lines
    written to `out`, the sample. The progress moves once a chunk."""
    checked_by = set()
    with _gc_paused():
        finish = _Finish(pool.work, outcomes=outcomes, out=out, sample=result.sample)
        done = 0
        for chunk, checked in pool.map(table.chunks(PII_BATCH)):
            finish(chunk, checked)
            checked_by.add(checked.pid)
            done += checked.rows
            progress.advance(done, message="正在读取并校验…")
    checked_by.discard(os.getpid())
    result.processes = len(checked_by)


class RowChecks:
    """The per-row work of phase A, the one code path whether a worker process or the
    importing process runs it: `checks(chunk)` → Checked for a chunk of Table.chunks;
    `checks.sample(row, cells)` is an accepted row as the preview shows it.

    Each row's cells go through three checkers (the person, the stay, the payment:
    `_person_checker` and its siblings below), one call each per row with the checks
    inline in them; an accepted row's line waits with the pending ones for the batch
    encryption of its numbers (`_flusher`). Nothing here needs another chunk's rows:
    what does (a second row of the same person) is `_Finish`'s."""

    def __init__(self, positions, programme):
        blank = max(positions.values()) + 1
        self.width = blank + 1  # cells[width - 1] is always "" (a missing optional column)
        self.pad = [""] * self.width
        self.check_person = _person_checker(positions, blank)
        self.check_stay = _stay_checker(positions, blank, programme)
        self.check_payment = _payment_checker(positions, blank)
        self.masks = fast_masks()
        # Inherited by the worker processes: core.crypto draws fresh nonces in a forked
        # child and starts its helper thread there again.
        self.protect_rows = pii.fast().protect_rows
        self.iso: dict[dt.date, str] = {}  # a file holds few distinct dates: date → "YYYY-MM-DD"
        # Loaded once here rather than once in every worker process.
        division_codes()
        nationality_codes()

    def __call__(self, chunk) -> Checked:
        with _gc_paused():
            return self._check(chunk_rows(chunk))

    def _check(self, rows: list[tuple[int, list]]) -> Checked:
        check_person, check_stay, check_payment = self.check_person, self.check_stay, self.check_payment
        mask_id, mask_account = self.masks
        iso, width, pad = self.iso, self.width, self.pad
        pending: list[tuple] = []  # accepted rows waiting for their batch's encryption
        lines: list[str] = []
        flush = _flusher(pending, lines.append, self.protect_rows)
        outcome_lines: list[str] = []
        rejects: list[tuple[int, list]] = []
        id_rows, ids = array("q"), array("q")
        for row_no, cells in rows:
            if len(cells) < width:
                cells = cells + pad[: width - len(cells)]
            errors = []
            name, info, phone = check_person(cells, errors)
            start, end, duty, seniority, category = check_stay(cells, errors)
            bank, account, hukou, payout = check_payment(cells, errors, info)
            if info is not None:
                number = info.number
                id_rows.append(row_no)
                ids.append(int(number[:17]) * 11 + _ID_CHECK_VALUE[number[17]])
            if errors:
                rejects.append((row_no, errors))
                outcome_lines.append(rejected_line(row_no, errors))
                continue
            outcome_lines.append(accepted_line(row_no))
            # COPY's text format reads a backslash as an escape: the two free-text
            # columns keep theirs doubled (the other columns cannot hold one).
            if "\\" in bank:
                bank = bank.replace("\\", "\\\\")
            if "\\" in name:
                name = name.replace("\\", "\\\\")
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
        flush()
        return Checked(len(rows), "".join(lines).encode(), "".join(outcome_lines), rejects, id_rows, ids, os.getpid())

    def sample(self, row_no: int, cells: list) -> dict:
        """An accepted row, masked, as the preview's sample table shows it."""
        if len(cells) < self.width:
            cells = cells + self.pad[: self.width - len(cells)]
        errors: list = []
        name, info, _phone = self.check_person(cells, errors)
        start, end, duty, _seniority, category = self.check_stay(cells, errors)
        bank, account, _hukou, _payout = self.check_payment(cells, errors, info)
        mask_id, mask_account = self.masks
        return {
            "row": row_no,
            "name": name,
            "id_masked": mask_id(info.number),
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "duty_days": duty,
            "category": chinese(category.label),
            "bank_name": bank,
            "account_masked": mask_account(account) if account else "",
        }


class _Finish:
    """The importing process's part of phase A, a checked chunk at a time in file order:
    the checks that need every row before (a second row of the same ID number: a map
    ID → first row, the only thing held per row in memory), then the outcome lines, the
    clean lines and the first accepted rows as the sample."""

    def __init__(self, checks: RowChecks, *, outcomes: Outcomes, out, sample: list):
        self.checks, self.outcomes, self.out, self.sample = checks, outcomes, out, sample
        self.seen: dict[int, int] = {}  # ID number as an int → the first row that has it

    def __call__(self, chunk, checked: Checked) -> None:
        lines, text, rejects = checked.lines, checked.outcomes, checked.rejects
        duplicates = self._duplicates(checked)
        if duplicates:
            lines, text, rejects = _reject_duplicates(checked, duplicates)
        self.outcomes.extend(text, rows=checked.rows, rejects=rejects)
        if lines:
            self.out.write(lines)
        if len(self.sample) < SAMPLE_ROWS:  # the first chunks: their rows parsed here again
            rejected = {row_no for row_no, _ in rejects}
            for row_no, cells in chunk_rows(chunk):
                if row_no not in rejected:
                    self.sample.append(self.checks.sample(row_no, cells))
                    if len(self.sample) >= SAMPLE_ROWS:
                        break

    def _duplicates(self, checked: Checked) -> dict[int, int]:
        """{row: the first row of its ID number} for the chunk's second rows."""
        first_row = self.seen.setdefault
        return {
            row_no: first
            for row_no, key in zip(checked.id_rows, checked.ids, strict=True)
            if (first := first_row(key, row_no)) != row_no
        }


def _reject_duplicates(checked: Checked, duplicates: dict[int, int]) -> tuple[bytes, str, list]:
    """The chunk's lines, outcome lines and rejects with its second rows of a person
    rejected: the error goes where the row-by-row check put it (after the name's, with
    the ID number's), and a row that had no other error loses its clean line."""
    # An outcome line starts with its row number, and its JSON holds no raw newline.
    rows = [int(line.partition("\t")[0]) for line in checked.outcomes.split("\n")[:-1]]
    errors_of = dict(checked.rejects)
    dropped = set()
    for row_no, first in duplicates.items():
        errors = errors_of.get(row_no)
        if errors is None:
            errors = errors_of[row_no] = []
            dropped.add(row_no)
        at = 1 if errors and errors[0][0] == "姓名" else 0
        errors.insert(at, ("身份证号", DUPLICATE_ID.format(first=first)))
    rejects = [(row_no, errors_of[row_no]) for row_no in rows if row_no in errors_of]
    text = "".join(
        rejected_line(row_no, errors_of[row_no]) if row_no in errors_of else accepted_line(row_no) for row_no in rows
    )
    # A clean line starts with its row number and a tab, and holds no newline.
    kept = [line for line in checked.lines.split(b"\n")[:-1] if int(line.partition(b"\t")[0]) not in dropped]
    return b"".join(line + b"\n" for line in kept), text, rejects


def _flusher(pending: list[tuple], write, protect_rows):
    """flush(): encrypt and index the pending rows' numbers in one batch and write their
    lines: row, ID blind index, ID cipher, …, phone cipher, phone blind index, the keyed
    digest of its last four digits (for the public lookup), …, account cipher."""

    def flush() -> None:
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

    return flush


def _person_checker(positions, blank: int):
    """check(cells, errors) → (name, ID number's info, phone): the name, the ID number
    (a second row of the same person is _Finish's), the mobile number."""
    i_name, i_id, i_phone = positions["name"], positions["id_number"], positions["phone"]
    today = dt.date.today()

    def check(cells, errors):
        name = phone = ""
        try:
            name = person_name(cells[i_name])
        except CellError as exc:
            errors.append(("姓名", str(exc)))
        info = None
        try:
            info = validate_id_number(identifier(cells[i_id], "身份证号"), today=today)
        except (CellError, IdNumberError) as exc:
            errors.append(("身份证号", str(exc)))
        try:
            phone = cells[i_phone]
            if not (type(phone) is str and _MOBILE.fullmatch(phone)):  # else the full cleaning
                phone = validate_mobile(identifier(phone, "手机号"))
        except (CellError, PhoneError) as exc:
            errors.append(("手机号", str(exc)))
        return name, info, phone

    return check


def _stay_checker(positions, blank: int, programme):
    """check(cells, errors) → (start, end, duty days, seniority, category): the stay
    inside the programme's period, the days on duty in its holiday, the category."""
    i_start, i_end, i_cat = positions["start_date"], positions["end_date"], positions["category"]
    i_duty, i_sen = positions.get("duty_days", blank), positions.get("seniority_years", blank)
    p_start, p_end = programme.start_date, programme.end_date
    holiday_days = (programme.holiday_end - programme.holiday_start).days + 1
    period = f"{p_start:%Y-%m-%d} 至 {p_end:%Y-%m-%d}"
    # Only the canonical text of each valid number (str(n)): int_value gives the same n
    # for it, so the shortcut accepts nothing that int_value would refuse.
    duty_values = {str(n): n for n in range(holiday_days + 1)}
    seniority_values = {str(n): n for n in range(61)}
    dates: dict[str, dt.date] = {}  # a file holds few distinct dates: their text → date

    def check(cells, errors):
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
        return start, end, duty, seniority, category

    return check


def _payment_checker(positions, blank: int):
    """check(cells, errors, ID info) → (bank, account, hukou region, payout choice): the
    bank and account (both or neither), the hukou region (the ID number's unless
    given), how the money is paid out."""
    i_bank, i_acct = positions.get("bank_name", blank), positions.get("account", blank)
    i_hukou, i_payout = positions.get("hukou_code", blank), positions.get("payout_choice", blank)
    banks: dict[str, str] = {}  # cell text → cleaned bank name (a file names a handful)

    def check(cells, errors, info):
        account = ""
        raw_bank = cells[i_bank]
        bank = banks.get(raw_bank) if type(raw_bank) is str else None
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
        return bank, account, hukou, payout

    return check
