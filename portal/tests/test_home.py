"""The home page shows each role what it has to do next, counted within its scope."""

import pytest

from beneficiaries.choices import EmployerStatus, Ownership
from beneficiaries.models import Employer
from beneficiaries.uscc import make_uscc
from regions.models import Region

pytestmark = pytest.mark.django_db


def test_district_officer_sees_pending_employers_of_own_district_only(client, officer_luquan):
    for i, district in enumerate(["130110", "130110", "130903"]):
        Employer.objects.create(
            credit_code=make_uscc("91", district, f"{i:08d}"),
            name=f"企业{i}",
            ownership=Ownership.PRIVATE,
            district=Region.objects.get(code=district),
            status=EmployerStatus.PENDING,
        )
    client.force_login(officer_luquan)
    response = client.get("/")
    todos = {str(t.label): t.count for t in response.context["todos"]}
    assert todos["待核实的用人单位"] == 2  # 沧州's pending employer is not counted
    assert "待核实的用人单位" in response.content.decode()


def test_province_sees_batches_to_approve(client, province_staff):
    client.force_login(province_staff)
    todos = {str(t.label): t.count for t in client.get("/").context["todos"]}
    assert todos == {"待审批的发放批次": 0}
