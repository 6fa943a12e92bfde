"""Reports of an import: the rejected rows in the template's own layout (so the
employer corrects them and uploads only those), and the JSON report of the CLI.

The rejected-rows report reads the uploaded file a second time and merges it with
the outcome file by row number, so neither the rows nor the errors are ever all in
memory. A cell that begins with = + - @ never becomes a formula: XlsxWriter writes
every cell with write_string, and a CSV cell gets a leading single quote (which our
own reader removes again on re-upload).
"""

import csv
import json
from pathlib import Path

import xlsxwriter

from beneficiaries.importer.cells import text
from beneficiaries.importer.columns import EMPLOYER_COLUMNS, WORKER_COLUMNS, header_scorer, map_headers
from beneficiaries.spreadsheets import open_table
from beneficiaries.xlsx_templates import formats, write_data_header
from core.private_files import open_private, private_file
from core.spreadsheets import safe_cell

REASON = "错误原因"
COLUMNS = {"workers": WORKER_COLUMNS, "employers": EMPLOYER_COLUMNS}


def _reason(row_no: int, errors) -> str:
    return f"原第{row_no}行：" + "；".join(f"{column}：{message}" for column, message in errors)


def rejected_rows(*, source: Path, filename: str, kind: str, outcomes):
    """(row number, [cell texts in the template's column order], reason) per rejected row."""
    columns = COLUMNS[kind]
    table = open_table(source, filename=filename, score=header_scorer(columns), row_limit=0)
    positions = map_headers(columns, table.headers)
    order = [positions.get(c.key) for c in columns]
    rejected = iter(outcomes.rejected_rows())
    want = next(rejected, None)
    for row_no, cells in table:
        if want is None:
            return
        while want is not None and want[0] < row_no:  # cannot happen: the same file, the same rows
            want = next(rejected, None)
        if want is None or want[0] != row_no:
            continue
        values = [text(cells[i]) if i is not None and i < len(cells) else "" for i in order]
        yield row_no, values, _reason(row_no, want[1])
        want = next(rejected, None)


def write_rejected_xlsx(target, *, source: Path, filename: str, kind: str, outcomes) -> int:
    private_file(target)  # 0600: the rejected rows carry ID and account numbers
    workbook = xlsxwriter.Workbook(
        str(target),
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    fmt = formats(workbook)
    columns = COLUMNS[kind]
    sheet = workbook.add_worksheet("错误行" if kind == "workers" else "错误行（单位）")
    write_data_header(workbook, sheet, columns, fmt, extra=(REASON,))
    n = 0
    for n, (_, values, reason) in enumerate(
        rejected_rows(source=source, filename=filename, kind=kind, outcomes=outcomes), start=1
    ):
        for i, value in enumerate(values):
            if value:
                sheet.write_string(n, i, value)  # a string, never a formula
        sheet.write_string(n, len(values), reason, fmt["reason"])
    workbook.close()
    return n


def write_rejected_csv(target, *, source: Path, filename: str, kind: str, outcomes) -> int:
    columns = COLUMNS[kind]
    n = 0
    with open_private(target, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([c.header for c in columns] + [REASON])
        for _, values, reason in rejected_rows(source=source, filename=filename, kind=kind, outcomes=outcomes):
            writer.writerow([safe_cell(v) for v in values] + [safe_cell(reason)])
            n += 1
    return n


def write_json_report(fp, outcomes) -> None:
    """{"accepted": N, "rejected": M, "rows": [{"row", "status", "errors": [{"column", "message"}]}]},
    streamed row by row."""
    fp.write(f'{{"accepted": {outcomes.accepted}, "rejected": {outcomes.rejected}, "rows": [')
    first = True
    for row_no, errors in outcomes:
        item = {
            "row": row_no,
            "status": "rejected" if errors else "accepted",
            "errors": [{"column": c, "message": m} for c, m in (errors or [])],
        }
        fp.write(("" if first else ", ") + json.dumps(item, ensure_ascii=False))
        first = False
    fp.write("]}\n")
