"""Bank result files (银行回盘文件): which lines of an exported batch were paid, which failed.

Two phases, as every import here: read and check every row first (errors by row and
column, in Chinese, all at once; nothing is written if any row is wrong), then apply
all rows with one set-based UPDATE from a staging table. Only pending lines change,
so importing the same file twice (or a worker that dies and runs again) changes
nothing the second time. When no line of the batch is pending any more, the batch is
reconciled.
"""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from accounts.services.audit import audit_record
from core.errors import ConflictError, DomainError, PermissionDenied
from disbursements import sql
from disbursements.choices import BatchStatus, LineStatus
from disbursements.models import Batch, PaymentLine
from disbursements.services.batches import can_submit
from disbursements.services.notify import batch_results_notify_after_commit
from disbursements.services.rollups import rollups_refresh_soon

# 商家明细单号, 平台明细单号, 已领取: the words of an e-red-packet platform's result file.
REFERENCE_HEADERS = ("备注", "参考号", "业务参考号", "交易参考号", "商家明细单号", "reference", "ref")
STATUS_HEADERS = ("状态", "处理结果", "交易状态", "处理状态", "status")
REASON_HEADERS = ("失败原因", "原因", "错误信息", "reason")
BANK_REF_HEADERS = ("银行流水号", "流水号", "平台明细单号", "bank_reference")
PAID_WORDS = {"成功", "已成功", "交易成功", "已入账", "入账成功", "已领取", "success", "paid", "ok", "0000", "s"}
FAILED_WORDS = {"失败", "交易失败", "已退回", "退回", "failed", "fail", "f"}
KNOWN_REASONS = ("户名不符", "账号不存在", "已销户", "冻结", "账户冻结", "账号状态异常", "证件号不符")
MAX_ERRORS = 200


@dataclass
class ResultRow:
    row: int
    seq: int
    status: str
    reason: str
    bank_reference: str


def can_import_results(user: User, batch: Batch) -> bool:
    return user.is_superuser or can_submit(user, batch)


# --------------------------------------------------------------------------- reading


