"""Spreadsheets that used to lose data silently: an instructions sheet before the list,
formulas without results, huge files, a negative number in a CSV, refused files that
left folders behind, banks nobody has heard of, .xls and .ods files, and text garbled
by a wrong encoding."""

import glob
import tempfile
import time
from pathlib import Path

import openpyxl
import pytest

from beneficiaries.importer.workers import workers_import
from beneficiaries.models import Person, Registration
from beneficiaries.spreadsheets import SpreadsheetError, check_xlsx_container
from tests.factories import make_employer, make_programme
from tests.import_files import (
    WORKER_HEADERS,
    worker_row,
    write_big_ods,
    write_big_xlsx,
    write_csv,
    write_xlsx,
)

pytestmark = pytest.mark.django_db
FILES = Path(__file__).parent / "files"


@pytest.fixture
def target():
    return make_employer("某某建材有限公司", "130110"), make_programme()


def run(path, target, **kw):
    employer, programme = target
    result = workers_import(path=path, employer=employer, programme=programme, **kw)
    result.cleanup()
    return result


def messages(result, row):
    return [(e["column"], e["message"]) for r in result.errors if r["row"] == row for e in r["errors"]]


def example_sheet():
    example = worker_row(900, 姓名="示例张三")
    return ("填写说明", [["填写说明：请在“名单”工作表填写"], WORKER_HEADERS, [example[h] for h in WORKER_HEADERS]])


def test_the_instructions_sheet_with_an_example_row_is_never_read(tmp_path, target):
    rows = [worker_row(i) for i in range(3)]
    path = write_xlsx(tmp_path / "w.xlsx", rows, extra_sheets=[example_sheet()], sheet="名单")
    result = run(path, target)
    assert result.sheet == "名单" and result.created == 3, result.errors
    assert not Person.objects.filter(name="示例张三").exists()
    assert result.other_sheets == []


def test_an_example_sheet_is_recognised_by_its_rows_too(tmp_path, target):
    _, cells = example_sheet()
    path = write_xlsx(tmp_path / "w.xlsx", [worker_row(1)], extra_sheets=[("Sheet1", cells)], sheet="Sheet2")
    result = run(path, target)
    assert result.sheet == "Sheet2" and result.created == 1


def test_only_an_example_is_an_error_that_says_where_the_list_goes(tmp_path, target):
    _, cells = example_sheet()
    path = write_xlsx(tmp_path / "w.xlsx", [], extra_sheets=[("填写说明", cells)], sheet="空表", headers=["备注"])
    with pytest.raises(SpreadsheetError, match="只在“填写说明”工作表中找到了示例行"):
        run(path, target)


def test_the_preview_names_other_sheets_with_data(tmp_path, target):
    rows = [worker_row(i) for i in range(2)]
    second = [WORKER_HEADERS, *[[worker_row(10 + i)[h] for h in WORKER_HEADERS] for i in range(2)]]
    path = write_xlsx(tmp_path / "w2.xlsx", rows, sheet="二车间", extra_sheets=[("一车间", second)])
    result = run(path, target, dry_run=True)
    assert result.sheet == "一车间" and result.other_sheets == ["二车间"]
    assert "other_sheets" in result.as_dict()


def test_formulas_without_results_are_an_error_not_zero_or_blank(tmp_path, target):
    wb = openpyxl.Workbook()  # openpyxl, like some generators, saves formulas without values
    ws = wb.active
    ws.append(WORKER_HEADERS)
    row = worker_row(1)
    ws.append([row[h] for h in WORKER_HEADERS])
    ws["A2"] = '="王"&"一甲"'
    ws["F2"] = "=3+4"
    path = tmp_path / "f.xlsx"
    wb.save(path)
    with pytest.raises(SpreadsheetError, match=r"公式没有计算结果（例如单元格 A2）.*打开文件"):
        run(path, target)
    assert Registration.objects.count() == 0


def test_too_many_rows_stops_at_the_limit_within_a_second(tmp_path, target, settings):
    settings.IMPORT_MAX_ROWS = 1000
    rows = [worker_row(i) for i in range(20_000)]
    xlsx = write_xlsx(tmp_path / "big.xlsx", rows)
    csv = write_csv(tmp_path / "big.csv", rows)
    for path in (xlsx, csv):
        started = time.perf_counter()
        with pytest.raises(SpreadsheetError, match="1,000 行数据的上限"):
            run(path, target)
        assert time.perf_counter() - started < 1.0, path


@pytest.fixture(scope="module")
def xlsx_250k(tmp_path_factory):
    """A 250,000-row workbook (about 14 MB; written in about 3 s of CPU)."""
    return write_big_xlsx(tmp_path_factory.mktemp("big") / "250k.xlsx", 250_000)


def test_a_250k_row_workbook_is_refused_within_a_second(xlsx_250k, target, settings):
    # Its used range says 250,001 rows: refused from the sheet's first block, before
    # 100 MB of XML is inflated (that count took 1.9–2.4 s on a loaded machine).
    settings.IMPORT_MAX_ROWS = 200_000
    for _ in range(2):
        started = time.perf_counter()
        with pytest.raises(SpreadsheetError, match="200,000 行数据的上限"):
            run(xlsx_250k, target)
        assert time.perf_counter() - started < 1.0
    assert Registration.objects.count() == 0


