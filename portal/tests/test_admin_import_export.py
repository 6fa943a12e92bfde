"""The admin lists of the reference data and employers offer import (superusers) and
export, in CSV and XLSX only."""

import pytest
from django.urls import reverse

MODELS = ["regions_region", "programs_programme", "programs_subsidyrule", "beneficiaries_employer"]


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS)
def test_lists_offer_import_and_export(client, superuser, model):
    client.force_login(superuser)
    html = client.get(reverse(f"admin:{model}_changelist")).content.decode()
    assert reverse(f"admin:{model}_import") in html and reverse(f"admin:{model}_export") in html
    page = client.get(reverse(f"admin:{model}_import"))
    assert page.status_code == 200
    formats = [label for value, label in page.context["form"].fields["format"].choices if value != ""]
    assert formats == ["csv", "xlsx"]
