"""The computation itself: idempotence, concurrency, a run killed half way, budget caps
to the fen, exclusivity groups, withdrawal and review, versions."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from beneficiaries.models import Employer, Registration
from beneficiaries.uscc import make_uscc
from disbursements.models import Batch, Entitlement, Overpayment, PaymentLine
from disbursements.services.entitlements import entitlement_totals, entitlements_compute
from programs.choices import RuleStatus
from programs.demo import demo_programme as programme
from programs.models import SubsidyRule
from programs.services import rule_activate, rule_create, rule_retire, rule_update
from regions.models import Region
from tests.factories import reg

OUTSIDE = "410102"


def snapshot(p):
    return sorted(
        Entitlement.objects.filter(programme=p).values_list(
            "person_id", "rule_key", "rule_id", "amount", "status", "registration_id", "district_id", "computed_at"
        )
    )


def population(p):
    return [
        reg(p, "130110", OUTSIDE),
        reg(p, "130172", "130602"),
        reg(p, "130903", OUTSIDE),
        reg(p, "131102", OUTSIDE, duty_days=3),
        reg(p, "130723", "130723", category="hardship"),
        reg(p, "130682", "130682", category="unemployed"),
    ]


@pytest.mark.django_db
def test_second_run_changes_nothing():
    p = programme()
    population(p)
    first = entitlements_compute(programme=p)
    assert first.written == 7
    before = snapshot(p)
    second = entitlements_compute(programme=p)
    assert (second.written, second.withdrawn, second.flagged) == (0, 0, 0)
    assert snapshot(p) == before  # not even computed_at moved


@pytest.mark.django_db
def test_run_killed_half_way_then_rerun_gives_the_clean_result():
    """Districts computed before are each their own transaction: a run killed after the
    first leaves that one changed and the others untouched."""
    p = programme()
    population(p)
    entitlements_compute(programme=p)
    Registration.objects.filter(programme=p).update(status="withdrawn")

    class Killed(Exception):
        pass

    def die_after_first(done, total, code):
        if done == 1:
            raise Killed

    with pytest.raises(Killed):
        entitlements_compute(programme=p, progress=die_after_first)
    assert (
        Entitlement.objects.filter(programme=p).exclude(status="granted").values("district_id").distinct().count() == 1
    )
    assert Entitlement.objects.filter(programme=p, status="granted").values("district_id").distinct().count() == 5
    entitlements_compute(programme=p)
    half_then_full = sorted(Entitlement.objects.filter(programme=p).values_list("person_id", "rule_key", "status"))
    assert len(half_then_full) == 7 and {row[2] for row in half_then_full} == {"withdrawn"}


@pytest.mark.django_db
def test_first_computation_killed_half_way_leaves_nothing_then_rerun_gives_the_clean_result(monkeypatch):
    """Districts computed for the first time go in one transaction (`_fresh_run`): a
    failure after their rows are inserted leaves none of them, nor their fingerprints."""
    from disbursements.models import EntitlementComputeState
    from disbursements.services import entitlements

    p = programme()
    population(p)

    class Killed(Exception):
        pass

    def die(*args, **kwargs):
        assert Entitlement.objects.filter(programme=p).count() == 7  # inserted, not yet committed
        raise Killed

    with monkeypatch.context() as m:
        m.setattr(entitlements, "_store_refusals", die)
        with pytest.raises(Killed):
            entitlements_compute(programme=p)
    assert not Entitlement.objects.filter(programme=p).exists()
    assert not EntitlementComputeState.objects.filter(programme=p).exists()
    entitlements_compute(programme=p)
    after_kill = sorted(Entitlement.objects.filter(programme=p).values_list("person_id", "rule_key", "amount"))
    Entitlement.objects.filter(programme=p).delete()
    EntitlementComputeState.objects.filter(programme=p).delete()
    entitlements_compute(programme=p)
    clean = sorted(Entitlement.objects.filter(programme=p).values_list("person_id", "rule_key", "amount"))
    assert after_kill == clean and len(clean) == 7


@pytest.fixture
def regions_back_after_flush(django_db_blocker):
    """A transactional test ends with a flush that empties every table, regions too;
    put them back for the tests that follow (this fixture's teardown runs after the flush)."""
    yield
    from regions.services import regions_load

    with django_db_blocker.unblock():
        regions_load()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer at a time anyway")
def test_concurrent_runs_are_serialized_and_agree(regions_back_after_flush, transactional_db):
    from regions.services import regions_load

    if not Region.objects.exists():
        regions_load()
    p = programme()
    for _ in range(20):
        population(p)
    errors = []

    def run():
        try:
            entitlements_compute(programme=p)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Entitlement.objects.filter(programme=p).count() == 140
    assert entitlement_totals(programme=p)["amount"] == 20 * (
        Decimal("500") + 800 + 500 + 500 + 100 + 300 + Decimal("3948")
    )
    again = entitlements_compute(programme=p)
    assert again.written == 0


@pytest.mark.django_db
def test_budget_cap_grants_earliest_verified_first_and_stops_exactly_at_the_cap():
    p = programme()
    rule = rule_create(
        programme=p,
        data=dict(
            name="封顶测试",
            region=Region.objects.get(code="130104"),
            kind="cash",
            amount=Decimal("333.50"),
            budget_cap=Decimal("1000.50"),
            conditions={},
        ),
        system=True,
    )
    rule_activate(rule=rule, system=True)
    regs = []
    for i in range(5):
        regs.append(reg(p, "130104", OUTSIDE, created_at=dt.datetime(2021, 1, 25, 8, 0, i, tzinfo=dt.UTC)))
    # The employer of the first registration is verified last: it becomes eligible last.
    early = Employer.objects.get(pk=regs[0].employer_id)
    assert early.status == "verified"
    late_employer = Employer.objects.create(
        credit_code=make_uscc("91", "130104", "LATE0001"),
        name="晚核实单位",
        ownership="private",
        district_id="130104",
        status="verified",
        verified_at=dt.datetime(2021, 2, 1, tzinfo=dt.UTC),
    )
    Registration.objects.filter(pk=regs[0].pk).update(employer=late_employer)
    entitlements_compute(programme=p)
    got = Entitlement.objects.filter(rule=rule, status="granted")
    assert sorted(got.values_list("registration_id", flat=True)) == [regs[1].pk, regs[2].pk, regs[3].pk]
    assert sum(e.amount for e in got) == Decimal("1000.50")  # 3 × 333.50, exactly the cap
    # The cap counts across districts of the rule's region; computing one district agrees.
    assert entitlements_compute(programme=p, district="130104").written == 0


@pytest.mark.django_db
def test_exclusivity_group_gives_the_highest_amount():
    p = programme()
    region = Region.objects.get(code="130110")
    low = rule_create(
        programme=p,
        data=dict(name="低", region=region, kind="cash", amount="200", exclusivity_group="G", conditions={}),
        system=True,
    )
    high = rule_create(
        programme=p,
        data=dict(name="高", region=region, kind="red_packet", amount="900", exclusivity_group="G", conditions={}),
        system=True,
    )
    rule_activate(rule=low, system=True)
    rule_activate(rule=high, system=True)
    r = reg(p, "130110", OUTSIDE)
    entitlements_compute(programme=p)
    assert dict(Entitlement.objects.filter(registration=r, status="granted").values_list("rule_key", "amount")) == {
        "LUQUAN-CASH": Decimal("500.00"),  # not in the group: still granted
        high.rule_key: Decimal("900.00"),
    }
    rule_retire(rule=high, system=True)
    entitlements_compute(programme=p)
    assert dict(Entitlement.objects.filter(registration=r).values_list("rule_key", "status")) == {
        "LUQUAN-CASH": "granted",
        high.rule_key: "withdrawn",
        low.rule_key: "granted",
    }


def _line(ent, status="approved"):
    """A pending line of `ent` in a batch at `status` (approved: the money is settled)."""
    batch = Batch.objects.create(
        programme=ent.programme, district=ent.district, channel=ent.channel, number=f"T-{ent.pk}", status=status
    )
    return PaymentLine.objects.create(
        batch=batch, entitlement=ent, seq=1, amount=ent.amount, name="x", id_cipher="x", id_masked="x"
    )


@pytest.mark.django_db
def test_no_longer_qualifying_is_withdrawn_outside_a_batch_and_listed_as_overpaid_inside():
    p = programme()
    free = reg(p, "130903", OUTSIDE)
    batched = reg(p, "130903", OUTSIDE)
    entitlements_compute(programme=p)
    _line(Entitlement.objects.get(registration=batched))
    Registration.objects.filter(pk__in=[free.pk, batched.pk]).update(status="withdrawn")
    result = entitlements_compute(programme=p)
    assert (result.withdrawn, result.flagged) == (1, 1)
    assert Entitlement.objects.get(registration=free).status == "withdrawn"
    # Settled: still granted at the amount in the batch, and listed as 多发/待核查.
    eb = Entitlement.objects.get(registration=batched)
    assert (eb.status, eb.amount) == ("granted", Decimal("500.00"))
    item = Overpayment.objects.get(entitlement=eb)
    assert (item.status, item.amount, item.new_amount, item.reason) == (
        "open",
        Decimal("500.00"),
        Decimal("0.00"),
        "按现行规则不再符合条件",
    )
    again = entitlements_compute(programme=p)
    assert (again.written, again.flagged) == (0, 0)
    # Qualifying again brings the withdrawn one back.
    Registration.objects.filter(pk=free.pk).update(status="active")
    entitlements_compute(programme=p)
    assert Entitlement.objects.get(registration=free).status == "granted"


@pytest.mark.django_db
def test_editing_a_rule_with_entitlements_makes_a_new_version():
    p = programme()
    a = reg(p, "130903", OUTSIDE)
    b = reg(p, "130903", OUTSIDE)
    entitlements_compute(programme=p)
    v1 = SubsidyRule.objects.get(programme=p, rule_key="CANGZHOU-RED", status="active")
    _line(Entitlement.objects.get(registration=b))

    v2 = rule_update(rule=v1, data={"amount": Decimal("600")}, system=True)
    assert (v2.pk != v1.pk, v2.version, v2.status) == (True, 2, RuleStatus.DRAFT)
    v1.refresh_from_db()
    assert (v1.amount, v1.status) == (Decimal("500.00"), RuleStatus.ACTIVE)  # untouched
    assert entitlements_compute(programme=p).written == 0  # the draft changes nothing

    rule_activate(rule=v2, system=True)
    v1.refresh_from_db()
    assert v1.status == RuleStatus.SUPERSEDED
    entitlements_compute(programme=p)
    ea = Entitlement.objects.get(registration=a)
    eb = Entitlement.objects.get(registration=b, kind="base")
    assert (ea.rule_id, ea.amount, ea.status) == (v2.pk, Decimal("600.00"), "granted")
    # In a batch at ¥500 under version 1: settled as it was, plus a ¥100 top-up on version 2.
    assert (eb.rule_id, eb.amount, eb.status) == (v1.pk, Decimal("500.00"), "granted")
    topup = Entitlement.objects.get(person=eb.person, rule_key=eb.rule_key, kind="topup")
    assert (topup.rule_id, topup.amount, topup.status, topup.part) == (v2.pk, Decimal("100.00"), "granted", 1)


@pytest.mark.django_db
def test_a_rule_without_entitlements_is_edited_in_place():
    p = programme()
    rule = SubsidyRule.objects.get(programme=p, rule_key="XUNHUAN-RED")
    same = rule_update(rule=rule, data={"amount": Decimal("880")}, system=True)
    assert same.pk == rule.pk and same.version == 1 and same.amount == Decimal("880.00")


@pytest.mark.django_db
def test_one_district_only():
    p = programme()
    population(p)
    result = entitlements_compute(programme=p, district="130903")
    assert list(result.districts) == ["130903"]
    assert set(Entitlement.objects.values_list("district_id", flat=True)) == {"130903"}
    totals = entitlement_totals(programme=p, region=Region.objects.get(code="130900"))
    assert totals["count"] == 1 and totals["amount"] == Decimal("500.00")


@pytest.mark.django_db
def test_changes_to_existing_entitlements_are_audited_row_by_row(city_cangzhou):
    from accounts.models import AuditEntry

    p = programme()
    free = reg(p, "130903", OUTSIDE)
    batched = reg(p, "130903", OUTSIDE)
    entitlements_compute(programme=p)
    ef = Entitlement.objects.get(registration=free)
    eb = Entitlement.objects.get(registration=batched, kind="base")
    _line(eb)
    v2 = rule_update(
        rule=SubsidyRule.objects.get(rule_key="CANGZHOU-RED", status="active"), data={"amount": "600"}, system=True
    )
    rule_activate(rule=v2, system=True)
    entitlements_compute(programme=p, acting_user=city_cangzhou)
    trail = {
        e.object_id: e
        for e in AuditEntry.objects.filter(action="entitlement_recompute", object_type="disbursements.entitlement")
    }
    assert trail[str(ef.pk)].changes["amount"] == [500, 600] and trail[str(ef.pk)].user == city_cangzhou
    assert str(eb.pk) not in trail  # settled: never rewritten
    topup = Entitlement.objects.get(person=eb.person, rule_key=eb.rule_key, kind="topup")
    assert trail[str(topup.pk)].changes["amount"] == [None, "100.00"]
    Registration.objects.filter(pk=free.pk).update(status="withdrawn")
    entitlements_compute(programme=p)
    last = AuditEntry.objects.filter(action="entitlement_recompute", object_id=str(ef.pk)).order_by("-id").first()
    assert last.changes["status"] == ["granted", "withdrawn"] and last.user is None


def _group_rule(p, name, code, amount, group, *, cap=None, conditions=None):
    rule = rule_create(
        programme=p,
        data=dict(
            name=name,
            region=Region.objects.get(code=code),
            kind="cash",
            amount=Decimal(amount),
            budget_cap=Decimal(cap) if cap is not None else None,
            exclusivity_group=group,
            conditions=conditions or {},
        ),
        system=True,
    )
    rule_activate(rule=rule, system=True)
    return rule


def _at(i):
    return dt.datetime(2021, 1, 25, 8, 0, i, tzinfo=dt.UTC)


def _granted(rule):
    return sorted(Entitlement.objects.filter(rule=rule, status="granted").values_list("registration_id", flat=True))


def _assert_caps_hold(p):
    for rule in SubsidyRule.objects.filter(programme=p, budget_cap__isnull=False):
        total = sum(Entitlement.objects.filter(rule=rule, status="granted").values_list("amount", flat=True))
        assert total <= rule.budget_cap, rule.name


@pytest.mark.django_db
def test_a_cap_that_cuts_people_off_their_best_rule_gives_them_the_next_best():
    p = programme()
    high = _group_rule(p, "高", "130104", "900", "G", cap="1800")  # two people
    low = _group_rule(p, "低", "130104", "300", "G")
    regs = [reg(p, "130104", OUTSIDE, created_at=_at(i)) for i in range(5)]
    entitlements_compute(programme=p)
    assert _granted(high) == [regs[0].pk, regs[1].pk]
    assert _granted(low) == [regs[2].pk, regs[3].pk, regs[4].pk]  # not nothing: the next best of the group
    assert Entitlement.objects.filter(programme=p, status="granted").count() == 5  # one rule of the group each
    _assert_caps_hold(p)
    before = snapshot(p)
    again = entitlements_compute(programme=p)
    assert (again.written, again.withdrawn, again.flagged) == (0, 0, 0)
    assert entitlements_compute(programme=p, force=True).written == 0  # the full computation agrees too
    assert snapshot(p) == before
    # A place under the cap comes free: the earliest of those who fell back moves up,
    # and the fast path notices (the district's registrations changed).
    Registration.objects.filter(pk=regs[0].pk).update(status="withdrawn")
    entitlements_compute(programme=p)
    assert _granted(high) == [regs[1].pk, regs[2].pk]
    assert _granted(low) == [regs[3].pk, regs[4].pk]
    assert Entitlement.objects.get(registration=regs[2], rule=low).status == "withdrawn"
    _assert_caps_hold(p)


@pytest.mark.django_db
def test_fallback_runs_in_rounds_and_never_passes_a_cap():
    """Round 1: first choices; round 2: the second choice of those turned away; … A rule
    turned to in round 2 has already taken its round-1 claims, whoever registered first."""
    p = programme()
    a = _group_rule(p, "甲", "130104", "900", "G", cap="900", conditions={"on_duty_min_days": 1})
    b = _group_rule(p, "乙", "130104", "500", "G", cap="1000")
    c = _group_rule(p, "丙", "130104", "100", "G")
    on_duty = [reg(p, "130104", OUTSIDE, duty_days=2, created_at=_at(i)) for i in range(4)]
    late = reg(p, "130104", OUTSIDE, created_at=_at(9))  # not on duty: 乙 is its first choice
    entitlements_compute(programme=p)
    assert _granted(a) == [on_duty[0].pk]
    assert _granted(b) == sorted([late.pk, on_duty[1].pk])
    assert _granted(c) == [on_duty[2].pk, on_duty[3].pk]
    _assert_caps_hold(p)
    assert sum(Entitlement.objects.filter(programme=p, status="granted").values_list("amount", flat=True)) == (
        Decimal("900") + 500 + 500 + 100 + 100
    )
    assert entitlements_compute(programme=p).written == 0


@pytest.mark.django_db
def test_a_rule_with_seniority_tiers_stops_at_the_first_claim_that_would_pass_its_cap():
    p = programme()
    tiered = rule_create(
        programme=p,
        data=dict(
            name="工龄",
            region=Region.objects.get(code="130104"),
            kind="cash",
            tiers=[{"min_years": 0, "amount": "200"}, {"min_years": 5, "amount": "700"}],
            budget_cap=Decimal("1000"),
            exclusivity_group="G",
            conditions={},
        ),
        system=True,
    )
    rule_activate(rule=tiered, system=True)
    low = _group_rule(p, "低", "130104", "100", "G")
    regs = [
        reg(p, "130104", OUTSIDE, seniority=6, created_at=_at(0)),  # 700
        reg(p, "130104", OUTSIDE, seniority=6, created_at=_at(1)),  # 700: would pass 1000, turned away
        reg(p, "130104", OUTSIDE, seniority=1, created_at=_at(2)),  # 200 would fit, but the rule has stopped
    ]
    entitlements_compute(programme=p)
    assert _granted(tiered) == [regs[0].pk]
    assert _granted(low) == [regs[1].pk, regs[2].pk]


@pytest.mark.django_db
def test_a_cap_is_shared_with_the_whole_group_across_districts():
    """Someone in another district who gets a better rule of the group (one that does not
    cover this district) does not use up the cap here; when they stop qualifying for it,
    they claim the capped rule first and the fast path of this district notices."""
    p = programme()
    near = _group_rule(p, "运河区", "130903", "900", "H", conditions={"on_duty_min_days": 1})
    city = _group_rule(p, "沧州市", "130900", "450", "H", cap="450")  # one person
    first = reg(p, "130903", OUTSIDE, duty_days=3, created_at=_at(0))
    second = reg(p, "130921", OUTSIDE, created_at=_at(1))
    entitlements_compute(programme=p)
    assert _granted(near) == [first.pk]
    assert _granted(city) == [second.pk]
    assert entitlements_compute(programme=p, district="130921").written == 0
    Registration.objects.filter(pk=first.pk).update(duty_days=0)
    entitlements_compute(programme=p)
    assert _granted(near) == []
    assert _granted(city) == [first.pk]
    assert Entitlement.objects.get(registration=second, rule=city).status == "withdrawn"
    _assert_caps_hold(p)


def _stamp_skips(p, monkeypatch) -> bool:
    """Whether a whole run ends at the programme's stamp (no district computed, not even
    looked at one by one)."""
    from disbursements.services import entitlements

    looked = []
    real = entitlements._district_run
    monkeypatch.setattr(entitlements, "_district_run", lambda *a, **k: looked.append(1) or real(*a, **k))
    result = entitlements_compute(programme=p)
    monkeypatch.setattr(entitlements, "_district_run", real)
    return not looked and all(d.get("skipped") for d in result.districts.values())


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the stamp is PostgreSQL's")
@pytest.mark.parametrize(
    "change",
    [
        "registration",
        "person's hukou",
        "employer",
        "rule",
        "holiday",
        "stored entitlement",
        "district state",
    ],
)
def test_a_rerun_with_nothing_changed_stops_at_the_stamp_and_any_change_gets_past_it(change, monkeypatch):
    """A whole re-run with nothing changed reads one stamp instead of every district's
    fingerprint; a change to anything a district's fingerprint covers gets past it, and
    the run then computes what changed as before."""
    from disbursements.models import EntitlementComputeState

    p = programme()
    regs = population(p)
    entitlements_compute(programme=p)
    assert _stamp_skips(p, monkeypatch)
    before = snapshot(p)
    luquan = regs[0]
    if change == "registration":
        Registration.objects.filter(pk=luquan.pk).update(status="withdrawn")
    elif change == "person's hukou":
        type(luquan.person).objects.filter(pk=luquan.person_id).update(hukou_code="130102")  # now a 石家庄 local
    elif change == "employer":
        Employer.objects.filter(pk=luquan.employer_id).update(status="pending", verified_at=None)
    elif change == "rule":
        SubsidyRule.objects.filter(programme=p, rule_key="LUQUAN-CASH", status=RuleStatus.ACTIVE).update(
            amount=Decimal("600.00")
        )
    elif change == "holiday":
        type(p).objects.filter(pk=p.pk).update(holiday_end=p.holiday_end + dt.timedelta(days=1))
        p.refresh_from_db()
    elif change == "stored entitlement":
        Entitlement.objects.filter(programme=p, registration=luquan).update(amount=Decimal("1.00"))
    else:
        EntitlementComputeState.objects.filter(programme=p, district_id="130110").delete()
    assert not _stamp_skips(p, monkeypatch)
    luquan_now = Entitlement.objects.get(programme=p, registration=luquan)
    if change in ("registration", "person's hukou", "employer"):
        assert luquan_now.status == "withdrawn"
    elif change == "rule":
        assert luquan_now.amount == Decimal("600.00")
    elif change == "stored entitlement":
        assert luquan_now.amount == Decimal("500.00")  # put back by the district's computation
    elif change == "district state":
        assert snapshot(p) == before
    # And once computed, the next run stops at the stamp again.
    assert _stamp_skips(p, monkeypatch)
