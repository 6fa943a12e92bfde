"""Phase A of an import of workers (beneficiaries.importer.workers): every row read and
validated in Python, its ID, phone and account numbers encrypted and indexed a batch at
a time, and each clean row written as a line in COPY text format."""

import datetime as dt
import gc
import re

from beneficiaries import pii
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
    chinese,
)
from beneficiaries.importer.outcomes import Outcomes
from beneficiaries.importer.result import (
    ImportResult,
)
from beneficiaries.phone import PhoneError, validate_mobile

SAMPLE_ROWS = 20
_ID_CHECK_VALUE = {c: i for i, c in enumerate("0123456789X")}
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


def validate(table, positions, **kw) -> None:
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
    """The loop over the rows. Each row's cells go through three checkers (the person,
    the stay, the payment: `_person_checker` and its siblings below), one call each per
    row with the checks inline in them; an accepted row's line waits with the pending
    ones for the batch encryption of its numbers (`_flusher`); the first accepted rows
    are kept as a sample; the progress moves every 2,000 rows."""
    blank = max(positions.values()) + 1
    check_person = _person_checker(positions, blank)
    check_stay = _stay_checker(positions, blank, programme)
    check_payment = _payment_checker(positions, blank)
    pending: list[tuple] = []  # accepted rows waiting for their batch's encryption
    flush = _flusher(pending, out.write)
    mask_id, mask_account = fast_masks()
    sample = result.sample
    iso: dict[dt.date, str] = {}  # a file holds few distinct dates: date → "YYYY-MM-DD"
    done = 0
    width = blank + 1  # cells[width - 1] is always "" (a missing optional column)
    pad = [""] * width
    for row_no, cells in table:
        if len(cells) < width:
            cells = cells + pad[: width - len(cells)]
        errors = []
        name, info, phone = check_person(row_no, cells, errors)
        start, end, duty, seniority, category = check_stay(cells, errors)
        bank, account, hukou, payout = check_payment(cells, errors, info)
        if errors:
            outcomes.reject(row_no, errors)
        else:
            outcomes.accept(row_no)
            number = info.number
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
                        "start_date": start_iso,
                        "end_date": end_iso,
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


def _flusher(pending: list[tuple], write):
    """flush(): encrypt and index the pending rows' numbers in one batch and write their
    lines: row, ID blind index, ID cipher, …, phone cipher, phone blind index, the keyed
    digest of its last four digits (for the public lookup), …, account cipher."""
    protect_rows = pii.fast().protect_rows

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
    """check(row_no, cells, errors) → (name, ID number's info, phone): the name, the ID
    number (and a second row of the same person), the mobile number."""
    i_name, i_id, i_phone = positions["name"], positions["id_number"], positions["phone"]
    today = dt.date.today()
    seen: dict[int, int] = {}  # ID number as an int → the first row that has it

    def check(row_no, cells, errors):
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
