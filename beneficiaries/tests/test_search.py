"""Officers find a person in their scope: by full ID number (the blind index, also an old
15-digit number), by name (prefix or part), by bank-account tail, by employer name or
credit code, by whole mobile number; on the page (`?q=`) and on `/api/v1/workers/?q=`. Out of scope finds nothing."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from beneficiaries.selectors import registration_list
from tests.factories import make_id, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(agent_other, employer_luquan, employer_cangzhou, programme, officer_cangzhou):
    zhao = register(agent_other, employer_luquan, programme, id_number=make_id("130223", "19850314", 271))
    li = register(
        agent_other,
        employer_luquan,
        programme,
        id_number=make_id("410102", "19900101", 12),
        name="李建华",
        account="6217000010009876",
        phone="13803112345",
    )
    far = register(
        officer_cangzhou, employer_cangzhou, programme, id_number=make_id("130902", "19880808", 33), name="赵建民"
    )
    return {"zhao": zhao, "li": li, "far": far}


def _found(user, q):
    return {r.person.name for r in registration_list(user, q=q)}


def test_full_id_number_finds_the_person_by_the_blind_index(officer_luquan, people):
    number = make_id("130223", "19850314", 271)
    assert _found(officer_luquan, number) == {"赵建国"}
    assert _found(officer_luquan, number.lower()) == {"赵建国"}
    assert _found(officer_luquan, number[:-1]) == set()  # part of a number finds nobody


def test_old_15_digit_number_finds_the_same_person(officer_luquan, people):
    old = make_id("410102", "19900101", 12)
    fifteen = old[:6] + old[8:17]  # the pre-1999 form: 2-digit year, no check character
    assert _found(officer_luquan, fifteen) == {"李建华"}


def test_name_prefix_or_part_account_tail_and_employer(officer_luquan, people, employer_luquan):
    assert _found(officer_luquan, "赵") == {"赵建国"}  # the 沧州 赵建民 is out of scope
    assert _found(officer_luquan, "建") == {"赵建国", "李建华"}
    assert _found(officer_luquan, "9876") == {"李建华"}
    assert _found(officer_luquan, "冀通建材") == {"赵建国", "李建华"}
    assert _found(officer_luquan, employer_luquan.credit_code) == {"赵建国", "李建华"}
    assert _found(officer_luquan, "王") == set()


def test_an_all_digit_credit_code_is_not_taken_for_an_id_number(officer_luquan, people):
    from tests.factories import make_employer

    employer = make_employer("石家庄数字代码有限公司", "130110")
    while not employer.credit_code.isdigit():  # the check character is a digit about 3 times in 4
        employer = make_employer("石家庄数字代码有限公司", "130110")
    register(
        officer_luquan, employer, people["zhao"].programme, id_number=make_id("130102", "19920202", 55), name="钱数字"
    )
    assert _found(officer_luquan, employer.credit_code) == {"钱数字"}


def test_whole_mobile_number_finds_the_person_by_the_blind_index(officer_luquan, officer_cangzhou, people):
    assert _found(officer_luquan, "13803112345") == {"李建华"}
    assert _found(officer_luquan, "138 0311 2345") == {"李建华"}  # typed with spaces
    assert _found(officer_luquan, "1380311234") == set()  # part of a number finds nobody
    assert _found(officer_cangzhou, "13803112345") == set()  # out of scope


def test_out_of_scope_is_never_found(officer_cangzhou, officer_luquan, people):
    assert _found(officer_cangzhou, make_id("130223", "19850314", 271)) == set()
    assert _found(officer_cangzhou, "赵") == {"赵建民"}


def test_page_search_and_pager_range(client, officer_luquan, people):
    client.force_login(officer_luquan)
    response = client.get(reverse("beneficiaries:registration_list"), {"q": "建"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "赵建国" in html and "李建华" in html and "赵建民" not in html
    assert 'value="建"' in html and "第 1–2 条" in html
    empty = client.get(reverse("beneficiaries:registration_list"), {"q": "不存在的人"}).content.decode()
    assert "没有找到与“不存在的人”相符的人员" in empty


def test_api_q_filter(officer_luquan, people):
    api = APIClient()
    api.force_authenticate(officer_luquan)
    response = api.get("/api/v1/workers/", {"q": make_id("410102", "19900101", 12)})
    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == ["李建华"]
    response = api.get("/api/v1/workers/", {"q": "赵"})
    assert [row["name"] for row in response.json()["results"]] == ["赵建国"]


def test_registry_workers_is_the_same_search(client, officer_luquan, people):
    client.force_login(officer_luquan)
    response = client.get("/registry/workers/", {"q": "建"}, follow=True)
    assert response.redirect_chain[0][0].startswith("/registry/registrations/?q=")
    assert {r["person"]["name"] for r in response.context["page"]["rows"]} == {"赵建国", "李建华"}
