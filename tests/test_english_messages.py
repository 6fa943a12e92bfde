"""English mode for what the services write: rule condition texts, batch alarms, job
messages and import messages (stored in Chinese, shown in the page's language)."""

import re
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
from django.utils import translation

from accounts.job_messages import job_message
from accounts.models import Job
from beneficiaries.importer.messages import import_message
from disbursements.models import Batch
from disbursements.services.batches import batch_integrity_problems, batches_build
from programs.rules.conditions import describe_conditions
from tests.factories import make_entitlements, make_programme, make_rule

LUQUAN = SimpleNamespace(
    conditions={
        "hukou_outside": "city",
        "ownership_in": ["private", "construction"],
        "on_duty_min_days": 3,
        "stayed_through_holiday": True,
    },
    valid_until="2021-03-08",
)


def test_rule_conditions_in_english_and_chinese():
    with translation.override("en"):
        english = describe_conditions(LUQUAN)
    assert "Ownership: Private / non-public, Construction project" in english
    assert "On duty at least 3 days over the Spring Festival" in english
    assert "Valid until 2021-03-08" in english
    assert not any("经济类型" in text for text in english)
    with translation.override("zh-hans"):
        chinese = describe_conditions(LUQUAN)
    assert "经济类型：私营/非公、施工项目" in chinese and "春节假期全程留岗" in chinese


def test_job_messages_follow_the_page_language_and_the_amount_format():
    stored = "已生成银行文件 B-1.csv（605 笔，302500.00 元）"
    with translation.override("en"):
        assert job_message(stored) == "Bank file B-1.csv made (605 payments, ¥302,500.00)"
        assert job_message("已导入 605 条结果：成功 602 笔，失败 3 笔，待定 0 笔") == (
            "605 results imported: 602 paid, 3 failed, 0 pending"
        )
        assert job_message("完成") == "Done"
        assert job_message("某条未列出的消息") == "某条未列出的消息"  # shown as written
        assert Job(message="已重新排队").message_text == "Queued again"
    with translation.override("zh-hans"):
        assert job_message(stored) == "已生成银行文件 B-1.csv（605 笔，302,500.00 元）"
        assert job_message("完成") == "完成"


def test_batch_alarms_in_english(officer_luquan):
    programme = make_programme("HB-EN")
    make_entitlements(programme, make_rule(programme, "luquan_cash"), 3, start=100)
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    Batch.objects.filter(pk=batch.pk).update(total=batch.total + Decimal("1000"))
    batch.refresh_from_db()
    with translation.override("en"):
        problems = batch_integrity_problems(batch)
    assert problems == [f"The lines add up to ¥{batch.total - 1000:,.2f} but the batch total is ¥{batch.total:,.2f}"]
    with translation.override("zh-hans"):
        assert "与批次金额" in batch_integrity_problems(batch)[0]


# -- import messages --------------------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u9fff]")


def _english_of(chinese: str) -> str:
    """The message in English; it must be a listed one, and outside the “quoted” parts
    (the user's own values, the template's Chinese names) it must hold no Chinese."""
    with translation.override("en"):
        english = import_message(chinese)
    assert english != chinese, f"not in beneficiaries/importer/messages.py: {chinese}"
    assert not _CJK.search(re.sub(r"“[^”]*”", "", english)), english
    with translation.override("zh-hans"):
        assert import_message(chinese) == chinese
    return english


def _file_errors(tmp_path, settings) -> list[str]:
    """The file-level refusals, made by real files."""
    from beneficiaries.importer.columns import WORKER_COLUMNS, header_scorer
    from beneficiaries.spreadsheets import SpreadsheetError, open_table
    from tests.import_files import WORKER_HEADERS, worker_row, write_big_xlsx, write_csv, write_xlsx

    def refusal(path, **kw) -> str:
        with pytest.raises(SpreadsheetError) as exc:
            open_table(path, score=header_scorer(WORKER_COLUMNS), **kw)
        return exc.value.message

    out = []
    files = Path(__file__).resolve().parent.parent / "beneficiaries" / "tests" / "files"
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    out.append(refusal(empty))
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"not a workbook at all")
    out.append(refusal(fake))
    pdf = tmp_path / "w.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    out.append(refusal(pdf))
    ods = tmp_path / "w.ods"
    ods.write_bytes((files / "workers_libreoffice.ods").read_bytes()[:300])
    out.append(refusal(ods))
    ole = tmp_path / "w.xls"
    ole.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 600)
    out.append(refusal(ole))
    out.append(refusal(write_big_xlsx(tmp_path / "big.xlsx", 50), row_limit=10))
    out.append(refusal(write_csv(tmp_path / "big.csv", [worker_row(i) for i in range(30)]), row_limit=10))
    out.append(refusal(write_csv(tmp_path / "w.csv", [worker_row(1)]), size_limit=10))
    wb = openpyxl.Workbook()
    wb.active.append(WORKER_HEADERS)
    wb.active.append(["=1+1"] * len(WORKER_HEADERS))
    wb.save(tmp_path / "f.xlsx")
    out.append(refusal(tmp_path / "f.xlsx"))
    good = write_csv(tmp_path / "good.csv", [worker_row(1)])
    garbled = tmp_path / "garbled.csv"
    garbled.write_text(good.read_bytes().decode("cp1252", errors="replace"), encoding="utf-8")
    out.append(refusal(garbled))
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("随便,什么\n1,2\n", encoding="utf-8")
    out.append(refusal(nohead))
    example = worker_row(900, 姓名="示例张三")
    only_example = write_xlsx(
        tmp_path / "ex.xlsx",
        [],
        sheet="空表",
        headers=["备注"],
        extra_sheets=[("填写说明", [WORKER_HEADERS, [example[h] for h in WORKER_HEADERS]])],
    )
    out.append(refusal(only_example))
    return out


