"""Bank batch-payment files (银行批量代发文件) from approved batches.

Columns 序号, 姓名, 证件号码, 银行账号, 开户行, 金额, 用途, 备注 and a 合计 line, amounts
to the fen. CSV in UTF-8 with BOM (or GB18030 for banks that need it) and XLSX. The
same batch, format and encoding always give the same bytes (no timestamps inside; the
XLSX creation date is fixed), and no cell can become a formula. ID and account numbers
are decrypted only into the file, range by range, so a million-line export runs in
bounded memory: on PostgreSQL a CSV streams out of `COPY (SELECT …) TO STDOUT`, its
lines decrypted on every core and checked in the same pass (file_stream).
"""

import csv
import hashlib
import io
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from accounts.choices import Role
from accounts.models import Job, User
from accounts.services.audit import audit_record
from accounts.services.jobs import job_step
from core import crypto
from core.errors import ConflictError, DomainError, PermissionDenied
from core.money import ZERO
from core.private_files import open_private, private_dir, private_file
from core.spreadsheets import FORMULA_START, safe_cell, text_workbook, write_header
from disbursements.choices import BatchStatus
from disbursements.models import Batch, BatchExport, PaymentLine
from disbursements.services import red_packets
from disbursements.services.batches import batch_integrity_problems, can_submit, integrity_problems_of
from disbursements.services.file_stream import (
    LineFormatter,
    Streamed,
    content_hasher,
    csv_rows_bytes,
    stream_lines,
    unescape_copy,
)
from disbursements.sql import BANK_FILE_ROWS, FILE_STREAM

log = logging.getLogger(__name__)

HEADER = ["序号", "姓名", "证件号码", "银行账号", "开户行", "金额", "用途", "备注"]
FORMATS = {"csv", "xlsx"}
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "gb18030": "gb18030"}
EXPORTABLE = {BatchStatus.APPROVED, BatchStatus.EXPORTED, BatchStatus.RECONCILED}
CHUNK = 2000


def bank_files_dir() -> Path:
    """Bank files hold whole ID and account numbers: they live outside MEDIA_ROOT (which
    a proxy may serve) and are downloaded only through a scoped, audited view."""
    if settings.BANK_FILES_DIR:
        return private_dir(settings.BANK_FILES_DIR)
    private_dir(str(settings.MEDIA_ROOT).rstrip("/") + "-private")
    return private_dir(Path(str(settings.MEDIA_ROOT).rstrip("/") + "-private") / "bankfiles")


def can_export(user: User, batch: Batch) -> bool:
    return user.is_superuser or user.role == Role.PROVINCE or can_submit(user, batch)


def file_name(batch: Batch, fmt: str, encoding: str = "utf-8") -> str:
    if fmt == "xlsx":
        return f"{batch.number}.xlsx"
    return f"{batch.number}.csv" if encoding == "utf-8" else f"{batch.number}.{encoding}.csv"


# --------------------------------------------------------------------------- leftovers
#
# Everything an export writes in the bank files directory before the file is renamed
# into place carries its writer in its name: `<final>.part-<pid>@<host>` (the file) and
# `….part-<pid>@<host>` directories (scratch space of XLSX; earlier versions' parallel
# CSV wrote `csv-…` ones).
# A worker killed half way (SIGKILL, OOM, the hard time limit) runs no `finally`, and
# these hold whole ID and account numbers: `bank_leftovers_purge` removes them. The
# host is in the name because a pid means something only on its own host: workers in
# other containers or on other machines sharing the directory number their processes
# independently, so there only age can tell a leftover from a file being written.

_PART_NAME = re.compile(r"\.part-(?P<pid>[0-9]+)(?:@(?P<host>[A-Za-z0-9._-]+))?$")
# No export writes for this long: a Celery export is killed at CELERY_TASK_TIME_LIMIT,
# and a province-sized one takes minutes. Older leftovers go whoever wrote them.
PART_MAX_AGE = max(24 * 3600, 2 * settings.CELERY_TASK_TIME_LIMIT)
# /proc/<pid>/stat counts in clock ticks from a boot time given in whole seconds.
_START_SLACK = 5.0


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "localhost"


def part_owner() -> str:
    """`<pid>@<host>`: the writer named in the temporary names of this process."""
    return f"{os.getpid()}@{_host()}"


