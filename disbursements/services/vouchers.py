"""Electronic consumption vouchers (消费券), e.g. 衡水's ¥500 (+¥100 on duty), usable
until 2021-03-08 in the major supermarkets.

A voucher batch goes through the same maker-checker chain as a bank batch; once
approved, issuing gives every line a voucher with a unique, unguessable code (80 random
bits from `secrets`, in an alphabet without look-alike characters), its face value and
its expiry (the rule's `valid_until`), and marks the line paid. The issuance list is
exported for the voucher platform; the platform's redemption file is imported back,
refusing unknown codes, double redemptions and redemptions after expiry.
"""

import csv
import io
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.services.audit import audit_record
from accounts.services.jobs import job_checkpoint, job_step
from core.errors import ConflictError, DomainError, PermissionDenied
from core.spreadsheets import safe_cell
from disbursements.choices import BatchStatus, LineStatus, VoucherStatus
from disbursements.models import Batch, PaymentLine, Voucher
from disbursements.services.bank_results import read_table
from disbursements.services.batches import can_submit
from disbursements.services.payment_files import _decrypter
from programs.choices import Channel

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
CODE_LENGTH = 16  # 16 × 5 bits = 80 bits
ISSUE_CHUNK = 2000  # lines issued per transaction (a killed run resumes after the last one)
ISSUE_HEADER = ["序号", "券码", "姓名", "证件号码", "手机号", "面值", "有效期至", "批次号"]


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _check(user: User | None, batch: Batch) -> None:
    if batch.channel != Channel.E_VOUCHER:
        raise DomainError("只有电子消费券批次可以发券。")
    if user is not None and not (user.is_superuser or can_submit(user, batch)):
        raise PermissionDenied("只有本区县的人社专员可以发放消费券。")


def vouchers_issue(
    *, batch: Batch, acting_user: User | None, job=None, progress=None, chunk: int = ISSUE_CHUNK
) -> dict:
    """Issue the vouchers of an approved voucher batch, `chunk` lines per transaction.

    Resumable and idempotent: each chunk locks the batch row, issues vouchers only to
    pending lines whose entitlement has none (a voucher is one-to-one with its
    entitlement, so the database itself refuses a second), marks them paid and writes
    their audit rows, all in one commit. A run killed half way resumes after its last
    committed chunk. With a `job`, the running count is checkpointed in the same
    commit, so the result counts every attempt's vouchers, once.
    """
    _check(acting_user, batch)
    # A job's later attempt may find the batch reconciled (every voucher issued before the
    # kill): it only reports; a second issuing by hand is refused.
    resumable = (BatchStatus.RECONCILED,) if job is not None else ()
    if batch.status not in (BatchStatus.APPROVED, BatchStatus.EXPORTED, *resumable):
        raise ConflictError(f"批次当前状态为“{batch.get_status_display()}”，省级审批通过后才能发券。")
    issued = int((job.result or {}).get("issued", 0)) if job is not None else 0
    total = PaymentLine.objects.filter(batch=batch).count()
    done = PaymentLine.objects.filter(batch=batch, entitlement__voucher__isnull=False).count()
    if progress:
        progress(done, total)
    while True:
        with transaction.atomic():
            now = timezone.now()
            status = Batch.objects.select_for_update().values_list("status", flat=True).get(pk=batch.pk)
            lines = list(
                PaymentLine.objects.filter(batch=batch, status=LineStatus.PENDING, entitlement__voucher__isnull=True)
                .select_related("entitlement__rule", "batch__programme")
                .order_by("seq")[:chunk]
            )
            if not lines:
                break
            vouchers = _issue_lines(batch, lines, now)
            moved = status == BatchStatus.APPROVED
            if moved:
                Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.EXPORTED)
            audit_record(
                user=acting_user,
                action="vouchers_issue",
                obj=batch,
                changes={
                    "vouchers": len(vouchers),
                    **({"status": [BatchStatus.APPROVED, BatchStatus.EXPORTED]} if moved else {}),
                },
            )
            for line in lines:
                audit_record(user=acting_user, action="line_voucher", obj=line, changes={"status": ["pending", "paid"]})
            issued += len(vouchers)
            if job is not None:
                job_checkpoint(job.pk, issued=issued)
        done += len(lines)
        if progress:
            progress(done, total)
    with transaction.atomic():
        Batch.objects.select_for_update().filter(pk=batch.pk).first()
        if not PaymentLine.objects.filter(batch=batch, status=LineStatus.PENDING).exists():
            if Batch.objects.filter(pk=batch.pk, status=BatchStatus.EXPORTED).update(status=BatchStatus.RECONCILED):
                audit_record(
                    user=acting_user,
                    action="vouchers_issue",
                    obj=batch,
                    changes={"status": [BatchStatus.EXPORTED, BatchStatus.RECONCILED]},
                )
    batch.refresh_from_db()
    return {"issued": issued, "message": f"已发放 {issued} 张消费券"}


