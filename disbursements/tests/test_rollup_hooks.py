"""The dashboards follow the money: building batches and importing bank results
refresh the rollups once the work commits (not only when beat comes round)."""

import pytest

from disbursements.models import RegionRollup
from disbursements.services.batches import batches_build
from tests.factories import make_entitlements, make_programme, make_rule

pytestmark = pytest.mark.django_db


def test_building_batches_refreshes_the_batched_figures(officer_luquan, django_capture_on_commit_callbacks):
    programme = make_programme("HB-HOOK")
    rule = make_rule(programme)
    make_entitlements(programme, rule, 3, district="130110")
    with django_capture_on_commit_callbacks(execute=True):
        built = batches_build(programme=programme, acting_user=officer_luquan)
    assert built
    row = RegionRollup.objects.get(programme=programme, region_id="130110")
    assert row.batched_count == 3
    assert RegionRollup.objects.get(programme=programme, region_id="130000").batched_count == 3
