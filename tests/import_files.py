"""Builders of upload files for the importer's tests (and the browser test's fixture): valid worker
rows, CSV and .xlsx files, and large .xlsx and .ods files written straight as XML."""

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


def _col(c: int) -> str:
    name = ""
    c += 1
    while c:
        c, r = divmod(c - 1, 26)
        name = chr(65 + r) + name
    return name


def write_big_xlsx(path: Path, n_rows: int, *, sheet: str = "名单", dimension: bool = True) -> Path:
    """An .xlsx of `n_rows` worker rows written straight as XML, one string template per
    row: 250,000 rows in a few seconds, where a spreadsheet library takes half a minute.
    For tests of the row limit (the rows are refused before they are validated);
    dimension=False leaves out the sheet's used range, as some generators do."""
    import zipfile
    from xml.sax.saxutils import escape

    headers = WORKER_HEADERS
    letters = [_col(c) for c in range(len(headers))]

    def cell(c: int, value: str) -> str:
        return f'<c r="{letters[c]}%(r)d" t="inlineStr"><is><t>{escape(value)}</t></is></c>'

    i_phone, i_account = headers.index("手机号"), headers.index("银行账号")
    header_xml = '<row r="1">' + "".join(cell(c, h) for c, h in enumerate(headers)) % {"r": 1} + "</row>"
    # A template per distinct row, with its phone and account numbers left as fields
    # (each row has its own); a thousand distinct rows repeat.
    templates = []
    for i in range(1000):
        row = worker_row(i)
        cells = []
        for c, h in enumerate(headers):
            if c == i_phone:
                cells.append(f'<c r="{letters[c]}%(r)d" t="inlineStr"><is><t>138%(i)08d</t></is></c>')
            elif c == i_account:
                cells.append(f'<c r="{letters[c]}%(r)d" t="inlineStr"><is><t>622202%(i)013d</t></is></c>')
            elif row[h] != "":
                cells.append(cell(c, row[h]))
        templates.append('<row r="%(r)d">' + "".join(cells) + "</row>")
    parts = [header_xml]
    parts.extend(templates[i % 1000] % {"r": i + 2, "i": i} for i in range(n_rows))
    last = f"{letters[-1]}{n_rows + 1}"
    used_range = f'<dimension ref="A1:{last}"/>' if dimension else ""
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel_ns = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    sheet_xml = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {ns} {rel_ns}>'
        f"{used_range}<sheetData>{''.join(parts)}</sheetData></worksheet>"
    )
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook {ns} {rel_ns}>'
            f'<sheets><sheet name="{escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": sheet_xml,
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, content in files.items():
            zf.writestr(name, content.encode("utf-8"))
    return path


def write_big_ods(path: Path, n_rows: int, *, sheet: str = "名单") -> Path:
    """An OpenDocument spreadsheet (.ods, as LibreOffice and WPS save it) of `n_rows`
    worker rows, written straight as XML like write_big_xlsx."""
    import zipfile
    from xml.sax.saxutils import escape

    headers = WORKER_HEADERS

    def cell(value: str) -> str:
        return f'<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>'

    i_phone, i_account = headers.index("手机号"), headers.index("银行账号")
    templates = []
    for i in range(1000):
        row = worker_row(i)
        cells = [cell(escape(row[h]).replace("%", "%%")) for h in headers]
        cells[i_phone], cells[i_account] = cell("138%(i)08d"), cell("622202%(i)013d")
        templates.append("<table:table-row>" + "".join(cells) + "</table:table-row>")
    rows = ["<table:table-row>" + "".join(cell(escape(h)) for h in headers) + "</table:table-row>"]
    rows.extend(templates[i % 1000] % {"i": i} for i in range(n_rows))
    office = "urn:oasis:names:tc:opendocument:xmlns"
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<office:document-content xmlns:office="{office}:office:1.0" xmlns:table="{office}:table:1.0" '
        f'xmlns:text="{office}:text:1.0" office:version="1.2"><office:body><office:spreadsheet>'
        f'<table:table table:name="{escape(sheet)}">{"".join(rows)}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<manifest:manifest xmlns:manifest="{office}:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        zf.writestr("META-INF/manifest.xml", manifest)
        zf.writestr("content.xml", content.encode("utf-8"))
    return path
