"""Rule pages: list, detail, preview, create, edit → new version, activate, retire, and
the compute page with its Job; scope (out of scope is 404, write outside role refused)."""

from decimal import Decimal

import pytest

from accounts.choices import JobKind
from accounts.models import Job
from disbursements.services.entitlements import entitlements_compute
from programs.demo import demo_programme as programme
from programs.models import SubsidyRule
from tests.factories import reg

pytestmark = pytest.mark.django_db


def rule(key):
    return SubsidyRule.objects.get(rule_key=key, status="active")


def test_list_detail_preview_for_city_staff(client, city_shijiazhuang):
    p = programme()
    reg(p, "130110", "410102")
    reg(p, "130110", "130102")  # local: not counted
    client.force_login(city_shijiazhuang)
    page = client.get("/programmes/rules/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "鹿泉区留鹿过年补贴" in body and "沧州市暖心红包" not in body  # 沧州 is outside 石家庄
    assert client.get(f"/programmes/rules/{rule('LUQUAN-CASH').pk}/").status_code == 200
    assert client.get(f"/programmes/rules/{rule('CANGZHOU-RED').pk}/").status_code == 404
    preview = client.get(f"/programmes/rules/{rule('LUQUAN-CASH').pk}/preview/")
    assert preview.status_code == 200
    assert preview.context["preview"]["count"] == 1
    assert preview.context["preview"]["amount"] == Decimal("500.00")
    assert preview.context["preview"]["districts"][0]["district"] == "130110"


def test_district_officer_reads_but_cannot_edit(client, officer_luquan):
    programme()
    client.force_login(officer_luquan)
    r = rule("LUQUAN-CASH")
    assert client.get(f"/programmes/rules/{r.pk}/").status_code == 200
    assert client.get(f"/programmes/rules/{r.pk}/edit/").status_code == 404
    client.post(f"/programmes/rules/{r.pk}/retire/")
    r.refresh_from_db()
    assert r.status == "active"


def test_employer_agent_sees_no_rules(client, agent_gree):
    programme()
    client.force_login(agent_gree)
    # Not their page: the friendly Chinese 403 (never Django's debug page), whatever the id.
    assert client.get("/programmes/rules/").status_code == 403
    assert client.get(f"/programmes/rules/{rule('GREE-RED').pk}/").status_code == 403


def test_create_validate_activate_edit_new_version(client, city_cangzhou):
    p = programme()
    client.force_login(city_cangzhou)
    form = {
        "programme": p.code,
        "name": "运河区测试补贴",
        "region": "130903",
        "kind": "cash",
        "amount": "-5",
        "months": "1",
        "channel": "bank_card",
        "hukou_outside": "city",
        "employer_verified": "on",
        "priority": "100",
    }
    bad = client.post("/programmes/rules/new/", form)
    assert bad.status_code == 200 and bad.context["form"].errors.get("amount")
    form["amount"] = "300"
    form["valid_until"] = "2021-05-01"  # outside the programme
    bad = client.post("/programmes/rules/new/", form)
    assert "项目期间" in str(bad.context["form"].errors["valid_until"])
    form["valid_until"] = ""
    form["region"] = "130110"  # 鹿泉: not in 沧州's scope, not even offered
    assert client.post("/programmes/rules/new/", form).context["form"].errors.get("region")
    form["region"] = "130903"
    created = client.post("/programmes/rules/new/", form)
    assert created.status_code == 302
    new = SubsidyRule.objects.get(name="运河区测试补贴")
    assert new.status == "draft" and new.conditions["hukou_outside"] == "city"
    assert client.post(f"/programmes/rules/{new.pk}/activate/").status_code == 302
    new.refresh_from_db()
    assert new.status == "active"
    reg(p, "130903", "410102")
    entitlements_compute(programme=p)
    form["amount"] = "350"
    edited = client.post(f"/programmes/rules/{new.pk}/edit/", form)
    assert edited.status_code == 302
    v2 = SubsidyRule.objects.get(rule_key=new.rule_key, version=2)
    assert v2.amount == Decimal("350.00") and v2.status == "draft"
    new.refresh_from_db()
    assert new.amount == Decimal("300.00")


def test_compute_page_starts_a_job_with_progress_by_district(
    client, province_staff, django_capture_on_commit_callbacks
):
    p = programme()
    reg(p, "130110", "410102")
    reg(p, "130723", "130723", category="hardship")
    client.force_login(province_staff)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/payments/compute/{p.code}/").status_code == 302
    job = Job.objects.get(kind=JobKind.COMPUTE)
    assert job.state == "done"  # tasks run in-process in tests
    assert (job.progress_done, job.progress_total) == (2, 2)
    assert job.result["amount"] == "800.00" and set(job.result["districts"]) == {"130110", "130723"}
    page = client.get(f"/payments/compute/{p.code}/")
    assert page.context["totals"]["amount"] == Decimal("800.00")
    assert "康保县困难群众春节慰问金" in page.content.decode()


def test_compute_page_of_a_city_is_limited_to_the_city(client, city_cangzhou, django_capture_on_commit_callbacks):
    p = programme()
    reg(p, "130110", "410102")
    reg(p, "130903", "410102")
    client.force_login(city_cangzhou)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/payments/compute/{p.code}/")
    job = Job.objects.get(kind=JobKind.COMPUTE)
    assert list(job.result["districts"]) == ["130903"]


def test_rule_list_query_count_is_fixed(client, province_staff, django_assert_max_num_queries):
    programme()
    client.force_login(province_staff)
    with django_assert_max_num_queries(10):
        page = client.get("/programmes/rules/?programme=HEBEI-2021")
    assert page.status_code == 200 and len(page.context["rules"]) == 11


def _grouped(p, name, amount, *, cap=None, group="G"):
    from programs.services import rule_activate, rule_create
    from regions.models import Region

    r = rule_create(
        programme=p,
        data=dict(
            name=name,
            region=Region.objects.get(code="130104"),
            kind="cash",
            amount=Decimal(amount),
            budget_cap=Decimal(cap) if cap is not None else None,
            exclusivity_group=group,
            conditions={},
        ),
        system=True,
    )
    rule_activate(rule=r, system=True)
    return r


def _computed(rule):
    from disbursements.models import Entitlement

    got = Entitlement.objects.filter(rule=rule, status="granted")
    return got.count(), sum(got.values_list("amount", flat=True), Decimal("0.00"))


def test_preview_of_a_rule_in_a_group_is_what_the_computation_grants(client, city_shijiazhuang):
    import datetime as dt

    from programs.rules.preview import rule_preview
    from programs.services import rule_activate, rule_create
    from regions.models import Region

    p = programme()
    high = _grouped(p, "高", "900", cap="1800")  # two people; the others fall back
    low = _grouped(p, "低", "300")
    for i in range(5):
        reg(p, "130104", "410102", created_at=dt.datetime(2021, 1, 25, 8, 0, i, tzinfo=dt.UTC))
    # Before computing: the preview says what the computation will grant.
    previews = {r.pk: rule_preview(r) for r in (high, low)}
    entitlements_compute(programme=p)
    for r in (high, low):
        assert (previews[r.pk]["count"], previews[r.pk]["amount"]) == _computed(r)
    assert (previews[low.pk]["count"], previews[low.pk]["amount"]) == (3, Decimal("900.00"))  # not 5: an upper bound

    # A draft joining the group is previewed as if activated: those who fell back get it instead of 低.
    mid = rule_create(
        programme=p,
        data=dict(
            name="中",
            region=Region.objects.get(code="130104"),
            kind="cash",
            amount=Decimal("600"),
            exclusivity_group="G",
            conditions={},
        ),
        system=True,
    )
    client.force_login(city_shijiazhuang)
    page = client.get(f"/programmes/rules/{mid.pk}/preview/")
    assert page.status_code == 200
    assert (page.context["preview"]["count"], page.context["preview"]["amount"]) == (3, Decimal("1800.00"))
    body = page.content.decode()
    assert "互斥组“G”" in body and "按其次优一项计入" in body
    rule_activate(rule=mid, system=True)
    entitlements_compute(programme=p)
    assert _computed(mid) == (3, Decimal("1800.00"))
    assert _computed(low) == (0, Decimal("0.00"))
    assert rule_preview(low)["count"] == 0
