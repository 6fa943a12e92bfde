"""Settled money under rule changes: top-ups (补差), the 多发/待核查 list and its
decisions, cap refusals (预算已用完) — through the real computation, batches and bank
results, reconciled to the fen after every step."""

from decimal import Decimal

import pytest

from beneficiaries.models import Registration
from beneficiaries.pii import encrypt, mask_account
from core.errors import ConflictError, DomainError, PermissionDenied
from disbursements.models import CapRefusal, Entitlement, Overpayment, PaymentLine
from disbursements.services.bank_results import batch_import_results, example_result_csv
from disbursements.services.batches import batches_build
from disbursements.services.entitlements import entitlements_compute
from disbursements.services.payment_files import batch_export
from disbursements.services.reconciliation import reconcile
from disbursements.services.settlement import overpayment_decide
from programs.demo import demo_programme as programme
from programs.models import SubsidyRule
from programs.services import rule_activate, rule_update
from tests.factories import approve, reg

pytestmark = pytest.mark.django_db
OUTSIDE = "410102"


def _with_account(r: Registration, n: int) -> Registration:
    number = f"62170000{n:08d}"
    Registration.objects.filter(pk=r.pk).update(
        account_cipher=encrypt(number), account_masked=mask_account(number), bank_name="中国银行"
    )
    return r


def _pay_all(p, officer, city, province, tmp_path, failures=None):
    for batch in batches_build(programme=p, acting_user=officer):
        batch = approve(batch, officer, city, province)
        batch_export(batch=batch, fmt="csv", acting_user=officer)
        batch.refresh_from_db()
        path = tmp_path / f"{batch.number}.csv"
        path.write_text(example_result_csv(batch, failures or {}), encoding="utf-8")
        batch_import_results(batch=batch, path=path, acting_user=officer)


def _balanced(p):
    total, rows = reconcile(programme=p)
    assert total.balanced, (total.as_dict(), [r.as_dict() for r in rows if not r.balanced])
    assert total.entitled == total.paid + total.failed + total.pending + total.adjusted
    return total


def _change_amount(amount: str):
    active = SubsidyRule.objects.get(rule_key="LUQUAN-CASH", status="active")
    return rule_activate(rule=rule_update(rule=active, data={"amount": Decimal(amount)}, system=True), system=True)


def test_raise_gives_one_topup_per_paid_person_and_leaves_paid_money_alone(
    officer_luquan, city_shijiazhuang, province_staff, tmp_path
):
    p = programme()
    people = [_with_account(reg(p, "130110", OUTSIDE), i) for i in range(3)]
    entitlements_compute(programme=p)
    _pay_all(p, officer_luquan, city_shijiazhuang, province_staff, tmp_path)
    paid_before = _balanced(p).paid
    assert paid_before == Decimal("1500.00")

    v2 = _change_amount("600")
    result = entitlements_compute(programme=p)
    assert (result.topups, result.flagged) == (3, 0)
    total = _balanced(p)
    assert total.paid == paid_before and total.pending == Decimal("300.00")
    for r in people:
        rows = {e.kind: e for e in Entitlement.objects.filter(registration=r)}
        assert rows["base"].amount == Decimal("500.00") and rows["base"].rule.version == 1
        assert (rows["topup"].amount, rows["topup"].rule_id) == (Decimal("100.00"), v2.pk)
        assert rows["base"].amount + rows["topup"].amount == v2.amount
    # Idempotent: nothing more on a second run.
    again = entitlements_compute(programme=p, force=True)
    assert (again.written, again.topups, again.flagged) == (0, 0, 0)

    # The top-ups are batched like any other entitlement and paid.
    _pay_all(p, officer_luquan, city_shijiazhuang, province_staff, tmp_path)
    total = _balanced(p)
    assert total.paid == Decimal("1800.00") and total.pending == 0
    assert PaymentLine.objects.filter(entitlement__kind="topup", status="paid").count() == 3


