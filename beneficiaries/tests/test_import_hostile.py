"""Hostile files: too big, too many rows, not what the name says, decompression
bombs, XML entity tricks, HTML in names, and formula injection into the reports."""

import csv
import zipfile

import openpyxl
import pytest
import xlsxwriter

from beneficiaries.importer.outcomes import Outcomes
from beneficiaries.importer.reports import write_rejected_csv, write_rejected_xlsx
from beneficiaries.importer.workers import workers_import
from beneficiaries.models import Person, Registration
from beneficiaries.spreadsheets import SpreadsheetError
from tests.factories import make_employer, make_programme
from tests.import_files import WORKER_HEADERS, worker_row, write_csv, write_xlsx

pytestmark = pytest.mark.django_db


@pytest.fixture
def target():
    return make_employer("某某建材有限公司", "130110"), make_programme()


def run(path, target, **kw):
    employer, programme = target
    result = workers_import(path=path, employer=employer, programme=programme, **kw)
    result.cleanup()
    return result


def test_file_over_the_size_limit_is_refused_before_parsing(tmp_path, target, settings):
    settings.IMPORT_MAX_BYTES = 2048
    path = tmp_path / "big.csv"
    path.write_bytes(b"\xff" * 4096)  # not even a valid file: the size check comes first
    with pytest.raises(SpreadsheetError, match="超过上限"):
        run(path, target)


def test_too_many_rows_is_refused_and_writes_nothing(tmp_path, target, settings):
    settings.IMPORT_MAX_ROWS = 10
    path = write_csv(tmp_path / "w.csv", [worker_row(i) for i in range(11)])
    with pytest.raises(SpreadsheetError, match="10 行"):
        run(path, target, valid_only=True)
    assert Registration.objects.count() == 0


@pytest.mark.parametrize(
    "content",
    [
        "姓名,身份证号\n张三,1\n".encode(),  # a CSV renamed to .xlsx
        b"<html><body>not a workbook</body></html>",
        b"PK\x03\x04 truncated zip",
    ],
)
def test_a_file_named_xlsx_that_is_not_one(tmp_path, target, content):
    path = tmp_path / "upload.xlsx"
    path.write_bytes(content)
    with pytest.raises(SpreadsheetError, match="不是有效的 Excel"):
        run(path, target, filename="名单.xlsx")


def test_a_zip_that_is_not_a_workbook(tmp_path, target):
    path = tmp_path / "doc.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    with pytest.raises(SpreadsheetError, match="不是有效的 Excel"):
        run(path, target)


def test_old_xls_or_encrypted_workbook(tmp_path, target):
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    with pytest.raises(SpreadsheetError, match="97-2003"):
        run(path, target)


