"""Pages: scope (404 outside), masks, escaping, the verify/return and conflict workflows."""

import pytest
from django.urls import reverse

from accounts.models import AuditEntry
from beneficiaries.models import Employer, Registration
from beneficiaries.uscc import make_uscc
from tests.factories import make_employer, make_id, register

NUMBER = make_id("130223", "19850314", 271)


@pytest.fixture
def reg_luquan(agent_other, employer_luquan, programme):
    return register(agent_other, employer_luquan, programme, NUMBER)


def login(client, user):
    client.force_login(user)
    return client


def test_officer_sees_own_district_not_cangzhou(client, officer_luquan, employer_luquan, employer_cangzhou):
    login(client, officer_luquan)
    html = client.get(reverse("beneficiaries:employer_list")).content.decode()
    assert employer_luquan.name in html
    assert employer_cangzhou.name not in html
    assert client.get(reverse("beneficiaries:employer_detail", args=[employer_cangzhou.pk])).status_code == 404
    assert client.get(reverse("beneficiaries:employer_detail", args=[employer_luquan.pk])).status_code == 200


def test_agent_sees_only_its_employer(client, agent_gree, employer_gree, employer_luquan, reg_luquan):
    login(client, agent_gree)
    html = client.get(reverse("beneficiaries:employer_list")).content.decode()
    assert employer_gree.name in html and employer_luquan.name not in html
    assert client.get(reverse("beneficiaries:employer_detail", args=[employer_luquan.pk])).status_code == 404
    assert client.get(reverse("beneficiaries:registration_detail", args=[reg_luquan.pk])).status_code == 404
    html = client.get(reverse("beneficiaries:registration_list")).content.decode()
    assert reg_luquan.person.name not in html


def test_city_sees_its_districts(client, city_shijiazhuang, city_cangzhou, employer_luquan, employer_gree, reg_luquan):
    login(client, city_shijiazhuang)
    html = client.get(reverse("beneficiaries:employer_list")).content.decode()
    assert employer_luquan.name in html and employer_gree.name in html
    login(client, city_cangzhou)
    assert client.get(reverse("beneficiaries:registration_detail", args=[reg_luquan.pk])).status_code == 404


def test_agent_cannot_verify(client, agent_other, employer_luquan):
    Employer.objects.filter(pk=employer_luquan.pk).update(status="pending")
    login(client, agent_other)
    response = client.post(reverse("beneficiaries:employer_verify", args=[employer_luquan.pk]), follow=True)
    page = response.content.decode()
    assert "只有单位所在区县的人社专员" in page and "已审核通过：" not in page
    employer_luquan.refresh_from_db()
    assert employer_luquan.status == "pending"


def test_other_district_officer_gets_404_on_verify(client, officer_cangzhou, employer_luquan):
    login(client, officer_cangzhou)
    assert client.post(reverse("beneficiaries:employer_verify", args=[employer_luquan.pk])).status_code == 404


def test_verify_and_return_workflow(client, officer_luquan, agent_other):
    employer = make_employer("鹿泉待审厂", "130110", agents=[agent_other], status="pending")
    login(client, officer_luquan)
    list_html = client.get(reverse("beneficiaries:employer_list") + "?status=pending").content.decode()
    assert "审核通过" in list_html and "鹿泉待审厂" in list_html
    response = client.post(reverse("beneficiaries:employer_return", args=[employer.pk]), {"reason": ""}, follow=True)
    assert "必须填写原因" in response.content.decode()
    client.post(reverse("beneficiaries:employer_return", args=[employer.pk]), {"reason": "信用代码与执照不符"})
    employer.refresh_from_db()
    assert employer.status == "returned"
    login(client, agent_other)
    html = client.get(reverse("beneficiaries:employer_list")).content.decode()
    assert "信用代码与执照不符" in html
    login(client, officer_luquan)
    page = client.post(reverse("beneficiaries:employer_verify", args=[employer.pk]), follow=True).content.decode()
    assert "已审核通过：鹿泉待审厂" in page  # the next page says what happened
    employer.refresh_from_db()
    assert employer.status == "verified" and employer.verified_by == officer_luquan


