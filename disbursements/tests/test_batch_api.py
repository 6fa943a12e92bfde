"""/api/v1/batches/: scope, chain actions with maker-checker errors, export and results jobs, reconciliation."""

import pytest
from rest_framework.test import APIClient

from disbursements.models import Batch
from disbursements.services.bank_results import example_result_csv
from disbursements.services.batches import batches_build
from tests.factories import make_entitlements, make_programme, make_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(officer_luquan):
    programme = make_programme("HB-API")
    make_entitlements(programme, make_rule(programme, "luquan_cash"), 3, start=100)
    return batches_build(programme=programme, acting_user=officer_luquan)[0]


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_list_detail_and_lines_in_scope(
    batch, officer_luquan, officer_cangzhou, agent_gree, django_assert_max_num_queries
):
    client = api(officer_luquan)
    with django_assert_max_num_queries(8):
        data = client.get("/api/v1/batches/?programme=HB-API").json()
    assert [r["number"] for r in data["results"]] == [batch.number]
    assert data["results"][0]["total"] == "1500.00"
    detail = client.get(f"/api/v1/batches/{batch.pk}/").json()
    assert detail["actions"] == ["submit"] and detail["steps"][0]["action"] == "build"
    lines = client.get(f"/api/v1/batches/{batch.pk}/lines/").json()["results"]
    assert [ln["seq"] for ln in lines] == [1, 2, 3] and "*" in lines[0]["id_masked"]
    assert api(officer_cangzhou).get(f"/api/v1/batches/{batch.pk}/").status_code == 404
    assert api(officer_cangzhou).get("/api/v1/batches/").json()["results"] == []
    assert api(agent_gree).get("/api/v1/batches/").status_code == 404
    assert APIClient().get("/api/v1/batches/").status_code in (401, 403)


def test_chain_export_results_and_reconciliation(
    batch, officer_luquan, city_shijiazhuang, province_staff, tmp_path, django_capture_on_commit_callbacks
):
    officer, city, prov = api(officer_luquan), api(city_shijiazhuang), api(province_staff)
    assert officer.post(f"/api/v1/batches/{batch.pk}/review/").status_code == 403  # not a city user
    assert (
        officer.post(f"/api/v1/batches/{batch.pk}/submit/", {"comment": "请复核"}, format="json").json()["status"]
        == "submitted"
    )
    assert officer.post(f"/api/v1/batches/{batch.pk}/submit/").status_code == 409
    response = city.post(f"/api/v1/batches/{batch.pk}/return/", {"comment": ""}, format="json")
    assert response.status_code == 400 and "退回原因" in response.json()["detail"]
    assert city.post(f"/api/v1/batches/{batch.pk}/review/").json()["status"] == "reviewed"
    assert prov.post(f"/api/v1/batches/{batch.pk}/approve/").json()["status"] == "approved"
    with django_capture_on_commit_callbacks(execute=True):
        job = officer.post(f"/api/v1/batches/{batch.pk}/export/", {"format": "xlsx"}, format="json")
    assert job.status_code == 202
    detail = officer.get(f"/api/v1/batches/{batch.pk}/").json()
    assert detail["status"] == "exported" and detail["exports"][0]["format"] == "xlsx"
    download = officer.get(f"/api/v1/bank-files/{detail['exports'][0]['id']}/")
    assert download.status_code == 200 and b"".join(download.streaming_content)[:2] == b"PK"

    batch.refresh_from_db()
    path = tmp_path / "r.csv"
    path.write_text(example_result_csv(batch, {2: "冻结"}), encoding="utf-8")
    with open(path, "rb") as fh, django_capture_on_commit_callbacks(execute=True):
        response = officer.post(f"/api/v1/batches/{batch.pk}/results/", {"file": fh}, format="multipart")
    assert response.status_code == 202
    assert Batch.objects.get(pk=batch.pk).status == "reconciled"
    recon = city.get("/api/v1/programmes/HB-API/reconciliation/").json()
    assert recon["paid"] == "1000.00" and recon["failed"] == "500.00" and recon["balanced"] is True


def test_build_via_api(officer_luquan, django_capture_on_commit_callbacks):
    programme = make_programme("HB-API2")
    make_entitlements(programme, make_rule(programme, "luquan_cash"), 2, start=300)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(officer_luquan).post("/api/v1/batches/build/", {"programme": "HB-API2"}, format="json")
    assert response.status_code == 202
    assert Batch.objects.filter(programme=programme).count() == 1
    response = api(officer_luquan).post(
        "/api/v1/batches/build/", {"programme": "HB-API2", "district": "130903"}, format="json"
    )
    assert response.status_code == 403  # a district outside the officer's own
