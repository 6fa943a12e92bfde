"""Dashboard rollups: the district rows are GROUP BYs, cities and province add up."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from beneficiaries.models import Employer, Person, Registration
from disbursements.models import Batch, Entitlement, PaymentLine, RegionRollup, RuleRollup
from disbursements.services.rollups import rollups_refresh
from programs.models import SubsidyRule, SurveyReport
from tests.factories import make_programme

D = dt.date
_n = itertools.count(1)


@pytest.fixture
def programme(db):
    return make_programme("R-2021", name="汇总测试", budget=Decimal("10000000"))


def rule(programme, key, amount, kind="cash", region="130000", channel="bank_card", name=None):
    return SubsidyRule.objects.create(
        programme=programme,
        rule_key=key,
        name=name or key,
        region_id=region,
        kind=kind,
        amount=Decimal(amount),
        channel=channel,
        status="active",
    )


def employer(district, status="verified"):
    n = next(_n)
    return Employer.objects.create(
        credit_code=f"9113{n:014d}", name=f"企业{n}", ownership="private", district_id=district, status=status
    )


def worker(programme, emp, district=None, status="active"):
    n = next(_n)
    person = Person.objects.create(
        id_hash=f"h{n}", id_cipher="x", id_masked="1301**", name=f"人{n}", hukou_code="140100"
    )
    return Registration.objects.create(
        person=person,
        programme=programme,
        employer=emp,
        district_id=district or emp.district_id,
        start_date=D(2021, 2, 1),
        end_date=D(2021, 2, 28),
        status=status,
    )


def entitle(reg, r, amount=None):
    return Entitlement.objects.create(
        programme=reg.programme,
        rule=r,
        rule_key=r.rule_key,
        person=reg.person,
        registration=reg,
        district_id=reg.district_id,
        channel=r.channel,
        amount=Decimal(amount or r.amount),
    )


def line(ent, status, batch=None, seq=None):
    batch = batch or Batch.objects.create(
        programme=ent.programme, district_id=ent.district_id, channel=ent.channel, number=f"B{next(_n)}"
    )
    return PaymentLine.objects.create(
        batch=batch,
        entitlement=ent,
        seq=seq or next(_n),
        amount=ent.amount,
        name="某",
        id_cipher="x",
        id_masked="x",
        status=status,
    )


def survey(programme, district, as_of, status="approved", **figures):
    return SurveyReport.objects.create(programme=programme, district_id=district, as_of=as_of, status=status, **figures)


def row(programme, code):
    return RegionRollup.objects.get(programme=programme, region_id=code)


def test_money_figures_per_level_add_up(programme):
    cash = rule(programme, "luquan_cash", "500.00", region="130110")
    relief = rule(programme, "kangbao_relief", "300.00", kind="relief", region="130723")
    gift = rule(programme, "gree_gift", "1000.00", kind="employer", channel="employer")
    e_luquan, e_gaocheng, e_kangbao = employer("130110"), employer("130109", status="pending"), employer("130723")

    luquan = [worker(programme, e_luquan) for _ in range(4)]
    worker(programme, e_luquan, status="conflict")  # not counted
    worker(programme, e_gaocheng)
    kangbao = [worker(programme, e_kangbao) for _ in range(3)]

    ents = [entitle(r, cash) for r in luquan]
    entitle(luquan[0], gift)  # employer-funded: counted apart
    k = [entitle(r, relief) for r in kangbao]
    # 鹿泉: one paid, one pending, one failed then re-issued and paid, one failed twice; 康保: one paid.
    line(ents[0], "paid")
    line(ents[1], "pending")
    line(ents[2], "failed")
    line(ents[2], "paid")
    line(ents[3], "failed")
    line(ents[3], "failed")
    line(k[0], "paid")

    result = rollups_refresh(programme=programme)
    assert result["districts"] > 150  # every district of Hebei has a row

    lq = row(programme, "130110")
    assert (lq.registered_workers, lq.employers, lq.employers_verified) == (4, 1, 1)
    assert (lq.entitled_count, lq.entitled_amount) == (4, Decimal("2000.00"))
    assert (lq.employer_funded_count, lq.employer_funded_amount) == (1, Decimal("1000.00"))
    assert (lq.batched_count, lq.paid_count, lq.pending_count, lq.failed_count) == (4, 2, 1, 1)
    assert (lq.paid_amount, lq.pending_amount, lq.failed_amount) == (
        Decimal("1000.00"),
        Decimal("500.00"),
        Decimal("500.00"),
    )

    sjz, zjk, kb = row(programme, "130100"), row(programme, "130700"), row(programme, "130723")
    assert (sjz.registered_workers, sjz.employers, sjz.employers_verified) == (5, 2, 1)
    assert (kb.entitled_count, kb.entitled_amount, kb.paid_count) == (3, Decimal("900.00"), 1)
    assert zjk.entitled_amount == Decimal("900.00") and zjk.level == "city"
    prov = row(programme, "130000")
    assert prov.level == "province"
    assert prov.entitled_amount == Decimal("2900.00") and prov.paid_amount == Decimal("1300.00")
    assert prov.registered_workers == 8

    # Every level is the sum of its children (cities and the directly reporting districts).
    children = RegionRollup.objects.filter(programme=programme, region__parent_id="130000")
    assert sum(c.entitled_amount for c in children) == prov.entitled_amount
    assert sum(c.registered_workers for c in children) == prov.registered_workers

    rules = {r.rule_key: r for r in RuleRollup.objects.filter(programme=programme, region_id="130000")}
    assert rules["luquan_cash"].entitled_amount == Decimal("2000.00") and rules["luquan_cash"].paid_count == 2
    assert rules["kangbao_relief"].kind == "relief" and rules["kangbao_relief"].entitled_count == 3
    assert rules["gree_gift"].entitled_amount == Decimal("1000.00")
    assert set(
        RuleRollup.objects.filter(programme=programme, region_id="130723").values_list("rule_key", flat=True)
    ) == {"kangbao_relief"}


def test_survey_figures_are_the_latest_approved_report_per_district(programme):
    survey(programme, "130802", D(2021, 1, 29), enterprises_surveyed=100, staying=50)
    survey(
        programme, "130802", D(2021, 2, 5), enterprises_surveyed=120, staying=60, staying_local=20, staying_nonlocal=40
    )
    survey(programme, "130802", D(2021, 2, 12), status="submitted", enterprises_surveyed=999, staying=999)
    survey(
        programme,
        "130803",
        D(2021, 1, 29),
        status="locked",
        enterprises_surveyed=30,
        staying=10,
        benefits_amount=Decimal("100.50"),
    )
    rollups_refresh(programme=programme)
    sq = row(programme, "130802")
    assert (sq.enterprises_surveyed, sq.staying, sq.staying_nonlocal, sq.survey_as_of) == (120, 60, 40, D(2021, 2, 5))
    cd = row(programme, "130800")
    assert (cd.enterprises_surveyed, cd.staying, cd.survey_districts) == (150, 70, 2)
    assert cd.benefits_amount == Decimal("100.50") and cd.survey_as_of == D(2021, 2, 5)
    assert row(programme, "130000").enterprises_surveyed == 150


def test_refresh_is_idempotent_and_replaces_old_rows(programme):
    survey(programme, "130802", D(2021, 1, 29), enterprises_surveyed=100)
    rollups_refresh(programme=programme)
    count = RegionRollup.objects.filter(programme=programme).count()
    first = row(programme, "130000").refreshed_at
    SurveyReport.objects.update(enterprises_surveyed=7)
    rollups_refresh(programme=programme)
    assert RegionRollup.objects.filter(programme=programme).count() == count
    assert row(programme, "130000").enterprises_surveyed == 7
    assert row(programme, "130000").refreshed_at > first


def test_survey_approval_refreshes_rollups_through_celery(programme, django_capture_on_commit_callbacks):
    from accounts.choices import Role
    from programs.surveys.services import survey_approve, survey_create, survey_submit
    from tests.factories import make_user

    officer = make_user("officer_sq", Role.DISTRICT, "130802")
    city = make_user("city_cd", Role.CITY, "130800")
    with django_capture_on_commit_callbacks(execute=True):
        report = survey_create(
            programme=programme,
            district=officer.region,
            as_of=D(2021, 1, 29),
            data={"enterprises_surveyed": 42, "outside_workers": 10, "staying": 5},
            acting_user=officer,
        )
        survey_submit(report=report, acting_user=officer)
    assert row(programme, "130800").enterprises_surveyed == 0  # submitted, not yet approved
    with django_capture_on_commit_callbacks(execute=True):
        survey_approve(report=report, acting_user=city)
    assert row(programme, "130800").enterprises_surveyed == 42


def test_beat_refreshes_every_programme_and_the_task_is_registered(programme, settings):
    from disbursements.tasks import rollups_refresh_all_task
    from portal.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["rollups-refresh-all"]
    assert entry["task"] in app.tasks and "disbursements.rollups_refresh" in app.tasks
    survey(programme, "130802", D(2021, 1, 29), enterprises_surveyed=9)
    results = rollups_refresh_all_task()
    assert programme.code in [r["programme"] for r in results]
    assert row(programme, "130800").enterprises_surveyed == 9


def test_refresh_soon_waits_for_the_commit(programme, django_capture_on_commit_callbacks):
    from disbursements.services.rollups import rollups_refresh_soon

    survey(programme, "130802", D(2021, 1, 29), enterprises_surveyed=3)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rollups_refresh_soon(programme.pk)
    assert not RegionRollup.objects.exists()  # nothing before the commit
    with django_capture_on_commit_callbacks(execute=True):  # the commit: the refresh job is queued and runs
        for callback in callbacks:
            callback()
    assert row(programme, "130800").enterprises_surveyed == 3


def test_a_change_queues_one_refresh_job_that_the_engine_runs_and_recovers(programme, settings):
    """A refresh is a Job (refresh_rollups): a burst of changes queues one, the engine
    runs it (claim, heartbeat, result), and a dead one is re-queued, not duplicated."""
    from accounts.choices import JobKind, JobState
    from accounts.models import Job
    from accounts.services.job_recovery import jobs_sweep
    from accounts.services.jobs import JOB_TASKS
    from disbursements.services.rollups import rollups_job_start
    from disbursements.tasks import refresh_rollups_task

    assert JOB_TASKS[JobKind.REFRESH_ROLLUPS] is refresh_rollups_task
    settings.CELERY_TASK_ALWAYS_EAGER = False  # as in a real worker: the job waits in the queue
    survey(programme, "130802", D(2021, 1, 29), enterprises_surveyed=5)
    first = rollups_job_start(programme.pk)
    assert rollups_job_start(programme.pk) == first  # the second change finds it queued
    assert Job.objects.filter(kind=JobKind.REFRESH_ROLLUPS).count() == 1
    Job.objects.filter(pk=first.pk).update(heartbeat_at=timezone.now() - timezone.timedelta(seconds=600))
    assert jobs_sweep() == [first.pk]  # a lost message is sent again
    refresh_rollups_task(first.pk)
    job = Job.objects.get(pk=first.pk)
    assert job.state == JobState.DONE and job.attempts == 1, job.message
    assert job.result["districts"] > 0 and job.message.startswith("统计已刷新：")
    assert row(programme, "130800").enterprises_surveyed == 5
    refresh_rollups_task(first.pk)  # a second delivery of the same message: nothing
    assert Job.objects.get(pk=first.pk).attempts == 1
    assert rollups_job_start(programme.pk) != first  # done: the next change queues a new one
