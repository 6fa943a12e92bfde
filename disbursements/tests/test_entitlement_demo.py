"""The demo: HEBEI-2021, its synthetic population and the computation — every rule
grants something, 康保县's relief is ¥1,982,400 for 6,608 people, and loading twice
changes nothing."""

from decimal import Decimal

import pytest
from django.db import models

from beneficiaries.demo_population import demo_population
from beneficiaries.models import Registration
from disbursements.demo.entitlements import demo_entitlements
from disbursements.services.entitlements import entitlement_totals
from programs.demo import DEMO_RULES, demo_programme

pytestmark = pytest.mark.django_db


def test_demo_every_rule_grants_and_kangbao_matches_the_article():
    p = demo_programme()
    demo_population()
    demo_entitlements()
    totals = entitlement_totals(programme=p)
    by_key = {r["rule_key"]: r for r in totals["rules"]}
    assert set(by_key) == {key for key, _region, _fields in DEMO_RULES}
    assert all(r["count"] > 0 for r in by_key.values())
    assert by_key["KANGBAO-RELIEF"]["count"] == 6608
    assert by_key["KANGBAO-RELIEF"]["amount"] == Decimal("1982400.00")
    assert by_key["DINGZHOU-UNEMP"]["amount"] == by_key["DINGZHOU-UNEMP"]["count"] * Decimal("3948")
    assert {r["channel"] for k, r in by_key.items() if k.endswith("-RED") and k[:4] in ("GREE", "MENG", "MODE")} == {
        "employer"
    }

    # 循环化工园区 "800元的电子红包或现金补贴": most of the park's workers chose the red
    # packet, one in four cash; each is paid once, through their choice.
    from disbursements.models import Entitlement

    park = dict(
        Entitlement.objects.filter(programme=p, rule_key="XUNHUAN-RED")
        .values_list("channel")
        .annotate(n=models.Count("id"))
        .values_list("channel", "n")
    )
    assert set(park) == {"red_packet", "cash"} and park["red_packet"] > 2 * park["cash"] > 0

    registrations = Registration.objects.filter(programme=p).count()
    assert demo_population()["registrations"] == 0  # already loaded
    assert demo_entitlements()["written"] == 0
    assert Registration.objects.filter(programme=p).count() == registrations
    assert entitlement_totals(programme=p) == totals
