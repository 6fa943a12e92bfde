"""Fraud signals: each kind is found set-based, a high one holds its lines out of
batches until cleared, confirmation keeps them held, decisions are audited, scope."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEntry
from beneficiaries import pii
from beneficiaries.models import Person, Registration
from core.errors import ConflictError, DomainError, PermissionDenied
from disbursements.models import AccountIndex, Entitlement, FraudSignal, ProgrammeSafeguards
from disbursements.services.batches import batch_submit, batches_build
from disbursements.services.fraud import signal_clear, signal_confirm, signals_compute
from programs.models import SurveyReport
from tests.factories import make_employer, make_entitlement, make_entitlements, make_person, make_rule

pytestmark = pytest.mark.django_db
SHARED = "6222021234567890123"


@pytest.fixture
def rule(programme):
    return make_rule(programme, "luquan_cash")


def _backdate(programme):
    """Factory rows are created now; the programme's deadline is in 2021."""
    Registration.objects.filter(programme=programme).update(created_at=timezone.make_aware(dt.datetime(2021, 2, 1)))


def _shared_account(programme, rule, count=4):
    employers = [make_employer(), make_employer()]
    return [
        make_entitlement(programme, rule, employer=employers[i % 2], n=3000 + i, account=SHARED) for i in range(count)
    ]


def test_four_workers_behind_one_account_across_employers_are_one_high_signal(programme, rule):
    ents = _shared_account(programme, rule)
    make_entitlements(programme, rule, 3, start=3100)  # ordinary workers
    _backdate(programme)
    stats = signals_compute(programme=programme)
    signal = FraudSignal.objects.get(kind="shared_account")
    assert stats["opened"] == 1 and signal.severity == "high" and signal.member_count == 4
    assert set(signal.members.values_list("registration_id", flat=True)) == {e.registration_id for e in ents}
    assert "4 名人员" in signal.summary and "2 家单位" in signal.summary and "0123" in signal.summary
    # Found by the blind index: the index holds no account number.
    assert AccountIndex.objects.filter(account_hash=pii.blind_index(SHARED)).count() == 4
    assert SHARED not in signal.key and SHARED not in str(signal.detail)


def test_a_high_signal_holds_lines_out_until_cleared(programme, rule, officer_luquan):
    ents = _shared_account(programme, rule, 3)
    ordinary = make_entitlements(programme, rule, 2, start=3200)
    _backdate(programme)
    signals_compute(programme=programme)
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    assert set(batch.lines.values_list("entitlement_id", flat=True)) == {e.pk for e in ordinary}
    signal = FraudSignal.objects.get(kind="shared_account")
    with pytest.raises(DomainError, match="核查意见"):
        signal_clear(signal=signal, acting_user=officer_luquan, note=" ")
    signal_clear(signal=signal, acting_user=officer_luquan, note="家庭成员共用一张卡，已电话核实")
    entry = AuditEntry.objects.get(action="signal_clear")
    assert entry.changes["status"] == ["open", "cleared"] and entry.comment.startswith("家庭成员")
    released = batches_build(programme=programme, acting_user=officer_luquan)[0]
    assert set(released.lines.values_list("entitlement_id", flat=True)) == {e.pk for e in ents}


def test_confirming_keeps_the_lines_held_and_a_draft_with_held_lines_cannot_be_submitted(
    programme, rule, officer_luquan
):
    _shared_account(programme, rule, 3)
    _backdate(programme)
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]  # built before the signal
    signals_compute(programme=programme)
    with pytest.raises(ConflictError, match="3 笔明细存在待核查的高风险预警"):
        batch_submit(batch=batch, acting_user=officer_luquan)
    signal = FraudSignal.objects.get(kind="shared_account")
    signal_confirm(signal=signal, acting_user=officer_luquan, note="冒领，已移交")
    signal.refresh_from_db()
    assert signal.status == "confirmed" and signal.holds
    with pytest.raises(ConflictError):
        signal_clear(signal=signal, acting_user=officer_luquan, note="再次处理")
    with pytest.raises(ConflictError):
        batch_submit(batch=batch, acting_user=officer_luquan)


