"""The employer's view of what was granted and paid: each worker with the rule version,
amount and payment state (paid with its date, failed with the reason and what to do,
pending, 补发), a summary per programme, the XLSX download, the flag on its home, and
the friendly 403 on the pages that are not an employer's."""

import io

import pytest
from django.urls import reverse
from python_calamine import CalamineWorkbook

from accounts.models import AuditEntry
from disbursements.services.bank_results import batch_import_results, example_result_csv
from disbursements.services.batches import batch_build_supplement, batches_build, line_correct
from disbursements.services.payment_files import batch_export
from tests.factories import approve, make_entitlement, make_entitlements, make_programme, make_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_with_failures(officer_luquan, city_shijiazhuang, province_staff, agent_gree, tmp_path):
    """Four workers of 格力's employer: seq 1 failed (户名不符), seq 2 failed then corrected
    and re-issued, the others paid; a fifth granted but not yet in a batch. Another
    employer's worker in the same batch must not show."""
    programme = make_programme("HB-EMP")
    rule = make_rule(programme, "luquan_cash")
    ents = make_entitlements(programme, rule, 4, start=300)
    employer = ents[0].registration.employer
    employer.agents.add(agent_gree)
    make_entitlement(programme, rule, employer=None, n=399)  # someone else's worker
    batch = approve(
        batches_build(programme=programme, acting_user=officer_luquan)[0],
        officer_luquan,
        city_shijiazhuang,
        province_staff,
    )
    batch_export(batch=batch, fmt="csv", acting_user=officer_luquan)
    batch.refresh_from_db()
    seq = {line.entitlement_id: line.seq for line in batch.lines.all()}
    path = tmp_path / "r.csv"
    failures = {seq[ents[0].pk]: "户名不符", seq[ents[1].pk]: "账号不存在"}
    path.write_text(example_result_csv(batch, failures), encoding="utf-8")
    batch_import_results(batch=batch, path=path, acting_user=officer_luquan)
    line_correct(
        line=batch.lines.get(entitlement=ents[1]),
        account="6217000099998888",
        bank_name="中国银行",
        acting_user=officer_luquan,
    )
    batch_build_supplement(batch=batch, acting_user=officer_luquan)
    late = make_entitlement(programme, rule, employer=employer, n=398)
    return {"ents": ents, "late": late, "employer": employer, "programme": programme}


def test_agent_sees_each_worker_with_state_reason_and_what_to_do(client, agent_gree, paid_with_failures):
    ents = paid_with_failures["ents"]
    client.force_login(agent_gree)
    response = client.get(reverse("disbursements:employer_payments"))
    assert response.status_code == 200
    html = response.content.decode()
    rows = {r.entitlement_id: r for r in response.context["rows"]}
    assert set(rows) == {e.pk for e in ents} | {paid_with_failures["late"].pk}  # not the other employer's
    assert rows[ents[0].pk].state == "failed" and "户名不符" in rows[ents[0].pk].status
    assert "报所在区县人社专员更正" in rows[ents[0].pk].todo
    assert rows[ents[1].pk].state == "pending" and rows[ents[1].pk].reissue  # 补发中
    assert rows[ents[2].pk].state == "paid" and rows[ents[2].pk].status.startswith("已发放（")
    assert rows[paid_with_failures["late"].pk].state == "unbatched"
    assert rows[ents[2].pk].rule_version == 1 and "v1" in html
    assert "户名不符" in html and "补发" in html
    # Summary per programme: 5 granted × 500 = 2,500.00; 2 paid; 1 failed not re-issued; 1 re-issue pending.
    (summary,) = response.context["summary"]
    assert summary["entitled"] == 2500 and summary["paid_count"] == 2 and summary["failed_count"] == 1
    assert summary["pending_count"] == 1 and summary["unbatched_count"] == 1
    assert "2,500.00" in html

    failed_only = client.get(reverse("disbursements:employer_payments"), {"state": "failed"}).context["rows"]
    assert [r.entitlement_id for r in failed_only] == [ents[0].pk]


def test_home_flags_the_failed_payment_with_what_to_do(client, agent_gree, paid_with_failures):
    client.force_login(agent_gree)
    html = client.get("/").content.decode()
    todos = {t.label: t for t in client.get("/").context["todos"]}
    flag = todos["发放失败，需更正账号"]
    assert flag.count == 1 and flag.url.endswith("?state=failed")
    assert "报区县人社专员更正后补发" in html
    assert "补贴发放" in [str(i["label"]) for i in client.get("/").context["nav_items"]]