def _row_errors() -> list[str]:
    """The cell and validator messages, made by real bad values."""
    from beneficiaries.idcard import IdNumberError, id_check_char, validate_id_number
    from beneficiaries.importer.cells import CellError, bank_name, date_value, int_value, person_name
    from beneficiaries.phone import PhoneError, validate_mobile
    from beneficiaries.uscc import USCCError, org_check_char, uscc_check_char, validate_uscc

    def error(fn, *args, **kw) -> str:
        try:
            fn(*args, **kw)
        except (CellError, IdNumberError, PhoneError, USCCError) as exc:
            return str(exc)
        raise AssertionError(f"{fn.__name__}{args} passed")

    def uscc(first8: str) -> str:
        org = "MA0E8K2X"
        first17 = first8 + org + org_check_char(org)
        return first17 + uscc_check_char(first17)

    def rid(first17: str) -> str:
        return first17 + id_check_char(first17)

    return [
        error(int_value, "-1", "春节在岗天数", high=7, unit="天"),
        error(int_value, "7.5", "春节在岗天数", high=7, unit="天"),
        error(int_value, "七", "工龄", high=60, unit="年"),
        error(date_value, "2021-02-30", "留岗开始日期"),
        error(date_value, "明天", "留岗结束日期"),
        error(date_value, "", "留岗结束日期"),
        error(bank_name, "火星银行"),
        error(person_name, ""),
        error(person_name, "王"),
        error(validate_id_number, ""),
        error(validate_id_number, "1.30102E+17"),
        error(validate_id_number, "1234"),
        error(validate_id_number, "13010219900101123Y"),
        error(validate_id_number, rid("99999919800101001")),
        error(validate_id_number, rid("23083419880101123")),  # 230834: never a division code
        error(validate_id_number, rid("13010218500101001")),
        error(validate_id_number, rid("99984019800101005")),
        error(validate_id_number, rid("91199919800101005")),
        error(validate_mobile, ""),
        error(validate_mobile, "12345"),
        error(validate_uscc, "1234"),
        error(validate_uscc, "000000001234567887"),
        error(validate_uscc, uscc("1A130110")),
        error(validate_uscc, uscc("91AB0110")),
        error(validate_uscc, uscc("91130110")[:-1] + "0" if uscc("91130110")[-1] != "0" else "1"),
    ]


@pytest.mark.django_db
def test_import_messages_in_english(tmp_path, settings):
    from beneficiaries.importer.workers import workers_import
    from tests.factories import make_employer, make_programme
    from tests.import_files import worker_row, write_csv

    chinese = _file_errors(tmp_path, settings) + _row_errors()
    # A worker's row: duplicates, dates outside the period, category, account, hukou.
    rows = [
        worker_row(1),
        worker_row(1),
        worker_row(2, 留岗开始日期="2020-01-01", 留岗结束日期="2019-12-31"),
        worker_row(3, 人员类别="路人"),
        worker_row(4, 银行账号="123"),
        worker_row(5, 开户银行=""),
        worker_row(6, 户籍地区代码="999999"),
        worker_row(7, 春节在岗天数="-1"),
    ]
    result = workers_import(
        path=write_csv(tmp_path / "rows.csv", rows),
        employer=make_employer("某某建材有限公司", "130110"),
        programme=make_programme(),
        dry_run=True,
    )
    result.cleanup()
    chinese += [e["message"] for r in result.errors for e in r["errors"]]
    assert len(chinese) >= 45
    english = [_english_of(text) for text in chinese]
    assert "The file has more than the limit of 10 data rows; nothing was imported." in english[5]
    assert "Days on duty over the Spring Festival should be between 0 and 7, but is -1" in english
    assert any(e.startswith("The bank “火星银行” is not a recognised bank") for e in english)
    assert "The address code 230834 does not exist; check the first 6 digits of the ID number" in english


def test_import_messages_not_listed_are_shown_as_written():
    with translation.override("en"):
        assert import_message("某条未列出的消息") == "某条未列出的消息"
