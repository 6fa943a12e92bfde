"""Moving an employer to another district: before verification its agent may; after
verification only the officer of its district, through `employer_move`, which takes the
registrations along and writes the audit trail."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AuditEntry
from beneficiaries.models import Employer, Registration
from beneficiaries.services.employers import employer_move, employer_update
from beneficiaries.services.registrations import registration_withdraw
from core.errors import ConflictError, PermissionDenied
from tests.factories import make_employer, make_id, register


@pytest.fixture
def verified_luquan(agent_other):
    return make_employer("石家庄冀通建材有限公司", "130110", agents=[agent_other], status="verified")


def test_agent_cannot_move_a_verified_employer_by_api(agent_other, verified_luquan, programme):
    registration = register(agent_other, verified_luquan, programme)
    client = APIClient()
    client.force_authenticate(agent_other)
    response = client.patch(f"/api/v1/employers/{verified_luquan.pk}/", {"district": "130172"}, format="json")
    assert response.status_code == 403
    assert "人社专员" in response.json()["detail"]
    verified_luquan.refresh_from_db()
    registration.refresh_from_db()
    assert (verified_luquan.district_id, verified_luquan.status) == ("130110", "verified")
    assert registration.district_id == "130110"
    # Other fields stay the agent's to correct.
    response = client.patch(f"/api/v1/employers/{verified_luquan.pk}/", {"address": "鹿泉区开发区"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "verified"


def test_agent_cannot_move_a_verified_employer_by_the_form(client, agent_other, verified_luquan):
    client.force_login(agent_other)
    url = reverse("beneficiaries:employer_edit", args=[verified_luquan.pk])
    page = client.get(url).content.decode()
    assert "迁移所在区县请联系" in page and "disabled" in page
    client.post(
        url,
        {
            "name": verified_luquan.name,
            "ownership": "private",
            "district": "130172",
            "contact_name": "王",
            "contact_phone": "13800000000",
        },
    )
    verified_luquan.refresh_from_db()
    assert (verified_luquan.district_id, verified_luquan.status) == ("130110", "verified")


def test_officer_moves_a_verified_employer_with_its_registrations(
    client, officer_luquan, agent_other, verified_luquan, programme
):
    active = register(agent_other, verified_luquan, programme)
    withdrawn = register(agent_other, verified_luquan, programme, id_number=make_id("130223", "19900101", 5))
    registration_withdraw(registration=withdrawn, acting_user=agent_other, reason="离职")
    client.force_login(officer_luquan)
    url = reverse("beneficiaries:employer_edit", args=[verified_luquan.pk])
    response = client.post(
        url,
        {
            "name": verified_luquan.name,
            "ownership": "private",
            "district": "130172",
            "contact_name": "王",
            "contact_phone": "13800000000",
        },
    )
    assert response.status_code == 302
    verified_luquan.refresh_from_db()
    assert (verified_luquan.district_id, verified_luquan.status) == ("130172", "verified")
    assert Registration.objects.get(pk=active.pk).district_id == "130172"
    assert Registration.objects.get(pk=withdrawn.pk).district_id == "130110"  # history stays where it was
    move = AuditEntry.objects.get(action="employer_move", object_id=str(verified_luquan.pk))
    assert move.changes["district"] == ["130110", "130172"] and move.changes["registrations_moved"] == 1
    assert move.user == officer_luquan
    row = AuditEntry.objects.get(action="registration_move", object_id=str(active.pk))
    assert row.changes["district"] == ["130110", "130172"]


def test_officer_moves_by_api_and_a_foreign_officer_cannot(officer_luquan, officer_cangzhou, verified_luquan):
    client = APIClient()
    client.force_authenticate(officer_cangzhou)
    response = client.patch(f"/api/v1/employers/{verified_luquan.pk}/", {"district": "130903"}, format="json")
    assert response.status_code == 404  # not in their scope at all
    client.force_authenticate(officer_luquan)
    response = client.patch(f"/api/v1/employers/{verified_luquan.pk}/", {"district": "130172"}, format="json")
    assert response.status_code == 200
    assert response.json()["district"] == "130172" and response.json()["status"] == "verified"


def test_agent_moves_a_pending_employer_and_its_registrations(agent_other, programme):
    employer = make_employer("待审核厂", "130110", agents=[agent_other], status="pending")
    registration = register(agent_other, employer, programme)
    employer_update(employer=employer, acting_user=agent_other, district="130172")
    assert Employer.objects.get(pk=employer.pk).district_id == "130172"
    assert Registration.objects.get(pk=registration.pk).district_id == "130172"


def test_no_move_while_money_is_on_its_way(officer_luquan, verified_luquan, agent_other, programme):
    from disbursements.services.batches import batches_build
    from tests.factories import make_entitlement, make_rule

    rule = make_rule(programme)
    make_entitlement(programme, rule, employer=verified_luquan)
    batches_build(programme=programme, district=officer_luquan.region, acting_user=officer_luquan)
    with pytest.raises(ConflictError, match="尚未完成的发放批次"):
        employer_move(employer=verified_luquan, district="130172", acting_user=officer_luquan)
    assert Employer.objects.get(pk=verified_luquan.pk).district_id == "130110"


def test_move_checks_the_target_and_the_actor(officer_luquan, officer_cangzhou, verified_luquan):
    with pytest.raises(PermissionDenied):
        employer_move(employer=verified_luquan, district="130172", acting_user=officer_cangzhou)
    with pytest.raises(Exception, match="不是区县级"):
        employer_move(employer=verified_luquan, district="130100", acting_user=officer_luquan)
