"""Programmes and rules through the admin's import (django-import-export): each row goes
through programs.services, so it is checked, versioned and audited like a page's change."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import AuditEntry
from programs.models import Programme, SubsidyRule
from programs.resources import ProgrammeResource, SubsidyRuleResource
from tests.admin_import import confirm, dry_run, row_errors
from tests.factories import make_entitlement, make_rule

PROGRAMME_HEAD = ["项目代码", "项目名称", "实施区域代码", "开始日期", "结束日期", "春节假期开始", "春节假期结束"]
PROGRAMME_HEAD += ["登记截止日期", "预算（元）", "状态"]
RULE_HEAD = ["项目代码", "规则编号", "规则名称", "适用区域代码", "类型", "金额（元）", "工龄档次", "发放月数"]
RULE_HEAD += ["发放渠道", "可选发放渠道", "条件", "有效期至", "预算上限（元）", "互斥组", "优先级", "政策依据"]
DATES = ["2021-01-21", "2021-03-31", "2021-02-11", "2021-02-17", "2021-02-28"]


def _rule_row(key="luquan_import", amount="500.50", region="130110", name="鹿泉区留岗补贴"):
    return [
        "T-2021",
        key,
        name,
        region,
        "现金补贴",
        amount,
        "",
        "1",
        "银行卡",
        "",
        '{"stayed_through_holiday": true, "hukou_outside": "city"}',
    ]


def _rule_rows(*rows):
    return [RULE_HEAD, *[[*row, "", "20000.00", "", "100", "鹿泉区稳岗留工实施方案"] for row in rows]]


@pytest.mark.django_db
def test_programme_import_creates_through_the_service_and_audits(client, superuser):
    client.force_login(superuser)
    rows = [PROGRAMME_HEAD, ["IMP-2021", "导入项目", "130100", *DATES, "1234.50", "进行中"]]
    response = dry_run(client, "programs_programme", rows)
    assert row_errors(response) == [] and not Programme.objects.filter(code="IMP-2021").exists()
    confirm(client, "programs_programme", response)
    programme = Programme.objects.get(code="IMP-2021")
    assert programme.budget == Decimal("1234.50") and programme.region_id == "130100"
    assert AuditEntry.objects.filter(action="programme_create", object_id=str(programme.pk), user=superuser).exists()

    # The same file with another budget: an update, audited with what changed.
    rows[1][8] = "2000.00"
    confirm(client, "programs_programme", dry_run(client, "programs_programme", rows))
    programme.refresh_from_db()
    assert programme.budget == Decimal("2000.00")
    update = AuditEntry.objects.get(action="programme_update", object_id=str(programme.pk))
    assert update.changes == {"budget": "2000.00"}


@pytest.mark.django_db
def test_rule_import_creates_then_updates_with_old_and_new_values(client, superuser, programme):
    client.force_login(superuser)
    response = dry_run(client, "programs_subsidyrule", _rule_rows(_rule_row()))
    assert row_errors(response) == []
    assert not SubsidyRule.objects.filter(rule_key="luquan_import").exists()
    confirm(client, "programs_subsidyrule", response)
    rule = SubsidyRule.objects.get(programme=programme, rule_key="luquan_import")
    assert (rule.amount, rule.status, rule.version) == (Decimal("500.50"), "draft", 1)
    assert rule.conditions["stayed_through_holiday"] is True and rule.budget_cap == Decimal("20000.00")
    created = AuditEntry.objects.get(action="rule_create", object_id=str(rule.pk))
    assert created.user == superuser and created.changes["amount"] == "500.50"

    confirm(
        client, "programs_subsidyrule", dry_run(client, "programs_subsidyrule", _rule_rows(_rule_row(amount="600")))
    )
    rule.refresh_from_db()
    assert rule.amount == Decimal("600.00")
    update = AuditEntry.objects.get(action="rule_update", object_id=str(rule.pk))
    assert (update.changes["from"]["amount"], update.changes["to"]["amount"]) == ("500.50", "600.00")


@pytest.mark.django_db
def test_rule_import_from_xlsx_reads_number_and_date_cells_exactly(client, superuser, programme):
    client.force_login(superuser)
    row = _rule_row("hengshui_voucher", amount=0.1 + 0.2, region="130110")  # 0.30000000000000004
    row[4], row[8] = "消费券", "电子消费券"
    rows = [RULE_HEAD, [*row, dt.date(2021, 3, 8), 20000.5, "", 100, "衡水市消费券"]]
    response = dry_run(client, "programs_subsidyrule", rows, xlsx=True)
    assert row_errors(response) == []
    confirm(client, "programs_subsidyrule", response)
    rule = SubsidyRule.objects.get(rule_key="hengshui_voucher")
    assert (rule.amount, rule.budget_cap) == (Decimal("0.30"), Decimal("20000.50"))
    assert rule.valid_until == dt.date(2021, 3, 8) and rule.kind == "voucher"


@pytest.mark.django_db
def test_a_rule_that_paid_gets_a_new_version_not_an_edit(client, superuser, programme):
    rule = make_rule(programme, "luquan_import", amount="500.00")
    make_entitlement(programme, rule)
    client.force_login(superuser)
    confirm(
        client, "programs_subsidyrule", dry_run(client, "programs_subsidyrule", _rule_rows(_rule_row(amount="700")))
    )
    rule.refresh_from_db()
    assert rule.amount == Decimal("500.00") and rule.version == 1
    new = SubsidyRule.objects.get(programme=programme, rule_key="luquan_import", version=2)
    assert new.amount == Decimal("700.00") and new.status == "draft"
    assert AuditEntry.objects.filter(action="rule_new_version", object_id=str(new.pk)).exists()


@pytest.mark.django_db
def test_refused_rule_rows_are_shown_and_nothing_is_written(client, superuser, programme):
    client.force_login(superuser)
    rows = _rule_rows(
        _rule_row("ok_rule"),
        _rule_row("cz_rule", region="130903"),  # 沧州: inside the programme's province, fine
        _rule_row("bad_region", region="999999"),
        _rule_row("bad_amount", amount="-5"),
    )
    response = dry_run(client, "programs_subsidyrule", rows)
    errors = row_errors(response)
    assert any("999999" in e for e in errors) and any("负数" in e for e in errors)
    assert response.context.get("confirm_form") is None
    assert not SubsidyRule.objects.filter(programme=programme).exists()
    assert not AuditEntry.objects.filter(action="rule_create").exists()


@pytest.mark.django_db
def test_exports_write_money_as_exact_strings(programme):
    rule = make_rule(programme, "luquan_cash", amount="1234.50")
    rule_row = SubsidyRuleResource().export(SubsidyRule.objects.filter(pk=rule.pk)).dict[0]
    assert rule_row["金额（元）"] == "1234.50" and rule_row["项目代码"] == programme.code
    assert rule_row["类型"] == "现金补贴" and rule_row["状态"] == "生效中"
    programme.budget = Decimal("98765.40")
    programme.save(update_fields=["budget"])
    programme_row = ProgrammeResource().export(Programme.objects.filter(pk=programme.pk)).dict[0]
    assert programme_row["预算（元）"] == "98765.40" and programme_row["开始日期"] == "2021-01-21"
