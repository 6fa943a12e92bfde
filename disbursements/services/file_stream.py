"""A batch's CSV lines streamed from PostgreSQL into a file, the decryption on every core.

The bank file (payment_files) and the red-packet upload (red_packets) write one line per
payment line around one or two encrypted numbers. PostgreSQL builds each line's text
around them (formula-safe and CSV-quoted in SQL, exactly as csv.writer quotes: the
statements are in disbursements.sql), so Python only decrypts and joins strings:

* this process reads the lines by `COPY (SELECT …) TO STDOUT`, a range of seqs at a
  time, on Django's connection (so it sees what the caller's transaction sees), and
  writes the finished lines in seq order;
* forked workers (core.forkpool) decrypt and format each range meanwhile: while the
  database produces the next range, the workers turn the last ones into lines;
* the same pass checks the batch as the export's refusal needs it (lines, total in
  fen, lines whose amount differs from their entitlement's) and feeds the content hash
  of the approval (batches.batch_content_hash's text, built by SQL from the same row),
  so nothing reads the batch a second time.

Every process count gives the same bytes: with one, the same work runs here.
"""

import csv
import gc
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

from django.conf import settings

from core import crypto
from core.forkpool import ForkPool
from core.spreadsheets import FORMULA_START, safe_cell

# Lines per COPY range: small enough that the workers start soon and a range's text
# (~300 bytes a line) stays a few MB, large enough that one statement per range costs
# nothing beside its rows.
RANGE_LINES = 16_384
# A batch of fewer lines is written by this process alone: forking costs more than it saves.
PARALLEL_MIN_LINES = 20_000


class Streamed(NamedTuple):
    """What a stream wrote, for the export's checks."""

    lines: int
    fen: int  # the total of the lines' amounts, in fen
    differing: int  # lines whose amount is not their entitlement's
    content_hash: str  # batches.batch_content_hash of the lines written


class Formatted(NamedTuple):
    """One range of lines, formatted (in a worker or here)."""

    data: bytes  # the CSV lines, in the file's encoding
    hashed: bytes  # their content-hash text (UTF-8)
    lines: int
    fen: int
    differing: int


