"""The API of programmes, rules and entitlements; compute starts a Job."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from disbursements.services.entitlements import entitlements_compute
from programs.demo import demo_programme as programme
from programs.models import SubsidyRule
from tests.factories import reg

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
    assert outside.status_code == 403 and outside.json()["code"] == "forbidden"
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


def test_programme_write_for_province_staff_only(province_staff, city_cangzhou):
    body = {
        "code": "HEBEI-2022",
        "name": "2022年稳岗留工",
        "region": "130000",
        "start_date": "2022-01-10",
        "end_date": "2022-03-15",
        "holiday_start": "2022-01-31",
        "holiday_end": "2022-02-06",
        "registration_deadline": "2022-02-20",
        "budget": "1000000.00",
    }
    denied = api(city_cangzhou).post("/api/v1/programmes/", body, format="json")
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
    bad = api(province_staff).post("/api/v1/programmes/", {**body, "holiday_end": "2022-04-01"}, format="json")
    assert bad.status_code == 400 and "holiday_start" in bad.json()["errors"]
    created = api(province_staff).post("/api/v1/programmes/", body, format="json")
    assert created.status_code == 201 and created.json()["budget"] == "1000000.00"
    changed = api(province_staff).patch("/api/v1/programmes/HEBEI-2022/", {"budget": "2000000"}, format="json")
    assert changed.json()["budget"] == "2000000.00"
    assert api(city_cangzhou).patch("/api/v1/programmes/HEBEI-2022/", {"budget": "1"}, format="json").status_code == 403


def test_list_queries_do_not_grow_with_rows(city_cangzhou, django_assert_max_num_queries):
    p = programme()
    for _ in range(3):
        reg(p, "130903", "410102")
    entitlements_compute(programme=p)
    c = api(city_cangzhou)
    with django_assert_max_num_queries(8):
        assert len(c.get("/api/v1/entitlements/").json()["results"]) == 3
    for _ in range(10):
        reg(p, "130903", "410102")
    entitlements_compute(programme=p)
    with django_assert_max_num_queries(8):
        assert len(c.get("/api/v1/entitlements/").json()["results"]) == 13
    with django_assert_max_num_queries(8):
        c.get("/api/v1/rules/?programme=HEBEI-2021")
