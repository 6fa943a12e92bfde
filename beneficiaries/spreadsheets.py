"""Reading uploaded spreadsheets (.xlsx, .xls, .ods and .csv) safely, as a stream of rows.

What employers upload is hostile until proven otherwise, so every file goes through
the same gate before any parser sees it:

* size: more than settings.IMPORT_MAX_BYTES is refused before it is opened;
* format: decided by the file's first bytes, not its name. A ".xlsx" that is not a
  zip (a renamed CSV, an HTML page, an old .xls, a password-protected workbook) gets a
  Chinese message saying what to do;
* decompression bombs: every member of the zip is inflated once, in 1 MB chunks,
  counting the bytes that actually come out (a zip header may lie about its sizes),
  and the file is refused when the total passes IMPORT_MAX_UNZIPPED_BYTES or a large
  member compresses better than IMPORT_MAX_ZIP_RATIO : 1 — before calamine opens it;
* XML entity tricks: calamine (Rust, quick-xml) never fetches external entities and
  does not expand DTD entities, so XXE and "billion laughs" come out as text or as a
  parse error (beneficiaries/tests/test_import_hostile.py proves it);
* CSV: UTF-8 with or without BOM, UTF-16 (Excel's "Unicode text"), else GB18030 (a
  superset of GBK), decided from the first 256 kB; delimiter comma, tab or semicolon.

Rows are then yielded one at a time with their sheet row number (1-based, as Excel
shows it). The header row is found among the first rows of the first sheet that has
one, so a title row above it, or an instructions sheet before it, does not matter.
CSV is read by the csv module and never held in memory; an .xlsx sheet is held by
calamine (about 90 MB per 100,000 rows), which the row limit bounds.
"""

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from django.conf import settings

from core.errors import DomainError

SCAN_ROWS = 10  # the header must be within the first rows of a sheet
SNIFF_BYTES = 256 * 1024
ZIP_CHUNK = 1024 * 1024
ZIP_RATIO_MIN_SIZE = 10 * 1024 * 1024  # small members may compress as well as they like

NOT_XLSX = (
    "文件不是有效的 Excel (.xlsx) 文件（可能已损坏，或只是把扩展名改成了 .xlsx）。"
    "请用 Excel 打开后“另存为” Excel 工作簿 (.xlsx) 或 CSV (UTF-8) 后重新上传。"
)
OLE_FILE = (
    "这是旧版 Excel 97-2003 (.xls) 文件或设置了打开密码的工作簿，系统无法读取。"
    "请取消密码，并用 Excel“另存为” Excel 工作簿 (.xlsx) 或 CSV (UTF-8) 后重新上传。"
)


NOT_A_SPREADSHEET = "只能上传 Excel 工作簿 (.xlsx/.xls)、WPS/LibreOffice 表格 (.ods) 或 CSV 文件，请使用下载的模板。"
NOT_ODS = (
    "文件不是有效的 OpenDocument 表格 (.ods) 文件（可能已损坏）。"
    "请用 WPS 或 LibreOffice 打开后另存为 Excel 工作簿 (.xlsx) 或 CSV (UTF-8) 后重新上传。"
)
UNCACHED_FORMULAS = (
    "文件中有公式没有计算结果（例如单元格 {cell}），系统无法读出它们的值："
    "请用 Excel 或 WPS 打开文件、确认数据显示正确后保存，再重新上传（或把公式列复制后“粘贴为数值”）。"
)
GARBLED = (
    "文件中的文字是乱码（例如“{sample}”）：文件曾用错误的编码打开后又保存过，中文已被改坏。"
    "请回到原始文件，用 Excel“另存为” Excel 工作簿 (.xlsx) 或 “CSV UTF-8（逗号分隔）”后重新上传；"
    "也可以直接在下载的模板中填写。"
)
ONLY_EXAMPLES = (
    "只在“{sheet}”工作表中找到了示例行，没有找到名单：请把名单填写在模板的“名单”工作表中"
    "（不要填在填写说明或示例里），保存后重新上传。"
)
# Sheets that explain the template rather than hold the list.
INSTRUCTION_SHEET = re.compile(r"说明|示例|样例|范例|填写要求|instruction|readme|example|sample", re.IGNORECASE)
EXAMPLE_MARKS = ("示例", "样例", "范例", "例：", "例:")
PEEK_ROWS = 20  # data rows looked at after the header to tell a list from an example