def test_raise_before_the_topup_is_paid_rewrites_the_topup_not_the_base(
    officer_luquan, city_shijiazhuang, province_staff, tmp_path
):
    p = programme()
    r = _with_account(reg(p, "130110", OUTSIDE), 1)
    entitlements_compute(programme=p)
    _pay_all(p, officer_luquan, city_shijiazhuang, province_staff, tmp_path)
    _change_amount("600")
    entitlements_compute(programme=p)
    v3 = _change_amount("650")
    entitlements_compute(programme=p)
    topups = Entitlement.objects.filter(registration=r, kind="topup")
    assert [(t.amount, t.rule_id, t.status) for t in topups] == [(Decimal("150.00"), v3.pk, "granted")]
    _pay_all(p, officer_luquan, city_shijiazhuang, province_staff, tmp_path)
    # A second raise after the first top-up is paid: a second top-up (part 2).
    _change_amount("700")
    entitlements_compute(programme=p)
    rows = list(Entitlement.objects.filter(registration=r, kind="topup").order_by("part"))
    assert [(t.part, t.amount) for t in rows] == [(1, Decimal("150.00")), (2, Decimal("50.00"))]
    assert _balanced(p).paid == Decimal("650.00")


def test_lowered_or_no_longer_qualifying_is_listed_then_kept_or_recovered(
    officer_luquan, officer_cangzhou, city_shijiazhuang, province_staff, tmp_path
):
    p = programme()
    a = _with_account(reg(p, "130110", OUTSIDE), 1)
    b = _with_account(reg(p, "130110", OUTSIDE), 2)
    entitlements_compute(programme=p)
    _pay_all(p, officer_luquan, city_shijiazhuang, province_staff, tmp_path)

    _change_amount("400")
    Registration.objects.filter(pk=b.pk).update(status="withdrawn")
    result = entitlements_compute(programme=p)
    assert result.flagged == 2
    items = {o.entitlement.registration_id: o for o in Overpayment.objects.select_related("entitlement")}
    assert (items[a.pk].amount, items[a.pk].new_amount, items[a.pk].reason) == (
        Decimal("100.00"),
        Decimal("400.00"),
        "现行规则金额下调",
    )
    assert items[a.pk].paid_rule.version == 1 and items[a.pk].new_rule.version == 2
    assert (items[b.pk].amount, items[b.pk].new_amount) == (Decimal("500.00"), Decimal("0.00"))
    total = _balanced(p)
    assert total.paid == Decimal("1000.00") and total.entitled == Decimal("1000.00")  # paid money stays counted

    with pytest.raises(DomainError):
        overpayment_decide(item=items[a.pk], decision="recover", note="", acting_user=officer_luquan)
    with pytest.raises(PermissionDenied):
        overpayment_decide(item=items[a.pk], decision="recover", note="x", acting_user=officer_cangzhou)
    overpayment_decide(item=items[a.pk], decision="recover", note="已电话通知本人退回", acting_user=officer_luquan)
    overpayment_decide(item=items[b.pk], decision="keep", note="已离岗，金额小，不予追回", acting_user=officer_luquan)
    with pytest.raises(ConflictError):
        overpayment_decide(item=items[b.pk], decision="recover", note="x", acting_user=officer_luquan)

    adjustment = Entitlement.objects.get(kind="adjustment")
    assert (adjustment.amount, adjustment.part, adjustment.registration_id) == (
        Decimal("-100.00"),
        items[a.pk].pk,
        a.pk,
    )
    # The paid line is untouched; the recovery is its own term.
    assert PaymentLine.objects.filter(entitlement__registration=a, status="paid").get().amount == Decimal("500.00")
    total = _balanced(p)
    assert (total.entitled, total.paid, total.adjusted) == (Decimal("900.00"), Decimal("1000.00"), Decimal("-100.00"))
    # Decided items are not listed again; nothing is batched for the recovery.
    again = entitlements_compute(programme=p, force=True)
    assert (again.flagged, again.topups) == (0, 0)
    assert Overpayment.objects.filter(status="open").count() == 0
    assert batches_build(programme=p, acting_user=officer_luquan) == []


