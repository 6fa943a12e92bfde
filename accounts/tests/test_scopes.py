"""Scope: every read starts from the user's scope, and out of scope answers 404."""

import pytest
from django.urls import reverse

from accounts.choices import Role
from accounts.scopes import scope_q
from accounts.services.jobs import job_create
from beneficiaries.choices import Ownership
from beneficiaries.models import Employer
from beneficiaries.uscc import make_uscc
from regions.models import Region
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def employer(name: str, district: str, *agents) -> Employer:
    e = Employer.objects.create(
        credit_code=make_uscc("91", district, f"{abs(hash(name)) % 10**8:08d}"),
        name=name,
        ownership=Ownership.PRIVATE,
        district=Region.objects.get(code=district),
    )
    e.agents.add(*agents)
    return e


def test_district_officer_sees_only_own_district(officer_luquan, officer_cangzhou):
    luquan = employer("鹿泉甲企业", "130110")
    cangzhou = employer("沧州乙企业", "130903")
    assert list(Employer.objects.for_user(officer_luquan)) == [luquan]
    assert list(Employer.objects.for_user(officer_cangzhou)) == [cangzhou]


def test_city_and_province_see_their_subtree(city_shijiazhuang, province_staff):
    luquan = employer("鹿泉甲企业", "130110")
    zone = employer("循环化工园区企业", "130172")
    cangzhou = employer("沧州乙企业", "130903")
    assert set(Employer.objects.for_user(city_shijiazhuang)) == {luquan, zone}
    assert set(Employer.objects.for_user(province_staff)) == {luquan, zone, cangzhou}


def test_employer_agent_sees_only_its_employer(agent_gree, agent_other):
    gree = employer("格力", "130171", agent_gree)
    employer("他企", "130171", agent_other)
    assert list(Employer.objects.for_user(agent_gree)) == [gree]


def test_anonymous_and_roleless_users_see_nothing(db):
    from django.contrib.auth.models import AnonymousUser

    employer("鹿泉甲企业", "130110")
    assert not Employer.objects.filter(scope_q(AnonymousUser(), region="district")).exists()
    agent = make_user("lonely", Role.EMPLOYER)
    assert not Employer.objects.for_user(agent).exists()


def test_direct_report_district_is_not_in_its_official_city(db):
    """辛集 reports to the province: 石家庄's city staff do not see it."""
    city = make_user("sjz", Role.CITY, "130100")
    xinji = employer("辛集企业", "130181")
    assert xinji not in Employer.objects.for_user(city)


def test_out_of_scope_job_status_is_404(client, officer_luquan, officer_cangzhou):
    job = job_create(kind="demo", requested_by=officer_cangzhou)
    client.force_login(officer_luquan)
    assert client.get(reverse("accounts:job_status", args=[job.pk])).status_code == 404
    assert client.get(f"/api/v1/jobs/{job.pk}/").status_code == 404
    client.force_login(officer_cangzhou)
    assert client.get(reverse("accounts:job_status", args=[job.pk])).json()["state"] == "queued"


def test_regions_api_lists_own_subtree(client, officer_luquan, city_shijiazhuang, province_staff):
    client.force_login(city_shijiazhuang)
    codes = {r["code"] for r in client.get("/api/v1/regions/").json()}
    assert "130110" in codes and "130172" in codes and "130903" not in codes and "130000" not in codes
    client.force_login(province_staff)
    assert len(client.get("/api/v1/regions/").json()) > 190
    client.force_login(officer_luquan)
    assert client.get("/api/v1/regions/130903/").status_code == 404
    assert client.get("/api/v1/regions/130110/").json()["name"] == "鹿泉区"


def test_menu_follows_role_and_language_whatever_was_rendered_before(client, officer_luquan, province_staff):
    """The menu's labels and HTML are kept per process (accounts/context_processors.py): by role,
    language and highlighted entry. A page never gets another role's menu or another language's."""
    from django.urls import reverse

    def menu(user, language=None):
        client.force_login(user)
        if language:
            client.cookies["django_language"] = language
        else:
            client.cookies.pop("django_language", None)
        page = client.get(reverse("beneficiaries:registration_list")).content.decode()
        return page[page.index('<ul class="navbar-nav me-auto">') : page.index("</ul>")]

    for _ in range(2):  # the second time from what the first one kept
        province, district = menu(province_staff), menu(officer_luquan)
        assert "用户管理" in province and "用户管理" not in district
        assert "留岗人员" in district and "Workers" not in district
        english = menu(officer_luquan, "en")
        assert "Workers" in english and "留岗人员" not in english and "Users" not in english
        assert "Users" in menu(province_staff, "en")
        assert english.count(' active"') == 1 and district.count(' active"') == 1
        assert f'<a class="nav-link active" href="{reverse("beneficiaries:registration_list")}">' in district