def test_agent_registers_an_employer(client, agent_gree):
    login(client, agent_gree)
    url = reverse("beneficiaries:employer_register")
    assert client.get(url).status_code == 200
    code = make_uscc("91", "130171", "77700001")
    bad = client.post(
        url,
        {
            "credit_code": code[:17] + ("1" if code[17] != "1" else "2"),
            "name": "x",
            "ownership": "private",
            "district": "130171",
            "contact_name": "王",
            "contact_phone": "13800000000",
        },
    )
    assert "校验位不正确" in bad.content.decode()
    response = client.post(
        url,
        {
            "credit_code": code.lower(),
            "name": "高新区新厂",
            "ownership": "private",
            "district": "130171",
            "contact_name": "王",
            "contact_phone": "13800000000",
        },
    )
    employer = Employer.objects.get(credit_code=code)
    assert response.status_code == 302
    assert employer.status == "pending" and agent_gree in employer.agents.all()


def test_officer_cannot_use_the_agent_signup(client, officer_luquan):
    login(client, officer_luquan)
    assert client.get(reverse("beneficiaries:employer_register")).status_code == 302


def test_lists_show_masks_only(client, officer_luquan, agent_other, reg_luquan):
    for user in (officer_luquan, agent_other):
        login(client, user)
        html = client.get(reverse("beneficiaries:registration_list")).content.decode()
        assert reg_luquan.person.id_masked in html
        assert NUMBER not in html and "6228480012345678901" not in html
        detail = client.get(reverse("beneficiaries:registration_detail", args=[reg_luquan.pk])).content.decode()
        assert NUMBER not in detail and "6228 **** **** 8901" in detail


def test_reveal_shows_full_number_and_is_audited(client, officer_luquan, reg_luquan):
    login(client, officer_luquan)
    detail = client.get(reverse("beneficiaries:registration_detail", args=[reg_luquan.pk])).content.decode()
    assert "显示完整号码" in detail
    response = client.post(reverse("beneficiaries:registration_reveal", args=[reg_luquan.pk]))
    html = response.content.decode()
    assert NUMBER in html and "6228480012345678901" in html
    assert response["Cache-Control"] == "no-store"
    assert AuditEntry.objects.filter(action="reveal", user=officer_luquan, object_id=str(reg_luquan.pk)).count() == 2
    assert client.get(reverse("beneficiaries:registration_reveal", args=[reg_luquan.pk])).status_code == 405


def test_reveal_refused_without_can_view_pii(client, agent_other, city_shijiazhuang, officer_cangzhou, reg_luquan):
    login(client, city_shijiazhuang)
    detail = client.get(reverse("beneficiaries:registration_detail", args=[reg_luquan.pk])).content.decode()
    assert "显示完整号码" not in detail
    response = client.post(reverse("beneficiaries:registration_reveal", args=[reg_luquan.pk]), follow=True)
    assert NUMBER not in response.content.decode() and "没有查看" in response.content.decode()
    login(client, officer_cangzhou)  # may view PII, but not this district's
    assert client.post(reverse("beneficiaries:registration_reveal", args=[reg_luquan.pk])).status_code == 404
    assert not AuditEntry.objects.filter(action="reveal").exists()


def test_html_in_names_is_escaped(client, officer_luquan, agent_other, programme):
    employer = make_employer("<script>alert(1)</script>厂", "130110", agents=[agent_other])
    register(agent_other, employer, programme, make_id("410102", "19900708", 382), name="<b>张三</b>")
    login(client, officer_luquan)
    for url in (
        reverse("beneficiaries:employer_list"),
        reverse("beneficiaries:registration_list"),
        reverse("beneficiaries:employer_detail", args=[employer.pk]),
    ):
        html = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in html and "<b>张三</b>" not in html
        assert "&lt;script&gt;" in html or "&lt;b&gt;" in html


def test_registration_create_form(client, agent_other, employer_luquan, programme):
    login(client, agent_other)
    url = reverse("beneficiaries:registration_create")
    assert client.get(url).status_code == 200
    data = {
        "programme": programme.pk,
        "employer": employer_luquan.pk,
        "id_number": "1.30108E+17",
        "name": "李四",
        "phone": "13900000000",
        "start_date": "2021-01-25",
        "end_date": "2021-03-01",
        "duty_days": 7,
        "seniority_years": 2,
        "category": "migrant",
        "bank_name": "",
        "account": "",
    }
    html = client.post(url, data).content.decode()
    assert "科学计数法" in html
    data["id_number"] = make_id("410102", "19900708", 383)
    response = client.post(url, data)
    reg = Registration.objects.get(person__name="李四")
    assert response.status_code == 302 and reg.employer == employer_luquan and reg.source == "form"


