"""/api/v1/surveys/: scope (404) on every endpoint, 403 for what the role may not do,
the submit → return → submit → approve → lock chain through the API, Chinese field
errors, filters, cursor pagination and the OpenAPI schema."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from accounts.choices import Role
from accounts.models import AuditEntry
from programs.choices import SurveyStatus
from programs.models import SurveyReport
from programs.surveys.fields import DATA_FIELDS
from programs.surveys.services import survey_approve, survey_create, survey_submit
from regions.models import Region
from tests.factories import make_programme, make_user

D = dt.date
URL = "/api/v1/surveys/"

GOOD = {
    "enterprises_surveyed": 120,
    "outside_workers": 900,
    "outside_other_province": 300,
    "outside_other_city": 400,
    "outside_other_county": 200,
    "staying": 500,
    "staying_on_duty": 100,
    "staying_local": 200,
    "staying_nonlocal": 300,
    "poverty_staying": 5,
    "enterprises_with_benefits": 10,
    "benefits_amount": "12000.50",
}


def api(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def officer_changan(db):
    # 石家庄长安区: another district of the same city as Luquan.
    return make_user("officer_changan", Role.DISTRICT, "130102", first_name="长安专员")


def report_for(programme, officer, as_of=D(2021, 1, 29), **changes):
    return survey_create(
        programme=programme,
        district=officer.region,
        as_of=as_of,
        data={**GOOD, **changes},
        acting_user=officer,
    )


@pytest.fixture
def reports(programme, officer_luquan, officer_changan, officer_cangzhou):
    """One draft in 鹿泉 and 长安 (石家庄) and in 运河 (沧州)."""
    return {
        "luquan": report_for(programme, officer_luquan),
        "changan": report_for(programme, officer_changan),
        "cangzhou": report_for(programme, officer_cangzhou),
    }


def ids(response) -> set:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def audit_actions(report) -> list:
    return list(
        AuditEntry.objects.filter(object_type="programs.surveyreport", object_id=str(report.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


# --- scope --------------------------------------------------------------------------------


def test_anonymous_is_refused(reports):
    client = api()
    assert client.get(URL).status_code in (401, 403)
    assert client.get(f"{URL}{reports['luquan'].pk}/").status_code in (401, 403)
    assert client.post(URL, {}, format="json").status_code in (401, 403)
    assert client.post(f"{URL}{reports['luquan'].pk}/submit/").status_code in (401, 403)


def test_list_shows_only_the_users_scope(
    reports, officer_luquan, officer_cangzhou, city_shijiazhuang, city_cangzhou, province_staff, agent_gree
):
    luquan, changan, cangzhou = reports["luquan"].pk, reports["changan"].pk, reports["cangzhou"].pk
    assert ids(api(officer_luquan).get(URL)) == {luquan}
    assert ids(api(officer_cangzhou).get(URL)) == {cangzhou}
    assert ids(api(city_shijiazhuang).get(URL)) == {luquan, changan}
    assert ids(api(city_cangzhou).get(URL)) == {cangzhou}
    assert ids(api(province_staff).get(URL)) == {luquan, changan, cangzhou}
    assert ids(api(agent_gree).get(URL)) == set()


def test_detail_outside_scope_is_404(
    reports, officer_luquan, officer_changan, city_shijiazhuang, city_cangzhou, agent_gree
):
    luquan = reports["luquan"]
    row = api(officer_luquan).get(f"{URL}{luquan.pk}/")
    assert row.status_code == 200
    body = row.json()
    assert body["district"] == "130110" and body["district_name"] == "鹿泉区"
    assert body["city"] == "130100" and body["programme"] == "T-2021"
    assert body["staying"] == 500 and body["benefits_amount"] == "12000.50"
    assert body["status"] == "draft" and body["created_by"] == "officer_luquan"
    assert api(city_shijiazhuang).get(f"{URL}{luquan.pk}/").status_code == 200
    assert api(officer_luquan).get(f"{URL}{reports['changan'].pk}/").status_code == 404  # same city, other district
    assert api(officer_luquan).get(f"{URL}{reports['cangzhou'].pk}/").status_code == 404
    for user in (officer_changan, city_cangzhou, agent_gree):
        assert api(user).get(f"{URL}{luquan.pk}/").status_code == 404
    missing = SurveyReport.objects.order_by("-pk").first().pk + 1
    assert api(officer_luquan).get(f"{URL}{missing}/").status_code == 404
    assert api(officer_luquan).get(f"{URL}abc/").status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("patch", "", {"staying": 400}),
        ("put", "", {"staying": 400}),
        ("post", "submit/", {}),
        ("post", "approve/", {}),
        ("post", "return/", {"reason": "数字不对"}),
        ("post", "lock/", {}),
    ],
)
def test_writes_outside_scope_are_404_and_change_nothing(
    reports, officer_changan, officer_cangzhou, city_cangzhou, agent_gree, method, suffix, body
):
    report = reports["luquan"]
    if suffix in ("approve/", "return/", "lock/"):
        # Put it where the action would be allowed for a reviewer in scope.
        report = survey_submit(report=report, acting_user=report.created_by)
        if suffix == "lock/":
            report = survey_approve(report=report, acting_user=make_user("city_sjz", Role.CITY, "130100"))
    before = (report.status, report.staying, report.updated_at, len(audit_actions(report)))
    for user in (officer_changan, officer_cangzhou, city_cangzhou, agent_gree):
        response = getattr(api(user), method)(f"{URL}{report.pk}/{suffix}", body, format="json")
        assert response.status_code == 404, (user.username, response.content)
    report.refresh_from_db()
    assert (report.status, report.staying, report.updated_at, len(audit_actions(report))) == before


def test_create_only_in_own_district(
    programme, officer_luquan, officer_cangzhou, city_shijiazhuang, agent_gree, superuser
):
    # Default district: the officer's own.
    created = api(officer_luquan).post(URL, {**GOOD, "programme": "T-2021", "as_of": "2021-01-29"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["district"] == "130110" and created.json()["status"] == "draft"
    report = SurveyReport.objects.get(pk=created.json()["id"])
    assert audit_actions(report) == ["survey_create"]

    # A district outside one's regions is unknown to the user.
    other = api(officer_luquan).post(
        URL, {**GOOD, "programme": "T-2021", "district": "130903", "as_of": "2021-02-05"}, format="json"
    )
    assert other.status_code == 400 and "不在您的管辖范围内" in other.json()["district"][0]

    # The city sees Luquan but does not enter its figures: 403 with the service's reason.
    city = api(city_shijiazhuang).post(
        URL, {**GOOD, "programme": "T-2021", "district": "130110", "as_of": "2021-02-05"}, format="json"
    )
    assert city.status_code == 403
    assert city.json() == {"detail": "只有鹿泉区的人社专员可以填报本区县的摸排报表。", "code": "forbidden"}

    # An employer agent has no district at all.
    agent = api(agent_gree).post(URL, {**GOOD, "programme": "T-2021", "as_of": "2021-02-05"}, format="json")
    assert agent.status_code == 400 and "district" in agent.json()
    agent = api(agent_gree).post(
        URL, {**GOOD, "programme": "T-2021", "district": "130110", "as_of": "2021-02-05"}, format="json"
    )
    assert agent.status_code == 400 and "district" in agent.json()

    # A programme of another city is not the officer's.
    make_programme("CZ-2021", name="沧州项目", region_id="130900")
    foreign = api(officer_luquan).post(URL, {**GOOD, "programme": "CZ-2021", "as_of": "2021-02-05"}, format="json")
    assert foreign.status_code == 400 and "项目不存在" in foreign.json()["programme"][0]
    assert (
        api(officer_cangzhou)
        .post(URL, {**GOOD, "programme": "CZ-2021", "as_of": "2021-02-05"}, format="json")
        .status_code
        == 201
    )
    assert SurveyReport.objects.count() == 2


# --- the chain ----------------------------------------------------------------------------


def test_submit_return_fix_approve_lock_through_the_api(programme, officer_luquan, city_shijiazhuang):
    officer, city = api(officer_luquan), api(city_shijiazhuang)
    pk = officer.post(URL, {**GOOD, "programme": "T-2021", "as_of": "2021-01-29"}, format="json").json()["id"]
    url = f"{URL}{pk}/"

    # A draft is edited: the figures not sent stay as they were.
    edited = officer.patch(url, {"staying": 600, "staying_nonlocal": 400}, format="json")
    assert edited.status_code == 200, edited.content
    assert edited.json()["staying"] == 600 and edited.json()["staying_nonlocal"] == 400
    assert edited.json()["outside_workers"] == 900 and edited.json()["benefits_amount"] == "12000.50"

    # The city cannot approve a draft: wrong state is 409.
    assert city.post(f"{url}approve/").status_code == 409

    submitted = officer.post(f"{url}submit/")
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
    assert submitted.json()["submitted_by"] == "officer_luquan"
    # Submitted: no more edits until it comes back.
    locked_out = officer.patch(url, {"staying": 700}, format="json")
    assert locked_out.status_code == 409 and "不能修改" in locked_out.json()["detail"]

    # A return needs a reason.
    no_reason = city.post(f"{url}return/", {"reason": "  "}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]
    assert city.post(f"{url}return/", {}, format="json").status_code == 400
    returned = city.post(f"{url}return/", {"reason": "外省人数与台账不符"}, format="json")
    assert returned.status_code == 200
    assert returned.json()["status"] == "returned" and returned.json()["return_reason"] == "外省人数与台账不符"
    assert returned.json()["returned_by"] == "city_shijiazhuang"

    fixed = officer.put(url, {"outside_other_province": 250}, format="json")
    assert fixed.status_code == 200 and fixed.json()["outside_other_province"] == 250
    assert officer.post(f"{url}submit/").json()["status"] == "submitted"
    approved = city.post(f"{url}approve/")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved" and approved.json()["approved_by"] == "city_shijiazhuang"
    assert officer.patch(url, {"staying": 700}, format="json").status_code == 409

    locked = city.post(f"{url}lock/")
    assert locked.status_code == 200 and locked.json()["status"] == "locked"
    assert city.post(f"{url}return/", {"reason": "晚了"}, format="json").status_code == 409

    report = SurveyReport.objects.get(pk=pk)
    assert report.status == SurveyStatus.LOCKED and report.outside_other_province == 250
    assert audit_actions(report) == [
        "survey_create",
        "survey_update",
        "survey_submit",
        "survey_return",
        "survey_update",
        "survey_submit",
        "survey_approve",
        "survey_lock",
    ]


def test_actions_the_role_may_not_do_are_403_in_chinese(reports, officer_luquan, city_shijiazhuang, province_staff):
    report = reports["luquan"]
    url = f"{URL}{report.pk}/"
    city, officer = api(city_shijiazhuang), api(officer_luquan)

    for response in (
        city.patch(url, {"staying": 400}, format="json"),
        city.put(url, {"staying": 400}, format="json"),
        city.post(f"{url}submit/"),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden" and "鹿泉区的人社专员" in response.json()["detail"]

    officer.post(f"{url}submit/")
    denied = officer.post(f"{url}approve/")
    assert denied.status_code == 403 and "市级" in denied.json()["detail"]
    denied = officer.post(f"{url}return/", {"reason": "自己退回"}, format="json")
    assert denied.status_code == 403 and "退回" in denied.json()["detail"]

    city.post(f"{url}approve/")
    denied = officer.post(f"{url}lock/")
    assert denied.status_code == 403 and "锁定" in denied.json()["detail"]

    report.refresh_from_db()
    assert report.status == SurveyStatus.APPROVED and report.staying == 500
    assert audit_actions(report) == ["survey_create", "survey_submit", "survey_approve"]
    # The province may step in anywhere in the province.
    assert api(province_staff).post(f"{url}lock/").status_code == 200


def test_submitter_cannot_approve_own_report(programme, superuser):
    # A superuser may both enter and review: the maker-checker rule still holds.
    luquan = Region.objects.get(code="130110")
    client = api(superuser)
    created = client.post(
        URL, {**GOOD, "programme": "T-2021", "district": "130110", "as_of": "2021-01-29"}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["district"] == luquan.code
    url = f"{URL}{created.json()['id']}/"
    assert client.post(f"{url}submit/").status_code == 200
    denied = client.post(f"{url}approve/")
    assert denied.status_code == 403 and "不能审核自己提交" in denied.json()["detail"]


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"staying": -1}, "staying", "不能为负数"),
        ({"benefits_amount": "-5"}, "benefits_amount", "不能为负数"),
        ({"outside_other_county": 201}, "outside_other_county", "超过了“外地务工人员”"),
        ({"staying_nonlocal": 301}, "staying_nonlocal", "分项之和不能大于总数"),
        ({"enterprises_with_benefits": 121}, "enterprises_with_benefits", "摸排企业数"),
        ({"as_of": "2021-04-01"}, "as_of", "不在项目期间"),
    ],
)
def test_business_rule_errors_name_the_field(programme, officer_luquan, changes, field, words):
    body = {**GOOD, "programme": "T-2021", "as_of": "2021-01-29", **changes}
    response = api(officer_luquan).post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert words in response.json()["errors"][field]
    assert "摸排报表有" in response.json()["detail"]
    assert not SurveyReport.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"staying": "abc"}, "staying", "“留岗（就地过年）人数”须为整数"),
        ({"staying": 1.5}, "staying", "须为整数"),
        ({"staying": 10**12}, "staying", "数值过大"),
        ({"benefits_amount": "1.234"}, "benefits_amount", "最多两位小数"),
        ({"benefits_amount": "abc"}, "benefits_amount", "须为金额"),
        ({"as_of": "29/01/2021"}, "as_of", "YYYY-MM-DD"),
        ({"as_of": None}, "as_of", None),
        ({"programme": None}, "programme", None),
    ],
)
def test_malformed_input_gets_chinese_field_errors(programme, officer_luquan, changes, field, words):
    body = {**GOOD, "programme": "T-2021", "as_of": "2021-01-29", **changes}
    body = {k: v for k, v in body.items() if v is not None}
    response = api(officer_luquan).post(URL, body, format="json")
    assert response.status_code == 400, response.content
    message = response.json()[field][0]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message
    if words:
        assert words in message
    assert not SurveyReport.objects.exists()


def test_update_validates_like_create(reports, officer_luquan):
    url = f"{URL}{reports['luquan'].pk}/"
    bad = api(officer_luquan).patch(url, {"staying_on_duty": 501}, format="json")
    assert bad.status_code == 400 and "staying_on_duty" in bad.json()["errors"]
    bad = api(officer_luquan).patch(url, {"outside_workers": "很多"}, format="json")
    assert bad.status_code == 400 and "须为整数" in bad.json()["outside_workers"][0]
    reports["luquan"].refresh_from_db()
    assert reports["luquan"].staying_on_duty == 100 and reports["luquan"].outside_workers == 900


def test_one_report_per_period_is_409(reports, officer_luquan):
    again = api(officer_luquan).post(URL, {**GOOD, "programme": "T-2021", "as_of": "2021-01-27"}, format="json")
    assert again.status_code == 409 and "本期" in again.json()["detail"]


def test_a_jump_needs_confirm_jump(reports, officer_luquan, settings):
    settings.SURVEY_JUMP_FACTOR = 2
    body = {**GOOD, "programme": "T-2021", "as_of": "2021-02-05", "staying": 1001}
    asked = api(officer_luquan).post(URL, body, format="json")
    assert asked.status_code == 400 and asked.json()["code"] == "confirm_jump"
    assert "变化超过 2 倍" in asked.json()["errors"]["staying"]
    confirmed = api(officer_luquan).post(URL, {**body, "confirm_jump": True}, format="json")
    assert confirmed.status_code == 201 and confirmed.json()["jump_confirmed"] is True


# --- filters and pagination -----------------------------------------------------------------


def test_filters_by_programme_region_and_status(reports, programme, city_shijiazhuang, province_staff):
    luquan, changan, cangzhou = reports["luquan"].pk, reports["changan"].pk, reports["cangzhou"].pk
    survey_submit(report=reports["changan"], acting_user=reports["changan"].created_by)
    province = api(province_staff)
    assert ids(province.get(URL, {"region": "130100"})) == {luquan, changan}
    assert ids(province.get(URL, {"region": "130110"})) == {luquan}
    assert ids(province.get(URL, {"region": "130900"})) == {cangzhou}
    assert ids(province.get(URL, {"region": "999999"})) == set()
    assert ids(province.get(URL, {"status": "submitted"})) == {changan}
    assert ids(province.get(URL, {"status": "draft", "region": "130100"})) == {luquan}
    assert ids(province.get(URL, {"programme": "T-2021"})) == {luquan, changan, cangzhou}
    assert ids(province.get(URL, {"programme": "NONE"})) == set()
    # A filter never widens the scope.
    assert ids(api(city_shijiazhuang).get(URL, {"region": "130900"})) == set()
    bad = province.get(URL, {"status": "nonsense"})
    assert bad.status_code == 400
    assert any("\u4e00" <= ch <= "\u9fff" for ch in bad.json()["status"][0])


def test_cursor_pagination_walks_every_report_once(programme, officer_luquan, city_shijiazhuang):
    # Seven weekly reports of one district (one per period).
    made = set()
    for week in range(7):
        made.add(report_for(programme, officer_luquan, as_of=D(2021, 1, 29) + dt.timedelta(weeks=week)).pk)
    client = api(city_shijiazhuang)
    first = client.get(URL, {"page_size": 3})
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"next", "previous", "results"}  # cursor pages: no count
    assert body["previous"] is None and "cursor=" in body["next"]
    seen, pages = [], 0
    while True:
        pages += 1
        seen += [row["id"] for row in body["results"]]
        if not body["next"]:
            break
        body = client.get(body["next"]).json()
    assert pages == 3 and len(seen) == 7 and set(seen) == made
    assert seen == sorted(seen, reverse=True)  # newest first
    assert body["previous"] is not None


def test_list_is_one_query_whatever_its_length(programme, officer_luquan, django_assert_num_queries):
    for week in range(5):
        report_for(programme, officer_luquan, as_of=D(2021, 1, 29) + dt.timedelta(weeks=week))
    client = api(officer_luquan)
    with django_assert_num_queries(1):
        assert len(client.get(URL).json()["results"]) == 5


# --- schema -------------------------------------------------------------------------------


def test_openapi_schema_has_the_survey_api_without_warnings(db):
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    GENERATOR_STATS.reset()
    GENERATOR_STATS.enable_trace_lineno()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    problems = [m for m in [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache] if "urvey" in m]
    GENERATOR_STATS.reset()
    assert problems == []
    validate_schema(schema)

    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/surveys/"])
    assert {"get", "put", "patch"} <= set(paths["/api/v1/surveys/{id}/"])
    for name in ("submit", "approve", "return", "lock"):
        assert "post" in paths[f"/api/v1/surveys/{{id}}/{name}/"]
    params = {p["name"] for p in paths["/api/v1/surveys/"]["get"]["parameters"]}
    assert {"cursor", "page_size", "programme", "region", "status"} <= params
    detail_id = paths["/api/v1/surveys/{id}/"]["get"]["parameters"][0]
    assert detail_id["name"] == "id" and detail_id["schema"]["type"] == "integer"
    components = schema["components"]["schemas"]
    assert set(DATA_FIELDS) <= set(components["SurveyRow"]["properties"])
    assert {"programme", "as_of", "confirm_jump"} <= set(components["SurveyCreate"]["properties"])
    assert "reason" in components["SurveyReturn"]["properties"]


def test_submit_asks_to_confirm_a_jump_from_an_earlier_report(programme, officer_luquan, settings):
    settings.SURVEY_JUMP_FACTOR = 2
    # The later report is entered first (no previous one then); the earlier one arrives after.
    later = report_for(programme, officer_luquan, as_of=D(2021, 2, 5), staying=1001, staying_on_duty=0)
    report_for(programme, officer_luquan, as_of=D(2021, 1, 29))
    url = f"{URL}{later.pk}/submit/"
    asked = api(officer_luquan).post(url, {}, format="json")
    assert asked.status_code == 400 and asked.json()["code"] == "confirm_jump"
    assert "staying" in asked.json()["errors"]
    later.refresh_from_db()
    assert later.status == SurveyStatus.DRAFT
    confirmed = api(officer_luquan).post(url, {"confirm_jump": True}, format="json")
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "submitted" and confirmed.json()["jump_confirmed"] is True
