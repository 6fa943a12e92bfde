"""/api/v1/employers/ and /api/v1/workers/: scope (404), masks, writes through services."""

import json

import pytest
from rest_framework.test import APIClient

from accounts.models import AuditEntry
from beneficiaries.models import Employer, Registration
from beneficiaries.uscc import make_uscc
from tests.factories import make_employer, make_id, register

NUMBER = make_id("130223", "19850314", 271)


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def reg_luquan(agent_other, employer_luquan, programme):
    return register(agent_other, employer_luquan, programme, NUMBER)


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_anonymous_is_refused(client, db):
    assert client.get("/api/v1/employers/").status_code in (401, 403)
    assert client.get("/api/v1/workers/").status_code in (401, 403)


def test_employer_scope(
    officer_luquan, officer_cangzhou, agent_gree, employer_luquan, employer_gree, employer_cangzhou
):
    assert ids(api(officer_luquan).get("/api/v1/employers/")) == {employer_luquan.pk}
    assert api(officer_luquan).get(f"/api/v1/employers/{employer_cangzhou.pk}/").status_code == 404
    assert ids(api(officer_cangzhou).get("/api/v1/employers/")) == {employer_cangzhou.pk}
    assert ids(api(agent_gree).get("/api/v1/employers/")) == {employer_gree.pk}
    assert api(agent_gree).get(f"/api/v1/employers/{employer_luquan.pk}/").status_code == 404
    assert api(agent_gree).patch(f"/api/v1/employers/{employer_luquan.pk}/", {"address": "x"}).status_code == 404


def test_employer_filters(city_shijiazhuang, employer_luquan, employer_gree):
    client = api(city_shijiazhuang)
    assert ids(client.get("/api/v1/employers/")) == {employer_luquan.pk, employer_gree.pk}
    assert ids(client.get("/api/v1/employers/?region=130110")) == {employer_luquan.pk}
    assert ids(client.get("/api/v1/employers/?region=130100")) == {employer_luquan.pk, employer_gree.pk}
    assert ids(client.get("/api/v1/employers/?ownership=state")) == {employer_gree.pk}
    assert ids(client.get("/api/v1/employers/?region=999999")) == set()


def test_employer_create_by_agent_and_verify_by_officer(agent_gree, officer_luquan, officer_cangzhou):
    code = make_uscc("91", "130110", "88800001")
    body = {
        "credit_code": code,
        "name": "鹿泉新厂",
        "ownership": "private",
        "district": "130110",
        "contact_name": "王",
        "contact_phone": "13800000000",
    }
    response = api(agent_gree).post("/api/v1/employers/", body, format="json")
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert response.json()["status"] == "pending"
    assert api(agent_gree).post("/api/v1/employers/", body, format="json").status_code == 409
    assert (
        api(officer_luquan)
        .post("/api/v1/employers/", {**body, "credit_code": make_uscc("91", "130110", "88800002")}, format="json")
        .status_code
        == 403  # officers do not sign employers up
    )
    # An agent cannot verify its own employer.
    assert api(agent_gree).post(f"/api/v1/employers/{pk}/verify/").status_code == 403
    assert api(officer_cangzhou).post(f"/api/v1/employers/{pk}/verify/").status_code == 404
    assert api(officer_luquan).post(f"/api/v1/employers/{pk}/return/", {"reason": ""}, format="json").status_code == 400
    response = api(officer_luquan).post(f"/api/v1/employers/{pk}/return/", {"reason": "地址不详"}, format="json")
    assert response.json()["status"] == "returned"
    response = api(agent_gree).patch(f"/api/v1/employers/{pk}/", {"address": "鹿泉区铜冶镇1号"}, format="json")
    assert response.json()["status"] == "pending"
    response = api(officer_luquan).post(f"/api/v1/employers/{pk}/verify/")
    assert response.json()["status"] == "verified"
    assert Employer.objects.get(pk=pk).verified_by == officer_luquan


def test_workers_scope_and_masks(officer_luquan, officer_cangzhou, agent_gree, agent_other, reg_luquan):
    response = api(officer_luquan).get("/api/v1/workers/")
    assert ids(response) == {reg_luquan.pk}
    text = json.dumps(response.json(), ensure_ascii=False)
    assert NUMBER not in text and "6228480012345678901" not in text
    row = response.json()["results"][0]
    assert row["id_masked"] == NUMBER[:6] + "********" + NUMBER[-4:]
    assert row["account_masked"] == "6228 **** **** 8901"
    assert "id_cipher" not in text and "account_cipher" not in text
    assert ids(api(agent_other).get("/api/v1/workers/")) == {reg_luquan.pk}
    assert ids(api(agent_gree).get("/api/v1/workers/")) == set()
    assert ids(api(officer_cangzhou).get("/api/v1/workers/")) == set()
    assert api(officer_cangzhou).get(f"/api/v1/workers/{reg_luquan.pk}/").status_code == 404
    assert api(agent_gree).patch(f"/api/v1/workers/{reg_luquan.pk}/", {"duty_days": 1}).status_code == 404
    detail = api(officer_luquan).get(f"/api/v1/workers/{reg_luquan.pk}/")
    assert detail.status_code == 200 and NUMBER not in detail.content.decode()


