"""One test per scheme of the article, with cases on both sides of every condition."""

import datetime as dt
from decimal import Decimal

import pytest

from disbursements.models import Entitlement
from disbursements.services.entitlements import entitlements_compute
from programs.demo import demo_programme as programme
from tests.factories import GREE, MENGNIU, MODERN, reg

pytestmark = pytest.mark.django_db

OUTSIDE = "410102"  # 郑州 (Henan)


def granted(registration) -> dict[str, Decimal]:
    return {
        e.rule_key: e.amount
        for e in Entitlement.objects.filter(registration=registration, status="granted").order_by("rule_key")
    }


def test_luquan_cash_subsidy_both_sides_of_each_condition():
    p = programme()
    yes = reg(p, "130110", OUTSIDE, ownership="private", start=dt.date(2021, 2, 1), end=dt.date(2021, 2, 28))
    individual = reg(p, "130110", "130602", ownership="individual")  # 保定 hukou: another city
    site = reg(p, "130110", OUTSIDE, ownership="construction")
    local = reg(p, "130110", "130102", ownership="private")  # hukou inside 石家庄
    own_county = reg(p, "130110", "130110", ownership="private")
    state = reg(p, "130110", OUTSIDE, ownership="state")
    left_early = reg(p, "130110", OUTSIDE, end=dt.date(2021, 2, 15))  # left before the holiday ended
    came_late = reg(p, "130110", OUTSIDE, start=dt.date(2021, 2, 12))
    unverified = reg(p, "130110", OUTSIDE, employer_status="pending")
    rejected = reg(p, "130110", OUTSIDE, status="withdrawn")
    xinji = reg(p, "130110", "130181")  # 辛集 reports to the province: not 石家庄 for this rule
    entitlements_compute(programme=p)

    for r in (yes, individual, site, xinji):
        assert granted(r) == {"LUQUAN-CASH": Decimal("500.00")}
    for r in (local, own_county, state, left_early, came_late, unverified, rejected):
        assert granted(r) == {}
    ent = Entitlement.objects.get(registration=yes)
    assert ent.reason["hukou"] == OUTSIDE
    assert ent.reason["ownership"] == "private"
    assert ent.reason["stay_from"] == "2021-02-01"
    assert ent.channel == "bank_card"


def test_xunhuan_zone_red_packet_for_people_from_other_cities():
    p = programme()
    other_city = reg(p, "130172", "130602")
    same_city = reg(p, "130172", "130104")
    elsewhere_in_shijiazhuang = reg(p, "130171", "130602")  # 高新区: not the park
    entitlements_compute(programme=p)
    assert granted(other_city) == {"XUNHUAN-RED": Decimal("800.00")}
    assert granted(same_city) == {}
    assert granted(elsewhere_in_shijiazhuang) == {}


def test_cangzhou_red_packet_in_every_district_of_the_city():
    p = programme()
    yunhe = reg(p, "130903", OUTSIDE)
    zone = reg(p, "130973", "130102")  # 沧州渤海新区, hukou 石家庄
    local = reg(p, "130903", "130902")
    local_other_county = reg(p, "130921", "130903")
    entitlements_compute(programme=p)
    assert granted(yunhe) == {"CANGZHOU-RED": Decimal("500.00")}
    assert granted(zone) == {"CANGZHOU-RED": Decimal("500.00")}
    assert granted(local) == {}
    assert granted(local_other_county) == {}


def test_hengshui_voucher_plus_on_duty_and_validity():
    p = programme()
    off_duty = reg(p, "131102", OUTSIDE, duty_days=0)
    on_duty = reg(p, "131102", OUTSIDE, duty_days=1)
    on_duty_all = reg(p, "131102", "130102", duty_days=7)
    local = reg(p, "131102", "131121", duty_days=5)
    last_valid_day = reg(p, "131102", OUTSIDE, start=dt.date(2021, 3, 8), end=dt.date(2021, 3, 20))
    after_validity = reg(p, "131102", OUTSIDE, start=dt.date(2021, 3, 9), end=dt.date(2021, 3, 20), duty_days=0)
    entitlements_compute(programme=p)
    assert granted(off_duty) == {"HENGSHUI-VOUCHER": Decimal("500.00")}
    assert granted(on_duty) == {"HENGSHUI-DUTY": Decimal("100.00"), "HENGSHUI-VOUCHER": Decimal("500.00")}
    assert granted(on_duty_all) == {"HENGSHUI-DUTY": Decimal("100.00"), "HENGSHUI-VOUCHER": Decimal("500.00")}
    assert granted(local) == {}
    assert granted(last_valid_day) == {"HENGSHUI-VOUCHER": Decimal("500.00")}
    assert granted(after_validity) == {}
    assert Entitlement.objects.get(registration=on_duty, rule_key="HENGSHUI-DUTY").channel == "e_voucher"


def test_kangbao_hardship_relief():
    p = programme()
    hardship = reg(p, "130723", "130723", category="hardship", employer_status="pending")
    migrant = reg(p, "130723", OUTSIDE, category="migrant")
    hardship_elsewhere = reg(p, "130722", "130722", category="hardship")  # 张北县: not Kangbao
    entitlements_compute(programme=p)
    assert granted(hardship) == {"KANGBAO-RELIEF": Decimal("300.00")}
    assert granted(migrant) == {}
    assert granted(hardship_elsewhere) == {}


@pytest.mark.parametrize("district,key", [("130682", "DINGZHOU-UNEMP"), ("130181", "XINJI-UNEMP")])
def test_dingzhou_xinji_six_months_of_unemployment_allowance(district, key):
    p = programme()
    unemployed = reg(p, district, district, category="unemployed", employer_status="pending")
    migrant = reg(p, district, OUTSIDE, category="migrant")
    unemployed_elsewhere = reg(p, "130684", "130684", category="unemployed")  # 高碑店
    entitlements_compute(programme=p)
    assert granted(unemployed) == {key: Decimal("3948.00")}  # 658 × 6
    assert granted(migrant) == {}
    assert granted(unemployed_elsewhere) == {}
    assert Entitlement.objects.get(registration=unemployed).reason["category"] == "unemployed"


def test_employer_funded_red_packets_are_recorded_not_paid():
    p = programme()
    gree = reg(p, "130171", "130102", code=GREE)
    other = reg(p, "130171", OUTSIDE)
    mengniu = reg(p, "130773", "130773", code=MENGNIU)
    entitlements_compute(programme=p)
    assert granted(gree) == {"GREE-RED": Decimal("1000.00")}
    assert granted(other) == {}
    assert granted(mengniu) == {"MENGNIU-RED": Decimal("1000.00")}
    assert set(
        Entitlement.objects.filter(rule_key__in=["GREE-RED", "MENGNIU-RED"]).values_list("channel", flat=True)
    ) == {"employer"}


@pytest.mark.parametrize(
    "years,amount", [(0, "200.00"), (2, "200.00"), (3, "400.00"), (4, "400.00"), (5, "600.00"), (11, "600.00")]
)
def test_modern_dairy_seniority_tiers(years, amount):
    p = programme()
    r = reg(p, "130773", OUTSIDE, code=MODERN, seniority=years)
    entitlements_compute(programme=p)
    assert granted(r) == {"MODERN-DAIRY-RED": Decimal(amount)}
    assert Entitlement.objects.get(registration=r).reason["seniority_years"] == years