def _process_start(pid: int) -> tuple[str, float] | None:
    """(state, start time as a Unix timestamp) of a process on this host, from /proc;
    None when there is no such process (or no /proc to ask)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/stat").read_text()
        btime = next(int(line.split()[1]) for line in boot.splitlines() if line.startswith("btime "))
        fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
        return fields[0], btime + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _writer_alive(pid: int, modified: float) -> bool:
    """Is the process that wrote a file (last modified at `modified`) still running here?"""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        pass  # another user's process: it exists
    proc = _process_start(pid)
    if proc is None:
        # With /proc, the process ended this instant; without it (not Linux) os.kill
        # is all there is to go by.
        return not Path("/proc/self").exists()
    state, started = proc
    if state == "Z":  # killed, not yet reaped by its parent: it writes nothing more
        return False
    # A reused pid (a restarted worker numbers its processes the same way): a process
    # that started after the file was last written is not the one that wrote it.
    return started <= modified + _START_SLACK


def bank_leftovers_purge(*, directory: Path | None = None, max_age: float = PART_MAX_AGE) -> list[str]:
    """Remove the temporary files and directories of exports that died half way: those
    whose writer was a process on this host that is no longer running, and any older
    than `max_age`, whoever wrote them (no export runs that long). A running export's
    files stay. Returns the names removed. Called as an export starts, and by beat."""
    directory = directory or bank_files_dir()
    here = _host()
    now = time.time()
    removed = []
    with os.scandir(directory) as entries:
        for entry in entries:
            match = _PART_NAME.search(entry.name)
            if match is None:
                continue
            try:
                modified = entry.stat(follow_symlinks=False).st_mtime
                # A legacy `.part-<pid>` (no host) or another host's: only age tells.
                dead = match["host"] == here and not _writer_alive(int(match["pid"]), modified)
                if not dead and now - modified <= max_age:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
            except FileNotFoundError:
                continue  # gone meanwhile (its export finished, or another purge took it)
            except OSError as exc:
                log.warning("bank file leftover %s not removed: %s", entry.name, exc)
                continue
            log.info("removed bank file leftover %s", entry.name)
            removed.append(entry.name)
    return removed


# --------------------------------------------------------------------------- rows


def _decrypter() -> Callable[[str], str]:
    """core.crypto's batch API (keys prepared once): the export decrypts two values per
    line, and at a million lines the prepared keys are the difference. "" stays ""; anything
    unusual falls back to crypto.decrypt (and its clear errors)."""
    return crypto.bulk().decrypt


CHUNK_BYTES = 1 << 20


def _copy_text_blocks(raw_cursor, sql: str) -> Iterator[str]:
    """The text of `COPY (sql) TO STDOUT`, in blocks of whole lines (no final newline).

    COPY writes into an anonymous temporary file (psycopg2 calls its C `write` per row,
    which is cheap), and the file is then read back in 1 MB pieces: memory stays
    constant whatever the batch size; the file is gone when closed."""
    with tempfile.TemporaryFile(dir=bank_files_dir()) as tmp:
        raw_cursor.copy_expert(f"COPY ({sql}) TO STDOUT", tmp)
        tmp.seek(0)
        tail = b""
        while True:
            piece = tmp.read(CHUNK_BYTES)
            if not piece:
                break
            data = tail + piece
            cut = data.rfind(b"\n")
            if cut < 0:
                tail = data
                continue
            tail = data[cut + 1 :]
            yield data[:cut].decode("utf-8")


def _copy_chunks(raw_cursor, batch_id: int, lo: int, hi: int) -> Iterator[list[list[str]]]:
    """Raw rows of seq lo..hi, in chunks, from COPY (SELECT …) TO STDOUT."""
    sql = BANK_FILE_ROWS.format(batch_id=int(batch_id), lo=int(lo), hi=int(hi))
    for text in _copy_text_blocks(raw_cursor, sql):
        if "\\" in text:
            yield [[unescape_copy(f) for f in line.split("\t")] for line in text.split("\n")]
        else:
            yield [line.split("\t") for line in text.split("\n")]


def _portable_chunks(batch: Batch, lo: int, hi: int) -> Iterator[list[list[str]]]:
    qs = (
        PaymentLine.objects.filter(batch=batch, seq__gte=lo, seq__lte=hi)
        .order_by("seq")
        .values_list("seq", "name", "id_cipher", "account_cipher", "bank_name", "amount", "entitlement__rule__name")
    )
    chunk = []
    for seq, name, idc, acc, bank, amount, purpose in qs.iterator(chunk_size=5000):
        chunk.append([str(seq), name, idc, acc, bank, f"{amount:.2f}", purpose])
        if len(chunk) >= 5000:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _render(raw_chunks: Iterator[list[list[str]]], number: str) -> Iterator[list[list[str]]]:
    """Decrypt and make formula-safe, chunk by chunk: the hot loop of every export."""
    decrypt = _decrypter()
    safe = {}  # bank names and purposes repeat: check each distinct value once
    formula = frozenset(c[0] for c in FORMULA_START)
    prefix = f"{number}-"
    for raw in raw_chunks:
        out = []
        append = out.append
        for seq, name, idc, acc, bank, amount, purpose in raw:
            if name and name[0] in formula:
                name = "'" + name
            b = safe.get(bank)
            if b is None:
                b = safe[bank] = safe_cell(bank)
            pu = safe.get(purpose)
            if pu is None:
                pu = safe[purpose] = safe_cell(purpose)
            id_number, account = decrypt(idc), decrypt(acc)
            if id_number and id_number[0] in formula:
                id_number = "'" + id_number
            if account and account[0] in formula:
                account = "'" + account
            append([seq, name, id_number, account, b, amount, pu, prefix + seq.zfill(7)])
        yield out


def file_row_chunks(batch: Batch, *, fast: bool | None = None, lo: int = 1, hi: int | None = None):
    """The file's data rows (decrypted, formula-safe, seq order), in chunks."""
    if fast is None:
        fast = connection.vendor == "postgresql"
    hi = batch.line_count if hi is None else hi
    if hi < lo:
        return iter(())
    if fast:
        raw = connection.cursor().cursor  # the psycopg2 cursor: COPY needs the driver's API
        return _render(_copy_chunks(raw, batch.pk, lo, hi), batch.number)
    return _render(_portable_chunks(batch, lo, hi), batch.number)


