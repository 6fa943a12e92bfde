"""Corrections of what decides eligibility or money go through audited services, and
Django admin calls them (or shows the field read-only)."""

from decimal import Decimal

import pytest

from accounts.models import AuditEntry
from beneficiaries.models import Employer, Person, Registration
from beneficiaries.services.persons import person_correct
from core.errors import DomainError, PermissionDenied
from disbursements.models import Entitlement
from disbursements.services.entitlements import entitlements_compute
from programs.demo import demo_programme as programme
from tests.factories import reg

pytestmark = pytest.mark.django_db


def test_person_hukou_correction_is_audited_and_recomputes(officer_luquan, officer_cangzhou):
    p = programme()
    r = reg(p, "130110", "130110")  # a 鹿泉 hukou: not "outside 石家庄", nothing granted
    entitlements_compute(programme=p)
    assert not Entitlement.objects.filter(registration=r).exists()
    with pytest.raises(PermissionDenied):
        person_correct(person=r.person, acting_user=officer_cangzhou, hukou_code="410102")
    with pytest.raises(DomainError) as exc:
        person_correct(person=r.person, acting_user=officer_luquan, hukou_code="999999")
    assert "户籍地区代码" in exc.value.message
    person_correct(person=r.person, acting_user=officer_luquan, hukou_code="410102", comment="户口本核对")
    entry = AuditEntry.objects.get(action="person_correct")
    assert (entry.changes["hukou_code"], entry.user, entry.comment) == (
        ["130110", "410102"],
        officer_luquan,
        "户口本核对",
    )
    entitlements_compute(programme=p)
    assert Entitlement.objects.get(registration=r).amount == Decimal("500.00")


def test_admin_change_of_hukou_goes_through_the_service(client, superuser):
    p = programme()
    r = reg(p, "130110", "130110")
    client.force_login(superuser)
    person = r.person
    url = f"/admin/beneficiaries/person/{person.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"hukou_code": "410102", "phone": ""}, follow=True)
    assert response.status_code == 200
    person.refresh_from_db()
    assert person.hukou_code == "410102"
    assert AuditEntry.objects.filter(action="person_correct", object_id=str(person.pk)).get().changes["hukou_code"] == [
        "130110",
        "410102",
    ]
    # A bad code is refused with a Chinese message, nothing changes.
    response = client.post(url, {"hukou_code": "999999", "phone": ""}, follow=True)
    assert "户籍地区代码" in response.content.decode()
    person.refresh_from_db()
    assert person.hukou_code == "410102"
    assert client.post(f"/admin/beneficiaries/person/{person.pk}/delete/").status_code == 403


def test_admin_registration_and_employer_changes_are_audited(client, superuser):
    p = programme()
    r = reg(p, "130110", "410102")
    client.force_login(superuser)
    url = f"/admin/beneficiaries/registration/{r.pk}/change/"
    response = client.post(
        url,
        {
            "start_date": "2021-01-25",
            "end_date": "2021-03-01",
            "duty_days": "5",
            "seniority_years": "0",
            "category": "hardship",
            "bank_name": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    r.refresh_from_db()
    assert (r.duty_days, r.category) == (5, "hardship")
    changes = AuditEntry.objects.get(action="registration_update", object_id=str(r.pk)).changes
    assert changes["duty_days"] == ["0", "5"] and changes["category"] == ["migrant", "hardship"]

    employer = r.employer
    url = f"/admin/beneficiaries/employer/{employer.pk}/change/"
    data = {
        "name": employer.name,
        "ownership": "state",
        "district": "130110",
        "industry": "",
        "address": "",
        "contact_name": "",
        "contact_phone": "",
    }
    client.post(url, data, follow=True)
    employer.refresh_from_db()
    assert employer.ownership == "state"
    entry = AuditEntry.objects.get(action="employer_update", object_id=str(employer.pk))
    assert entry.changes["ownership"] == ["private", "state"]
    # Verification is not editable here (only the district officer's service verifies).
    client.post(url, {**data, "status": "pending"}, follow=True)
    assert Employer.objects.get(pk=employer.pk).status == "verified"
    assert Person.objects.count() == Registration.objects.count() == 1