def test_an_open_item_clears_when_the_rule_is_raised_back(officer_luquan, city_shijiazhuang, province_staff, tmp_path):
    p = programme()
    _with_account(reg(p, "130110", OUTSIDE), 1)
    entitlements_compute(programme=p)
    _pay_all(p, officer_luquan, city_shijiazhuang, province_staff, tmp_path)
    _change_amount("400")
    entitlements_compute(programme=p)
    assert Overpayment.objects.get().status == "open"
    _change_amount("500")
    entitlements_compute(programme=p)
    assert Overpayment.objects.get().status == "cleared"
    _balanced(p)


def test_cap_refusals_are_stored_and_granted_in_order_when_the_cap_is_raised():
    p = programme()
    kangbao = SubsidyRule.objects.get(rule_key="KANGBAO-RELIEF", status="active")
    kangbao = rule_activate(
        rule=rule_update(rule=kangbao, data={"budget_cap": Decimal("600")}, system=True), system=True
    )
    regs = [reg(p, "130723", "130723", category="hardship") for _ in range(5)]
    result = entitlements_compute(programme=p)
    assert result.refusals_changed
    granted = set(Entitlement.objects.filter(rule_key="KANGBAO-RELIEF").values_list("registration_id", flat=True))
    assert granted == {regs[0].pk, regs[1].pk}
    refused = CapRefusal.objects.filter(rule_key="KANGBAO-RELIEF").order_by("registration_id")
    assert [(c.registration_id, c.amount, c.reason) for c in refused] == [
        (r.pk, Decimal("300.00"), "预算已用完") for r in regs[2:]
    ]
    # Raising the cap by one person's amount grants the next one in the countable order.
    rule_activate(rule=rule_update(rule=kangbao, data={"budget_cap": Decimal("900")}, system=True), system=True)
    entitlements_compute(programme=p)
    granted = set(Entitlement.objects.filter(rule_key="KANGBAO-RELIEF").values_list("registration_id", flat=True))
    assert granted == {regs[0].pk, regs[1].pk, regs[2].pk}
    assert set(CapRefusal.objects.values_list("registration_id", flat=True)) == {regs[3].pk, regs[4].pk}


def test_overpayment_page_lists_the_district_and_records_a_decision(
    client, officer_luquan, officer_cangzhou, city_shijiazhuang, province_staff, tmp_path
):
    p = programme()
    _with_account(reg(p, "130110", OUTSIDE), 1)
    entitlements_compute(programme=p)
    _pay_all(p, officer_luquan, city_shijiazhuang, province_staff, tmp_path)
    _change_amount("450")
    entitlements_compute(programme=p)
    item = Overpayment.objects.get()

    client.force_login(officer_cangzhou)
    page = client.get("/payments/overpayments/", {"programme": p.code}).content.decode()
    assert f'data-overpayment="{item.pk}"' not in page  # another district's item is not shown
    assert (
        client.post(f"/payments/overpayments/{item.pk}/decide/", {"decision": "keep", "note": "x"}).status_code == 404
    )

    client.force_login(officer_luquan)
    page = client.get("/payments/overpayments/", {"programme": p.code}).content.decode()
    assert f'data-overpayment="{item.pk}"' in page and "50.00" in page and "现行规则金额下调" in page
    response = client.post(
        f"/payments/overpayments/{item.pk}/decide/", {"decision": "recover", "note": ""}, follow=True
    )
    assert "请填写处理意见" in response.content.decode()
    client.post(f"/payments/overpayments/{item.pk}/decide/", {"decision": "recover", "note": "本人同意退回"})
    item.refresh_from_db()
    assert (item.status, item.decided_by, item.adjustment.amount) == ("recovered", officer_luquan, Decimal("-50.00"))
    _balanced(p)