def file_rows(batch: Batch, *, fast: bool | None = None) -> Iterator[list[str]]:
    for chunk in file_row_chunks(batch, fast=fast):
        yield from chunk


def total_row(batch: Batch) -> list[str]:
    return ["合计", "", "", "", "", f"{batch.total:.2f}", "", f"共 {batch.line_count} 笔"]


# --------------------------------------------------------------------------- writers


def _write_rows(text, chunks, progress=None, done: int = 0) -> tuple[int, Decimal]:
    writer = csv.writer(text, lineterminator="\r\n")
    count, fen = 0, 0
    for chunk in chunks:
        writer.writerows(chunk)
        count += len(chunk)
        # Amounts are "500.00" (two decimals, from numeric(14,2)): add them up in fen.
        fen += sum(int(r[5].replace(".", "")) for r in chunk)
        if progress:
            progress(done + count)
    return count, Decimal(fen).scaleb(-2)


def csv_streamed(
    batch: Batch, out, *, encoding: str = "utf-8", progress=None, parallel: bool | None = None
) -> Streamed:
    """The bank CSV, streamed (PostgreSQL, disbursements.services.file_stream), to the
    binary stream `out`; returns what was written, for the export's checks. `parallel`:
    True forks the workers whatever the size, False never; None decides by size."""
    out.write(csv_rows_bytes(encoding, HEADER, bom=True))
    raw = connection.cursor().cursor  # the psycopg2 cursor: COPY needs the driver's API
    streamed = stream_lines(
        raw,
        FILE_STREAM,
        {"batch_id": batch.pk},
        line_count=batch.line_count,
        formatter=LineFormatter(encoding, prefix=f"{batch.number}-"),
        out=out,
        hasher=content_hasher(batch.number),
        progress=progress,
        parallel=parallel,
    )
    out.write(csv_rows_bytes(encoding, total_row(batch)))
    return streamed


def write_csv(
    batch: Batch, out: io.RawIOBase, *, encoding: str = "utf-8", progress=None, fast=None, parallel: bool | None = None
) -> tuple[int, Decimal]:
    """Write the CSV to a binary stream. Returns (lines, total) as written, for checking."""
    if fast is None:
        fast = connection.vendor == "postgresql"
    if fast:
        streamed = csv_streamed(batch, out, encoding=encoding, progress=progress, parallel=parallel)
        return streamed.lines, Decimal(streamed.fen).scaleb(-2)
    out.write(csv_rows_bytes(encoding, HEADER, bom=True))
    text = io.TextIOWrapper(out, encoding=encoding, newline="", write_through=False)
    count, total = _write_rows(text, file_row_chunks(batch, fast=False), progress)
    csv.writer(text, lineterminator="\r\n").writerow(total_row(batch))
    text.flush()
    text.detach()
    return count, total