def test_a_cleared_signal_opens_again_when_another_worker_joins(programme, rule, officer_luquan):
    _shared_account(programme, rule, 3)
    _backdate(programme)
    signals_compute(programme=programme)
    signal = FraudSignal.objects.get(kind="shared_account")
    signal_clear(signal=signal, acting_user=officer_luquan, note="已核实")
    signals_compute(programme=programme)
    signal.refresh_from_db()
    assert signal.status == "cleared"  # nothing new: stays cleared
    make_entitlement(programme, rule, n=3900, account=SHARED)
    _backdate(programme)
    assert signals_compute(programme=programme)["reopened"] == 1
    signal.refresh_from_db()
    assert signal.status == "open" and signal.member_count == 4
    assert AuditEntry.objects.filter(action="signal_reopen", object_id=str(signal.pk)).exists()


def test_a_pattern_that_went_away_closes_its_signal(programme, rule, officer_luquan):
    ents = _shared_account(programme, rule, 3)
    _backdate(programme)
    signals_compute(programme=programme)
    from beneficiaries.services.registrations import registration_update

    registration_update(registration=ents[0].registration, acting_user=officer_luquan, account="6222029999999999001")
    assert signals_compute(programme=programme)["gone"] == 1
    assert FraudSignal.objects.get(kind="shared_account").status == "gone"


def test_shared_phone_is_medium_and_holds_nothing(programme, rule, officer_luquan):
    for i in range(3):
        person, _ = make_person(3300 + i, phone="13900001111")
        make_entitlement(programme, rule, person=person, n=3300 + i)
    _backdate(programme)
    signals_compute(programme=programme)
    signal = FraudSignal.objects.get(kind="shared_phone")
    assert signal.severity == "medium" and "139****1111" in signal.summary and "13900001111" not in signal.key
    assert batches_build(programme=programme, acting_user=officer_luquan)[0].line_count == 3


def test_district_and_employer_over_their_survey_count(programme, rule):
    ents = make_entitlements(programme, rule, 6, start=3400)
    _backdate(programme)
    SurveyReport.objects.create(programme=programme, district_id="130110", as_of=dt.date(2021, 1, 25), staying=9)
    SurveyReport.objects.create(
        programme=programme, district_id="130110", as_of=dt.date(2021, 2, 1), staying=5, status="approved"
    )
    signals_compute(programme=programme)
    district = FraudSignal.objects.get(kind="district_over_survey")
    assert district.district_id == "130110" and district.detail == {"registered": 6, "surveyed": 5}
    employer = FraudSignal.objects.get(kind="employer_over_survey")
    assert employer.employer_id == ents[0].registration.employer_id and employer.severity == "medium"


def test_overlapping_stays_in_two_districts(programme, rule):
    ent = make_entitlement(programme, rule, n=3500)
    Registration.objects.create(
        person=ent.person,
        programme=programme,
        employer=make_employer(district="130903"),
        district_id="130903",
        start_date=dt.date(2021, 2, 10),
        end_date=dt.date(2021, 3, 10),
        status="conflict",
    )
    _backdate(programme)
    signals_compute(programme=programme)
    signal = FraudSignal.objects.get(kind="overlapping_stays")
    assert signal.member_count == 2 and signal.severity == "high"


def test_implausible_ages(programme, rule):
    young = make_entitlement(programme, rule, n=3600)
    old = make_entitlement(programme, rule, n=3601)
    fine = make_entitlement(programme, rule, n=3602)
    Person.objects.filter(pk=young.person_id).update(birth_date=dt.date(2006, 1, 1))  # 15 on 2021-01-21
    Person.objects.filter(pk=old.person_id).update(birth_date=dt.date(1945, 1, 21))  # 76
    Person.objects.filter(pk=fine.person_id).update(birth_date=dt.date(1946, 1, 22))  # 74
    _backdate(programme)
    signals_compute(programme=programme)
    ages = sorted(s.detail["age"] for s in FraudSignal.objects.filter(kind="implausible_age"))
    assert ages == [15, 76]


def test_registration_after_the_deadline(programme, rule):
    make_entitlements(programme, rule, 2, start=3700)
    _backdate(programme)
    late = make_entitlement(programme, rule, n=3710)  # created now: after 2021-02-28
    signals_compute(programme=programme)
    signal = FraudSignal.objects.get(kind="late_registration")
    assert signal.severity == "low" and list(signal.members.values_list("registration_id", flat=True)) == [
        late.registration_id
    ]