def test_one_alarm_for_a_tampered_batch_an_unbalanced_district_and_open_overpayments(
    officer_luquan, city_shijiazhuang, province_staff, tmp_path
):
    import json
    from io import StringIO

    from django.core.management import call_command

    from disbursements.services.reconciliation import reconciliation_alarms

    p = programme()
    _with_account(reg(p, "130110", OUTSIDE), 1)
    entitlements_compute(programme=p)
    _pay_all(p, officer_luquan, city_shijiazhuang, province_staff, tmp_path)

    def alarms_json():
        out = StringIO()
        call_command("reconcile", "--programme", p.code, "--json", stdout=out)
        return json.loads(out.getvalue())

    assert alarms_json()["alarms"] == [] and alarms_json()["balanced"]
    _change_amount("400")
    entitlements_compute(programme=p)
    data = alarms_json()
    assert data["balanced"] and [a["kind"] for a in data["alarms"]] == ["overpaid"]
    assert data["alarms"][0]["district"] == "130110"
    assert any("多发/待核查" in a for a in reconciliation_alarms(province_staff, p))

    # Someone edits a paid line in the database: hash and balance both go off.
    PaymentLine.objects.filter(entitlement__kind="base").update(amount=Decimal("499.00"))
    kinds = {a["kind"] for a in alarms_json()["alarms"]}
    assert kinds == {"overpaid", "hash", "unbalanced", "batch_total"}
    dashboard = reconciliation_alarms(province_staff, p)
    assert any("校验值已改变" in a for a in dashboard) and any("对账不平" in a for a in dashboard)


def test_worker_lookup_rows_say_paid_topup_pending_and_cap_refused(
    officer_luquan, city_shijiazhuang, province_staff, tmp_path
):
    from disbursements.services.selfservice import _payments

    p = programme()
    r = _with_account(reg(p, "130110", OUTSIDE), 1)
    entitlements_compute(programme=p)
    _pay_all(p, officer_luquan, city_shijiazhuang, province_staff, tmp_path)
    _change_amount("600")
    entitlements_compute(programme=p)
    rows = _payments(r.person)
    assert [(row["amount"], row["status"][:3]) for row in rows] == [
        (Decimal("500.00"), "已发放"),
        (Decimal("100.00"), "已核定"),
    ]
    assert "补差" in rows[1]["rule"]

    kangbao = SubsidyRule.objects.get(rule_key="KANGBAO-RELIEF", status="active")
    rule_activate(rule=rule_update(rule=kangbao, data={"budget_cap": Decimal("300")}, system=True), system=True)
    first, second = (reg(p, "130723", "130723", category="hardship") for _ in range(2))
    entitlements_compute(programme=p)
    refused = _payments(second.person)
    assert len(refused) == 1 and "预算已用完" in refused[0]["status"] and refused[0]["amount"] == Decimal("300.00")
    assert "预算已用完" not in str(_payments(first.person))


def test_preview_shows_topups_flags_and_refusals_by_district(
    officer_luquan, city_shijiazhuang, province_staff, tmp_path
):
    from programs.rules.preview import rule_preview

    p = programme()
    for i in range(2):
        _with_account(reg(p, "130110", OUTSIDE), i)
    entitlements_compute(programme=p)
    _pay_all(p, officer_luquan, city_shijiazhuang, province_staff, tmp_path)
    active = SubsidyRule.objects.get(rule_key="LUQUAN-CASH", status="active")
    draft = rule_update(rule=active, data={"amount": Decimal("620")}, system=True)
    preview = rule_preview(draft)
    luquan = next(d for d in preview["districts"] if d["district"] == "130110")
    assert (luquan["count"], luquan["topups"], luquan["topup_amount"], luquan["flagged"]) == (
        2,
        2,
        Decimal("240.00"),
        0,
    )
    lowered = rule_update(rule=draft, data={"amount": Decimal("480")}, system=True)
    preview = rule_preview(lowered)
    assert (preview["topups"], preview["flagged"], preview["flagged_amount"]) == (0, 2, Decimal("40.00"))
    # Activating and computing does what the preview said.
    rule_activate(rule=lowered, system=True)
    assert entitlements_compute(programme=p).flagged == 2

    kangbao = SubsidyRule.objects.get(rule_key="KANGBAO-RELIEF", status="active")
    capped = rule_update(rule=kangbao, data={"budget_cap": Decimal("300")}, system=True)
    for _ in range(3):
        reg(p, "130723", "130723", category="hardship")
    preview = rule_preview(capped)
    assert (preview["count"], preview["refused"]) == (1, 2)


