"""Real spreadsheets as employers fill them: numbers where text belongs, spaces and
full-width characters, every way of writing a date, blank rows, a title row, extra
columns, formulas, several sheets, and CSV in GBK, UTF-8 with BOM or UTF-16."""

import datetime as dt

import pytest
import xlsxwriter

from beneficiaries import pii
from beneficiaries.importer.cells import CellError, date_value, identifier
from beneficiaries.importer.workers import workers_import
from beneficiaries.models import Person, Registration
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


def messages(result, row):
    return [(e["column"], e["message"]) for r in result.errors if r["row"] == row for e in r["errors"]]


def test_id_stored_by_excel_as_a_float_is_rejected_with_a_text_format_hint(tmp_path, target):
    rows = [worker_row(i) for i in range(3)]
    rows[1]["身份证号"] = float(rows[1]["身份证号"])  # a number cell: 1.30102199001011E+17, digits gone
    result = run(write_xlsx(tmp_path / "w.xlsx", rows), target)
    (column, message), *_ = messages(result, 3)
    assert column == "身份证号" and "文本" in message and "丢失" in message
    assert result.rejected == 1


def test_id_in_scientific_notation_text_is_rejected(tmp_path, target):
    rows = [worker_row(1, 身份证号="1.30108E+17"), worker_row(2)]
    result = run(write_csv(tmp_path / "w.csv", rows), target)
    assert messages(result, 2)[0][0] == "身份证号" and "文本" in messages(result, 2)[0][1]


def test_identifier_never_goes_through_float_rounding():
    assert identifier(130102199001011237, "身份证号") == "130102199001011237"  # an int cell kept every digit
    assert identifier(130102850315123.0, "身份证号") == "130102850315123"  # 15 digits fit a float exactly
    assert identifier(13812345678.0, "手机号") == "13812345678"
    with pytest.raises(CellError):
        identifier(1.3010219900101124e17, "身份证号")
    with pytest.raises(CellError):
        identifier(6222021234567890123.0, "银行账号")


def test_fifteen_digit_id_in_a_number_cell_is_fine(tmp_path, target):
    rows = [worker_row(1, 身份证号=130102850315123.0)]
    result = run(write_xlsx(tmp_path / "w.xlsx", rows), target)
    assert result.created == 1 and not result.errors


def test_spaces_and_full_width_characters_are_cleaned(tmp_path, target):
    number = worker_row(5)["身份证号"]
    wide = number[:6].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    rows = [
        worker_row(
            5,
            姓名=" 王 五甲 ",
            身份证号=f" {wide} {number[6:14]} {number[14:]} ",
            手机号="138 0013 8000",
            人员类别=" 外来务工人员 ",
            开户银行=" 中国工商银行",
            银行账号="6222 0212 3456 7890 123",
            春节在岗天数="７",
        )
    ]
    result = run(write_csv(tmp_path / "w.csv", rows), target)
    assert result.created == 1, result.errors
    person = Person.objects.get(id_hash=pii.blind_index(number))
    assert person.name == "王五甲" and pii.decrypt(person.phone_cipher) == "13800138000"
    reg = person.registrations.get()
    assert reg.duty_days == 7 and pii.decrypt(reg.account_cipher) == "6222021234567890123"


@pytest.mark.parametrize(
    "value",
    [
        "2021-01-25",
        "2021/1/25",
        "2021.1.25",
        "2021年1月25日",
        "20210125",
        "2021-01-25 00:00:00",
        "44221",
        "２０２１－０１－２５",
    ],
)
def test_date_text_forms(value):
    assert date_value(value, "留岗开始日期") == dt.date(2021, 1, 25)


def test_dates_as_excel_serials_and_date_cells(tmp_path, target):
    path = tmp_path / "dates.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    for c, h in enumerate(WORKER_HEADERS):
        ws.write_string(0, c, h)
    for r, (start, end) in enumerate(
        [
            (44221, 44286),  # serial numbers without a date format
            (dt.datetime(2021, 1, 25), dt.datetime(2021, 3, 31)),  # real date cells
            ("2021/1/25", "2021年3月31日"),  # text
        ],
        start=1,
    ):
        row = worker_row(r)
        for c, h in enumerate(WORKER_HEADERS):
            if h == "留岗开始日期":
                ws.write(r, c, start, date_fmt if isinstance(start, dt.datetime) else None)
            elif h == "留岗结束日期":
                ws.write(r, c, end, date_fmt if isinstance(end, dt.datetime) else None)
            elif row[h]:
                ws.write_string(r, c, row[h])
    wb.close()
    result = run(path, target)
    assert result.created == 3, result.errors
    assert set(Registration.objects.values_list("start_date", "end_date")) == {
        (dt.date(2021, 1, 25), dt.date(2021, 3, 31))
    }


def test_bad_dates_say_which_format(tmp_path, target):
    rows = [
        worker_row(1, 留岗开始日期="一月下旬"),
        worker_row(2, 留岗结束日期="2021-02-30"),
        worker_row(3, 留岗结束日期="2021-01-20"),
    ]
    result = run(write_csv(tmp_path / "w.csv", rows), target)
    assert "2021-01-21 的格式" in messages(result, 2)[0][1]
    assert "没有这一天" in messages(result, 3)[0][1]
    assert messages(result, 4)[0][0] == "留岗结束日期"