def _bomb(path, size_mb: int, *, with_workbook=True):
    """A zip whose sheet inflates to `size_mb` MB of one repeated byte (~1000:1)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        if with_workbook:
            z.writestr("[Content_Types].xml", "<Types/>")
            z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            block = b" " * (1024 * 1024)
            for _ in range(size_mb):
                f.write(block)
    return path


def test_decompression_bomb_is_refused_before_calamine(tmp_path, target, settings):
    settings.IMPORT_MAX_UNZIPPED_BYTES = 40 * 1024 * 1024
    path = _bomb(tmp_path / "bomb.xlsx", 60)
    assert path.stat().st_size < 200 * 1024  # 60 MB inside a file of a few hundred kB
    with pytest.raises(SpreadsheetError, match="压缩炸弹"):
        run(path, target)


def test_extreme_compression_ratio_is_refused_even_under_the_total(tmp_path, target):
    path = _bomb(tmp_path / "ratio.xlsx", 20)  # 20 MB at ~1000:1, well under the total limit
    with pytest.raises(SpreadsheetError, match="压缩炸弹"):
        run(path, target)


def _with_shared_strings(tmp_path, name: str, dtd: str, ref: str):
    base = tmp_path / "base.xlsx"
    wb = xlsxwriter.Workbook(str(base))
    ws = wb.add_worksheet()
    for c, h in enumerate(WORKER_HEADERS):
        ws.write_string(0, c, h)
    row = worker_row(1, 姓名="PLACEHOLDER")
    for c, h in enumerate(WORKER_HEADERS):
        if row[h]:
            ws.write_string(1, c, row[h])
    wb.close()
    path = tmp_path / name
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/sharedStrings.xml":
                text = data.decode().replace("<sst", dtd + "<sst", 1).replace("PLACEHOLDER", ref)
                data = text.encode()
            out.writestr(info.filename, data)
    return path


@pytest.mark.parametrize(
    "dtd, ref",
    [
        ('<!DOCTYPE sst [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"),
        ('<!DOCTYPE sst [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/leak">]>', "&xxe;"),
        (
            '<!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>',
            "&d;",
        ),
    ],
    ids=["xxe-file", "xxe-url", "billion-laughs"],
)
def test_xml_entity_tricks_are_harmless(tmp_path, target, dtd, ref):
    """calamine does not expand entities: the file is refused as unreadable (or, if a
    future version reads it, the entity stays text). /etc/passwd never shows up."""
    path = _with_shared_strings(tmp_path, "evil.xlsx", dtd, ref)
    try:
        result = run(path, target, valid_only=True)
    except SpreadsheetError as exc:
        assert "root:" not in exc.message and "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" not in exc.message
    else:
        names = list(Person.objects.values_list("name", flat=True))
        assert not any("root:" in n or len(n) > 50 for n in names)
        assert all("root:" not in str(e) for e in result.errors)


def test_names_with_html_are_kept_as_text(tmp_path, target):
    rows = [worker_row(1, 姓名="<script>alert(1)</script>"), worker_row(2, 姓名="王\x07五")]
    result = run(write_csv(tmp_path / "w.csv", rows), target, valid_only=True)
    assert Person.objects.get().name == "<script>alert(1)</script>"  # stored as typed; every page escapes it
    assert result.errors[0]["row"] == 3 and "无法识别的字符" in result.errors[0]["errors"][0]["message"]


FORMULAS = {
    "姓名": '=HYPERLINK("http://evil.example","点我")',
    "开户银行": "+1+1",
    "银行账号": "@SUM(A1)",
    "手机号": "-2+3",
}


def _rejected_report_inputs(tmp_path, target):
    rows = [worker_row(1), worker_row(2, **FORMULAS)]
    source = write_xlsx(tmp_path / "w.xlsx", rows)
    employer, programme = target
    result = workers_import(path=source, employer=employer, programme=programme, workdir=tmp_path / "work")
    assert result.rejected == 1
    return source, result.outcomes


def test_xlsx_report_never_contains_a_formula(tmp_path, target):
    source, outcomes = _rejected_report_inputs(tmp_path, target)
    report = tmp_path / "report.xlsx"
    assert write_rejected_xlsx(report, source=source, filename="w.xlsx", kind="workers", outcomes=outcomes) == 1
    with zipfile.ZipFile(report) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # no formula element anywhere
    ws = openpyxl.load_workbook(report).active
    header = [c.value for c in ws[1]]
    assert header == [*WORKER_HEADERS, "错误原因"]  # the template's layout + the reason
    values = {h: c for h, c in zip(header, ws[2], strict=True)}
    assert values["姓名"].value == FORMULAS["姓名"] and values["姓名"].data_type == "s"
    assert values["开户银行"].value == "+1+1" and values["开户银行"].data_type == "s"
    assert values["错误原因"].value.startswith("原第3行：")


def test_csv_report_guards_formula_cells_and_reimport_strips_the_guard(tmp_path, target):
    source, outcomes = _rejected_report_inputs(tmp_path, target)
    report = tmp_path / "report.csv"
    write_rejected_csv(report, source=source, filename="w.xlsx", kind="workers", outcomes=outcomes)
    with open(report, encoding="utf-8-sig", newline="") as f:
        header, row = list(csv.reader(f))
    cells = dict(zip(header, row, strict=True))
    for column, value in FORMULAS.items():
        assert cells[column] == "'" + value
    assert all(not v.startswith(("=", "+", "-", "@")) for v in row)
    # fixing the row in the report and uploading it again: the guard quote is gone
    fixed = {
        **cells,
        "姓名": "王二甲",
        "手机号": "13800000002",
        "开户银行": "中国银行",
        "银行账号": "6216610000000000002",
    }
    path = write_csv(tmp_path / "fixed.csv", [fixed], headers=header)
    assert run(path, target).created == 1


def test_outcomes_merge_late_rejections_in_row_order(tmp_path):
    out = Outcomes(tmp_path)
    for row in (2, 3, 4, 5):
        out.accept(row) if row != 4 else out.reject(row, [("手机号", "无效")])
    out.reject_late(3, [("姓名", "不一致")])
    assert list(out) == [(2, None), (3, [("姓名", "不一致")]), (4, [("手机号", "无效")]), (5, None)]
    assert (out.accepted, out.rejected) == (2, 2)