def read_table(path: Path) -> list[list[str]]:
    """Rows of a CSV (UTF-8, with or without BOM, or GB18030) or XLSX file, as text."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xls", ".xlsm"):
        from python_calamine import CalamineWorkbook

        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        return [[_cell(c) for c in row] for row in sheet.iter_rows()]
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DomainError("无法识别文件编码：请保存为 UTF-8 或 GB18030 编码的 CSV 文件。")
    return [row for row in csv.reader(io.StringIO(text))]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    normalized = [h.strip().lower() for h in header]
    for name in names:
        if name.lower() in normalized:
            return normalized.index(name.lower())
    return None


def parse_results(batch: Batch, table: list[list[str]]) -> list[ResultRow]:
    """Check every row; raise DomainError with all the problems, or return the rows."""
    if not table:
        raise DomainError("结果文件是空的。")
    header = table[0]
    ref_col, status_col = _find(header, REFERENCE_HEADERS), _find(header, STATUS_HEADERS)
    reason_col, bank_col = _find(header, REASON_HEADERS), _find(header, BANK_REF_HEADERS)
    missing = [label for label, col in (("备注（参考号）", ref_col), ("状态", status_col)) if col is None]
    if missing:
        raise DomainError(
            f"结果文件第 1 行缺少列：{'、'.join(missing)}。请使用银行回盘文件的原始表头（序号、姓名、……、备注、状态、失败原因）。"
        )
    current = dict(PaymentLine.objects.filter(batch=batch).values_list("seq", "status"))
    prefix = f"{batch.number}-"
    errors: list[str] = []
    rows: list[ResultRow] = []
    seen: dict[int, int] = {}

    def col(values, index):
        return values[index].strip() if index is not None and index < len(values) else ""

    for number, values in enumerate(table[1:], start=2):
        if not any(v.strip() for v in values):
            continue
        reference = col(values, ref_col)
        if col(values, 0) == "合计" or reference.startswith("共 "):
            continue  # the total line of our own file layout
        status_text = col(values, status_col)
        reason = col(values, reason_col)
        if not reference.startswith(prefix) or not reference[len(prefix) :].isdigit():
            errors.append(f"第 {number} 行“备注”列：参考号“{reference}”不属于批次 {batch.number}。")
            continue
        seq = int(reference[len(prefix) :])
        if seq not in current:
            errors.append(f"第 {number} 行“备注”列：批次中没有第 {seq} 笔（参考号 {reference}）。")
            continue
        if seq in seen:
            errors.append(f"第 {number} 行：参考号 {reference} 与第 {seen[seq]} 行重复。")
            continue
        seen[seq] = number
        word = status_text.lower()
        if word in PAID_WORDS:
            status = LineStatus.PAID
        elif word in FAILED_WORDS:
            status = LineStatus.FAILED
            if not reason:
                errors.append(
                    f"第 {number} 行“失败原因”列：失败的记录必须写明原因（如户名不符、账号不存在、已销户、冻结）。"
                )
                continue
        else:
            errors.append(f"第 {number} 行“状态”列：无法识别“{status_text}”，应为“成功”或“失败”。")
            continue
        now_status = current[seq]
        if now_status != LineStatus.PENDING and now_status != status:
            label = LineStatus(now_status).label
            errors.append(f"第 {number} 行：第 {seq} 笔已登记为“{label}”，结果文件却为“{status_text}”，请与银行核实。")
            continue
        rows.append(
            ResultRow(
                number, seq, status, reason[:200] if status == LineStatus.FAILED else "", col(values, bank_col)[:60]
            )
        )
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise DomainError(f"结果文件有 {len(errors)} 处错误，未导入任何记录。", errors=errors)
    if not rows:
        raise DomainError("结果文件中没有发放结果记录。")
    return rows


# --------------------------------------------------------------------------- applying


def batch_import_results(*, batch: Batch, path: Path, acting_user: User | None, progress=None) -> dict:
    if acting_user is not None and not can_import_results(acting_user, batch):
        raise PermissionDenied("只有本区县的人社专员可以导入银行结果。")
    if batch.status not in (BatchStatus.EXPORTED, BatchStatus.RECONCILED):
        raise ConflictError(f"批次当前状态为“{batch.get_status_display()}”，导出银行文件后才能导入结果。")
    rows = parse_results(batch, read_table(Path(path)))
    if progress:
        progress(0, len(rows))
    with transaction.atomic():
        # Lock the batch row: two imports of results for one batch run one after the other.
        Batch.objects.select_for_update().filter(pk=batch.pk).first()
        changed = _apply(batch, rows, acting_user)
        remaining = PaymentLine.objects.filter(batch=batch, status=LineStatus.PENDING).count()
        counts = dict(
            (s, PaymentLine.objects.filter(batch=batch, status=s).count()) for s in (LineStatus.PAID, LineStatus.FAILED)
        )
        result = {
            "rows": len(rows),
            "changed": changed,
            "paid": counts[LineStatus.PAID],
            "failed": counts[LineStatus.FAILED],
            "pending": remaining,
            "file": Path(path).name,
        }
        audit_record(user=acting_user, action="batch_results", obj=batch, changes=result)
        batch_results_notify_after_commit(batch.pk)  # workers, employers and officers are told
        if remaining == 0:
            moved = Batch.objects.filter(pk=batch.pk, status=BatchStatus.EXPORTED).update(status=BatchStatus.RECONCILED)
            if moved:
                audit_record(
                    user=acting_user,
                    action="batch_reconcile",
                    obj=batch,
                    changes={"status": [BatchStatus.EXPORTED, BatchStatus.RECONCILED]},
                )
    if progress:
        progress(len(rows), len(rows))
    result["message"] = (
        f"已导入 {len(rows)} 条结果：成功 {result['paid']} 笔，失败 {result['failed']} 笔，待定 {remaining} 笔"
    )
    batch.refresh_from_db()
    rollups_refresh_soon(batch.programme_id, districts=[batch.district_id])  # the dashboards' paid / failed figures
    return result


def _apply(batch: Batch, rows: list[ResultRow], user: User | None) -> int:
    """One UPDATE … FROM a staging table; then one INSERT … SELECT of the audit rows of
    the lines that changed."""
    now = timezone.now()
    user_id = user.pk if user is not None and user.is_authenticated else None
    pg = connection.vendor == "postgresql"
    with connection.cursor() as cur:
        cur.execute(sql.BANK_RESULTS_DROP)
        cur.execute(sql.BANK_RESULTS_CREATE)
        if pg:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerows((r.seq, r.status, r.reason, r.bank_reference) for r in rows)
            buf.seek(0)
            cur.cursor.copy_expert(sql.BANK_RESULTS_COPY, buf)
        else:
            cur.executemany(sql.BANK_RESULTS_INSERT, [(r.seq, r.status, r.reason, r.bank_reference) for r in rows])
        cur.execute(sql.CHANGED_LINES_DROP)
        cur.execute(sql.CHANGED_LINES_CREATE)
        cur.execute(sql.CHANGED_LINES_FILL, {"batch_id": batch.pk})
        cur.execute(sql.BANK_RESULTS_APPLY, {"now": now, "batch_id": batch.pk})
        changed = cur.rowcount
        cur.execute(
            sql.BANK_RESULTS_AUDIT_PG if pg else sql.BANK_RESULTS_AUDIT_OTHER,
            {"now": now, "user_id": user_id, "comment": f"银行结果导入（批次 {batch.number}）"},
        )
        for statement in sql.BANK_RESULTS_CLEANUP:
            cur.execute(statement)
    return changed


def example_result_csv(batch: Batch, failures: dict[int, str]) -> str:
    """A bank result file for `batch` (tests and the demo): every line paid except the
    seqs in `failures` (seq → reason)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["序号", "姓名", "金额", "备注", "状态", "失败原因", "银行流水号"])
    for seq, name, amount in (
        PaymentLine.objects.filter(batch=batch).order_by("seq").values_list("seq", "name", "amount")
    ):
        reason = failures.get(seq, "")
        w.writerow(
            [
                seq,
                name,
                f"{amount:.2f}",
                f"{batch.number}-{seq:07d}",
                "失败" if reason else "成功",
                reason,
                f"YH{batch.pk:05d}{seq:08d}",
            ]
        )
    return buf.getvalue()