def test_blank_rows_title_row_and_extra_columns(tmp_path, target):
    headers = ["序号", *WORKER_HEADERS, "备注"]
    rows = [dict(worker_row(i), 序号=str(i), 备注="无") for i in range(4)]
    rows.insert(2, {})  # a blank row in the middle
    rows[3]["手机号"] = "bad"
    path = write_xlsx(
        tmp_path / "w.xlsx",
        rows,
        headers=headers,
        before=[["石家庄格力电器 2021年春节留岗人员名单"], []],
    )
    result = run(path, target)
    # title on row 1, an empty row 2, header on row 3: data rows are 4, 5, (blank 6), 7, 8
    assert result.header_row == 3 and result.total == 4
    assert [e["row"] for e in result.errors] == [7]
    csv_path = write_csv(tmp_path / "w.csv", rows, headers=headers, before=[["2021年春节留岗人员名单"]])
    assert [e["row"] for e in run(csv_path, target).errors] == [6]


def test_formulas_give_their_cached_values(tmp_path, target):
    path = tmp_path / "f.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    row = worker_row(1)
    for c, h in enumerate(WORKER_HEADERS):
        ws.write_string(0, c, h)
        if h == "春节在岗天数":
            ws.write_formula(1, c, "=3+4", None, 7)
        elif h == "姓名":
            ws.write_formula(1, c, '="王"&"一甲"', None, "王一甲")
        elif row[h]:
            ws.write_string(1, c, row[h])
    wb.close()
    result = run(path, target)
    assert result.created == 1, result.errors
    assert Registration.objects.get().duty_days == 7 and Person.objects.get().name == "王一甲"


def test_the_sheet_with_the_header_is_taken(tmp_path, target):
    rows = [worker_row(i) for i in range(3)]
    path = write_xlsx(
        tmp_path / "w.xlsx",
        rows,
        extra_sheets=[("说明", [["填写说明"], ["姓名：必填"]]), ("统计", [["合计", 3]])],
        sheet="名单",
    )
    result = run(path, target)
    assert result.sheet == "名单" and result.created == 3


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_csv_encodings_are_detected(tmp_path, target, encoding):
    rows = [worker_row(i) for i in range(3)]
    result = run(write_csv(tmp_path / "w.csv", rows, encoding=encoding), target)
    assert result.created == 3, result.errors
    assert result.encoding == ("gb18030" if encoding.startswith("gb") else encoding)
    assert set(Person.objects.values_list("name", flat=True)) == {r["姓名"] for r in rows}


def test_utf16_tab_separated_text_from_excel(tmp_path, target):
    rows = [worker_row(i) for i in range(2)]
    path = tmp_path / "w.txt"
    lines = ["\t".join(WORKER_HEADERS)] + ["\t".join(r[h] for h in WORKER_HEADERS) for r in rows]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-16")
    result = run(path, target)
    assert result.created == 2, result.errors


def test_missing_required_column_is_a_file_error(tmp_path, target):
    from beneficiaries.spreadsheets import SpreadsheetError

    headers = [h for h in WORKER_HEADERS if h != "手机号"]
    with pytest.raises(SpreadsheetError, match="手机号"):
        run(write_csv(tmp_path / "w.csv", [worker_row(1)], headers=headers), target)


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_a_plain_csv_chunk_is_split_as_the_csv_module_reads_it(delimiter, ending):
    """CsvLines.rows splits a plain CSV's lines itself: the same (row, cells) as the csv
    module, for blank and empty lines, empty cells, odd characters, guarded formulas and
    a last line without its line end."""
    import io

    from beneficiaries.spreadsheets import CsvLines, _filled, _records

    lines = [
        "张三,130102199001011230,13800001234",
        "",
        "   ",
        ",,",
        "a,,b,",
        "x\u2028y,z\x0bw,v\x1cu\x00t",
        "'=1+2,'-3,'@x,it's",
        "'+86,a'b",
        "\u3000全角空格 , 尾部 ",
    ]
    text = ending.join(line.replace(",", delimiter) for line in lines)
    for data in (text + ending, text):  # with and without the last line end
        chunk = CsvLines(7, data.encode("utf-8"), "utf-8", delimiter)
        want = list(_filled(_records(io.StringIO(data, newline=""), delimiter, 7)))
        assert chunk.rows() == want
        # Blank lines are left out, and each row keeps its line's number in the file.
        assert [row for row, _ in want] == [8, 12, 13, 14, 15, 16]


def test_a_plain_csv_chunk_with_an_overlong_cell_is_refused_as_before():
    from beneficiaries.spreadsheets import CsvLines, SpreadsheetError

    chunk = CsvLines(1, ("a," + "x" * 200_000 + "\n").encode(), "utf-8", ",")
    with pytest.raises(SpreadsheetError):
        chunk.rows()