def unescape_copy(field: str) -> str:
    """COPY's text format escapes backslash, tab, newline and carriage return."""
    out, i = [], 0
    while i < len(field):
        c = field[i]
        if c == "\\" and i + 1 < len(field):
            nxt = field[i + 1]
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}.get(nxt, nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _careful() -> Callable[[str], str]:
    """A value as csv.writer writes it in a row, formula-safe (safe_cell): for the rare
    value that is not plain letters and digits."""
    import csv

    buffer = io.StringIO()
    # The files' line end: csv.writer quotes a value that holds one of its characters.
    quoter = csv.writer(buffer, lineterminator="\r\n")

    def careful(value: str) -> str:
        if not value:
            return ""  # (alone in a row csv.writer would write "", in a row it writes nothing)
        buffer.seek(0)
        buffer.truncate()
        quoter.writerow([safe_cell(value)])
        return buffer.getvalue()[:-2]

    return careful


# A value that csv.writer would quote, or safe_cell would make formula-safe, as UTF-8:
# a quote, comma or line break anywhere, or a formula character first (core.spreadsheets).
_NEEDS_CARE = re.compile(
    b'[",\\r\\n]|^(?:[=+\\-@\\t]|'
    + b"|".join(re.escape(c.encode()) for c in FORMULA_START if len(c.encode()) > 1)
    + b")"
)


class LineFormatter:
    """Turns a range of COPY text (the columns of disbursements.sql.FILE_STREAM) into
    file lines, as csv.writer writes the rows of payment_files.file_rows (the bank's
    format: `red_packet=False`) or red_packets.detail_rows, in the file's encoding, and
    the lines' content-hash text (batches.batch_content_hash). All in UTF-8 bytes, as
    COPY sends them: a str per field would cost more than the decryption."""

    def __init__(self, encoding: str, *, prefix: str, red_packet: bool = False):
        self.encoding = encoding
        self.prefix = prefix.encode()  # of the references: "<batch number>-"
        self.red_packet = red_packet

    def __call__(self, block: bytes) -> Formatted:
        # No reference cycles here: the collector would only traverse the rows again and
        # again as they are made (as in the importer's checks, beneficiaries.importer.validation).
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            if b"\\" in block:  # a value COPY escaped (a backslash, tab or newline in a name): rare
                rows = ([unescape_copy(f.decode()).encode() for f in line.split(b"\t")] for line in block.split(b"\n"))
            else:
                rows = (line.split(b"\t") for line in block.split(b"\n"))
            data, hashed, lines, fen, differing = self._lines(rows)
        finally:
            if was_enabled:
                gc.enable()
        if self.encoding != "utf-8":
            data = data.decode("utf-8").encode(self.encoding)
        return Formatted(data, hashed, lines, fen, differing)

    def _lines(self, rows: Iterator[list[bytes]]) -> tuple[bytes, bytes, int, int, int]:
        """The file's lines of `rows`, their content-hash text, how many, their total in
        fen, and how many differ from their entitlement's amount."""
        decrypt = crypto.bulk().decrypt_utf8
        careful_text = _careful()

        def careful(value: bytes) -> bytes:
            return careful_text(value.decode()).encode()

        needs_care = _NEEDS_CARE.search
        cells: dict[bytes, bytes] = {}  # bank names and purposes repeat: each formatted once
        red_packet, prefix = self.red_packet, self.prefix
        out, hashed = [], []
        fen = differing = 0
        for seq, ent, amount, name, idc, acc, bank, purpose, same in rows:
            hashed.append(b"|".join((seq, ent, amount, name, idc, acc, bank)))
            if needs_care(name):
                name = careful(name)
            account = decrypt(acc)
            if account and not account.isalnum():
                account = careful(account)
            reference = prefix + seq.rjust(7, b"0")
            if red_packet:
                remark = cells.get(purpose)
                if remark is None:
                    remark = cells[purpose] = careful(purpose + "，春节快乐".encode())
                out.append(b",".join((reference, account, name, amount, remark)))
            else:
                id_number = decrypt(idc)
                if not id_number.isalnum():
                    id_number = careful(id_number) or b'""'  # as the rows' writer had it
                b = cells.get(bank)
                if b is None:
                    b = cells[bank] = careful(bank)
                p = cells.get(purpose)
                if p is None:
                    p = cells[purpose] = careful(purpose)
                out.append(b",".join((seq, name, id_number, account, b, amount, p, reference)))
            fen += int(amount.replace(b".", b""))  # numeric(14,2): always two decimals
            if same != b"t":
                differing += 1
        return b"\r\n".join(out) + b"\r\n", b"\n".join(hashed) + b"\n", len(out), fen, differing


def csv_rows_bytes(encoding: str, *rows: list[str], bom: bool = False) -> bytes:
    """`rows` as csv.writer writes them (a file's header, a total), in the file's
    encoding; `bom`: led by the byte-order mark when the file is UTF-8 (Excel then reads
    it as UTF-8). The streamed and the row-by-row writers start their files with it."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    for row in rows:
        writer.writerow(row)
    return (("\ufeff" if bom and encoding == "utf-8" else "") + text.getvalue()).encode(encoding)


def seq_ranges(line_count: int, size: int = RANGE_LINES) -> list[tuple[int | None, int | None]]:
    """(lo, hi) seq bounds covering every line of a batch: the first open below and the
    last open above, so a line outside 1..line_count (which the checks must see) is read too."""
    bounds = list(range(1, max(line_count, 1) + 1, size))
    return [(lo if i else None, bounds[i + 1] - 1 if i + 1 < len(bounds) else None) for i, lo in enumerate(bounds)]


def _range_sql(raw_cursor, statement: str, params: dict, lo: int | None, hi: int | None) -> str:
    """The statement for one range, values quoted by the driver (COPY takes no parameters)."""
    where = "TRUE" if lo is None else "l.seq >= %(lo)s"
    where += "" if hi is None else " AND l.seq <= %(hi)s"
    return raw_cursor.mogrify(statement.replace("{range}", where), {**params, "lo": lo, "hi": hi}).decode()


def _copy_blocks(raw_cursor, statements: list[str]) -> Iterator[bytes]:
    """The text of each COPY, without its final newline (an empty range: skipped)."""
    for statement in statements:
        buffer = io.BytesIO()
        raw_cursor.copy_expert(f"COPY ({statement}) TO STDOUT", buffer)
        data = buffer.getvalue()
        if data:
            yield data[:-1]


def stream_lines(
    raw_cursor,
    statement: str,
    params: dict,
    *,
    line_count: int,
    formatter: LineFormatter,
    out,
    hasher,
    progress=None,
    parallel: bool | None = None,
) -> Streamed:
    """Write a batch's lines to the binary stream `out` (`raw_cursor`: the psycopg2
    cursor of Django's connection; `statement`: a *_STREAM statement whose {range}
    selects seqs; `hasher`: the content hash, seeded; `parallel`: True forks the workers
    whatever the size, False never, None by size). Returns what was written."""
    statements = [_range_sql(raw_cursor, statement, params, lo, hi) for lo, hi in seq_ranges(line_count)]
    if parallel is None:
        processes = settings.BANK_EXPORT_PROCESSES if line_count >= PARALLEL_MIN_LINES else 1
    else:
        processes = max(2, settings.BANK_EXPORT_PROCESSES) if parallel else 1
    lines = fen = differing = 0
    # Forked before this process reads anything: the workers hold no part of the stream.
    with ForkPool(formatter, processes) as pool:
        for _block, done in pool.map(_copy_blocks(raw_cursor, statements)):
            out.write(done.data)
            hasher.update(done.hashed)
            lines += done.lines
            fen += done.fen
            differing += done.differing
            if progress:
                progress(lines)
    return Streamed(lines, fen, differing, hasher.hexdigest())


def content_hasher(number: str):
    """The content hash's digest, seeded as batches.batch_content_hash seeds it."""
    return hashlib.sha256(f"{number}\n".encode())
