"""The 电子红包 channel: a payment platform's bulk red-packet upload, and its result file.

循环化工园区 pays "800元的电子红包或现金补贴" (seed article): a red packet goes to the
worker's phone number, not to a bank card. An approved `red_packet` batch is exported in
the shape bulk red-packet uploads take (a batch block — the merchant's batch number,
name, total and count, which the platform checks against the details — then one detail
per packet keyed by the phone, with the merchant's detail number the result comes back
with). Like the bank file: UTF-8 with BOM or GB18030 CSV, or XLSX; the same batch gives
the same bytes; no cell can become a formula; the phone is decrypted only into the file.
The ID number is not in it: the platform pays a phone and checks the real name against it.

The platform's result file is read by `bank_results` like the bank's: `商家明细单号` (the
line's reference), `状态` (成功 / 已领取 or 失败 / 已退回), `失败原因` (手机号未注册, 未实名认证,
实名信息不符, 超时未领取已退回 …), `平台明细单号`. Approvals, reconciliation, paid-once and
补发 (a corrected or confirmed phone) are the bank channel's.
"""

import csv
import io
from decimal import Decimal
from pathlib import Path

from django.db import connection

from beneficiaries import pii
from core import crypto
from core.money import ZERO
from core.private_files import private_file
from core.spreadsheets import safe_cell, text_workbook, write_header
from disbursements.models import Batch, PaymentLine, line_reference
from disbursements.services.file_stream import LineFormatter, Streamed, content_hasher, csv_rows_bytes, stream_lines
from disbursements.sql import FILE_STREAM
from programs.choices import Channel

BATCH_HEADER = ["商家批次单号", "批次名称", "发放方", "总金额（元）", "总笔数"]
DETAIL_HEADER = ["商家明细单号", "收款人手机号", "收款人姓名", "红包金额（元）", "红包备注"]
RESULT_HEADER = ["商家明细单号", "收款人手机号", "红包金额（元）", "状态", "失败原因", "平台明细单号"]
# Failure reasons a platform returns for a packet (kept as it writes them).
FAILURE_REASONS = ("手机号未注册", "未实名认证", "实名信息不符", "超时未领取已退回")


def is_red_packet(batch: Batch) -> bool:
    return batch.channel == Channel.RED_PACKET


def batch_block(batch: Batch) -> list[str]:
    """The upload's batch row: the platform refuses a file whose details do not add up to it."""

    name = f"{batch.programme.name} 电子红包"
    payer = f"{batch.district.name}人力资源和社会保障局"
    return [batch.number, safe_cell(name), safe_cell(payer), f"{batch.total:.2f}", str(batch.line_count)]


def detail_rows(batch: Batch):
    """(reference, phone, name, amount, remark) per line in seq order, decrypted and formula-safe."""

    decrypt = crypto.bulk().decrypt
    remarks: dict[str, str] = {}
    qs = (
        PaymentLine.objects.filter(batch=batch)
        .order_by("seq")
        .values_list("seq", "account_cipher", "name", "amount", "entitlement__rule__name")
    )
    for seq, phone_cipher, name, amount, rule_name in qs.iterator(chunk_size=5000):
        remark = remarks.get(rule_name)
        if remark is None:
            remark = remarks[rule_name] = safe_cell(f"{rule_name}，春节快乐")
        yield [
            line_reference(batch.number, seq),
            safe_cell(decrypt(phone_cipher)),
            safe_cell(name),
            f"{amount:.2f}",
            remark,
        ]


def _csv_head(batch: Batch, encoding: str) -> bytes:
    """The BOM (UTF-8), the batch block and the details' header."""
    return csv_rows_bytes(encoding, BATCH_HEADER, batch_block(batch), DETAIL_HEADER, bom=True)


def csv_streamed(
    batch: Batch, out, *, encoding: str = "utf-8", progress=None, parallel: bool | None = None
) -> Streamed:
    """The upload as CSV, streamed (PostgreSQL, disbursements.services.file_stream): the
    same bytes as `write_csv`; returns what was written, for the export's checks."""
    out.write(_csv_head(batch, encoding))
    return stream_lines(
        connection.cursor().cursor,  # the psycopg2 cursor: COPY needs the driver's API
        FILE_STREAM,
        {"batch_id": batch.pk},
        line_count=batch.line_count,
        formatter=LineFormatter(encoding, prefix=f"{batch.number}-", red_packet=True),
        out=out,
        hasher=content_hasher(batch.number),
        progress=progress,
        parallel=parallel,
    )


def write_csv(batch: Batch, out: io.RawIOBase, *, encoding: str = "utf-8", progress=None) -> tuple[int, Decimal]:
    """The upload as CSV, row by row (any database)."""
    out.write(_csv_head(batch, encoding))
    text = io.TextIOWrapper(out, encoding=encoding, newline="", write_through=False)
    writer = csv.writer(text, lineterminator="\r\n")
    count, total = 0, ZERO
    for row in detail_rows(batch):
        writer.writerow(row)
        count += 1
        total += Decimal(row[3])
        if progress and count % 2000 == 0:
            progress(count)
    text.flush()
    text.detach()
    return count, total


def write_xlsx(batch: Batch, path: Path, *, progress=None) -> tuple[int, Decimal]:
    """One sheet `红包明细`: the batch block, a blank row, the details; every cell text."""
    private_file(path)
    workbook = text_workbook(path, title=f"电子红包批次 {batch.number}")
    sheet = workbook.add_worksheet("红包明细")
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 2, 16)
    sheet.set_column(3, 4, 20)
    bold = workbook.add_format({"bold": True})
    write_header(sheet, 0, BATCH_HEADER, bold)
    for col, value in enumerate(batch_block(batch)):
        sheet.write_string(1, col, value)
    write_header(sheet, 3, DETAIL_HEADER, bold)
    count, total = 0, ZERO
    for index, row in enumerate(detail_rows(batch), start=4):
        for col, value in enumerate(row):
            sheet.write_string(index, col, value)
        count += 1
        total += Decimal(row[3])
        if progress and count % 2000 == 0:
            progress(count)
    workbook.close()
    return count, total


def example_result_csv(batch: Batch, failures: dict[int, str]) -> str:
    """A platform result file for `batch` (tests and the demo): every packet claimed except
    the seqs in `failures` (seq → reason)."""

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(RESULT_HEADER)
    for seq, phone_cipher, amount in (
        PaymentLine.objects.filter(batch=batch).order_by("seq").values_list("seq", "account_cipher", "amount")
    ):
        reason = failures.get(seq, "")
        phone = crypto.decrypt(phone_cipher) if phone_cipher else ""
        w.writerow(
            [
                line_reference(batch.number, seq),
                pii.mask_phone(phone) if phone else "",
                f"{amount:.2f}",
                "失败" if reason else "已领取",
                reason,
                f"HB{batch.pk:05d}{seq:08d}",
            ]
        )
    return buf.getvalue()