def test_workers_filters(city_shijiazhuang, agent_other, agent_gree, employer_luquan, employer_gree, programme):
    a = register(agent_other, employer_luquan, programme, make_id("410102", "19900708", 1))
    b = register(agent_gree, employer_gree, programme, make_id("410102", "19900708", 1))
    c = register(agent_gree, employer_gree, programme, make_id("410102", "19900708", 3))
    client = api(city_shijiazhuang)
    assert ids(client.get("/api/v1/workers/")) == {a.pk, b.pk, c.pk}
    assert ids(client.get("/api/v1/workers/?region=130171")) == {b.pk, c.pk}
    assert ids(client.get(f"/api/v1/workers/?employer={employer_luquan.pk}")) == {a.pk}
    assert ids(client.get("/api/v1/workers/?status=conflict")) == {b.pk}
    assert ids(client.get(f"/api/v1/workers/?programme={programme.code}&status=active")) == {a.pk, c.pk}


def test_workers_cursor_pagination(officer_luquan, agent_other, programme):
    employer = make_employer("鹿泉丁厂", "130110", agents=[agent_other])
    for i in range(7):
        register(agent_other, employer, programme, make_id("410102", "19900708", 200 + i))
    client = api(officer_luquan)
    seen = []
    url = "/api/v1/workers/?page_size=3"
    while url:
        body = client.get(url).json()
        seen += [r["id"] for r in body["results"]]
        url = body["next"]
    assert len(seen) == 7 and seen == sorted(seen, reverse=True)


def test_worker_create_update_conflict_resolve(
    agent_other, agent_gree, employer_luquan, employer_gree, programme, city_shijiazhuang, officer_luquan
):
    body = {
        "programme": programme.code,
        "employer": employer_luquan.pk,
        "id_number": NUMBER,
        "name": "赵建国",
        "phone": "13931500011",
        "start_date": "2021-01-25",
        "end_date": "2021-03-01",
        "duty_days": 7,
        "account": "6228480012345678901",
    }
    response = api(agent_other).post("/api/v1/workers/", body, format="json")
    assert response.status_code == 201, response.content
    first = response.json()
    assert first["status"] == "active" and "account" not in first
    assert NUMBER not in response.content.decode()
    # Someone else's employer: refused without saying whether it exists.
    refused = api(agent_gree).post("/api/v1/workers/", body, format="json")
    assert refused.status_code == 400
    bad = api(agent_other).post("/api/v1/workers/", {**body, "id_number": "110105194912310021"}, format="json")
    assert bad.status_code == 400 and "校验位不正确" in bad.json()["detail"]
    second = api(agent_gree).post("/api/v1/workers/", {**body, "employer": employer_gree.pk}, format="json").json()
    assert second["status"] == "conflict"
    patched = api(agent_other).patch(f"/api/v1/workers/{first['id']}/", {"duty_days": 2}, format="json")
    assert patched.json()["duty_days"] == 2
    assert (
        api(agent_gree).post(f"/api/v1/workers/{second['id']}/resolve/", {"note": "x"}, format="json").status_code
        == 403  # an agent does not resolve conflicts
    )
    assert (
        api(officer_luquan).post(f"/api/v1/workers/{second['id']}/resolve/", {"note": "x"}, format="json").status_code
        == 404
    )
    done = api(city_shijiazhuang).post(
        f"/api/v1/workers/{second['id']}/resolve/", {"note": "在格力留岗"}, format="json"
    )
    assert done.status_code == 200 and done.json()["status"] == "active"
    assert Registration.objects.get(pk=first["id"]).status == "rejected"
    assert AuditEntry.objects.filter(action="registration_resolve_conflict").count() == 1


def test_api_list_query_count(django_assert_max_num_queries, officer_luquan, agent_other, programme):
    employer = make_employer("鹿泉戊厂", "130110", agents=[agent_other])
    for i in range(20):
        register(agent_other, employer, programme, make_id("410102", "19900708", 300 + i))
    client = api(officer_luquan)
    with django_assert_max_num_queries(4):
        assert client.get("/api/v1/workers/").status_code == 200
    with django_assert_max_num_queries(4):
        assert client.get("/api/v1/employers/").status_code == 200
