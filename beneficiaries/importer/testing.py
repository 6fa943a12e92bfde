"""Builders of upload files for the importer's tests (and the browser test's fixture)."""

import csv
from pathlib import Path

import xlsxwriter

from beneficiaries.idcard import id_check_char
from beneficiaries.importer.columns import WORKER_COLUMNS

WORKER_HEADERS = [c.header for c in WORKER_COLUMNS]


def id_number(seq: int, address: str = "410102", birth: str = "19850315") -> str:
    first17 = f"{address}{birth}{seq % 1000:03d}"
    return first17 + id_check_char(first17)


def worker_row(seq: int, **over) -> dict:
    """One valid row of the workers' template (a migrant from Henan)."""
    birth = f"19{60 + seq // 1000 % 40:02d}0315"
    row = {
        "姓名": f"王{'一二三四五六七八九十'[seq % 10]}{'甲乙丙丁戊己庚辛壬癸'[seq // 10 % 10]}",
        "身份证号": id_number(seq, birth=birth),
        "手机号": f"138{seq:08d}",
        "留岗开始日期": "2021-01-21",
        "留岗结束日期": "2021-03-31",
        "春节在岗天数": "7",
        "工龄": "3",
        "人员类别": "外来务工人员",
        "开户银行": "中国工商银行",
        "银行账号": f"622202{seq:013d}",
        "户籍地区代码": "",
        "领取方式": "",
    }
    row.update(over)
    return row


def write_csv(path: Path, rows: list[dict], *, headers=None, encoding: str = "utf-8", before=()) -> Path:
    headers = headers or WORKER_HEADERS
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        for line in before:
            w.writerow(line)
        w.writerow(headers)
        for r in rows:
            w.writerow([r.get(h, "") for h in headers])
    return path


def write_xlsx(
    path: Path, rows: list[dict], *, headers=None, before=(), sheet="名单", extra_sheets=(), raw=False
) -> Path:
    """An .xlsx with the rows; with raw=True values are written with `write` (numbers
    as numbers, as a careless user's Excel would), else as strings."""
    headers = headers or WORKER_HEADERS
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
    for name, cells in extra_sheets:
        ws = wb.add_worksheet(name)
        for r, line in enumerate(cells):
            for c, v in enumerate(line):
                ws.write(r, c, v)
    ws = wb.add_worksheet(sheet)
    r = 0
    for line in before:
        for c, v in enumerate(line):
            ws.write(r, c, v)
        r += 1
    for c, h in enumerate(headers):
        ws.write_string(r, c, h)
    for row in rows:
        r += 1
        for c, h in enumerate(headers):
            v = row.get(h, "")
            if v == "" or v is None:
                continue
            if raw or not isinstance(v, str):
                ws.write(r, c, v)
            else:
                ws.write_string(r, c, v)
    wb.close()
    return path
