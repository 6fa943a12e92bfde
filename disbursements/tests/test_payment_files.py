"""Bank files: exact bytes (golden files), determinism, formula safety, encodings,
and the bank's result files (paid, failed, idempotent, refused when wrong)."""

import csv
import io
import os
from decimal import Decimal
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from accounts.models import AuditEntry
from disbursements.bank_results import batch_import_results, example_result_csv
from disbursements.batches import batches_build
from disbursements.choices import BatchStatus, LineStatus
from disbursements.models import PaymentLine
from disbursements.payment_files import batch_export, safe_cell, write_csv
from disbursements.tests.batch_factories import approve, make_employer, make_entitlement, make_programme, make_rule
from portal.errors import ConflictError, DomainError, PermissionDenied

pytestmark = pytest.mark.django_db
GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def approved(officer_luquan, city_shijiazhuang, province_staff):
    programme = make_programme("HB-GOLD")
    rule = make_rule(programme, "luquan_cash", amount="500.00", name="鹿泉区留岗职工补贴")
    employer = make_employer("130110")
    names = ["王小明", '=HYPERLINK("http://x")', "李四", "+张三", "-赵六", "@周七", "钱𠀀八"]
    for i, name in enumerate(names):
        make_entitlement(programme, rule, employer=employer, n=9000 + i, amount="500.00" if i % 3 else "800.50")
        PaymentLine
    from beneficiaries.models import Person

    for i, person in enumerate(Person.objects.filter(registrations__programme=programme).order_by("id")):
        person.name = names[i]
        person.save(update_fields=["name"])
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    return approve(batch, officer_luquan, city_shijiazhuang, province_staff)


def _golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") or not path.exists():
        path.write_bytes(data)
    assert data == path.read_bytes(), (
        f"{name} differs from the golden file (UPDATE_GOLDEN=1 to accept a deliberate change)"
    )


def test_csv_utf8_matches_golden_and_is_deterministic(approved, officer_luquan):
    first = batch_export(batch=approved, fmt="csv", acting_user=officer_luquan)
    data = Path(first.path).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    _golden("bank_file_utf8.csv", data)
    second = batch_export(batch=approved, fmt="csv", acting_user=officer_luquan)
    assert Path(second.path).read_bytes() == data and second.checksum == first.checksum
    approved.refresh_from_db()
    assert approved.status == BatchStatus.EXPORTED and approved.file_checksum == first.checksum
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["序号", "姓名", "证件号码", "银行账号", "开户行", "金额", "用途", "备注"]
    assert rows[1][2].startswith("410102") and len(rows[1][2]) == 18  # decrypted into the file
    assert rows[1][3] == f"6222{9000:015d}"
    assert rows[2][1] == '\'=HYPERLINK("http://x")' and rows[4][1] == "'+张三" and rows[5][1] == "'-赵六"
    assert rows[-1] == ["合计", "", "", "", "", "4401.50", "", "共 7 笔"]
    assert sum(Decimal(r[5]) for r in rows[1:-1]) == approved.total == Decimal("4401.50")
    assert rows[1][7] == f"{approved.number}-0000001"
    assert AuditEntry.objects.filter(action="batch_export", object_id=str(approved.pk)).count() == 2


def test_gb18030_and_xlsx_match_golden(approved, officer_luquan):
    gb = batch_export(batch=approved, fmt="csv", encoding="gb18030", acting_user=officer_luquan)
    data = Path(gb.path).read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert "钱𠀀八" in data.decode("gb18030")
    _golden("bank_file_gb18030.csv", data)
    x1 = batch_export(batch=approved, fmt="xlsx", acting_user=officer_luquan)
    x2 = batch_export(batch=approved, fmt="xlsx", acting_user=officer_luquan)
    assert x1.checksum == x2.checksum
    _golden("bank_file.xlsx", Path(x1.path).read_bytes())
    sheet = CalamineWorkbook.from_path(x1.path).get_sheet_by_index(0).to_python()
    assert sheet[0][:3] == ["序号", "姓名", "证件号码"]
    assert sheet[2][1] == '\'=HYPERLINK("http://x")'
    assert sheet[-1][0] == "合计" and sheet[-1][5] == "4401.50"
    # No formula anywhere in the sheet XML.
    import zipfile

    xml = zipfile.ZipFile(x1.path).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml


def test_portable_path_writes_the_same_bytes(approved):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the COPY path exists on PostgreSQL only")
    fast, slow = io.BytesIO(), io.BytesIO()
    write_csv(approved, fast, fast=True, parallel=False)
    write_csv(approved, slow, fast=False)
    assert fast.getvalue() == slow.getvalue()
    # (the two-process path needs committed rows: see test_batch_worker.py)


def test_safe_cell():
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("＝SUM(A1)") == "'＝SUM(A1)"
    assert safe_cell("王五") == "王五"
    assert safe_cell("") == ""


def test_export_needs_approval_and_scope(officer_luquan, officer_cangzhou, city_shijiazhuang):
    programme = make_programme("HB-X")
    rule = make_rule(programme, "luquan_cash")
    make_entitlement(programme, rule)
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    with pytest.raises(ConflictError):
        batch_export(batch=batch, fmt="csv", acting_user=officer_luquan)
    with pytest.raises(PermissionDenied):
        batch_export(batch=batch, fmt="csv", acting_user=city_shijiazhuang)
    with pytest.raises(DomainError):
        batch_export(batch=batch, fmt="pdf", acting_user=officer_luquan)


def _result_file(tmp_path, batch, failures, name="result.csv", encoding="utf-8-sig"):
    path = tmp_path / name
    path.write_bytes(example_result_csv(batch, failures).encode(encoding))
    return path


def test_results_mark_lines_paid_and_failed_idempotently(approved, officer_luquan, tmp_path):
    batch_export(batch=approved, fmt="csv", acting_user=officer_luquan)
    approved.refresh_from_db()
    path = _result_file(tmp_path, approved, {2: "户名不符", 5: "账号不存在"}, encoding="gb18030")
    result = batch_import_results(batch=approved, path=path, acting_user=officer_luquan)
    assert (result["paid"], result["failed"], result["pending"], result["changed"]) == (5, 2, 0, 7)
    assert approved.status == BatchStatus.RECONCILED
    line = approved.lines.get(seq=2)
    assert line.status == LineStatus.FAILED and line.failure_reason == "户名不符" and line.bank_reference
    assert AuditEntry.objects.filter(action="line_result", object_id=str(line.pk)).count() == 1
    again = batch_import_results(batch=approved, path=path, acting_user=officer_luquan)
    assert again["changed"] == 0 and again["paid"] == 5
    assert AuditEntry.objects.filter(action="line_result").count() == 7


def test_results_file_errors_are_all_reported_and_nothing_is_written(approved, officer_luquan, tmp_path):
    batch_export(batch=approved, fmt="csv", acting_user=officer_luquan)
    approved.refresh_from_db()
    path = tmp_path / "bad.csv"
    path.write_text(
        "备注,状态,失败原因\n"
        f"{approved.number}-0000001,成功,\n"
        f"{approved.number}-0000002,失败,\n"
        f"{approved.number}-0000099,成功,\n"
        f"OTHER-0000003,成功,\n"
        f"{approved.number}-0000004,不知道,\n"
        f"{approved.number}-0000001,成功,\n",
        encoding="utf-8",
    )
    with pytest.raises(DomainError) as exc:
        batch_import_results(batch=approved, path=path, acting_user=officer_luquan)
    errors = exc.value.errors
    assert len(errors) == 5
    assert errors[0].startswith("第 3 行“失败原因”列")
    assert "第 99 笔" in errors[1] and "不属于批次" in errors[2] and "无法识别" in errors[3] and "重复" in errors[4]
    assert not approved.lines.exclude(status=LineStatus.PENDING).exists()


def test_a_paid_line_cannot_become_failed(approved, officer_luquan, tmp_path):
    batch_export(batch=approved, fmt="csv", acting_user=officer_luquan)
    approved.refresh_from_db()
    batch_import_results(batch=approved, path=_result_file(tmp_path, approved, {}), acting_user=officer_luquan)
    with pytest.raises(DomainError) as exc:
        batch_import_results(
            batch=approved, path=_result_file(tmp_path, approved, {3: "冻结"}, "r2.csv"), acting_user=officer_luquan
        )
    assert "已登记为“已发放”" in exc.value.errors[0]


def test_results_only_after_export(approved, officer_luquan, tmp_path):
    with pytest.raises(ConflictError):
        batch_import_results(batch=approved, path=_result_file(tmp_path, approved, {}), acting_user=officer_luquan)
