"""The management commands: build_batches, export_batch, import_bank_results, issue_vouchers."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from disbursements.choices import BatchStatus
from disbursements.models import Batch
from disbursements.services.bank_results import example_result_csv
from tests.factories import approve, make_entitlements, make_programme, make_rule

pytestmark = pytest.mark.django_db


def test_build_export_and_import_from_the_command_line(officer_luquan, city_shijiazhuang, province_staff, tmp_path):
    programme = make_programme("HB-CLI")
    make_entitlements(programme, make_rule(programme, "luquan_cash"), 3, start=100)
    make_entitlements(programme, make_rule(programme, "cz", region="130900"), 2, district="130903", start=200)
    out = StringIO()
    call_command("build_batches", "--programme", "HB-CLI", "--district", "130110", stdout=out)
    assert "生成 1 个批次" in out.getvalue()
    call_command("build_batches", "--programme", "HB-CLI", stdout=StringIO())
    assert Batch.objects.filter(programme=programme).count() == 2
    batch = Batch.objects.get(programme=programme, district_id="130110")
    with pytest.raises(CommandError, match="审批"):
        call_command("export_batch", str(batch.pk), "--format", "csv", "--out", str(tmp_path / "x.csv"))
    batch = approve(batch, officer_luquan, city_shijiazhuang, province_staff)
    out = StringIO()
    call_command("export_batch", str(batch.pk), "--format", "xlsx", "--out", str(tmp_path / "bank.xlsx"), stdout=out)
    assert (tmp_path / "bank.xlsx").read_bytes()[:2] == b"PK" and "sha256" in out.getvalue()
    call_command(
        "export_batch", str(batch.pk), "--encoding", "gb18030", "--out", str(tmp_path / "bank.csv"), stdout=StringIO()
    )
    assert "合计" in (tmp_path / "bank.csv").read_bytes().decode("gb18030")
    batch.refresh_from_db()
    result = tmp_path / "result.csv"
    result.write_text(example_result_csv(batch, {2: "账号不存在"}), encoding="utf-8")
    out = StringIO()
    call_command("import_bank_results", str(batch.pk), str(result), stdout=out)
    assert "成功 2 笔，失败 1 笔" in out.getvalue()
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RECONCILED
    with pytest.raises(CommandError):
        call_command("build_batches", "--programme", "NOPE")
