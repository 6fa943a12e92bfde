"""Dashboard panel, JSON API, page and XLSX export: numbers, scope (404), freshness."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from accounts.choices import Role
from disbursements.models import RegionRollup
from disbursements.services.rollups import rollups_refresh
from programs.models import SubsidyRule, SurveyReport
from tests.factories import make_programme, make_user

D = dt.date


@pytest.fixture
def programme(db):
    return make_programme("DASH-2021", name="看板测试项目", budget=Decimal("100000000.00"))


def kangbao_relief(programme, people=6608, amount="300.00"):
    """`people` hardship people of 康保 granted ¥300 each, written set-based like the engine does."""
    rule = SubsidyRule.objects.create(
        programme=programme,
        rule_key="kangbao_relief",
        name="康保县困难群众慰问金",
        region_id="130723",
        kind="relief",
        amount=Decimal(amount),
        status="active",
    )
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO beneficiaries_employer (credit_code, name, ownership, district_id, industry, address,
                contact_name, contact_phone, status, return_reason, created_at)
            VALUES ('91130723MA0000000X', '康保县民政代管', 'other', '130723', '', '', '', '', 'verified', '', now())
            RETURNING id""",
        )
        employer_id = cur.fetchone()[0]
        cur.execute(
            """
            INSERT INTO beneficiaries_person (id_hash, id_cipher, id_masked, name, sex, hukou_code_raw, hukou_code, phone_masked, created_at)
            SELECT 'kb' || g, 'x', '130723********' || lpad((g %% 10000)::text, 4, '0'), '康保' || g, '', '130723', '130723', '', now()
            FROM generate_series(1, %s) g""",
            [people],
        )
        cur.execute(
            """
            INSERT INTO beneficiaries_registration (person_id, programme_id, employer_id, district_id, start_date, end_date,
                duty_days, seniority_years, category, bank_name, account_cipher, account_masked, status, status_note,
                source, created_at, updated_at)
            SELECT p.id, %s, %s, '130723', '2021-02-01', '2021-02-28', 0, 0, 'hardship', '', '', '', 'active', '', 'demo', now(), now()
            FROM beneficiaries_person p WHERE p.id_hash LIKE 'kb%%'""",
            [programme.pk, employer_id],
        )
        cur.execute(
            """
            INSERT INTO disbursements_entitlement (programme_id, rule_id, rule_key, person_id, registration_id, district_id,
                channel, amount, status, reason, computed_at)
            SELECT r.programme_id, %s, 'kangbao_relief', r.person_id, r.id, r.district_id, 'bank_card', %s, 'granted', '{}', now()
            FROM beneficiaries_registration r WHERE r.programme_id = %s AND r.district_id = '130723'""",
            [rule.pk, Decimal(amount), programme.pk],
        )
    return rule


def approved(programme, district, as_of, **figures):
    return SurveyReport.objects.create(
        programme=programme, district_id=district, as_of=as_of, status="approved", **figures
    )


@pytest.fixture
def filled(programme):
    kangbao_relief(programme)
    approved(programme, "130802", D(2021, 1, 29), enterprises_surveyed=100, outside_workers=300, staying=200)
    approved(programme, "130802", D(2021, 3, 31), enterprises_surveyed=3000, outside_workers=6000, staying=3000)
    approved(programme, "130803", D(2021, 3, 31), enterprises_surveyed=1528, outside_workers=3672, staying=1384)
    approved(
        programme,
        "130702",
        D(2021, 3, 31),
        enterprises_surveyed=875,
        staying=31151,
        staying_local=30222,
        staying_nonlocal=929,
    )
    approved(
        programme,
        "130723",
        D(2021, 3, 31),
        enterprises_surveyed=1000,
        staying=40000,
        staying_local=30000,
        staying_nonlocal=10000,
    )
    approved(programme, "130110", D(2021, 2, 5), enterprises_surveyed=10, outside_workers=20, staying=10)
    rollups_refresh(programme=programme)
    return programme


def api(client, user, **params):
    client.force_login(user)
    return client.get(reverse("api-dashboard"), params)