def write_xlsx(batch: Batch, path: Path, *, progress=None, fast=None) -> tuple[int, Decimal]:
    """XLSX through XlsxWriter in constant-memory mode; every cell is written as text
    (write_string), so nothing is a formula and amounts keep their two decimals exactly."""
    # XlsxWriter keeps each sheet's decrypted rows in temporary files until close: in a
    # directory named for this process, which bank_leftovers_purge removes if we are killed.
    scratch = Path(tempfile.mkdtemp(dir=path.parent, prefix="xlsx-", suffix=f".part-{part_owner()}"))
    try:
        return _write_xlsx(batch, path, scratch, progress=progress, fast=fast)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _write_xlsx(batch: Batch, path: Path, scratch: Path, *, progress=None, fast=None) -> tuple[int, Decimal]:
    private_file(path)  # 0600 before a single decrypted number is written into it
    workbook = text_workbook(
        path, title=f"发放批次 {batch.number}", options={"constant_memory": True, "tmpdir": str(scratch)}
    )
    sheet = workbook.add_worksheet("代发明细")
    sheet.set_column(0, 0, 8)
    sheet.set_column(1, 1, 10)
    sheet.set_column(2, 3, 22)
    sheet.set_column(4, 4, 18)
    sheet.set_column(5, 5, 12)
    sheet.set_column(6, 7, 28)
    bold = workbook.add_format({"bold": True})
    write_header(sheet, 0, HEADER, bold)
    count, total = 0, ZERO
    write = sheet.write_string
    for row_index, row in enumerate(file_rows(batch, fast=fast), start=1):
        for col, value in enumerate(row):
            write(row_index, col, value)
        count += 1
        total += Decimal(row[5])
        if progress and count % CHUNK == 0:
            progress(count)
    for col, value in enumerate(total_row(batch)):
        if value:
            sheet.write_string(count + 1, col, value, bold)
    workbook.close()
    return count, total


# --------------------------------------------------------------------------- the service


def batch_export(
    *,
    batch: Batch,
    fmt: str,
    encoding: str = "utf-8",
    acting_user: User | None,
    job: Job | None = None,
    progress=None,
) -> BatchExport:
    """Write the bank file of an approved batch and record it (checksum, who, when).

    The file is written to a temporary name and renamed into place, so a worker killed
    half way leaves no half file under the real name; exporting again writes the same
    bytes (and first removes what killed exports left, `bank_leftovers_purge`). The
    first export moves the batch from approved to exported.
    """
    # A CSV on PostgreSQL is checked on the lines it writes (one read of the batch, and the
    # file is made of exactly the lines checked); anything else before it is written.
    streamed = fmt == "csv" and connection.vendor == "postgresql"
    fmt, encoding, packets = _export_check(batch, fmt, encoding, acting_user, checked_later=streamed)
    directory = bank_files_dir()
    bank_leftovers_purge(directory=directory)  # of exports killed before (never a running one's)
    final = directory / file_name(batch, fmt, encoding or "utf-8")
    write = _write_streamed if streamed else _write_file
    count, total, checksum = _write_into_place(
        batch, final, lambda tmp: write(batch, tmp, fmt, encoding, packets, progress)
    )
    with transaction.atomic():
        record = BatchExport.objects.create(
            batch=batch,
            fmt=fmt,
            encoding=encoding,
            path=str(final),
            checksum=checksum,
            size=final.stat().st_size,
            line_count=count,
            total=total,
            exported_by=acting_user if acting_user is not None and acting_user.is_authenticated else None,
            job=job,
        )
        # Conditional update: only the first export moves approved → exported.
        moved = Batch.objects.filter(pk=batch.pk, status=BatchStatus.APPROVED).update(status=BatchStatus.EXPORTED)
        Batch.objects.filter(pk=batch.pk).update(file_checksum=checksum)
        audit_record(
            user=acting_user,
            action="batch_export",
            obj=batch,
            changes={
                "file": final.name,
                "sha256": checksum,
                "lines": count,
                "total": str(total),
                **({"status": [BatchStatus.APPROVED, BatchStatus.EXPORTED]} if moved else {}),
            },
        )
    batch.refresh_from_db()
    return record