def test_registration_create_refuses_foreign_employer(client, agent_gree, employer_luquan, programme):
    login(client, agent_gree)
    data = {
        "programme": programme.pk,
        "employer": employer_luquan.pk,
        "id_number": make_id("410102", "19900708", 1),
        "name": "李四",
        "phone": "13900000000",
        "start_date": "2021-01-25",
        "end_date": "2021-03-01",
        "duty_days": 0,
        "seniority_years": 0,
        "category": "migrant",
    }
    html = client.post(reverse("beneficiaries:registration_create"), data).content.decode()
    assert not Registration.objects.exists()
    assert "选择一个有效的选项" in html or "Select a valid choice" in html


def test_conflict_is_highlighted_and_resolved_by_officer(client, officer_luquan, agent_other, programme):
    one = make_employer("鹿泉甲厂", "130110", agents=[agent_other])
    two = make_employer("鹿泉乙厂", "130110", agents=[agent_other])
    a = register(agent_other, one, programme, NUMBER)
    b = register(agent_other, two, programme, NUMBER)
    login(client, officer_luquan)
    html = client.get(reverse("beneficiaries:registration_list") + "?status=conflict").content.decode()
    assert "table-warning" in html and "处理" in html
    detail = client.get(reverse("beneficiaries:registration_detail", args=[b.pk])).content.decode()
    assert "保留此单位的登记" in detail
    client.post(reverse("beneficiaries:registration_resolve", args=[b.pk]), {"keep": b.pk, "note": "核实在乙厂"})
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == ("rejected", "active")


def test_agent_cannot_resolve(client, agent_other, programme):
    one = make_employer("鹿泉甲厂", "130110", agents=[agent_other])
    two = make_employer("鹿泉乙厂", "130110", agents=[agent_other])
    register(agent_other, one, programme, NUMBER)
    b = register(agent_other, two, programme, NUMBER)
    login(client, agent_other)
    client.post(reverse("beneficiaries:registration_resolve", args=[b.pk]), {"keep": b.pk, "note": "x"})
    b.refresh_from_db()
    assert b.status == "conflict"


def test_list_query_count_is_constant(client, django_assert_max_num_queries, officer_luquan, agent_other, programme):
    employer = make_employer("鹿泉丙厂", "130110", agents=[agent_other])
    for i in range(30):
        register(agent_other, employer, programme, make_id("410102", "19900708", 100 + i))
    login(client, officer_luquan)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("beneficiaries:registration_list")).status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(reverse("beneficiaries:employer_list")).status_code == 200


def test_registration_list_pages_by_cursor_newest_first_without_gaps_or_repeats(
    client, officer_luquan, agent_other, programme, settings
):
    import re

    employer = make_employer("鹿泉翻页厂", "130110", agents=[agent_other])
    ids = [register(agent_other, employer, programme, make_id("410102", "19900708", 300 + i)).pk for i in range(55)]
    login(client, officer_luquan)
    url = reverse("beneficiaries:registration_list")

    def shown(html):
        return [int(x) for x in re.findall(r'href="/registry/registrations/(\d+)/"', html)]

    first = client.get(url + "?status=active").content.decode()
    assert shown(first) == sorted(ids, reverse=True)[:50]
    assert "上一页" not in first
    next_query = re.search(r'href="\?([^"]*after=\d+[^"]*)"', first).group(1).replace("&amp;", "&")
    assert "status=active" in next_query  # the filters travel with the cursor
    second = client.get(url + "?" + next_query).content.decode()
    assert shown(second) == sorted(ids, reverse=True)[50:]
    assert "下一页" not in second
    # Back from the second page gives the first page again, and a link to the very first page.
    prev_query = re.search(r'href="\?([^"]*before=\d+[^"]*)"', second).group(1).replace("&amp;", "&")
    assert shown(client.get(url + "?" + prev_query).content.decode()) == shown(first)
    # A cursor that is not a number is the first page, not an error.
    assert shown(client.get(url + "?after=x").content.decode()) == shown(first)


def test_agent_edits_a_returned_employer_and_resubmits(client, agent_other, agent_gree, officer_luquan):
    employer = make_employer("鹿泉退回厂", "130110", agents=[agent_other], status="returned", return_reason="地址不详")
    login(client, agent_gree)
    assert client.get(reverse("beneficiaries:employer_edit", args=[employer.pk])).status_code == 404
    login(client, agent_other)
    url = reverse("beneficiaries:employer_edit", args=[employer.pk])
    assert "地址不详" in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "name": employer.name,
            "ownership": "private",
            "district": "130110",
            "contact_name": "王",
            "contact_phone": "13800000000",
            "address": "鹿泉区铜冶镇1号",
        },
    )
    assert response.status_code == 302
    employer.refresh_from_db()
    assert employer.status == "pending" and employer.address == "鹿泉区铜冶镇1号"
