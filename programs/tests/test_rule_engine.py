"""The rule language: validation, the hukou geography, the vocabularies, and a
property-based test that the SQL computation equals the Python oracle."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beneficiaries.choices import Category, Ownership
from beneficiaries.models import Registration
from core.errors import DomainError, PermissionDenied
from disbursements.models import Entitlement
from disbursements.services.entitlements import entitlement_totals, entitlements_compute
from programs.choices import RuleStatus
from programs.demo import demo_programme as programme
from programs.models import SubsidyRule
from programs.rules.conditions import CATEGORIES, OWNERSHIPS
from programs.rules.evaluate import Facts, rule_evaluate
from programs.rules.regions import hukou_outside, region_index
from programs.rules.validate import rule_validate
from programs.services import (
    programme_create,
    programme_update,
    rule_activate,
    rule_create,
    rule_retire,
    rule_update,
)
from regions.models import Region
from tests.factories import reg

pytestmark = pytest.mark.django_db


def test_vocabularies_mirror_beneficiaries_choices():
    assert set(OWNERSHIPS) == set(Ownership.values)
    assert set(CATEGORIES) == set(Category.values)


@pytest.mark.parametrize(
    "scope,hukou,stay,outside",
    [
        ("city", "130102", "130110", False),  # 长安区 → 鹿泉: same city
        ("city", "130110", "130172", False),  # zone 130172 belongs to 石家庄 (1301)
        ("city", "130181", "130110", True),  # 辛集 reports to the province: its own city
        ("city", "130682", "130682", False),  # 定州 is its own city
        ("city", "130602", "130682", True),  # 保定 hukou staying in 定州
        ("city", "130682", "130602", True),  # 定州 hukou staying in 保定
        ("city", "130629", "130632", False),  # 容城 and 安新: both 雄安
        ("city", "130602", "130632", True),  # 保定 hukou in 安新 (雄安)
        ("county", "130110", "130110", False),
        ("county", "130104", "130110", True),
        ("county", "130104", "130172", True),  # a zone issues no hukou
        ("province", "130104", "131102", False),
        ("province", "410102", "131102", True),
    ],
)
def test_hukou_outside_follows_the_reporting_tree(scope, hukou, stay, outside):
    assert hukou_outside(scope, hukou, stay, region_index()) is outside


def test_hukou_outside_sql_agrees_for_xiongan_and_zones():
    p = programme()
    rule = rule_create(
        programme=p,
        data=dict(
            name="省级外市",
            region=Region.objects.get(code="130000"),
            kind="cash",
            amount="10",
            conditions={"hukou_outside": "city"},
        ),
        system=True,
    )
    rule_activate(rule=rule, system=True)
    cases = [
        ("130629", "130632", False),
        ("130602", "130632", True),
        ("130110", "130172", False),
        ("130181", "130110", True),
        ("130682", "130682", False),
        ("130602", "130682", True),
    ]
    regs = [(reg(p, stay, hukou), outside) for hukou, stay, outside in cases]
    entitlements_compute(programme=p)
    for r, outside in regs:
        assert Entitlement.objects.filter(registration=r, rule=rule).exists() is outside, (r.district_id, outside)


def base(**over):
    data = dict(name="测试", region=Region.objects.get(code="130110"), kind="cash", amount="100", conditions={})
    data.update(over)
    return data


@pytest.mark.parametrize(
    "over,field",
    [
        (dict(amount="-1"), "amount"),
        (dict(amount=None), "amount"),
        (dict(amount="100", tiers=[{"min_years": 0, "amount": "1"}]), "amount"),
        (dict(amount=None, tiers=[{"min_years": 0, "amount": "1"}, {"min_years": 0, "amount": "2"}]), "tiers"),
        (dict(amount=None, tiers=[{"min_years": -1, "amount": "1"}]), "tiers"),
        (dict(kind="voucher", channel="e_voucher"), "valid_until"),
        (dict(kind="voucher", channel="e_voucher", valid_until=dt.date(2021, 4, 1)), "valid_until"),
        (dict(kind="voucher", channel="e_voucher", valid_until=dt.date(2021, 2, 12)), "valid_until"),
        (dict(kind="voucher", channel="bank_card", valid_until=dt.date(2021, 3, 8)), "channel"),
        (dict(months=6), "months"),
        (dict(kind="employer", channel="employer"), "employer_codes"),
        (dict(channel="employer"), "channel"),
        (dict(budget_cap="50"), "budget_cap"),
        (dict(conditions={"hukou_outside": "galaxy"}), "hukou_outside"),
        (dict(conditions={"ownership_in": ["pirate"]}), "ownership_in"),
        (dict(conditions={"on_duty_min_days": 9}), "on_duty_min_days"),
        (dict(conditions={"category_in": ["hardship"], "on_duty_min_days": 2}), "on_duty_min_days"),
        (dict(conditions={"employer_codes": ["123"]}), "employer_codes"),
        (dict(conditions={"shoe_size": 42}), "conditions"),
        (dict(region=Region.objects.none().first()), "region"),
    ],
)
def test_validation_names_the_field(over, field):
    with pytest.raises(DomainError) as err:
        rule_validate(base(**over), programme=programme())
    assert field in err.value.errors, err.value.errors


def test_validation_accepts_the_demo_shapes():
    clean = rule_validate(
        base(kind="voucher", channel="e_voucher", valid_until="2021-03-08", conditions={"on_duty_min_days": "1"}),
        programme=programme(),
    )
    assert clean["valid_until"] == dt.date(2021, 3, 8) and clean["conditions"]["on_duty_min_days"] == 1
    assert clean["amount"] == Decimal("100.00") and clean["conditions"]["employer_verified"] is True


def test_scope_of_rule_editing(city_shijiazhuang, city_cangzhou, officer_luquan, province_staff):
    p = programme()
    luquan = Region.objects.get(code="130110")
    with pytest.raises(PermissionDenied):
        rule_create(programme=p, data=base(region=luquan), acting_user=city_cangzhou)
    with pytest.raises(PermissionDenied):
        rule_create(programme=p, data=base(region=luquan), acting_user=officer_luquan)
    mine = rule_create(programme=p, data=base(region=luquan), acting_user=city_shijiazhuang)
    with pytest.raises(PermissionDenied):
        rule_update(rule=mine, data={"amount": "5"}, acting_user=city_cangzhou)
    with pytest.raises(PermissionDenied):  # moving it out of one's city
        rule_update(rule=mine, data={"region": Region.objects.get(code="130903")}, acting_user=city_shijiazhuang)
    with pytest.raises(PermissionDenied):
        rule_activate(rule=mine, acting_user=city_cangzhou)
    rule_activate(rule=mine, acting_user=province_staff)
    with pytest.raises(PermissionDenied):
        rule_retire(rule=mine, acting_user=officer_luquan)
    assert rule_retire(rule=mine, acting_user=city_shijiazhuang).status == RuleStatus.RETIRED


def test_a_write_without_a_user_is_refused_unless_the_system_acts(province_staff):
    """No acting user and no system=True: refused, never a skipped permission check."""
    p = programme()
    luquan = Region.objects.get(code="130110")
    with pytest.raises(PermissionDenied):
        rule_create(programme=p, data=base(region=luquan))
    assert not SubsidyRule.objects.filter(programme=p, region=luquan, name=base()["name"]).exists()
    rule = rule_create(programme=p, data=base(region=luquan), acting_user=province_staff)
    for write in (
        lambda: rule_update(rule=rule, data={"amount": "5"}),
        lambda: rule_activate(rule=rule),
        lambda: rule_retire(rule=rule),
        lambda: programme_update(programme=p, data={"name": "改名"}),
        lambda: programme_create(code="NO-USER", data={}),
    ):
        with pytest.raises(PermissionDenied):
            write()
    rule.refresh_from_db()
    assert rule.status == RuleStatus.DRAFT and rule.amount != Decimal("5")


def test_the_system_writes_without_a_user_and_is_audited_as_such():
    from accounts.models import AuditEntry

    p = programme()
    luquan = Region.objects.get(code="130110")
    rule = rule_create(programme=p, data=base(region=luquan), system=True)
    rule = rule_activate(rule=rule, system=True)
    assert rule.status == RuleStatus.ACTIVE
    entry = AuditEntry.objects.filter(action="rule_activate", object_id=str(rule.pk)).get()
    assert entry.user_id is None


def test_activating_a_new_version_supersedes_and_audits(city_cangzhou):
    from accounts.models import AuditEntry

    p = programme()
    reg(p, "130903", "410102")
    entitlements_compute(programme=p)
    v1 = SubsidyRule.objects.get(rule_key="CANGZHOU-RED", status="active")
    v2 = rule_update(rule=v1, data={"amount": "520"}, acting_user=city_cangzhou)
    with pytest.raises(DomainError):  # only the latest version may be edited
        rule_update(rule=v1, data={"amount": "530"}, acting_user=city_cangzhou)
    rule_activate(rule=v2, acting_user=city_cangzhou)
    assert SubsidyRule.objects.get(pk=v1.pk).status == RuleStatus.SUPERSEDED
    actions = set(AuditEntry.objects.filter(user=city_cangzhou).values_list("action", flat=True))
    assert {"rule_new_version", "rule_activate"} <= actions


DISTRICTS = ["130110", "130172", "130903", "131102", "130723", "130682", "130773", "130104"]
HUKOUS = ["410102", "130102", "130110", "130602", "130902", "131102", "130723", "130682", "130181"]


@st.composite
def people(draw):
    return draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "district": st.sampled_from(DISTRICTS),
                    "hukou": st.sampled_from(HUKOUS),
                    "ownership": st.sampled_from(list(OWNERSHIPS)),
                    "employer_status": st.sampled_from(["verified", "verified", "pending"]),
                    "category": st.sampled_from(list(CATEGORIES)),
                    "duty_days": st.integers(0, 7),
                    "seniority": st.integers(0, 12),
                    "start": st.dates(dt.date(2021, 1, 21), dt.date(2021, 3, 15)),
                    "days": st.integers(0, 60),
                    "status": st.sampled_from(["active", "active", "active", "withdrawn"]),
                    "special": st.sampled_from([None, None, None, "mengniu", "modern_dairy"]),
                }
            ),
            min_size=1,
            max_size=25,
        )
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(population=people())
def test_total_equals_the_sum_of_each_persons_rules(population):
    from programs.demo import DEMO_EMPLOYER_CODES

    p = programme()
    Entitlement.objects.filter(programme=p).delete()
    Registration.objects.filter(programme=p).delete()
    regions = region_index()
    rules = list(SubsidyRule.objects.filter(programme=p, status="active"))
    expected = Decimal("0")
    for person in population:
        code = DEMO_EMPLOYER_CODES[person["special"]] if person["special"] else None
        district = "130773" if code else person["district"]
        end = min(person["start"] + dt.timedelta(days=person["days"]), dt.date(2021, 3, 31))
        r = reg(
            p,
            district,
            person["hukou"],
            ownership=person["ownership"],
            employer_status="verified" if code else person["employer_status"],
            code=code,
            category=person["category"],
            duty_days=person["duty_days"],
            seniority=person["seniority"],
            start=person["start"],
            end=end,
            status=person["status"],
        )
        facts = Facts(
            district=district,
            hukou=person["hukou"],
            ownership=r.employer.ownership,
            employer_status=r.employer.status,
            credit_code=r.employer.credit_code,
            category=person["category"],
            duty_days=person["duty_days"],
            seniority_years=person["seniority"],
            start_date=person["start"],
            end_date=end,
            status=person["status"],
        )
        for rule in rules:  # the demo rules have no exclusivity group; 康保's cap is far away
            amount = rule_evaluate(rule, facts, programme=p, regions=regions)
            if amount is not None:
                expected += amount
    entitlements_compute(programme=p)
    assert entitlement_totals(programme=p)["amount"] == expected
    assert entitlements_compute(programme=p).written == 0
