""" "数据更新于" stays true: the time is the shown region's last refresh, and a change not
yet in the figures is said beside it (page and API), until the catch-up has run."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import formats, timezone

from disbursements.models import RegionRollup
from disbursements.services.freshness import rollups_catch_up
from disbursements.services.rollups import rollups_mark, rollups_refresh
from programs.demo import demo_programme
from tests.factories import reg

pytestmark = pytest.mark.django_db
PENDING = "有新的变更尚未计入"


def _page(client, user, region):
    client.force_login(user)
    r = client.get(reverse("dashboard"), {"programme": demo_programme().code, "region": region})
    assert r.status_code == 200
    return r.content.decode()


def _api(client, user, region):
    client.force_login(user)
    r = client.get(reverse("api-dashboard"), {"programme": demo_programme().code, "region": region})
    assert r.status_code == 200
    return r.json()


def test_the_as_of_time_is_the_regions_last_refresh_and_a_pending_change_is_said(client, province_staff):
    p = demo_programme()
    reg(p, "130110", "410102")
    rollups_refresh(programme=p)
    at = RegionRollup.objects.get(programme=p, region_id="130100").refreshed_at
    shown = formats.date_format(timezone.localtime(at), "Y-m-d H:i:s")
    html = _page(client, province_staff, "130100")
    assert f"数据更新于 {shown}" in html and PENDING not in html
    assert _api(client, province_staff, "130100")["refresh_pending"] is False

    # A change in 鹿泉 (石家庄): pending for 石家庄 and the province, not for 沧州.
    reg(p, "130110", "410102")
    rollups_mark(programme_ids=[p.pk], districts=["130110"])
    assert PENDING in _page(client, province_staff, "130100")
    assert _api(client, province_staff, "130000")["refresh_pending"] is True
    assert _api(client, province_staff, "130900")["refresh_pending"] is False
    body = _api(client, province_staff, "130100")
    assert body["registered_workers"] == 1  # the figures of the last refresh, as the time says
    assert body["updated_at"] == at.isoformat()

    # Caught up: the new time, the new figure, nothing pending.
    rollups_catch_up()
    body = _api(client, province_staff, "130100")
    assert body["refresh_pending"] is False and body["registered_workers"] == 2
    assert dt.datetime.fromisoformat(body["updated_at"]) > at
    assert PENDING not in _page(client, province_staff, "130100")


def test_a_whole_refresh_waiting_is_pending_too(client, province_staff):
    from accounts.choices import JobKind, JobState
    from accounts.models import Job

    p = demo_programme()
    rollups_refresh(programme=p)
    Job.objects.create(kind=JobKind.REFRESH_ROLLUPS, state=JobState.QUEUED, params={"programme_id": p.pk})
    assert _api(client, province_staff, "130900")["refresh_pending"] is True