def test_api_shows_the_figures_and_children_add_up(client, filled, province_staff):
    r = api(client, province_staff, programme="DASH-2021", region="130723")
    assert r.status_code == 200
    body = r.json()
    assert body["region"] == "130723"
    assert body["entitled"] == {"count": 6608, "amount": "1982400.00"}
    assert body["registered_workers"] == 6608
    assert body["paid"] == {"count": 0, "amount": "0.00"}
    assert body["updated_at"]

    zjk = api(client, province_staff, programme="DASH-2021", region="130700").json()
    assert zjk["survey"]["staying"] == 71151
    assert (zjk["survey"]["staying_local"], zjk["survey"]["staying_nonlocal"]) == (60222, 10929)
    assert zjk["survey"]["enterprises_surveyed"] == 1875 and zjk["survey"]["as_of"] == "2021-03-31"
    assert sum(c["survey"]["staying"] for c in zjk["children"]) == 71151
    assert zjk["by_rule"][0]["entitled"] == {"count": 6608, "amount": "1982400.00"}

    cd = api(client, province_staff, programme="DASH-2021", region="130800").json()
    assert (cd["survey"]["enterprises_surveyed"], cd["survey"]["outside_workers"], cd["survey"]["staying"]) == (
        4528,
        9672,
        4384,
    )

    prov = api(client, province_staff, programme="DASH-2021").json()
    assert prov["region"] == "130000"
    for key in ("registered_workers",):
        assert sum(c[key] for c in prov["children"]) == prov[key]
    assert sum(Decimal(c["entitled"]["amount"]) for c in prov["children"]) == Decimal(prov["entitled"]["amount"])
    assert sum(c["survey"]["staying"] for c in prov["children"]) == prov["survey"]["staying"] == 71151 + 4384 + 10
    assert prov["budget_use"]["entitled_percent"] == "1.98"
    assert [p["as_of"] for p in prov["trend"]] == ["2021-01-29", "2021-02-05", "2021-03-31"]
    assert prov["ranking"][0]["region"] == "130723"


def test_scope_city_district_and_others(client, filled, city_shijiazhuang, officer_luquan, agent_gree):
    assert api(client, city_shijiazhuang, programme="DASH-2021").json()["region"] == "130100"
    assert api(client, city_shijiazhuang, programme="DASH-2021", region="130110").status_code == 200
    assert api(client, city_shijiazhuang, programme="DASH-2021", region="130700").status_code == 404
    assert api(client, city_shijiazhuang, programme="DASH-2021", region="130000").status_code == 404
    assert api(client, city_shijiazhuang, programme="DASH-2021", region="999999").status_code == 404
    assert api(client, city_shijiazhuang, programme="NOPE").status_code == 404
    luquan = api(client, officer_luquan, programme="DASH-2021").json()
    assert luquan["region"] == "130110" and luquan["children"] == [] and luquan["survey"]["staying"] == 10
    assert api(client, officer_luquan, programme="DASH-2021", region="130100").status_code == 404
    assert api(client, agent_gree, programme="DASH-2021").status_code == 404
    client.logout()
    assert client.get(reverse("api-dashboard")).status_code in (401, 403)
    # The page answers the same way.
    client.force_login(city_shijiazhuang)
    assert client.get(reverse("dashboard"), {"region": "130700"}).status_code == 404
    client.force_login(agent_gree)
    assert client.get(reverse("dashboard")).status_code == 403  # not an employer's page


def test_the_scope_read_gives_none_out_of_scope_and_raises_nothing_http(filled, city_shijiazhuang, agent_gree):
    """dashboard_scope is a read: out of scope, unknown or outside the programme is None (the views say 404)."""
    from portal.dashboards import dashboard_scope

    programme, region = dashboard_scope(city_shijiazhuang, programme_code="DASH-2021", region_code="130110")
    assert (programme.code, region.code) == ("DASH-2021", "130110")
    for user, code, region_code in [
        (city_shijiazhuang, "DASH-2021", "130700"),  # another city
        (city_shijiazhuang, "DASH-2021", "130000"),  # above one's city
        (city_shijiazhuang, "DASH-2021", "999999"),  # no such region
        (city_shijiazhuang, "NOPE", None),  # no such programme
        (agent_gree, "DASH-2021", None),  # not a dashboard user
    ]:
        assert dashboard_scope(user, programme_code=code, region_code=region_code) is None


