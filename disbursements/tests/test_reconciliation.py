"""Reconciliation to the fen, and the whole chain on the demo programme."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from disbursements.choices import BatchStatus, LineStatus
from disbursements.models import Batch, Entitlement, PaymentLine
from disbursements.services.bank_results import batch_import_results, example_result_csv
from disbursements.services.batches import (
    batch_approve,
    batch_build_supplement,
    batch_review,
    batch_submit,
    batches_build,
    line_correct,
)
from disbursements.services.payment_files import batch_export
from disbursements.services.reconciliation import reconcile, reconciliation_alarms, reconciliation_alarms_cached
from disbursements.services.rollups import rollups_refresh
from regions.models import Region
from tests.factories import approve, make_entitlements, make_programme, make_rule

pytestmark = pytest.mark.django_db


def _pay(batch, officer, tmp_path, failures):
    batch_export(batch=batch, fmt="csv", acting_user=officer)
    batch.refresh_from_db()
    path = tmp_path / f"{batch.number}.csv"
    path.write_text(example_result_csv(batch, failures), encoding="utf-8")
    batch_import_results(batch=batch, path=path, acting_user=officer)
    batch.refresh_from_db()
    return batch


def test_figures_balance_through_payment_failure_and_reissue(
    officer_luquan, city_shijiazhuang, province_staff, tmp_path
):
    programme = make_programme("HB-R")
    cash = make_rule(programme, "luquan_cash", amount="500.00")
    ss = make_rule(programme, "luquan_ss", channel="ss_card", amount="0.01")
    make_entitlements(programme, cash, 6, start=100)
    make_entitlements(programme, ss, 3, start=200)

    total, _ = reconcile(programme=programme)
    assert (total.entitled, total.pending, total.batched, total.paid, total.failed) == (
        Decimal("3000.03"),
        Decimal("3000.03"),
        0,
        0,
        0,
    )
    assert total.balanced

    batches = batches_build(programme=programme, acting_user=officer_luquan)
    bank = next(b for b in batches if b.channel == "bank_card")
    total, _ = reconcile(programme=programme)
    assert total.batched == Decimal("3000.03") and total.pending == Decimal("3000.03") and total.balanced

    bank = approve(bank, officer_luquan, city_shijiazhuang, province_staff)
    bank = _pay(bank, officer_luquan, tmp_path, {1: "已销户", 4: "户名不符"})
    total, rows = reconcile(programme=programme)
    assert total.paid == Decimal("2000.00") and total.failed == Decimal("1000.00")
    assert total.pending == Decimal("0.03") and total.batched == Decimal("2000.03") and total.balanced
    by_rule = {r.key[1]: r for r in rows}
    assert by_rule["luquan_cash"].paid_count == 4 and by_rule["luquan_cash"].failed_count == 2
    assert by_rule["luquan_ss"].pending == Decimal("0.03")

    # 补发 one failed line: it moves from failed to pending, then to paid.
    failed = bank.lines.filter(status=LineStatus.FAILED).order_by("seq").first()
    line_correct(line=failed, account="6217000011112222", bank_name="中国银行", acting_user=officer_luquan)
    supplement = batch_build_supplement(batch=bank, acting_user=officer_luquan)
    total, _ = reconcile(programme=programme)
    assert total.failed == Decimal("500.00") and total.pending == Decimal("500.03") and total.balanced
    other_officer = User.objects.create_user("off2", password="x" * 12, role="district", region_id="130110")
    supplement = approve(supplement, other_officer, city_shijiazhuang, province_staff)
    _pay(supplement, other_officer, tmp_path, {})
    total, _ = reconcile(programme=programme)
    assert total.paid == Decimal("2500.00") and total.failed == Decimal("500.00") and total.balanced
    assert total.entitled == total.paid + total.failed + total.pending

    out = StringIO()
    call_command("reconcile", "--programme", "HB-R", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data == {
        "programme": "HB-R",
        "entitled": "3000.03",
        "batched": "2500.03",
        "paid": "2500.00",
        "failed": "500.00",
        "pending": "0.03",
        "adjusted": "0.00",
        "balanced": True,
        "alarms": [],
    }


def test_an_imbalance_is_an_alarm(officer_luquan, city_shijiazhuang, province_staff, tmp_path, client):
    programme = make_programme("HB-A")
    cash = make_rule(programme, "luquan_cash", amount="500.00")
    make_entitlements(programme, cash, 3, start=300)
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    batch = approve(batch, officer_luquan, city_shijiazhuang, province_staff)
    _pay(batch, officer_luquan, tmp_path, {})
    assert reconcile(programme=programme)[0].balanced
    # Someone changes an entitlement's amount after it was paid.
    ent = Entitlement.objects.filter(programme=programme).first()
    Entitlement.objects.filter(pk=ent.pk).update(amount=Decimal("600.00"))
    total, _rows = reconcile(programme=programme)
    assert not total.balanced and total.difference == Decimal("100.00")
    assert any("不一致" in p for p in total.problems)
    alarms = reconciliation_alarms(city_shijiazhuang, programme)
    assert alarms and "对账不平" in alarms[0]
    out = StringIO()
    call_command("reconcile", "--programme", "HB-A", "--json", stdout=out)
    assert json.loads(out.getvalue())["balanced"] is False
    client.force_login(city_shijiazhuang)
    page = client.get("/dashboard/?programme=HB-A").content.decode()
    assert "data-recon-alarm" in page and "对账不平" in page
    # A batch whose stored total was edited.
    Entitlement.objects.filter(pk=ent.pk).update(amount=Decimal("500.00"))
    Batch.objects.filter(pk=batch.pk).update(total=Decimal("1.00"))
    total, _ = reconcile(programme=programme)
    assert not total.balanced and any("不符" in p for p in total.problems)


def _load_demo_until_entitlements():
    from portal.demo import demo_steps

    for label, step in demo_steps():
        if step.__module__ in ("disbursements.demo.batches", "disbursements.demo.rollups"):
            continue
        step()


def test_the_whole_chain_on_the_demo(tmp_path):
    _load_demo_until_entitlements()
    programme = Programme_get()
    users = {u.username: u for u in User.objects.all()}
    luquan, city, sheng = users["luquan"], users["shijiazhuang"], users["sheng"]
    entitled_before = reconcile(programme=programme)[0].entitled
    assert entitled_before > 0

    built = batches_build(programme=programme, district=Region.objects.get(code="130110"), acting_user=luquan)
    assert built and all(b.district_id == "130110" for b in built)
    batch = next(b for b in built if b.channel == "bank_card")
    assert batch.total == sum(batch.lines.values_list("amount", flat=True))
    batch = batch_submit(batch=batch, acting_user=luquan)
    batch = batch_review(batch=batch, acting_user=city)
    with pytest.raises(Exception, match="省级"):
        batch_approve(batch=batch, acting_user=city)
    batch = batch_approve(batch=batch, acting_user=sheng)
    batch = _pay(batch, luquan, tmp_path, {2: "户名不符", 3: "账号不存在", 7: "冻结"})
    assert batch.status == BatchStatus.RECONCILED
    assert batch.lines.filter(status=LineStatus.FAILED).count() == 3

    wrong = batch.lines.get(seq=3)
    line_correct(line=wrong, account="6217000010002000003", bank_name="中国建设银行鹿泉支行", acting_user=luquan)
    supplement = batch_build_supplement(batch=batch, acting_user=luquan)
    assert supplement.parent == batch and supplement.line_count == 1

    total, _rows = reconcile(programme=programme)
    assert total.balanced, total.problems
    assert total.entitled == entitled_before == total.paid + total.failed + total.pending
    assert total.failed == sum(
        batch.lines.filter(status=LineStatus.FAILED).exclude(seq=3).values_list("amount", flat=True)
    )
    # Paid at most once whatever happens.
    live = PaymentLine.objects.filter(status__in=["pending", "paid"])
    assert live.count() == live.values("entitlement").distinct().count()


def Programme_get():
    from programs.models import Programme

    return Programme.objects.get(code="HEBEI-2021")


def test_demo_step_is_idempotent():
    from disbursements.demo.batches import demo_batches

    _load_demo_until_entitlements()
    first = demo_batches()
    assert first["batches"] >= 3 and first["supplement"].endswith("BF001")
    count = Batch.objects.count()
    assert demo_batches() == {"skipped": "batches exist"}
    assert Batch.objects.count() == count
    assert reconcile(programme=Programme_get())[0].balanced


def test_the_cached_alarm_follows_the_rollup_version(
    officer_luquan, city_shijiazhuang, province_staff, tmp_path, client
):
    """The dashboard's alarm is cached like its panels, per rollup version: once the
    rollups are refreshed after a change, the alarm shows it at once (not a minute later)."""
    from django.urls import reverse

    programme = make_programme("HB-AV")
    cash = make_rule(programme, "luquan_cash", amount="500.00")
    make_entitlements(programme, cash, 3, start=400)
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    _pay(approve(batch, officer_luquan, city_shijiazhuang, province_staff), officer_luquan, tmp_path, {})
    rollups_refresh(programme=programme)
    client.force_login(city_shijiazhuang)
    dashboard = "/dashboard/?programme=HB-AV"
    batch_list = reverse("disbursements:batch_list") + "?programme=HB-AV"
    assert "data-recon-alarm" not in client.get(dashboard).content.decode()
    assert "data-recon-alarm" not in client.get(batch_list).content.decode()

    # Someone changes a paid entitlement's amount behind the services' back.
    ent = Entitlement.objects.filter(programme=programme).first()
    Entitlement.objects.filter(pk=ent.pk).update(amount=Decimal("600.00"))
    # Until the rollups are refreshed the alarm, like the figures beside it, is the cached one …
    assert reconciliation_alarms_cached(city_shijiazhuang, programme) == []
    # … and as soon as they are, it is computed afresh.
    rollups_refresh(programme=programme)
    alarms = reconciliation_alarms_cached(city_shijiazhuang, programme)
    assert alarms and "对账不平" in alarms[0]
    page = client.get(dashboard).content.decode()
    assert "data-recon-alarm" in page and "对账不平" in page
    assert "data-recon-alarm" in client.get(batch_list).content.decode()


def test_demo_history_is_dated_on_the_programme_calendar_and_the_lookup_shows_that_day():
    """The demo plays the 2021 programme: a paid line reads 已发放（2021-02-05）, not today."""
    import datetime as dt

    from django.utils import timezone

    from disbursements.demo.batches import demo_batches
    from disbursements.models import BatchStep
    from disbursements.services.selfservice import _payments

    _load_demo_until_entitlements()
    demo_batches()
    batch = Batch.objects.get(district_id="130110", channel="bank_card", parent__isnull=True)
    steps = {s.action: timezone.localdate(s.at) for s in BatchStep.objects.filter(batch=batch)}
    assert steps["build"] == dt.date(2021, 2, 1) and steps["approve"] == dt.date(2021, 2, 3)
    assert steps["build"] <= steps["submit"] <= steps["review"] <= steps["approve"]
    paid = batch.lines.filter(status=LineStatus.PAID).select_related("entitlement__person").first()
    assert timezone.localdate(paid.updated_at) == dt.date(2021, 2, 5)
    statuses = [p["status"] for p in _payments(paid.entitlement.person)]
    assert "已发放（2021-02-05）" in statuses
