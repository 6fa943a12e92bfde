"""Table.chunks: a plain CSV (no quote, no lone CR) is handed on as raw lines that another
process parses (CsvLines.rows); the rows are exactly the ones Table's iteration gives."""

import pytest

from beneficiaries.importer.columns import WORKER_COLUMNS, header_scorer
from beneficiaries.spreadsheets import CsvLines, chunk_rows, open_table
from tests.import_files import WORKER_HEADERS, worker_row


def _open(path):
    return open_table(path, score=header_scorer(WORKER_COLUMNS))


def _write(path, lines: list[list[str]], *, delimiter=",", newline="\n", encoding="utf-8", bom=False):
    text = newline.join(delimiter.join(cells) for cells in lines) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def _rows(n):
    return [[worker_row(i)[h] for h in WORKER_HEADERS] for i in range(n)]


@pytest.mark.parametrize(
    "kind",
    [
        dict(),
        dict(newline="\r\n", bom=True),
        dict(delimiter="\t"),
        dict(encoding="gb18030"),
    ],
    ids=["utf8", "crlf-bom", "tab", "gb18030"],
)
def test_plain_csv_chunks_give_the_rows_of_the_table(tmp_path, kind):
    rows = _rows(25)
    rows[4] = [""] * len(WORKER_HEADERS)  # a blank row, skipped
    rows[9][0] = "'=王五"  # our reports' formula guard, undone
    lines = [["说明：请按模板填写", ""], WORKER_HEADERS, *rows]
    path = _write(tmp_path / "w.csv", lines, **kind)
    chunks = list(_open(path).chunks(7))
    assert all(isinstance(c, CsvLines) for c in chunks) and len(chunks) == 4
    assert [r for c in chunks for r in chunk_rows(c)] == list(_open(path))
    assert [r[0] for r in chunk_rows(chunks[0])] == [3, 4, 5, 6, 8, 9]  # the blank line 7 skipped
    assert chunk_rows(chunks[1])[2][1][0] == "=王五"


def test_a_stray_byte_reads_as_in_the_table(tmp_path):
    """A cut character past the encoding sniffer's first 256 kB: U+FFFD in that row."""
    rows = _rows(2500)
    rows[2400][0] = "王\udc80甲"
    path = tmp_path / "w.csv"
    text = "\n".join(",".join(r) for r in [WORKER_HEADERS, *rows]) + "\n"
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    chunks = list(_open(path).chunks(700))
    assert isinstance(chunks[0], CsvLines)
    rows_read = [r for c in chunks for r in chunk_rows(c)]
    assert rows_read == list(_open(path)) and rows_read[2400][1][0] == "王\ufffd甲"


@pytest.mark.parametrize("trouble", ["quote", "lone-cr"])
def test_a_csv_with_quotes_or_lone_carriage_returns_is_read_by_the_csv_module(tmp_path, trouble):
    rows = _rows(10)
    if trouble == "quote":
        rows[3][8] = '"中国工商银行"'
        path = _write(tmp_path / "w.csv", [WORKER_HEADERS, *rows])
    else:
        path = _write(tmp_path / "w.csv", [WORKER_HEADERS, *rows], newline="\r")
    chunks = list(_open(path).chunks(4))
    assert not any(isinstance(c, CsvLines) for c in chunks)
    assert [r for c in chunks for r in c] == list(_open(path))