def _issue_lines(batch: Batch, lines: list[PaymentLine], now) -> list[Voucher]:
    """Vouchers for `lines` (in the caller's transaction); the lines become paid."""
    vouchers = []
    for line in lines:
        rule = line.entitlement.rule
        expires = rule.valid_until or batch.programme.end_date
        vouchers.append(
            Voucher(
                entitlement=line.entitlement, code=new_code(), face_value=line.amount, expires_on=expires, issued_at=now
            )
        )
    for attempt in range(3):
        try:
            with transaction.atomic():
                Voucher.objects.bulk_create(vouchers, batch_size=2000)
            break
        except IntegrityError:  # a code collision (2^-80 per pair): draw again
            if attempt == 2:
                raise
            for v in vouchers:
                v.code, v.pk = new_code(), None
    by_ent = {v.entitlement_id: v for v in vouchers}
    for line in lines:
        line.status = LineStatus.PAID
        line.bank_reference = f"XFQ{by_ent[line.entitlement_id].pk:010d}"
        line.updated_at = now
    PaymentLine.objects.bulk_update(lines, ["status", "bank_reference", "updated_at"], batch_size=2000)
    return vouchers


def issuance_csv(batch: Batch, out: io.RawIOBase) -> int:
    """The issuance list for the voucher platform (UTF-8 with BOM, formula-safe, the same
    bytes every time)."""
    decrypt = _decrypter()
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    text.write("\ufeff")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(ISSUE_HEADER)
    rows = (
        PaymentLine.objects.filter(batch=batch, entitlement__voucher__isnull=False)
        .order_by("seq")
        .values_list(
            "seq",
            "entitlement__voucher__code",
            "name",
            "id_cipher",
            "entitlement__person__phone_cipher",
            "entitlement__voucher__face_value",
            "entitlement__voucher__expires_on",
        )
    )
    count = 0
    for seq, code, name, idc, phone, face, expires in rows.iterator(chunk_size=5000):
        writer.writerow(
            [
                seq,
                format_code(code),
                safe_cell(name),
                safe_cell(decrypt(idc)),
                safe_cell(decrypt(phone) if phone else ""),  # decrypted only into the file
                f"{face:.2f}",
                expires.isoformat(),
                batch.number,
            ]
        )
        count += 1
    text.flush()
    text.detach()
    return count


# --------------------------------------------------------------------------- redemptions


@dataclass
class Redemption:
    row: int
    code: str
    at: datetime
    merchant: str


def _parse_time(value: str) -> datetime | None:
    value = value.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return timezone.make_aware(datetime.strptime(value, fmt))
        except ValueError:
            continue
    return None


def vouchers_import_redemptions(
    *, path: Path, acting_user: User | None, today: date | None = None, job=None, progress=None, chunk: int = 500
) -> dict:
    """Import the voucher platform's redemption file: 券码, 核销时间, 核销商户. All rows are
    checked first (unknown code, redeemed twice, after expiry, out of scope); nothing is
    written if any row is wrong. Re-importing the same file changes nothing.

    As a job (`job`): the count is checkpointed in the import's own transaction, so an
    attempt killed after the commit is finished by the next one, which writes nothing
    and still reports what the first wrote (never "新核销 0 张", never counted twice)."""
    errors, rows = _redemption_rows(Path(path))
    vouchers = {
        v.code: v
        for v in Voucher.objects.filter(code__in=[r.code for r in rows]).select_related("entitlement__district")
    }
    errors += _redemption_errors(rows, vouchers, acting_user)
    if errors:
        raise DomainError(f"核销文件有 {len(errors)} 处错误，未导入任何记录。", errors=errors[:200])
    return _redemptions_write(
        rows=rows, vouchers=vouchers, acting_user=acting_user, job=job, progress=progress, chunk=chunk
    )