class SpreadsheetError(DomainError):
    """The file as a whole cannot be read; the message (Chinese) says what to do."""

    code = "bad_file"


def max_bytes() -> int:
    return settings.IMPORT_MAX_BYTES


def limit_upload(view):
    """Mark an upload view (function or DRF view class) with the import size limit, so
    that portal.middleware.UploadSizeLimitMiddleware refuses a larger body unread."""
    view.upload_max_bytes = staticmethod(max_bytes) if isinstance(view, type) else max_bytes
    return view


def max_rows() -> int:
    return settings.IMPORT_MAX_ROWS


def max_unzipped_bytes() -> int:
    return settings.IMPORT_MAX_UNZIPPED_BYTES


def max_zip_ratio() -> int:
    return settings.IMPORT_MAX_ZIP_RATIO


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{n // 1024} kB"


def check_size(size: int, *, limit: int | None = None) -> None:
    limit = max_bytes() if limit is None else limit
    if size > limit:
        raise SpreadsheetError(
            f"文件大小 {_mb(size)} 超过上限 {_mb(limit)}。请删除空白行和无关的工作表，或把名单拆分成几个文件分别上传。"
        )
    if size == 0:
        raise SpreadsheetError("文件是空的，请检查后重新上传。")


def sniff_format(path: Path, filename: str = "") -> str:
    """ "xlsx", "ods", "xls" or "csv", from the file's first bytes (the name only decides
    the message). A zip is an .ods when its first member says so (OpenDocument's
    `mimetype`), else it must be an .xlsx; an OLE compound file is an Excel 97-2003
    .xls (or a password-protected workbook, which calamine then fails to open)."""
    with open(path, "rb") as f:
        head = f.read(128)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "ods" if b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet" in head else "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm", ".xls", ".ods")):
        raise SpreadsheetError(NOT_XLSX)
    if not name.endswith((".csv", ".txt")) and name:
        raise SpreadsheetError(NOT_A_SPREADSHEET)
    return "csv"


def check_xlsx_container(
    path: Path, *, limit: int | None = None, ratio: int | None = None, row_limit: int = 0, fmt: str = "xlsx"
) -> None:
    """Refuse a zip that is not a workbook, is encrypted, or inflates too far; refuse an
    .xlsx whose sheet has more than `row_limit` data rows, or formulas without results.

    Every member is inflated here in chunks and the bytes that come out are counted, so
    a header that understates the size cannot get a bomb past this check. The worksheets'
    XML is read on the way (rows with values are counted, stopping at the limit; a
    formula cell without a cached value is found), so both refusals come before calamine
    spends seconds loading a sheet."""
    limit = max_unzipped_bytes() if limit is None else limit
    ratio = max_zip_ratio() if ratio is None else ratio
    bomb = (
        "文件解压后过大（疑似“压缩炸弹”），系统拒绝读取。"
        "如果这是正常的名单，请删除空白行、格式和无关的工作表后另存为 .xlsx 或 CSV 再上传。"
    )
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            if fmt == "ods":
                if "content.xml" not in names:
                    raise SpreadsheetError(NOT_ODS)
            elif "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
                raise SpreadsheetError(NOT_XLSX)
            if "xl/workbook.bin" in names:
                raise SpreadsheetError(
                    "这是 Excel 二进制工作簿 (.xlsb)，请另存为 Excel 工作簿 (.xlsx) 或 CSV 后重新上传。"
                )
            if len(infos) > 10_000:
                raise SpreadsheetError(bomb)
            declared = sum(i.file_size for i in infos)
            if declared > limit:
                raise SpreadsheetError(bomb)
            total = 0
            # Worksheets first: a sheet over the row limit is refused from its first
            # block, before the shared strings and styles are inflated.
            infos.sort(key=lambda i: not _WORKSHEET.match(i.filename))
            for info in infos:
                if info.flag_bits & 0x1:
                    raise SpreadsheetError(OLE_FILE)
                if info.file_size > ZIP_RATIO_MIN_SIZE and info.file_size > ratio * max(info.compress_size, 1):
                    raise SpreadsheetError(bomb)
                member = 0
                scan = None
                if fmt == "xlsx" and _WORKSHEET.match(info.filename):
                    scan = _SheetScan(row_limit)
                elif fmt == "ods" and info.filename == "content.xml" and row_limit:
                    scan = _OdsScan(row_limit)
                with zf.open(info) as stream:
                    while chunk := stream.read(ZIP_CHUNK):
                        member += len(chunk)
                        total += len(chunk)
                        if total > limit:
                            raise SpreadsheetError(bomb)
                        if scan is not None:
                            scan.feed(chunk)
                if member > ZIP_RATIO_MIN_SIZE and member > ratio * max(info.compress_size, 1):
                    raise SpreadsheetError(bomb)
    except SpreadsheetError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise SpreadsheetError(NOT_ODS if fmt == "ods" else NOT_XLSX) from exc


_WORKSHEET = re.compile(r"^xl/worksheets/[^/]+\.xml$")
# A formula cell with no cached value: <f>…</f> (or a shared <f …/>) followed by no
# <v> or an empty one (openpyxl writes <v />), then </c>.
_UNCACHED = re.compile(
    rb"(?:</(?:\w+:)?f>|<(?:\w+:)?f\b[^>]*/>)\s*(?:<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>)?\s*</(?:\w+:)?c>"
)
_CELL_REF = re.compile(rb'<(?:\w+:)?c\b[^>]*\br="([A-Z]{1,3}[0-9]{1,7})"')
# <dimension ref="A1:K250001"/>: the used range, which Excel, WPS, LibreOffice and the
# usual libraries write before <sheetData>.
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="\$?[A-Z]{1,3}\$?([0-9]{1,7})(?::\$?[A-Z]{1,3}\$?([0-9]{1,7}))?"')


def too_many_rows(row_limit: int) -> SpreadsheetError:
    return SpreadsheetError(f"文件超过 {row_limit:,} 行数据的上限，未导入任何数据。请把名单拆分成几个文件分别上传。")


class _SheetScan:
    """Reads a worksheet's XML as it is inflated: counts the rows that hold a value
    (the header among them) and stops the file at `row_limit` + 1 data rows; finds the
    first formula cell without a cached value."""

    def __init__(self, row_limit: int):
        self.row_limit = row_limit
        self.rows = 0
        self.carry = b""
        self.head = b""  # the start of the XML, until <sheetData> (where <dimension> is)

    def feed(self, chunk: bytes) -> None:
        if self.head is not None:
            self._check_dimension(chunk)
        data = self.carry + chunk if self.carry else chunk
        end = data.rfind(b"row>")  # the last complete </row> (or </x:row>)
        if end < 0:
            self.carry = data[-4 * ZIP_CHUNK :]
            return
        end += 4
        self.carry = data[end:]
        # Searched in place (no copy of the block). Every formula has a closing </f>
        # (a shared formula's first cell holds it).
        if data.find(b"</f", 0, end) >= 0 or data.find(b":f>", 0, end) >= 0:
            hit = _UNCACHED.search(data, 0, end)
            if hit:
                ref = _CELL_REF.findall(data, 0, hit.start())
                raise SpreadsheetError(UNCACHED_FORMULAS.format(cell=ref[-1].decode() if ref else "?"))
        if self.row_limit:
            # A row with cells ends with </row>; an empty row is self-closing (<row …/>).
            # Counted in C (a quarter of a second for 250,000 rows, where looking inside
            # each row took seconds); a row of formatted but empty cells counts too.
            self.rows += data.count(b"row>", 0, end)
            if self.rows - 1 > self.row_limit:
                raise too_many_rows(self.row_limit)

    def _check_dimension(self, chunk: bytes) -> None:
        """Refuse at once when the sheet's used range spans more rows than the limit (a
        250,000-row sheet in milliseconds instead of inflating 100 MB of XML to count
        them). The range counts rows of formatted empty cells, as the count below does;
        a range that understates is caught by the count. Title lines above the header
        (up to SCAN_ROWS) are allowed for: near the limit the count decides."""
        head = self.head + chunk
        start = head.find(b"sheetData")
        if start < 0 and len(head) < 64 * 1024:
            self.head = head
            return
        self.head = None
        m = _DIMENSION.search(head, 0, start if start >= 0 else len(head))
        if m and self.row_limit:
            first, last = int(m[1]), int(m[2] or m[1])
            if last - first > self.row_limit + SCAN_ROWS:
                raise too_many_rows(self.row_limit)


class _OdsScan:
    """Counts an OpenDocument spreadsheet's rows, sheet by sheet, as content.xml is
    inflated, and stops the file at `row_limit` + 1 data rows: calamine would otherwise
    load a 250,000-row sheet (seconds) before the rows are counted. Each row element
    counts once, counted in C like the .xlsx rows (a row repeated with
    table:number-rows-repeated counts once here; calamine's rows are counted again
    after loading)."""

    def __init__(self, row_limit: int):
        self.row_limit = row_limit
        self.rows = 0
        self.carry = b""

    def feed(self, chunk: bytes) -> None:
        data = self.carry + chunk if self.carry else chunk
        end = data.rfind(b"table-row>")
        if end < 0:
            self.carry = data[-4 * ZIP_CHUNK :]
            return
        end += 10
        self.carry = data[end:]
        start = 0
        while True:
            sheet_end = data.find(b"</table:table>", start, end)
            self.rows += data.count(b"</table:table-row>", start, end if sheet_end < 0 else sheet_end)
            if self.rows - 1 > self.row_limit:
                raise too_many_rows(self.row_limit)
            if sheet_end < 0:
                return
            self.rows, start = 0, sheet_end + 14  # the next sheet


def detect_encoding(path: Path) -> str:
    """The text encoding of a CSV: UTF-8 (BOM or not), UTF-16 with BOM, else GB18030."""
    with open(path, "rb") as f:
        sample = f.read(SNIFF_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        raise SpreadsheetError("文件不是文本格式的 CSV，请用 Excel 另存为 CSV (UTF-8) 或 .xlsx 后重新上传。")
    try:
        # final=False: a multi-byte character cut at the end of the sample is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def normalize_header(text) -> str:
    """A header as it is matched: full-width folded, spaces, stars and notes removed.

    "身份证号*", "身 份 证 号", "身份证号（必填）" and "身份证号(18位)" all become "身份证号"."""
    s = unicodedata.normalize("NFKC", str(text or ""))
    s = "".join(s.split())
    for open_, close in (("(", ")"), ("[", "]"), ("【", "】")):
        while open_ in s and close in s[s.index(open_) :]:
            start = s.index(open_)
            s = s[:start] + s[s.index(close, start) + 1 :]
    return s.strip("*※#:：")


def is_blank(cells) -> bool:
    for c in cells:
        if c is None:
            continue
        if isinstance(c, str):
            if c.strip():
                return False
        else:
            return False
    return True


def _filled(rows: Iterator[tuple[int, list]]) -> Iterator[tuple[int, list]]:
    """The rows that are not blank."""
    for row_no, cells in rows:
        first = cells[0] if cells else None
        # The first cell (the name) is filled in almost every row: only look at the
        # others when it is not (is_blank costs a loop over the row).
        if not (type(first) is str and first and not first.isspace()) and is_blank(cells):
            continue
        yield row_no, cells


@dataclass(frozen=True)
class CsvLines:
    """Whole lines of a plain CSV (no quoted cell: a line is a record), as bytes: a chunk
    for another process to parse (`rows`), so that the reading process spends nothing
    per cell. `before` is the number of lines above it in the file."""

    before: int
    data: bytes
    encoding: str
    delimiter: str

    def rows(self) -> list[tuple[int, list]]:
        """(sheet row number, cells) for every non-blank row, as Table's iteration gives them."""
        text = self.data.decode(self.encoding, errors="replace")
        lines = text.split("\n")
        if lines[-1] == "":  # the newline that ends the last line
            lines.pop()
        if any(len(line) > _CSV_FIELD_LIMIT for line in lines):  # the csv module's error, as before
            return list(_filled(_records(io.StringIO(text, newline=""), self.delimiter, self.before)))
        return list(_filled(_plain_records(lines, self.delimiter, self.before)))


# A cell longer than this is the csv module's error ("field larger than field limit"): a
# chunk with a line that long is read by the csv module, so the file is refused as before.
_CSV_FIELD_LIMIT = csv.field_size_limit()


def _plain_records(lines: list[str], delimiter: str, before: int) -> Iterator[tuple[int, list]]:
    """_records for the lines of a plain CSV (no quote, no lone CR: a line is a record):
    the same cells, split at the delimiter, without the csv module's per-character state
    machine (~4 µs a row of a worker process's ~20 went to reading the CSV; this is ~1)."""
    for row_no, line in enumerate(lines, before + 1):
        if line.endswith("\r"):  # a CRLF line end
            line = line[:-1]
        cells = line.split(delimiter) if line else []  # csv gives [] for an empty line
        if "'" in line:
            joined = "\x00".join(cells)
            if "\x00'" in joined or joined.startswith("'"):  # rare: only then look at each cell
                cells = [_unguard(c) for c in cells]
        yield row_no, cells


def chunk_rows(chunk) -> list[tuple[int, list]]:
    """The rows of a chunk of Table.chunks (a list of rows already, or CsvLines)."""
    return chunk.rows() if isinstance(chunk, CsvLines) else chunk


@dataclass
class Table:
    """An open sheet: its header row and an iterator of the data rows after it."""

    format: str  # "xlsx" | "csv"
    sheet_name: str
    encoding: str
    header_row: int  # 1-based sheet row number of the header
    headers: list[str]
    estimated_rows: int  # for the progress bar; blank rows included
    _rows: Iterator[tuple[int, list]] = field(repr=False, default=iter(()))
    row_limit: int = 0
    other_sheets: list[str] = field(default_factory=list)  # other sheets that have data rows
    # A plain CSV (no quote, no lone CR, an encoding where a newline byte is a newline):
    # (path, delimiter), read a chunk of lines at a time by `chunks`.
    plain_csv: tuple[Path, str] | None = field(repr=False, default=None)

    def __iter__(self) -> Iterator[tuple[int, list]]:
        """(sheet row number, cells) for every non-blank row after the header."""
        count = 0
        limit = self.row_limit
        for row_no, cells in _filled(self._rows):
            count += 1
            if limit and count > limit:
                raise too_many_rows(limit)
            yield row_no, cells

    def chunks(self, size: int) -> Iterator:
        """The data rows, `size` at a time (chunk_rows gives a chunk's rows): lists of
        rows, or, from a plain CSV, CsvLines of `size` lines. Its row limit was checked
        when it was opened (open_csv counts the records of a file of more lines)."""
        if self.plain_csv is None:
            rows = iter(self)
            while chunk := list(islice(rows, size)):
                yield chunk
            return
        path, delimiter = self.plain_csv
        encoding = "utf-8" if self.encoding == "utf-8-sig" else self.encoding  # the BOM is above the header
        with open(path, "rb") as f:
            lines = iter(f)  # split at b"\n" only: the file has no lone CR
            for _ in islice(lines, self.header_row):
                pass
            before = self.header_row
            while chunk := list(islice(lines, size)):
                yield CsvLines(before, b"".join(chunk), encoding, delimiter)
                before += len(chunk)


HeaderScore = Callable[[list[str]], int]


def _find_header(rows: list[tuple[int, list]], score: HeaderScore, min_score: int) -> int | None:
    best, best_index = 0, None
    for index, (_, cells) in enumerate(rows):
        s = score([normalize_header(c) if isinstance(c, str) else "" for c in cells])
        if s > best:
            best, best_index = s, index
    return best_index if best >= min_score else None


def _csv_rows(path: Path, encoding: str) -> Iterator[tuple[int, list]]:
    # errors="replace": a stray byte in another encoding becomes U+FFFD, which the
    # row validation reports for that row instead of failing the whole file.
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        first = f.readline()
        f.seek(0)
        yield from _records(f, _delimiter(first), 0)


def _records(f, delimiter: str, before: int) -> Iterator[tuple[int, list]]:
    """(line number of the record's end, cells) for the records of the text stream `f`,
    whose first line is line `before` + 1 of the file."""
    reader = csv.reader(f, delimiter=delimiter)
    row_no = before
    try:
        for cells in reader:
            row_no = before + reader.line_num
            joined = "\x00".join(cells)
            if "\x00'" in joined or joined.startswith("'"):  # rare: only then look at each cell
                cells = [_unguard(c) for c in cells]
            yield row_no, cells
    except csv.Error as exc:
        raise SpreadsheetError(
            f"CSV 文件第 {row_no + 1} 行附近格式错误（{exc}），请用 Excel 打开后另存为 CSV (UTF-8) 再上传。"
        ) from exc


def _unguard(cell: str) -> str:
    """Undo the quote our CSV reports put before =, +, - and @ (formula injection guard)."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in "=+-@":
        return cell[1:]
    return cell


def _count_lines(path: Path) -> tuple[int, bool]:
    """(lines, plain): plain when no line holds a quote or a lone CR, so that every line
    is one record, whatever the csv module would make of quotes."""
    n = quotes = lone_cr = 0
    after_cr = False
    with open(path, "rb") as f:
        while chunk := f.read(4 * 1024 * 1024):
            n += chunk.count(b"\n")
            quotes += chunk.count(b'"')
            lone_cr += chunk.count(b"\r") - chunk.count(b"\r\n") - (after_cr and chunk.startswith(b"\n"))
            after_cr = chunk.endswith(b"\r")
    return n, not quotes and not lone_cr


def open_csv(path: Path, *, score: HeaderScore, min_score: int, row_limit: int) -> Table:
    encoding = detect_encoding(path)
    rows = _csv_rows(path, encoding)
    head: list[tuple[int, list]] = []
    for item in rows:
        head.append(item)
        if len(head) >= SCAN_ROWS:
            break
    index = _find_header(head, score, min_score)
    if index is None:
        raise _no_header(head)
    header_row, headers = head[index]

    def rest():
        yield from head[index + 1 :]
        yield from rows

    lines, plain = _count_lines(path)
    total = max(0, lines - header_row)
    if row_limit and total > row_limit:
        # More lines than the limit (blank lines and line breaks inside cells count too):
        # count the records, without validating them, and stop at limit + 1.
        _count_csv_or_refuse(path, encoding, header_row, row_limit)
    table = Table("csv", "", encoding, header_row, [str(h) for h in headers], total, rest(), row_limit)
    if plain and encoding != "utf-16":  # UTF-8 and GB18030 never use a newline or quote byte inside a character
        with open(path, encoding=encoding, errors="replace", newline="") as f:
            table.plain_csv = (path, _delimiter(f.readline()))
    return table


def _count_csv_or_refuse(path: Path, encoding: str, header_row: int, row_limit: int) -> None:
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        first = f.readline()
        f.seek(0)
        reader = csv.reader(f, delimiter=_delimiter(first))
        count = 0
        try:
            for cells in reader:
                if cells and (cells[0].strip() or any(c.strip() for c in cells)) and reader.line_num > header_row:
                    count += 1
                    if count > row_limit:
                        raise too_many_rows(row_limit)
        except csv.Error:
            return  # the validating read reports where the file is broken


def _count_or_refuse(rows: Iterator[tuple[int, list]], header_row: int, row_limit: int) -> None:
    count = 0
    for row_no, cells in rows:
        if row_no > header_row and not is_blank(cells):
            count += 1
            if count > row_limit:
                raise too_many_rows(row_limit)


def open_xlsx(path: Path, *, score: HeaderScore, min_score: int, row_limit: int, fmt: str = "xlsx") -> Table:
    """The data sheet of a workbook (.xlsx, .xls or .ods, all read by calamine).

    The data sheet is the one with the template's header and data rows; a sheet named
    like an instructions sheet (填写说明, 示例 …), or whose rows are all marked as
    examples, never is, even when it comes first and holds a header and a 示例张三 row.
    Other sheets that also have data are named in `other_sheets` (the preview says
    which sheet was read and which were not)."""
    from python_calamine import CalamineError, CalamineWorkbook

    unreadable = {"xlsx": NOT_XLSX, "ods": NOT_ODS, "xls": OLE_FILE}[fmt]
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        metas = list(workbook.sheets_metadata)
    except (CalamineError, OSError, ValueError) as exc:
        raise SpreadsheetError(unreadable) from exc
    # Visible worksheets first: a hidden lookup sheet is looked at last.
    ordered = [m.name for m in metas if "Visible" in str(m.visible) and "WorkSheet" in str(m.typ)]
    ordered += [m.name for m in metas if m.name not in ordered]
    candidates = []
    first_rows: list[tuple[int, list]] = []
    for name in ordered:
        try:
            sheet = workbook.get_sheet_by_name(name)
        except (CalamineError, OSError, ValueError) as exc:
            raise SpreadsheetError(
                f"工作表“{name}”无法读取（文件可能已损坏或含有不支持的内容），请另存为 .xlsx 或 CSV 后重新上传。"
            ) from exc
        if sheet.height == 0:
            continue
        # calamine yields rows from row 1 (empty rows above the data included), so the
        # sheet row number is the position + 1; columns start at the first used one.
        rows = ((i + 1, cells) for i, cells in enumerate(sheet.iter_rows()))
        head: list[tuple[int, list]] = []
        for item in rows:
            head.append(item)
            if len(head) >= SCAN_ROWS:
                break
        first_rows = first_rows or head
        index = _find_header(head, score, min_score)
        if index is None:
            continue
        after = head[index + 1 :]
        while len(after) < PEEK_ROWS:  # checked before taking a row, so none is dropped
            item = next(rows, None)
            if item is None:
                break
            after.append(item)
        data = [cells for _, cells in after if not is_blank(cells)]
        examples = bool(data) and all(_is_example(cells) for cells in data)
        candidates.append(
            {
                "name": name,
                "sheet": sheet,
                "header": head[index],
                "after": after,
                "rows": rows,
                "has_data": bool(data),
                "instructions": bool(INSTRUCTION_SHEET.search(name)) or examples,
            }
        )
    lists = [c for c in candidates if not c["instructions"]]
    with_data = [c for c in lists if c["has_data"]]
    chosen = (with_data or lists or [None])[0]
    if chosen is None:
        if candidates:
            raise SpreadsheetError(ONLY_EXAMPLES.format(sheet=candidates[0]["name"]))
        raise _no_header(first_rows)
    header_row, headers = chosen["header"]
    sheet = chosen["sheet"]
    total = max(0, (sheet.end[0] + 1 if sheet.end else 0) - header_row)
    if row_limit and total > row_limit:
        _count_or_refuse(((i + 1, cells) for i, cells in enumerate(sheet.iter_rows())), header_row, row_limit)

    def rest(after=chosen["after"], rows=chosen["rows"]):
        yield from after
        yield from rows

    others = [c["name"] for c in with_data if c is not chosen]
    return Table(fmt, chosen["name"], "", header_row, [_text(h) for h in headers], total, rest(), row_limit, others)


def _is_example(cells) -> bool:
    return any(isinstance(c, str) and any(mark in c for mark in EXAMPLE_MARKS) for c in cells)


def _garbled_sample(rows) -> str:
    """A cell of `rows` that ftfy can repair into Chinese text, or ""."""
    import ftfy

    for _, cells in rows:
        for cell in cells:
            if isinstance(cell, str) and cell and not cell.isascii():
                fixed = ftfy.fix_encoding(cell)
                if fixed != cell and any("\u3400" <= c <= "\u9fff" for c in fixed):
                    return cell[:20]
    return ""


def _text(value) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _no_header(first_rows=()) -> SpreadsheetError:
    """No header found. When the text of the first rows is mojibake (UTF-8 read as
    Latin-1/Windows-1252 and saved again: "å§“å" for 姓名), say so: that is why."""
    garbled = _garbled_sample(first_rows)
    if garbled:
        return SpreadsheetError(GARBLED.format(sample=garbled))
    return SpreadsheetError(
        f"没有找到表头：请确认表格前 {SCAN_ROWS} 行中有一行列名（如“姓名”“身份证号”），"
        "列名与下载的模板一致。建议直接在模板中填写。"
    )


def open_table(
    path: Path,
    *,
    filename: str = "",
    score: HeaderScore,
    min_score: int = 2,
    row_limit: int | None = None,
    size_limit: int | None = None,
) -> Table:
    """Check the file and open its data rows. Raises SpreadsheetError (Chinese) when the
    file as a whole cannot be read; nothing is parsed before the checks pass."""
    path = Path(path)
    check_size(path.stat().st_size, limit=size_limit)
    fmt = sniff_format(path, filename or path.name)
    row_limit = max_rows() if row_limit is None else row_limit
    if fmt in ("xlsx", "ods"):
        check_xlsx_container(path, row_limit=row_limit, fmt=fmt)
    if fmt in ("xlsx", "ods", "xls"):
        return open_xlsx(path, score=score, min_score=min_score, row_limit=row_limit, fmt=fmt)
    return open_csv(path, score=score, min_score=min_score, row_limit=row_limit)
