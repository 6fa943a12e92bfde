"""The API of programmes, rules and entitlements; compute starts a Job."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from disbursements.entitlements import entitlements_compute
from disbursements.tests.test_entitlement_support import programme, reg
from programs.models import SubsidyRule

pytestmark = pytest.mark.django_db


def api(user):
    c = APIClient()
    c.force_authenticate(user)
    return c


def test_programmes_and_rules_in_scope(city_cangzhou, agent_gree):
    programme()
    c = api(city_cangzhou)
    assert [p["code"] for p in c.get("/api/v1/programmes/").json()] == ["HEBEI-2021"]
    assert c.get("/api/v1/programmes/HEBEI-2021/").json()["holiday_start"] == "2021-02-11"
    keys = {r["rule_key"] for r in c.get("/api/v1/rules/?programme=HEBEI-2021").json()}
    assert keys == {"CANGZHOU-RED"}  # the city's rules (no province-wide rule in the demo)
    luquan = SubsidyRule.objects.get(rule_key="LUQUAN-CASH")
    assert c.get(f"/api/v1/rules/{luquan.pk}/").status_code == 404
    assert api(agent_gree).get("/api/v1/rules/").json() == []


def test_rule_write_validation_scope_and_versions(city_cangzhou, officer_cangzhou):
    p = programme()
    c = api(city_cangzhou)
    body = {"programme": "HEBEI-2021", "name": "青县红包", "region": "130922", "kind": "red_packet", "amount": "-1"}
    bad = c.post("/api/v1/rules/", body, format="json")
    assert bad.status_code == 400 and "amount" in bad.json()["errors"]
    body["amount"] = "200"
    body["conditions"] = {"hukou_outside": "nowhere"}
    assert "hukou_outside" in c.post("/api/v1/rules/", body, format="json").json()["errors"]
    body["conditions"] = {"hukou_outside": "city"}
    outside = c.post("/api/v1/rules/", {**body, "region": "130110"}, format="json")
    assert outside.status_code == 400 and outside.json()["code"] == "forbidden"
    created = c.post("/api/v1/rules/", body, format="json")
    assert created.status_code == 201, created.json()
    rid = created.json()["id"]
    assert api(officer_cangzhou).post(f"/api/v1/rules/{rid}/activate/").status_code == 404  # 青县 is not 运河区
    assert c.post(f"/api/v1/rules/{rid}/activate/").json()["status"] == "active"
    reg(p, "130922", "410102")
    preview = c.get(f"/api/v1/rules/{rid}/preview/").json()
    assert preview["count"] == 1 and preview["amount"] == "200.00"
    entitlements_compute(programme=p)
    v2 = c.patch(f"/api/v1/rules/{rid}/", {"amount": "250"}, format="json")
    assert v2.status_code == 201 and v2.json()["version"] == 2 and v2.json()["status"] == "draft"
    assert c.post(f"/api/v1/rules/{rid}/retire/").json()["status"] == "retired"


def test_entitlements_in_scope_with_filters_and_totals(city_cangzhou, officer_luquan):
    p = programme()
    reg(p, "130903", "410102")
    reg(p, "130921", "410102")
    reg(p, "130110", "410102")
    entitlements_compute(programme=p)
    data = api(city_cangzhou).get("/api/v1/entitlements/").json()
    assert data["totals"]["count"] == 2 and data["totals"]["amount"] == "1000.00"
    assert {r["district_id"] for r in data["results"]} == {"130903", "130921"}
    assert data["results"][0]["person__id_masked"].count("*") == 8
    one = api(city_cangzhou).get("/api/v1/entitlements/?district=130921&status=granted").json()
    assert one["totals"]["count"] == 1 and one["results"][0]["amount"] == "500.00"
    mine = api(officer_luquan).get("/api/v1/entitlements/").json()
    assert mine["totals"]["amount"] == "500.00" and mine["results"][0]["rule_key"] == "LUQUAN-CASH"
    assert Decimal(mine["totals"]["by_status"]["granted"]["amount"]) == Decimal("500")


def test_compute_endpoint_starts_a_job(province_staff, django_capture_on_commit_callbacks):
    p = programme()
    reg(p, "130723", "130723", category="hardship")
    with django_capture_on_commit_callbacks(execute=True):
        r = api(province_staff).post("/api/v1/programmes/HEBEI-2021/compute/")
    assert r.status_code == 202
    job = api(province_staff).get(r.json()["status_url"]).json()
    assert job["state"] == "done"