def _export_check(
    batch: Batch, fmt: str, encoding: str, acting_user: User | None, *, checked_later: bool = False
) -> tuple[str, str, bool]:
    """Refuse an export that must not happen (format, encoding, who, the batch's state
    and integrity, red packets without a phone). Returns (format, encoding, red packets?).
    `checked_later`: the integrity is checked on the lines as they are written
    (`_write_streamed`), not here."""
    fmt = (fmt or "").lower()
    if fmt not in FORMATS:
        raise DomainError(f"不支持的文件格式“{fmt}”，请选择 csv 或 xlsx。")
    encoding = ENCODINGS.get((encoding or "utf-8").lower())
    if encoding is None:
        raise DomainError("CSV 编码只能是 UTF-8 或 GB18030。")
    if fmt == "xlsx":
        encoding = ""
    if acting_user is not None and not can_export(acting_user, batch):
        raise PermissionDenied("只有本区县人社专员或省级人员可以导出银行文件。")
    if batch.status not in EXPORTABLE:
        raise ConflictError(f"批次当前状态为“{batch.get_status_display()}”，省级审批通过后才能导出银行文件。")
    if not checked_later:
        _refuse_problems(batch_integrity_problems(batch))

    packets = red_packets.is_red_packet(batch)
    if packets:
        no_phone = list(
            PaymentLine.objects.filter(batch=batch, account_cipher="").order_by("seq").values_list("seq", "name")[:20]
        )
        if no_phone:
            listed = "、".join(f"第 {seq} 笔（{name}）" for seq, name in no_phone)
            raise DomainError(f"电子红包按手机号发放，以下明细没有手机号，不能导出：{listed}。请退回批次并补录手机号。")
    return fmt, encoding, packets


def _refuse_problems(problems: list[str]) -> None:
    if problems:
        raise DomainError("批次数据校验未通过，不能导出：" + "；".join(problems))


class _HashingWriter:
    """A binary file that also hashes what is written to it: the checksum of a streamed
    file without reading it back."""

    def __init__(self, fh):
        self.fh = fh
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.fh.write(data)


def _write_streamed(batch: Batch, tmp: Path, fmt: str, encoding: str, packets: bool, progress):
    """A CSV on PostgreSQL (file_stream), checked as `batch_integrity_problems` checks
    a batch, on the lines written: their count, total, amounts and content hash. Returns
    (count, total, checksum)."""
    with open_private(tmp, "wb") as fh:
        out = _HashingWriter(fh)
        writer = red_packets.csv_streamed if packets else csv_streamed
        streamed = writer(batch, out, encoding=encoding, progress=progress)
        fh.flush()
        os.fsync(fh.fileno())
    total = Decimal(streamed.fen).scaleb(-2)
    _refuse_problems(
        integrity_problems_of(
            batch, lines=streamed.lines, total=total, differing=streamed.differing, content_hash=streamed.content_hash
        )
    )
    return streamed.lines, total, out.digest.hexdigest()


def _write_file(batch: Batch, tmp: Path, fmt: str, encoding: str, packets: bool, progress):
    """Any other file (XLSX; a CSV elsewhere than PostgreSQL), checked before it was
    written (`_export_check`). Returns (count, total, checksum)."""
    if fmt == "csv":
        with open_private(tmp, "wb") as fh:
            writer = red_packets.write_csv if packets else write_csv
            count, total = writer(batch, fh, encoding=encoding, progress=progress)
            fh.flush()
            os.fsync(fh.fileno())
    elif packets:
        count, total = red_packets.write_xlsx(batch, tmp, progress=progress)
    else:
        count, total = write_xlsx(batch, tmp, progress=progress)
    return count, total, sha256_file(tmp)


def _write_into_place(batch: Batch, final: Path, write: Callable[[Path], tuple[int, Decimal, str]]):
    """Write the file to a temporary name (`write(tmp)` → count, total, checksum), check
    its count and total against the batch, and rename it into place. Returns (count,
    total, checksum)."""
    tmp = final.with_name(final.name + f".part-{part_owner()}")
    try:
        count, total, checksum = write(tmp)
        if count != batch.line_count or total != batch.total:
            raise DomainError(
                f"导出的笔数或金额（{count} 笔，{total} 元）与批次（{batch.line_count} 笔，{batch.total} 元）不符，已停止导出。"
            )
        job_step()  # between writing and recording: the fault tests' window (tests/faults/worker.py)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()

    return count, total, checksum


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_download_audit(*, export: BatchExport, acting_user: User) -> None:
    audit_record(
        user=acting_user,
        action="bank_file_download",
        obj=export.batch,
        changes={"file": Path(export.path).name, "sha256": export.checksum},
    )