def test_stacking_where_the_programme_forbids_it(programme, rule):
    ent = make_entitlement(programme, rule, n=3800)
    gree = make_rule(programme, "gree", kind="employer", channel="employer", amount="1000.00")
    Entitlement.objects.create(
        programme=programme,
        rule=gree,
        rule_key="gree",
        person=ent.person,
        registration=ent.registration,
        district_id="130110",
        channel="employer",
        amount=Decimal("1000.00"),
    )
    _backdate(programme)
    signals_compute(programme=programme)
    assert not FraudSignal.objects.filter(kind="stacking").exists()
    ProgrammeSafeguards.objects.create(programme=programme, forbid_stacking=True)
    signals_compute(programme=programme)
    assert FraudSignal.objects.get(kind="stacking").member_count == 1


def test_a_second_run_changes_nothing(programme, rule):
    _shared_account(programme, rule)
    _backdate(programme)
    signals_compute(programme=programme)
    before = list(FraudSignal.objects.values_list("pk", "status", "member_count"))
    assert signals_compute(programme=programme) == {"opened": 0, "reopened": 0, "gone": 0, "kept": 1}
    assert list(FraudSignal.objects.values_list("pk", "status", "member_count")) == before


def test_scope_list_detail_decide_and_api(programme, rule, officer_luquan, officer_cangzhou):
    _shared_account(programme, rule, 3)
    _backdate(programme)
    signals_compute(programme=programme)
    signal = FraudSignal.objects.get()
    with pytest.raises(PermissionDenied):
        signal_clear(signal=signal, acting_user=officer_cangzhou, note="不是我的区县")
    other = Client()
    other.force_login(officer_cangzhou)
    assert other.get(f"/registry/signals/{signal.pk}/").status_code == 404
    assert other.post(f"/registry/signals/{signal.pk}/clear/", {"note": "x"}).status_code == 404
    assert other.get(f"/api/v1/signals/{signal.pk}/").status_code == 404
    assert other.get("/api/v1/signals/").json()["count"] == 0
    own = Client()
    own.force_login(officer_luquan)
    page = own.get("/registry/signals/").content.decode()
    assert "多人共用银行账号" in page and "鹿泉区" in page
    detail = own.get(f"/registry/signals/{signal.pk}/").content.decode()
    assert SHARED not in detail and "6222 ****" in detail
    assert AuditEntry.objects.filter(action="signal_view", object_id=str(signal.pk)).exists()
    api = own.get("/api/v1/signals/").json()
    assert api["count"] == 1 and api["results"][0]["kind"] == "shared_account"
    response = own.post(
        f"/api/v1/signals/{signal.pk}/clear/", {"note": "核实为夫妻共用"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["status"] == "cleared"


def test_signals_follow_an_import_through_the_rollup_refresh(programme, rule, django_capture_on_commit_callbacks):
    from disbursements.services.rollups import rollups_refreshed

    _shared_account(programme, rule, 3)
    _backdate(programme)
    with django_capture_on_commit_callbacks(execute=True):
        rollups_refreshed.send(sender=None, programme_id=programme.pk)
    assert FraudSignal.objects.filter(kind="shared_account").exists()


def test_the_dashboard_counts_open_signals_by_district(
    programme, rule, officer_luquan, officer_cangzhou, django_capture_on_commit_callbacks
):
    _shared_account(programme, rule, 3)
    _backdate(programme)
    with django_capture_on_commit_callbacks(execute=True):
        signals_compute(programme=programme)
    own = Client()
    own.force_login(officer_luquan)
    page = own.get(f"/dashboard/?programme={programme.code}").content.decode()
    assert "data-dashboard-signals" in page and "待核查的风险预警" in page and "高 1" in page
    other = Client()
    other.force_login(officer_cangzhou)
    assert "data-dashboard-signals" not in other.get(f"/dashboard/?programme={programme.code}").content.decode()
    # Cached until the signals change: a decision shows at once.
    signal = FraudSignal.objects.get(kind="shared_account")
    with django_capture_on_commit_callbacks(execute=True):
        signal_clear(signal=signal, acting_user=officer_luquan, note="同一家庭共用账户，已核实")
    page = own.get(f"/dashboard/?programme={programme.code}").content.decode()
    assert "高 1" not in page


def test_lists_take_a_fixed_number_of_queries(programme, rule, officer_luquan, django_assert_max_num_queries):
    for start in (4000, 4100):
        for i in range(3):
            make_entitlement(programme, rule, n=start + i, account=f"62220212345678{start}")
    _backdate(programme)
    signals_compute(programme=programme)
    client = Client()
    client.force_login(officer_luquan)
    with django_assert_max_num_queries(12):
        assert client.get("/registry/signals/").status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get("/api/v1/signals/").json()["count"] >= 2
    with django_assert_max_num_queries(8):
        assert client.get("/api/v1/notices/").status_code == 200


def test_a_held_registration_says_why_on_its_page(programme, rule, officer_luquan, agent_gree):
    ents = _shared_account(programme, rule, 3)
    _backdate(programme)
    signals_compute(programme=programme)
    signal = FraudSignal.objects.get(kind="shared_account")
    officer = Client()
    officer.force_login(officer_luquan)
    url = f"/registry/registrations/{ents[0].registration_id}/"
    page = officer.get(url).content.decode()
    assert (
        f"暂缓发放：风险预警 #{signal.pk}（多人共用银行账号）待核查" in page
        and f"/registry/signals/{signal.pk}/" in page
    )
    # The employer's agent is told the payment waits for a review, not what the signal says.
    employer = ents[0].registration.employer
    employer.agents.add(agent_gree)
    agent = Client()
    agent.force_login(agent_gree)
    page = agent.get(url).content.decode()
    assert "本登记的补贴暂缓发放，正在由区县人社部门核查。" in page and "风险预警" not in page
    signal_confirm(signal=signal, acting_user=officer_luquan, note="冒领，已移交")
    page = officer.get(url).content.decode()
    assert f"已暂停发放：风险预警 #{signal.pk}" in page
    # An ordinary registration carries no such notice.
    ordinary = make_entitlement(programme, rule, n=3300)
    assert "data-hold" not in officer.get(f"/registry/registrations/{ordinary.registration_id}/").content.decode()


def test_a_change_queues_one_signals_job_that_the_engine_runs_and_recovers(
    programme, rule, settings, django_capture_on_commit_callbacks
):
    """The computation is a Job (compute_signals): an import or rollup refresh queues one
    per programme (a burst finds it queued), the engine runs it with progress per
    pattern, a lost one is sent again by the sweep, and a second delivery does nothing."""
    from accounts.choices import JobKind, JobState
    from accounts.models import Job
    from accounts.services.job_recovery import jobs_sweep
    from accounts.services.jobs import JOB_TASKS
    from disbursements.services.fraud_patterns import PATTERN_STEPS
    from disbursements.tasks import (
        compute_signals_task,
        signals_job_start,
        signals_on_import_finished,
    )

    assert JOB_TASKS[JobKind.COMPUTE_SIGNALS] is compute_signals_task
    assert JobKind.COMPUTE_SIGNALS.label == "计算风险预警"
    settings.CELERY_TASK_ALWAYS_EAGER = False  # as in a real worker: the job waits in the queue
    _shared_account(programme, rule)
    _backdate(programme)
    first = signals_job_start(programme.pk)
    assert signals_job_start(programme.pk) == first  # the second change finds it queued
    Job.objects.filter(pk=first.pk).update(heartbeat_at=timezone.now() - timezone.timedelta(seconds=600))
    assert jobs_sweep() == [first.pk]  # a lost message is sent again
    compute_signals_task(first.pk)
    job = Job.objects.get(pk=first.pk)
    assert job.state == JobState.DONE and job.attempts == 1, job.message
    assert (job.progress_done, job.progress_total) == (PATTERN_STEPS + 1, PATTERN_STEPS + 1)
    assert job.result["opened"] == 1 and job.message.startswith("风险预警已更新：新增 1 条")
    assert FraudSignal.objects.get(kind="shared_account").member_count == 4
    compute_signals_task(first.pk)  # a second delivery of the same message: nothing
    assert Job.objects.get(pk=first.pk).attempts == 1
    # The next change (an import that finished) queues a new job once its transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        signals_on_import_finished(None, programme_id=programme.pk)
        assert Job.objects.filter(kind=JobKind.COMPUTE_SIGNALS).count() == 1
    assert Job.objects.filter(kind=JobKind.COMPUTE_SIGNALS, state=JobState.QUEUED).count() == 1


def test_signals_find_reports_each_pattern(programme, rule):
    from disbursements.services.fraud_patterns import PATTERN_STEPS, signals_find

    steps = []
    signals_find(programme, step=steps.append)
    assert steps == list(range(1, PATTERN_STEPS + 1))