def test_overpayment_api_lists_in_scope_and_decides(
    client, officer_luquan, officer_cangzhou, city_shijiazhuang, province_staff, tmp_path
):
    p = programme()
    _with_account(reg(p, "130110", OUTSIDE), 1)
    entitlements_compute(programme=p)
    _pay_all(p, officer_luquan, city_shijiazhuang, province_staff, tmp_path)
    _change_amount("450")
    entitlements_compute(programme=p)
    item = Overpayment.objects.get()

    client.force_login(officer_cangzhou)
    assert client.get("/api/v1/overpayments/", {"programme": p.code}).json()["results"] == []
    response = client.post(f"/api/v1/overpayments/{item.pk}/decide/", {"decision": "keep", "note": "x"})
    assert response.status_code == 404

    client.force_login(officer_luquan)
    rows = client.get("/api/v1/overpayments/", {"programme": p.code}).json()["results"]
    assert [(r["id"], r["amount"], r["paid_version"], r["new_version"]) for r in rows] == [(item.pk, "50.00", 1, 2)]
    assert client.post(f"/api/v1/overpayments/{item.pk}/decide/", {"decision": "recover"}).status_code == 400
    response = client.post(f"/api/v1/overpayments/{item.pk}/decide/", {"decision": "recover", "note": "退回"})
    assert response.status_code == 200 and response.json()["adjustment"] == "-50.00"
    again = client.post(f"/api/v1/overpayments/{item.pk}/decide/", {"decision": "keep", "note": "x"})
    assert again.status_code == 409
    kinds = {r["kind"] for r in client.get("/api/v1/entitlements/", {"programme": p.code}).json()["results"]}
    assert kinds == {"base", "adjustment"}


def test_a_line_in_a_batch_not_yet_approved_is_taken_out_and_rebuilt(officer_luquan, city_shijiazhuang, province_staff):
    from accounts.models import AuditEntry
    from disbursements.services.batches import batch_submit

    p = programme()
    a = _with_account(reg(p, "130110", OUTSIDE), 1)
    b = _with_account(reg(p, "130110", OUTSIDE), 2)
    entitlements_compute(programme=p)
    (batch,) = batches_build(programme=p, acting_user=officer_luquan)
    batch = batch_submit(batch=batch, acting_user=officer_luquan)
    assert (batch.line_count, batch.total) == (2, Decimal("1000.00"))

    _change_amount("400")
    Registration.objects.filter(pk=b.pk).update(status="withdrawn")
    result = entitlements_compute(programme=p)
    assert (result.flagged, result.topups) == (0, 0)  # nothing was settled: no 多发, no 补差
    batch.refresh_from_db()
    assert (batch.line_count, batch.total) == (0, Decimal("0.00"))
    assert AuditEntry.objects.filter(action="line_withdraw").count() == 2

    ea = Entitlement.objects.get(registration=a)
    assert (ea.amount, ea.status, ea.rule.version) == (Decimal("400.00"), "granted", 2)
    assert Entitlement.objects.get(registration=b).status == "withdrawn"
    _balanced(p)
    (rebuilt,) = batches_build(programme=p, acting_user=officer_luquan)
    assert (rebuilt.line_count, rebuilt.total) == (1, Decimal("400.00"))
    _balanced(p)


def test_regression_a_draft_emptied_by_a_rule_change_is_not_submitted(officer_luquan):
    """Found by the stateful test (register, build, lower the rule, compute, submit): the
    draft's only line is taken out; submitting the empty draft is refused in Chinese, and
    the next build batches the new amount."""
    from disbursements.services.batches import batch_submit

    p = programme()
    _with_account(reg(p, "130110", OUTSIDE), 1)
    entitlements_compute(programme=p)
    (draft,) = batches_build(programme=p, acting_user=officer_luquan)
    _change_amount("300")
    entitlements_compute(programme=p)
    draft.refresh_from_db()
    assert (draft.status, draft.line_count) == ("draft", 0)
    with pytest.raises(DomainError, match="没有发放明细"):
        batch_submit(batch=draft, acting_user=officer_luquan)
    (rebuilt,) = batches_build(programme=p, acting_user=officer_luquan)
    assert rebuilt.total == Decimal("300.00")
    _balanced(p)
