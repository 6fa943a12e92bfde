"""Fresh dashboards: a change marks the districts it touched, the catch-up job refreshes
only those (and their cities and province), and an edited registration or person has
its entitlements computed again at once, by the district computation's rules kept to
that person (paid money never rewritten: an overpayment is listed instead)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import AuditEntry
from beneficiaries.models import Registration
from beneficiaries.services.employers import employer_move, employer_verify
from beneficiaries.services.persons import person_correct
from beneficiaries.services.registrations import registration_update
from disbursements.models import Entitlement, Overpayment, RecomputeMark, RegionRollup, RollupDirty
from disbursements.services.entitlements import entitlements_compute
from disbursements.services.freshness import rollups_catch_up
from disbursements.services.person_compute import entitlements_compute_person
from disbursements.services.rollups import rollups_mark, rollups_refresh
from disbursements.tests.test_settlement import _balanced, _pay_all, _with_account
from programs.demo import demo_programme as programme
from tests.factories import reg

pytestmark = pytest.mark.django_db
OUTSIDE = "410102"  # a hukou outside 石家庄: 鹿泉's ¥500 applies
LOCAL = "130102"  # a 石家庄 hukou: it does not


def _row(p, code) -> RegionRollup:
    return RegionRollup.objects.get(programme=p, region_id=code)


# --- marks ----------------------------------------------------------------------------------


def test_a_registration_edit_marks_its_district_and_its_person(officer_luquan, django_capture_on_commit_callbacks):
    p = programme()
    r = reg(p, "130110", OUTSIDE)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        registration_update(registration=r, acting_user=officer_luquan, duty_days=3)
    assert set(RollupDirty.objects.values_list("programme_id", "district_id")) == {(p.pk, "130110")}
    assert list(RecomputeMark.objects.values_list("programme_id", "person_id")) == [(p.pk, r.person_id)]
    assert callbacks, "the catch-up job is queued once the edit commits"


def test_an_edit_that_rolls_back_leaves_no_mark(officer_luquan):
    from django.db import transaction

    p = programme()
    r = reg(p, "130110", OUTSIDE)
    with pytest.raises(RuntimeError), transaction.atomic():
        registration_update(registration=r, acting_user=officer_luquan, duty_days=3)
        raise RuntimeError("the caller fails after the service")
    assert not RollupDirty.objects.exists() and not RecomputeMark.objects.exists()


def test_employer_move_marks_both_districts_for_a_recompute(officer_luquan, django_capture_on_commit_callbacks):
    p = programme()
    r = reg(p, "130110", OUTSIDE)
    with django_capture_on_commit_callbacks(execute=False):
        employer_move(employer=r.employer, district="130102", acting_user=officer_luquan, reason="搬迁")
    assert set(RollupDirty.objects.filter(programme=p).values_list("district_id", flat=True)) == {"130110", "130102"}
    whole = RecomputeMark.objects.filter(programme=p, person__isnull=True).values_list("district_id", flat=True)
    assert set(whole) == {"130110", "130102"}


# --- only the dirty districts ---------------------------------------------------------------


def test_only_the_marked_districts_are_refreshed(officer_luquan):
    p = programme()
    reg(p, "130110", OUTSIDE)
    reg(p, "130102", OUTSIDE)
    rollups_refresh(programme=p)
    before = {r.region_id: r for r in RegionRollup.objects.filter(programme=p)}
    # Two districts change behind the marks' back; only 鹿泉 (130110) is marked.
    reg(p, "130110", OUTSIDE)
    reg(p, "130102", OUTSIDE)
    rollups_mark(programme_ids=[p.pk], districts=["130110"])
    done = rollups_catch_up()
    assert done["districts_refreshed"] == 1
    after = {r.region_id: r for r in RegionRollup.objects.filter(programme=p)}
    assert after["130110"].registered_workers == 2 and after["130110"].refreshed_at > before["130110"].refreshed_at
    # Another district's row: untouched (its change was not marked), as are other cities'.
    assert after["130102"].registered_workers == 1
    assert after["130102"].refreshed_at == before["130102"].refreshed_at
    assert after["130900"].refreshed_at == before["130900"].refreshed_at
    # Its city and the province: sums of their districts' rows, so they add up.
    for upper in ("130100", "130000"):
        below = [r for r in after.values() if r.level == "district" and r.path.startswith(after[upper].path)]
        assert after[upper].registered_workers == sum(r.registered_workers for r in below) == 3
        assert after[upper].refreshed_at > before[upper].refreshed_at
    assert not RollupDirty.objects.exists()
    assert set(after) == set(before)  # no row lost or added


def test_a_mark_written_during_the_refresh_is_kept_for_the_next_run():
    p = programme()
    reg(p, "130110", OUTSIDE)
    rollups_refresh(programme=p)
    rollups_mark(programme_ids=[p.pk], districts=["130110"])
    stale = RollupDirty.objects.get()
    # A mark of the same district written after the refresh read its marks (by id).
    rollups_refresh(programme=p, districts=["130110"])
    assert not RollupDirty.objects.filter(pk=stale.pk).exists()
    late = RollupDirty.objects.create(programme=p, district_id="130110")
    assert RollupDirty.objects.filter(pk=late.pk).exists()


def test_a_partial_refresh_of_a_programme_never_refreshed_refreshes_it_whole():
    p = programme()
    reg(p, "130110", OUTSIDE)
    reg(p, "130102", OUTSIDE)
    rollups_refresh(programme=p, districts=["130110"])
    assert _row(p, "130102").registered_workers == 1
    assert _row(p, "130100").registered_workers == 2


# --- the catch-up through the services (eager job) -------------------------------------------


def test_a_registration_edit_reaches_the_dashboard_and_the_entitlement(
    officer_luquan, django_capture_on_commit_callbacks
):
    p = programme()
    r = reg(p, "130110", OUTSIDE)
    other = reg(p, "130110", OUTSIDE)
    entitlements_compute(programme=p)
    rollups_refresh(programme=p)
    assert _row(p, "130110").entitled_amount == Decimal("1000.00")
    other_row = Entitlement.objects.get(registration=other)
    # Left before the holiday ended: no longer "stayed through the holiday".
    with django_capture_on_commit_callbacks(execute=True):
        registration_update(registration=r, acting_user=officer_luquan, end_date=dt.date(2021, 2, 12))
    assert Entitlement.objects.get(registration=r).status == "withdrawn"
    assert _row(p, "130110").entitled_amount == Decimal("500.00")
    assert _row(p, "130100").entitled_amount == Decimal("500.00")
    # The other person's row was not rewritten.
    assert Entitlement.objects.get(registration=other).computed_at == other_row.computed_at
    assert not RollupDirty.objects.exists() and not RecomputeMark.objects.exists()


def test_verifying_an_employer_grants_its_staff_within_the_catch_up(officer_luquan, django_capture_on_commit_callbacks):
    p = programme()
    r = reg(p, "130110", OUTSIDE, employer_status="pending")
    entitlements_compute(programme=p)
    rollups_refresh(programme=p)
    assert not Entitlement.objects.filter(registration=r).exists()
    with django_capture_on_commit_callbacks(execute=True):
        employer_verify(employer=r.employer, acting_user=officer_luquan)
    assert Entitlement.objects.get(registration=r).amount == Decimal("500.00")
    assert _row(p, "130110").entitled_amount == Decimal("500.00")


# --- the per-person computation follows settlement ---------------------------------------


def test_person_compute_never_rewrites_paid_money_and_lists_the_overpayment(
    officer_luquan, city_shijiazhuang, province_staff, tmp_path
):
    p = programme()
    paid = _with_account(reg(p, "130110", OUTSIDE), 1)
    unpaid_later = reg(p, "130110", OUTSIDE)
    bystander = _with_account(reg(p, "130110", OUTSIDE), 2)
    entitlements_compute(programme=p, force=True)
    Registration.objects.filter(pk=unpaid_later.pk).update(status="conflict")  # left out of the batches
    entitlements_compute(programme=p, force=True)
    _pay_all(p, officer_luquan, city_shijiazhuang, province_staff, tmp_path)
    Registration.objects.filter(pk=unpaid_later.pk).update(status="active")
    entitlements_compute(programme=p, force=True)
    paid_base = Entitlement.objects.get(registration=paid, kind="base")
    bystander_base = Entitlement.objects.get(registration=bystander, kind="base")

    # The paid person's hukou is corrected to 石家庄: no longer qualifies. Paid money stays.
    person_correct(person=paid.person, acting_user=officer_luquan, hukou_code=LOCAL, comment="户籍更正")
    stats = entitlements_compute_person(programme=p, person_id=paid.person_id, acting_user=officer_luquan)
    assert stats["flagged"] == 1 and stats["whole"] == []
    kept = Entitlement.objects.get(pk=paid_base.pk)
    assert (kept.status, kept.amount, kept.computed_at) == ("granted", Decimal("500.00"), paid_base.computed_at)
    item = Overpayment.objects.get(programme=p, person=paid.person)
    assert item.status == "open" and item.amount == Decimal("500.00")

    # The unpaid one: withdrawn (nothing settled), with an audit row.
    Registration.objects.filter(pk=unpaid_later.pk).update(end_date=dt.date(2021, 2, 12))
    stats = entitlements_compute_person(programme=p, person_id=unpaid_later.person_id)
    assert stats["withdrawn"] == 1
    row = Entitlement.objects.get(registration=unpaid_later)
    assert row.status == "withdrawn"
    assert AuditEntry.objects.filter(
        action="entitlement_recompute", object_id=str(row.pk), comment="不再符合条件，尚未进入批次：撤销"
    ).exists()
    assert AuditEntry.objects.filter(action="entitlements_compute_person").count() == 2

    # Nobody else's row was touched, the books still balance, and the district's own
    # computation finds nothing left to do: the same rules gave the same result.
    assert Entitlement.objects.get(pk=bystander_base.pk).computed_at == bystander_base.computed_at
    _balanced(p)
    again = entitlements_compute(programme=p, force=True)
    assert (again.written, again.withdrawn, again.flagged, again.topups) == (0, 0, 0, 0)


def test_person_compute_grants_a_new_qualifier_like_the_district_computation():
    p = programme()
    r = reg(p, "130110", LOCAL)
    entitlements_compute(programme=p)
    assert not Entitlement.objects.filter(registration=r).exists()
    r.person.hukou_code = OUTSIDE
    r.person.save(update_fields=["hukou_code"])
    stats = entitlements_compute_person(programme=p, person_id=r.person_id)
    assert stats["written"] == 1
    granted = Entitlement.objects.get(registration=r)
    assert (granted.status, granted.amount, granted.district_id) == ("granted", Decimal("500.00"), "130110")
    again = entitlements_compute(programme=p, force=True)
    assert (again.written, again.withdrawn, again.flagged) == (0, 0, 0)
    assert set(RollupDirty.objects.values_list("district_id", flat=True)) == {"130110"}


def test_marks_of_a_finished_catch_up_are_gone_and_a_second_run_does_nothing():
    p = programme()
    reg(p, "130110", OUTSIDE)
    rollups_refresh(programme=p)
    rollups_mark(programme_ids=[p.pk], districts=["130110"])
    assert rollups_catch_up()["districts_refreshed"] == 1
    version = _row(p, "130110").refreshed_at
    assert rollups_catch_up() == {
        "districts_computed": 0,
        "people_computed": 0,
        "programmes": 0,
        "districts_refreshed": 0,
    }
    assert _row(p, "130110").refreshed_at == version
    assert version <= timezone.now()


def test_many_changes_in_one_transaction_queue_one_catch_up(officer_luquan, django_capture_on_commit_callbacks):
    from django.db import transaction

    p = programme()
    rs = [reg(p, "130110", OUTSIDE) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        for i, r in enumerate(rs):
            registration_update(registration=r, acting_user=officer_luquan, duty_days=i + 1)
    assert len(callbacks) == 1
    assert RecomputeMark.objects.filter(person__isnull=False).count() == 3


def test_an_account_only_edit_recomputes_nothing(officer_luquan):
    p = programme()
    r = reg(p, "130110", OUTSIDE)
    registration_update(registration=r, acting_user=officer_luquan, bank_name="中国银行")
    assert not RecomputeMark.objects.exists() and not RollupDirty.objects.exists()


def test_a_crowded_district_is_computed_whole(monkeypatch):
    from disbursements.services import freshness

    p = programme()
    rs = [reg(p, "130110", OUTSIDE) for _ in range(3)]
    monkeypatch.setattr(freshness, "PEOPLE_PER_DISTRICT", 2)
    rollups_mark(programme_ids=[p.pk], districts=["130110"], person_ids=[r.person_id for r in rs])
    done = rollups_catch_up()
    assert (done["districts_computed"], done["people_computed"]) == (1, 0)
    assert Entitlement.objects.filter(registration__in=rs, status="granted").count() == 3


@pytest.mark.django_db(transaction=True)
def test_the_catch_up_queues_no_catch_up_of_its_own(officer_luquan):
    """Real commits, tasks in-process: the person's computation inside the catch-up
    commits too, and must not start a second catch-up inside the first."""
    from accounts.models import Job

    p = programme()
    r = reg(p, "130110", OUTSIDE)
    rollups_refresh(programme=p)
    registration_update(registration=r, acting_user=officer_luquan, duty_days=2)
    assert Entitlement.objects.get(registration=r).status == "granted"
    assert Job.objects.filter(kind="refresh_rollups", params__catch_up=True).count() == 1
    assert not RecomputeMark.objects.exists() and not RollupDirty.objects.exists()


def test_the_catch_up_counts_the_districts_it_refreshed():
    p = programme()
    reg(p, "130110", OUTSIDE)
    rollups_refresh(programme=p)
    rollups_mark(programme_ids=[p.pk], districts=["130110", "130102"])
    assert rollups_catch_up()["districts_refreshed"] == 2  # also on SQLite, which gives no rowcount