def test_a_workbook_without_a_used_range_is_refused_by_the_count(tmp_path, target, settings):
    settings.IMPORT_MAX_ROWS = 1000
    path = write_big_xlsx(tmp_path / "nodim.xlsx", 5000, dimension=False)
    with pytest.raises(SpreadsheetError, match="1,000 行数据的上限"):
        run(path, target)
    # At the limit, neither the used range nor the count refuses it.
    settings.IMPORT_MAX_ROWS = 5000
    assert run(write_big_xlsx(tmp_path / "at.xlsx", 5000), target, dry_run=True).total == 5000


def test_an_ods_over_the_limit_is_refused_while_its_xml_is_read(tmp_path, target, settings):
    # Counted in content.xml as it is inflated, before calamine loads the sheet.
    path = write_big_ods(tmp_path / "w.ods", 3000)
    with pytest.raises(SpreadsheetError, match="1,000 行数据的上限"):
        check_xlsx_container(path, row_limit=1000, fmt="ods")
    settings.IMPORT_MAX_ROWS = 1000
    with pytest.raises(SpreadsheetError, match="1,000 行数据的上限"):
        run(path, target)
    settings.IMPORT_MAX_ROWS = 3000
    result = run(path, target, dry_run=True)
    assert (result.format, result.sheet, result.total) == ("ods", "名单", 3000)


def test_blank_lines_do_not_count_against_the_row_limit(tmp_path, target, settings):
    settings.IMPORT_MAX_ROWS = 5
    path = tmp_path / "w.csv"
    write_csv(path, [worker_row(i) for i in range(5)])
    path.write_text(path.read_text(encoding="utf-8") + ",,,,\n" * 50, encoding="utf-8")
    assert run(path, target).created == 5


def test_a_negative_duty_days_gets_the_range_message_in_csv_and_xlsx(tmp_path, target):
    rows = [worker_row(1, 春节在岗天数="-1")]
    for path in (write_csv(tmp_path / "w.csv", rows), write_xlsx(tmp_path / "w.xlsx", rows, raw=True)):
        result = run(path, target, dry_run=True)
        assert ("春节在岗天数", "春节在岗天数应在0至7之间，当前为-1") in messages(result, 2), result.errors


def _import_dirs() -> set[str]:
    return set(glob.glob(str(Path(tempfile.gettempdir()) / "portal-import-*")))


def test_a_refused_file_leaves_no_temporary_folder(tmp_path, target):
    before = _import_dirs()
    bad = tmp_path / "w.csv"
    bad.write_text("随便,什么\n1,2\n", encoding="utf-8")
    for path in (bad, write_csv(tmp_path / "m.csv", [worker_row(1)], headers=["姓名", "身份证号"])):
        with pytest.raises(SpreadsheetError):
            run(path, target)
    assert _import_dirs() == before


def test_a_bank_outside_the_list_is_an_error(tmp_path, target):
    rows = [
        worker_row(1, 开户银行="火星银行"),
        worker_row(2, 开户银行="中国工商银行石家庄分行"),
        worker_row(3, 开户银行="鹿泉农村商业银行"),
        worker_row(4, 开户银行="沧州银行"),
    ]
    result = run(write_csv(tmp_path / "w.csv", rows), target, dry_run=True)
    assert result.rejected == 1
    assert any("火星银行" in m and "下拉列表" in m for _, m in messages(result, 2))


def test_the_form_refuses_an_unknown_bank_too(agent_other, target):
    from core.errors import DomainError
    from tests.factories import register

    employer, programme = target
    employer.agents.add(agent_other)
    with pytest.raises(DomainError, match="火星银行"):
        # the service that the form and the API call
        register(agent_other, employer, programme, bank_name="火星银行")


@pytest.mark.parametrize("name", ["workers_excel97.xls", "workers_libreoffice.ods"])
def test_xls_and_ods_get_the_same_verdicts_as_xlsx(tmp_path, target, name):
    result = run(FILES / name, target, dry_run=True)
    assert result.format == name.rsplit(".", 1)[1]
    assert result.header_row == 2 and result.sheet == "名单"
    assert (result.total, result.accepted, result.rejected) == (4, 3, 1)
    row_messages = dict(messages(result, 6))
    assert "春节在岗天数应在0至7之间" in row_messages["春节在岗天数"]
    assert "身份证号" in row_messages


def test_a_damaged_ods_is_called_an_ods(tmp_path, target):
    path = tmp_path / "w.ods"
    path.write_bytes((FILES / "workers_libreoffice.ods").read_bytes()[:300])
    with pytest.raises(SpreadsheetError, match=r"OpenDocument 表格 \(.ods\)"):
        run(path, target)


def test_text_garbled_by_a_wrong_encoding_is_recognised(tmp_path, target):
    good = write_csv(tmp_path / "good.csv", [worker_row(1)])
    garbled = tmp_path / "garbled.csv"
    # What a spreadsheet program does when it opens UTF-8 as Windows-1252 and saves again.
    garbled.write_text(good.read_bytes().decode("cp1252", errors="replace"), encoding="utf-8")
    with pytest.raises(SpreadsheetError, match=r"乱码.*编码"):
        run(garbled, target)
