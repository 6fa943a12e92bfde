"""Survey reports (摸排): validation, jump confirmation, the review chain, deadlines."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.choices import Role
from accounts.models import AuditEntry
from core.errors import ConflictError, DomainError, PermissionDenied
from programs.choices import SurveyStatus
from programs.models import SurveyReport
from programs.surveys.periods import Period, survey_overdue, survey_period_of, survey_periods
from programs.surveys.services import (
    survey_approve,
    survey_changed,
    survey_changes_batched,
    survey_create,
    survey_lock,
    survey_return,
    survey_submit,
    survey_update,
)
from regions.models import Region
from tests.factories import make_user

D = dt.date


@pytest.fixture
def luquan(db):
    return Region.objects.get(code="130110")


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


def create(programme, district, user, as_of=D(2021, 1, 29), **changes):
    return survey_create(
        programme=programme, district=district, as_of=as_of, data={**GOOD, **changes}, acting_user=user
    )


def test_periods_are_weeks_ending_friday_and_last_ends_with_programme(programme):
    periods = survey_periods(programme)
    assert periods[0] == Period(D(2021, 1, 21), D(2021, 1, 22))  # 2021-01-22 is a Friday
    assert periods[1] == Period(D(2021, 1, 23), D(2021, 1, 29))
    assert periods[-1] == Period(D(2021, 3, 27), D(2021, 3, 31))
    assert all(p.end.weekday() == 4 for p in periods[:-1])
    assert survey_period_of(programme, D(2021, 2, 3)) == Period(D(2021, 1, 30), D(2021, 2, 5))


def test_create_valid_report_is_draft_and_audited(programme, luquan, officer_luquan):
    report = create(programme, luquan, officer_luquan)
    assert report.status == SurveyStatus.DRAFT
    assert report.benefits_amount == Decimal("12000.50")
    assert AuditEntry.objects.filter(action="survey_create", object_id=str(report.pk)).exists()


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"staying": -1}, "staying", "不能为负数"),
        ({"benefits_amount": "-5"}, "benefits_amount", "不能为负数"),
        ({"outside_other_county": 201}, "outside_other_county", "超过了“外地务工人员”"),
        ({"staying_on_duty": 501}, "staying_on_duty", "超过了“留岗（就地过年）人数”"),
        ({"staying_nonlocal": 301}, "staying_nonlocal", "分项之和不能大于总数"),
        ({"poverty_staying": 501}, "poverty_staying", "超过了"),
        ({"enterprises_with_benefits": 121}, "enterprises_with_benefits", "摸排企业数"),
        ({"staying": "abc"}, "staying", "须为整数"),
        ({"benefits_amount": "1.2.3"}, "benefits_amount", "须为金额"),
    ],
)
def test_validation_names_the_field(programme, luquan, officer_luquan, changes, field, words):
    with pytest.raises(DomainError) as info:
        create(programme, luquan, officer_luquan, **changes)
    assert field in info.value.errors
    assert words in info.value.errors[field]
    assert not SurveyReport.objects.exists()


def test_date_must_lie_inside_the_programme(programme, luquan, officer_luquan):
    with pytest.raises(DomainError) as info:
        create(programme, luquan, officer_luquan, as_of=D(2021, 4, 1))
    assert "不在项目期间" in info.value.errors["as_of"]


def test_database_refuses_part_above_whole_even_without_the_service(programme, luquan):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyReport.objects.create(
            programme=programme, district=luquan, as_of=D(2021, 1, 29), staying=10, staying_local=6, staying_nonlocal=5
        )


def test_one_report_per_district_and_period(programme, luquan, officer_luquan):
    create(programme, luquan, officer_luquan, as_of=D(2021, 1, 29))
    with pytest.raises(ConflictError):
        create(programme, luquan, officer_luquan, as_of=D(2021, 1, 27))


def test_a_jump_needs_confirmation(programme, luquan, officer_luquan, settings):
    settings.SURVEY_JUMP_FACTOR = 2
    create(programme, luquan, officer_luquan, as_of=D(2021, 1, 29))
    with pytest.raises(DomainError) as info:
        create(programme, luquan, officer_luquan, as_of=D(2021, 2, 5), staying=1001, staying_on_duty=0)
    assert info.value.code == "confirm_jump"
    assert "变化超过 2 倍" in info.value.errors["staying"]
    report = survey_create(
        programme=programme,
        district=luquan,
        as_of=D(2021, 2, 5),
        data={**GOOD, "staying": 1001},
        acting_user=officer_luquan,
        confirm_jump=True,
    )
    assert report.jump_confirmed
    # A smaller move passes without asking.
    create(programme, luquan, officer_luquan, as_of=D(2021, 2, 12), staying=800)


def test_factor_is_configurable(programme, luquan, officer_luquan, settings):
    settings.SURVEY_JUMP_FACTOR = 5
    create(programme, luquan, officer_luquan, as_of=D(2021, 1, 29))
    create(programme, luquan, officer_luquan, as_of=D(2021, 2, 5), staying=1001)


def test_only_the_districts_officer_enters(programme, luquan, officer_cangzhou, city_shijiazhuang):
    with pytest.raises(PermissionDenied):
        create(programme, luquan, officer_cangzhou)
    with pytest.raises(PermissionDenied):
        create(programme, luquan, city_shijiazhuang)


def test_review_chain_submit_return_edit_approve_lock(programme, luquan, officer_luquan, city_shijiazhuang):
    report = create(programme, luquan, officer_luquan)
    report = survey_submit(report=report, acting_user=officer_luquan)
    assert report.status == SurveyStatus.SUBMITTED and report.submitted_by == officer_luquan

    # The city returns it with a reason; a return without one is refused.
    with pytest.raises(DomainError):
        survey_return(report=report, acting_user=city_shijiazhuang, reason="  ")
    report = survey_return(report=report, acting_user=city_shijiazhuang, reason="外省人数与台账不符")
    assert report.status == SurveyStatus.RETURNED and report.return_reason == "外省人数与台账不符"

    # The officer corrects and resubmits; the city approves and locks.
    report = survey_update(report=report, data={**GOOD, "outside_other_province": 250}, acting_user=officer_luquan)
    report = survey_submit(report=report, acting_user=officer_luquan)
    report = survey_approve(report=report, acting_user=city_shijiazhuang)
    assert report.status == SurveyStatus.APPROVED and report.approved_by == city_shijiazhuang
    report = survey_lock(report=report, acting_user=city_shijiazhuang)
    assert report.status == SurveyStatus.LOCKED and report.locked_at is not None

    with pytest.raises(ConflictError):
        survey_update(report=report, data=GOOD, acting_user=officer_luquan)
    with pytest.raises(ConflictError):
        survey_return(report=report, acting_user=city_shijiazhuang, reason="晚了")
    actions = list(
        AuditEntry.objects.filter(object_id=str(report.pk), object_type="programs.surveyreport")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "survey_create",
        "survey_submit",
        "survey_return",
        "survey_update",
        "survey_submit",
        "survey_approve",
        "survey_lock",
    ]


def test_approve_needs_the_right_city_and_a_submitted_report(
    programme, luquan, officer_luquan, city_cangzhou, city_shijiazhuang
):
    report = create(programme, luquan, officer_luquan)
    with pytest.raises(ConflictError):  # still a draft
        survey_approve(report=report, acting_user=city_shijiazhuang)
    report = survey_submit(report=report, acting_user=officer_luquan)
    with pytest.raises(PermissionDenied):
        survey_approve(report=report, acting_user=city_cangzhou)
    with pytest.raises(PermissionDenied):
        survey_approve(report=report, acting_user=officer_luquan)
    survey_approve(report=report, acting_user=city_shijiazhuang)
    with pytest.raises(ConflictError):  # twice
        survey_approve(report=report, acting_user=city_shijiazhuang)


def test_direct_report_district_is_reviewed_by_the_province(programme, province_staff):
    dingzhou = Region.objects.get(code="130682")
    officer = make_user("officer_dingzhou", Role.DISTRICT, "130682")
    report = survey_submit(report=create(programme, dingzhou, officer), acting_user=officer)
    report = survey_approve(report=report, acting_user=province_staff)
    assert report.status == SurveyStatus.APPROVED


def test_approval_announces_a_change_after_commit(
    programme, luquan, officer_luquan, city_shijiazhuang, django_capture_on_commit_callbacks
):
    seen = []

    def receiver(sender, programme_id, **kwargs):
        seen.append(programme_id)

    survey_changed.connect(receiver)
    try:
        report = survey_submit(report=create(programme, luquan, officer_luquan), acting_user=officer_luquan)
        with django_capture_on_commit_callbacks(execute=True):
            survey_approve(report=report, acting_user=city_shijiazhuang)
    finally:
        survey_changed.disconnect(receiver)
    assert seen == [programme.pk]


def test_overdue_lists_districts_missing_the_latest_period(programme, luquan, officer_luquan, city_shijiazhuang):
    gaocheng = Region.objects.get(code="130109")
    officer_gaocheng = make_user("officer_gaocheng", Role.DISTRICT, "130109")
    for district, officer in ((luquan, officer_luquan), (gaocheng, officer_gaocheng)):
        survey_submit(report=create(programme, district, officer, as_of=D(2021, 1, 29)), acting_user=officer)
    # 鹿泉 files for the next week, 藁城 only a draft.
    survey_submit(report=create(programme, luquan, officer_luquan, as_of=D(2021, 2, 5)), acting_user=officer_luquan)
    create(programme, gaocheng, officer_gaocheng, as_of=D(2021, 2, 4))

    city = Region.objects.get(code="130100")
    # On Friday 02-05 the period is not yet late.
    result = survey_overdue(programme=programme, region=city, today=D(2021, 2, 5))
    assert result["period"].end == D(2021, 1, 29) and result["rows"] == []
    result = survey_overdue(programme=programme, region=city, today=D(2021, 2, 6))
    assert result["period"].end == D(2021, 2, 5)
    assert [(r["district"], r["status"], r["days_late"]) for r in result["rows"]] == [("130109", "草稿", 1)]
    # Another city's view does not see it.
    assert (
        survey_overdue(programme=programme, region=Region.objects.get(code="130900"), today=D(2021, 2, 6))["rows"] == []
    )


def test_batched_changes_announce_once(
    programme, luquan, officer_luquan, city_shijiazhuang, django_capture_on_commit_callbacks
):
    seen = []

    def receiver(sender, programme_id, **kwargs):
        seen.append(programme_id)

    survey_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True), survey_changes_batched():
            for as_of in (D(2021, 1, 29), D(2021, 2, 5)):
                report = survey_submit(
                    report=create(programme, luquan, officer_luquan, as_of=as_of), acting_user=officer_luquan
                )
                survey_approve(report=report, acting_user=city_shijiazhuang)
            assert seen == []
    finally:
        survey_changed.disconnect(receiver)
    assert seen == [programme.pk]


def test_overdue_days_stop_at_the_end_of_the_programme(programme, luquan, officer_luquan):
    """Years later a missing report is late by the days the programme still ran, not by today."""
    survey_submit(report=create(programme, luquan, officer_luquan, as_of=D(2021, 1, 29)), acting_user=officer_luquan)
    city = Region.objects.get(code="130100")
    during = survey_overdue(programme=programme, region=city, today=D(2021, 2, 8))
    assert [r["days_late"] for r in during["rows"]] == [3] and not during["ended"]
    later = survey_overdue(programme=programme, region=city, today=D(2026, 12, 6))
    assert later["ended"] and later["as_of"] == D(2021, 4, 1)
    # The programme's last period (to Wednesday 03-31) is due; late by one day, not by 2,077.
    assert later["period"].end == D(2021, 3, 31)
    assert [r["days_late"] for r in later["rows"]] == [1]