def test_page_shows_figures_freshness_and_chart_data(client, filled, province_staff):
    client.force_login(province_staff)
    r = client.get(reverse("dashboard"), {"programme": "DASH-2021", "region": "130700"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "数据更新于" in html
    assert "71,151" in html and "60,222" in html and "10,929" in html
    assert "1,982,400.00" in html
    assert 'id="chart-children"' in html and 'id="dashboard-data"' in html
    assert "vendor/echarts/echarts.min.js" in html
    assert "康保县" in html


def test_the_dashboard_reads_rollups_not_the_registrations(
    client, filled, province_staff, django_assert_max_num_queries
):
    client.force_login(province_staff)
    from django.utils import timezone

    RegionRollup.objects.filter(programme=filled, region_id="130723").update(
        registered_workers=1, refreshed_at=timezone.now()
    )
    r = client.get(reverse("api-dashboard"), {"programme": "DASH-2021", "region": "130723"})
    assert r.json()["registered_workers"] == 1  # the rollup, not a count of the 6,608 rows
    with django_assert_max_num_queries(16):
        client.get(reverse("api-dashboard"), {"programme": "DASH-2021"})


def test_a_programme_without_rollups_is_refreshed_on_first_view(client, programme, province_staff):
    approved(programme, "130802", D(2021, 3, 31), enterprises_surveyed=5)
    assert not RegionRollup.objects.exists()
    body = api(client, province_staff, programme="DASH-2021", region="130800").json()
    assert body["survey"]["enterprises_surveyed"] == 5 and body["updated_at"]


def test_overdue_list(client, programme, province_staff):
    approved(programme, "130802", D(2021, 3, 26), enterprises_surveyed=5)
    approved(programme, "130802", D(2021, 3, 31), enterprises_surveyed=5)
    approved(programme, "130803", D(2021, 3, 26), enterprises_surveyed=5)
    rollups_refresh(programme=programme)
    body = api(client, province_staff, programme="DASH-2021", region="130800").json()
    assert body["overdue"]["period"] == {"start": "2021-03-27", "end": "2021-03-31", "deadline": "2021-03-31"}
    assert [(r["district"], r["status"]) for r in body["overdue"]["rows"]] == [("130803", "未填报")]


def test_xlsx_export_every_table_and_formula_safe(client, filled, province_staff):
    from python_calamine import CalamineWorkbook

    SubsidyRule.objects.filter(rule_key="kangbao_relief").update(name='=HYPERLINK("http://x","y")')
    rollups_refresh(programme=filled)
    client.force_login(province_staff)
    r = client.get(reverse("dashboard_export"), {"programme": "DASH-2021", "region": "130700", "table": "all"})
    assert r.status_code == 200
    assert r["Content-Disposition"].startswith("attachment;")
    book = CalamineWorkbook.from_filelike(io.BytesIO(r.content))
    assert book.sheet_names == ["下级区域", "区县排名", "按规则", "摸排趋势", "逾期未报"]
    children = book.get_sheet_by_name("下级区域").to_python()
    assert children[1][:3] == ["区域代码", "区域", "摸排截止日期"]
    kangbao = next(row for row in children if row[0] == "130723")
    assert kangbao[12] == 1982400.0
    rules = book.get_sheet_by_name("按规则").to_python()
    assert rules[2][1] == '=HYPERLINK("http://x","y")'  # kept as text
    import zipfile

    sheet_xml = b"".join(
        zipfile.ZipFile(io.BytesIO(r.content)).read(n)
        for n in zipfile.ZipFile(io.BytesIO(r.content)).namelist()
        if n.startswith("xl/worksheets/")
    )
    assert b"<f>" not in sheet_xml  # no formula cells at all
    assert client.get(reverse("dashboard_export"), {"programme": "DASH-2021", "table": "nope"}).status_code == 404


def test_district_officer_sees_own_panel_only(client, filled):
    officer = make_user("officer_kangbao", Role.DISTRICT, "130723")
    body = api(client, officer, programme="DASH-2021").json()
    assert body["entitled"]["amount"] == "1982400.00" and body["ranking"] == []


def test_a_refresh_by_the_worker_warms_every_panel(filled, settings, django_assert_max_num_queries):
    from django.core.cache import cache
    from django.utils import timezone

    from accounts.choices import JobKind
    from accounts.services.jobs import job_create
    from disbursements.tasks import refresh_rollups_task
    from portal.dashboards import dashboard_panel
    from regions.models import Region

    settings.CELERY_TASK_ALWAYS_EAGER = False  # as in a real worker
    job = job_create(kind=JobKind.REFRESH_ROLLUPS, requested_by=None, params={"programme_id": filled.pk})
    refresh_rollups_task(job.pk)
    version = RegionRollup.objects.get(programme=filled, region_id="130700").refreshed_at
    key = f"dashboard:panel:{filled.pk}:130700:0:{timezone.localdate().isoformat()}:{version.isoformat()}"
    assert cache.get(key)["survey"]["staying"] == 71151
    kangbao = Region.objects.get(code="130723")
    with django_assert_max_num_queries(1):  # the version lookup; the rest comes from the cache
        assert dashboard_panel(programme=filled, region=kangbao)["entitled"]["amount"] == "1982400.00"