def test_xlsx_download_has_every_row_masked_and_is_audited(client, agent_gree, paid_with_failures):
    client.force_login(agent_gree)
    response = client.get(reverse("disbursements:employer_payments_export"))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxml")
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()
    assert sheet[0][:3] == ["用人单位", "姓名", "身份证号"]
    assert len(sheet) == 1 + 5
    assert all("*" in row[2] for row in sheet[1:])  # masked ID numbers only
    assert any(row[10] == "户名不符" for row in sheet[1:])
    assert AuditEntry.objects.filter(action="employer_payments_export", user=agent_gree).exists()


def test_another_agent_sees_nothing(client, agent_other, paid_with_failures):
    client.force_login(agent_other)
    response = client.get(reverse("disbursements:employer_payments"))
    assert response.context["rows"] == [] and response.context["summary"] == []


@pytest.mark.parametrize("url", ["/payments/", "/dashboard/", "/programmes/rules/", "/programmes/surveys/"])
def test_staff_pages_answer_an_agent_with_the_friendly_chinese_403(client, agent_gree, url):
    client.force_login(agent_gree)
    response = client.get(url)
    assert response.status_code == 403
    html = response.content.decode()
    assert 'data-error-page="403"' in html and "供人社部门工作人员使用" in html and "企业经办人" in html
    assert "返回首页" in html and "Traceback" not in html


def test_the_page_is_the_employers(client, officer_luquan):
    client.force_login(officer_luquan)
    response = client.get(reverse("disbursements:employer_payments"))
    assert response.status_code == 403 and "发放批次" in response.content.decode()


def test_agent_corrects_the_account_and_the_officer_takes_it_for_the_reissue(
    client, agent_gree, agent_other, officer_luquan, paid_with_failures
):
    from accounts.models import AuditEntry
    from disbursements.models import PaymentLine

    failed = paid_with_failures["ents"][0]
    paid = paid_with_failures["ents"][2]
    url = reverse("disbursements:employer_account_correct", args=[failed.pk])
    client.force_login(agent_other)  # another employer's agent: not found
    assert client.post(url, {"account": "6217000011112222", "bank_name": "中国银行"}).status_code == 404
    client.force_login(agent_gree)
    page = client.get(reverse("disbursements:employer_payments"), {"state": "failed"}).content.decode()
    assert "data-account-correct" in page
    response = client.post(
        reverse("disbursements:employer_account_correct", args=[paid.pk]),
        {"account": "6217000011112222", "bank_name": "中国银行"},
        follow=True,
    )
    assert "没有待更正的发放失败记录" in response.content.decode()
    response = client.post(url, {"account": "6217 0000 1111 2222", "bank_name": "中国银行石家庄分行"}, follow=True)
    assert "已更正账号" in response.content.decode()
    rows = {r.entitlement_id: r for r in response.context["rows"]}
    assert "已更正为 6217 **** **** 2222" in rows[failed.pk].todo and not rows[failed.pk].correctable
    assert AuditEntry.objects.filter(action="registration_update", user=agent_gree).exists()

    line = PaymentLine.objects.get(entitlement=failed)
    client.force_login(officer_luquan)
    batch_page = client.get(reverse("disbursements:batch_detail", args=[line.batch_id]), {"lines": "failed"})
    assert "单位已更正为 6217 **** **** 2222" in batch_page.content.decode()
    client.post(reverse("disbursements:line_take_employer_account", args=[line.batch_id, line.pk]))
    line.refresh_from_db()
    assert line.corrected_at is not None
    assert AuditEntry.objects.filter(action="line_correct", object_id=str(line.pk), user=officer_luquan).exists()


def test_a_topup_row_says_so_on_the_page_and_in_the_download(client, agent_gree, paid_with_failures):
    """A raised rule's 补差 is its own row beside the paid base row: the agent must tell them apart."""
    from decimal import Decimal

    from disbursements.models import Entitlement

    base = paid_with_failures["ents"][2]
    topup = Entitlement.objects.create(
        programme=base.programme,
        person=base.person,
        registration=base.registration,
        district=base.district,
        rule=base.rule,
        rule_key=base.rule_key,
        amount=Decimal("100.00"),
        channel=base.channel,
        status=base.status,
        kind="topup",
        part=1,
    )
    client.force_login(agent_gree)
    html = client.get(reverse("disbursements:employer_payments")).content.decode()
    assert html.count("data-kind>补差</span>") == 1
    body = client.get(reverse("disbursements:employer_payments_export")).content
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(body)).get_sheet_by_index(0).to_python()
    rules = [row[4] for row in sheet[1:] if row[1] == topup.person.name]
    assert sorted(rules) == sorted([base.rule.name, f"{base.rule.name}（补差）"])