def _redemption_rows(path: Path) -> tuple[list[str], list]:
    """Read the file: its rows (券码, 核销时间, 核销商户), and the errors of the rows
    themselves (an empty code, a code twice, a time that is not one)."""
    table = read_table(path)
    if not table:
        raise DomainError("核销文件是空的。")
    header = [h.strip() for h in table[0]]
    try:
        code_col, time_col = header.index("券码"), header.index("核销时间")
    except ValueError:
        raise DomainError("核销文件第 1 行应包含列：券码、核销时间、核销商户。") from None
    merchant_col = header.index("核销商户") if "核销商户" in header else None
    errors, rows, seen = [], [], {}
    for number, values in enumerate(table[1:], start=2):
        if not any(v.strip() for v in values):
            continue
        code = values[code_col].replace("-", "").strip().upper() if code_col < len(values) else ""
        at = _parse_time(values[time_col]) if time_col < len(values) else None
        merchant = values[merchant_col].strip()[:200] if merchant_col is not None and merchant_col < len(values) else ""
        if not code:
            errors.append(f"第 {number} 行“券码”列：不能为空。")
        elif code in seen:
            errors.append(
                f"第 {number} 行：券码 {format_code(code)} 与第 {seen[code]} 行重复（同一张券只能核销一次）。"
            )
        elif at is None:
            errors.append(f"第 {number} 行“核销时间”列：应为“2021-02-20 10:30:00”格式。")
        else:
            seen[code] = number
            rows.append(Redemption(number, code, at, merchant))
    return errors, rows


def _redemption_errors(rows: list, vouchers: dict, acting_user: User | None) -> list[str]:
    """The rows that cannot be redeemed: an unknown code, out of the user's scope,
    redeemed before at another time, after the voucher's expiry."""
    errors = []
    for r in rows:
        v = vouchers.get(r.code)
        if v is None:
            errors.append(f"第 {r.row} 行“券码”列：券码 {format_code(r.code)} 不存在。")
        elif (
            acting_user is not None
            and not acting_user.is_superuser
            and not (acting_user.region and v.entitlement.district.path.startswith(acting_user.region.path))
        ):
            errors.append(f"第 {r.row} 行：券码 {format_code(r.code)} 不属于您管辖的区域。")
        elif v.status == VoucherStatus.REDEEMED and v.redeemed_at != r.at:
            errors.append(
                f"第 {r.row} 行：券码 {format_code(r.code)} 已于 {timezone.localtime(v.redeemed_at):%Y-%m-%d %H:%M} 核销，不能重复核销。"
            )
        elif timezone.localtime(r.at).date() > v.expires_on:
            errors.append(
                f"第 {r.row} 行“核销时间”列：券码 {format_code(r.code)} 已于 {v.expires_on:%Y-%m-%d} 过期，不能核销。"
            )
    return errors


def _redemptions_write(*, rows, vouchers, acting_user, job, progress, chunk: int) -> dict:
    """Redeem the vouchers still issued, audited, the count checkpointed in the same
    transaction (see vouchers_import_redemptions)."""
    if progress:
        progress(0, len(rows))
    earlier = int(((job.result or {}).get("committed") or {}).get("redeemed", 0)) if job is not None else 0
    changed = 0
    with transaction.atomic():
        for done, r in enumerate(rows, start=1):
            if progress and done % chunk == 0:
                job_step()  # not progress(): the job's row must not be locked until the commit
            n = Voucher.objects.filter(code=r.code, status=VoucherStatus.ISSUED).update(
                status=VoucherStatus.REDEEMED, redeemed_at=r.at, merchant=r.merchant
            )
            if n:
                changed += 1
                audit_record(
                    user=acting_user,
                    action="voucher_redeem",
                    object_type="disbursements.voucher",
                    object_id=str(vouchers[r.code].pk),
                    changes={"status": ["issued", "redeemed"], "merchant": r.merchant},
                )
        if job is not None and changed:
            job_checkpoint(job.pk, committed={"redeemed": changed})
    if progress:
        progress(len(rows), len(rows))
    changed += earlier
    return {"rows": len(rows), "redeemed": changed, "message": f"已导入 {len(rows)} 条核销记录，新核销 {changed} 张"}


def vouchers_expire(*, today: date | None = None) -> int:
    """Mark issued vouchers past their expiry as expired (beat calls this daily). The
    audit trail gets one row per expiry date, in the transaction of the change: the
    status's old and new value and how many vouchers changed (a whole programme's
    vouchers expire on the same day: a row per voucher would be noise)."""
    today = today or timezone.localdate()
    expired = 0
    with transaction.atomic():
        due = Voucher.objects.filter(status=VoucherStatus.ISSUED, expires_on__lt=today)
        for day in sorted(set(due.values_list("expires_on", flat=True).distinct().order_by())):
            # The update says how many changed: a voucher redeemed meanwhile is not counted.
            count = due.filter(expires_on=day).update(status=VoucherStatus.EXPIRED)
            if not count:
                continue
            expired += count
            audit_record(
                user=None,
                action="vouchers_expire",
                object_type="disbursements.voucher",
                changes={
                    "status": [VoucherStatus.ISSUED, VoucherStatus.EXPIRED],
                    "expires_on": day.isoformat(),
                    "count": count,
                },
                comment=f"消费券有效期至 {day:%Y-%m-%d}，已过期",
            )
    return expired
