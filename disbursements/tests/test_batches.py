"""Batches: building, the maker-checker chain, returns, freezing, 补发 and paid-once."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.choices import JobKind, JobState
from accounts.models import AuditEntry
from accounts.services.jobs import job_create
from core.errors import ConflictError, DomainError, PermissionDenied
from disbursements.choices import BatchStatus, LineStatus
from disbursements.models import Batch, BatchStep, PaymentLine
from disbursements.services.batches import (
    allowed_actions,
    batch_approve,
    batch_build_supplement,
    batch_integrity_problems,
    batch_return,
    batch_review,
    batch_submit,
    batches_build,
    line_correct,
)
from disbursements.tasks import build_batches_task
from tests.factories import make_entitlements, make_rule, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def luquan_data(programme):
    cash = make_rule(programme, "luquan_cash", amount="500.00")
    ss = make_rule(programme, "luquan_ss", channel="ss_card", amount="300.00")
    employer_funded = make_rule(programme, "gree", kind="employer", channel="employer", amount="1000.00")
    ents = make_entitlements(programme, cash, 5, start=100)
    ents += make_entitlements(programme, ss, 2, start=200)
    ents += make_entitlements(programme, employer_funded, 3, start=300)
    # 沧州运河区: another district, another city
    ents += make_entitlements(programme, make_rule(programme, "cz", region="130900"), 4, district="130903", start=400)
    return ents


def test_build_makes_one_batch_per_district_and_channel_and_skips_employer_funded(
    programme, luquan_data, officer_luquan
):
    built = batches_build(programme=programme, acting_user=officer_luquan)
    # The Luquan officer builds only Luquan's: bank card and social security card.
    assert sorted((b.district_id, b.channel, b.line_count, b.total) for b in built) == [
        ("130110", "bank_card", 5, Decimal("2500.00")),
        ("130110", "ss_card", 2, Decimal("600.00")),
    ]
    bank = next(b for b in built if b.channel == "bank_card")
    lines = list(bank.lines.order_by("seq"))
    assert [ln.seq for ln in lines] == [1, 2, 3, 4, 5]
    assert all(ln.status == LineStatus.PENDING and ln.account_cipher and ln.id_cipher for ln in lines)
    assert lines[0].account_masked.startswith("6222 ****")
    assert bank.status == BatchStatus.DRAFT and bank.created_by == officer_luquan
    assert not PaymentLine.objects.filter(entitlement__channel="employer").exists()
    # Building again finds nothing left.
    assert batches_build(programme=programme, acting_user=officer_luquan) == []
    assert Batch.objects.count() == 2
    assert AuditEntry.objects.filter(action="batch_build").count() == 2


def test_a_superuser_builds_every_district(programme, luquan_data, superuser):
    built = batches_build(programme=programme, acting_user=superuser)
    assert {(b.district_id, b.channel) for b in built} == {
        ("130110", "bank_card"),
        ("130110", "ss_card"),
        ("130903", "bank_card"),
    }


def test_officer_cannot_build_another_district(programme, luquan_data, officer_luquan):
    from regions.models import Region

    with pytest.raises(PermissionDenied):
        batches_build(programme=programme, district=Region.objects.get(code="130903"), acting_user=officer_luquan)


def test_a_build_without_a_user_is_refused_unless_the_system_says_so(programme, luquan_data):
    with pytest.raises(PermissionDenied):
        batches_build(programme=programme, acting_user=None)
    assert not Batch.objects.filter(programme=programme).exists()
    built = batches_build(programme=programme, acting_user=None, system=True)  # a command or a system job
    assert built and all(b.created_by is None for b in built)
    assert not BatchStep.objects.filter(batch__in=built).exists()  # no user: no step of anyone's


def test_a_build_job_nobody_asked_for_builds_as_the_system(programme, luquan_data):
    job = job_create(kind=JobKind.BUILD_BATCHES, requested_by=None, params={"programme_id": programme.pk})
    build_batches_task(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.DONE and Batch.objects.filter(programme=programme).exists(), job.message


def _chain_users():
    return (
        make_user("officer2", "district", "130110"),
        make_user("city2", "city", "130100"),
        make_user("prov2", "province", "130000"),
    )


def test_the_whole_chain_with_different_users(
    programme, luquan_data, officer_luquan, city_shijiazhuang, province_staff
):
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    assert allowed_actions(officer_luquan, batch) == ["submit"]
    batch = batch_submit(batch=batch, acting_user=officer_luquan, comment="请复核")
    assert allowed_actions(city_shijiazhuang, batch) == ["review", "return"]
    batch = batch_review(batch=batch, acting_user=city_shijiazhuang, comment="复核无误")
    batch = batch_approve(batch=batch, acting_user=province_staff, comment="同意发放")
    assert batch.status == BatchStatus.APPROVED
    assert batch.submitted_by == officer_luquan and batch.reviewed_by == city_shijiazhuang
    assert batch.approved_by == province_staff and batch.approved_at
    assert len(batch.content_hash) == 64
    steps = list(BatchStep.objects.filter(batch=batch).values_list("action", "user__username", "comment"))
    assert steps == [
        ("build", "officer_luquan", ""),
        ("submit", "officer_luquan", "请复核"),
        ("review", "city_shijiazhuang", "复核无误"),
        ("approve", "province_staff", "同意发放"),
    ]
    actions = set(
        AuditEntry.objects.filter(object_id=str(batch.pk), object_type="disbursements.batch").values_list(
            "action", flat=True
        )
    )
    assert {"batch_build", "batch_submit", "batch_review", "batch_approve"} <= actions
    assert batch_integrity_problems(batch) == []


def test_roles_and_scope_are_checked(
    programme, luquan_data, officer_luquan, officer_cangzhou, city_cangzhou, city_shijiazhuang, province_staff
):
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    with pytest.raises(PermissionDenied):
        batch_submit(batch=batch, acting_user=officer_cangzhou)  # another district
    with pytest.raises(PermissionDenied):
        batch_submit(batch=batch, acting_user=province_staff)
    with pytest.raises(ConflictError):
        batch_review(batch=batch, acting_user=city_shijiazhuang)  # not submitted yet
    batch_submit(batch=batch, acting_user=officer_luquan)
    with pytest.raises(PermissionDenied):
        batch_review(batch=batch, acting_user=city_cangzhou)  # not her city
    with pytest.raises(PermissionDenied):
        batch_approve(batch=batch, acting_user=city_shijiazhuang)
    with pytest.raises(ConflictError):
        batch_approve(batch=batch, acting_user=province_staff)  # not reviewed yet


def test_nobody_does_two_levels_of_one_batch(programme, luquan_data, superuser, province_staff, province_reviewer):
    # A superuser-built batch of a district: superuser is at district level from building.
    from accounts.choices import Role

    batch = batches_build(programme=programme, acting_user=superuser)[0]
    officer = make_user("off_x", Role.DISTRICT, batch.district_id)
    batch_submit(batch=batch, acting_user=officer)
    # A city user who later moves to the district cannot review what they submitted:
    officer.role, officer.region_id = Role.CITY, "130100"
    officer.save(update_fields=["role", "region"])
    with pytest.raises(PermissionDenied, match="经办与审核分离"):
        batch_review(batch=batch, acting_user=officer)
    city = make_user("city_x", Role.CITY, "130100")
    batch_review(batch=batch, acting_user=city)
    # The city reviewer, promoted to the province, may not approve the batch they reviewed.
    city.role, city.region_id = Role.PROVINCE, "130000"
    city.save(update_fields=["role", "region"])
    with pytest.raises(PermissionDenied):
        batch_approve(batch=batch, acting_user=city)
    assert allowed_actions(city, batch) == []
    batch_approve(batch=batch, acting_user=province_staff)


def test_direct_report_district_is_reviewed_and_approved_by_two_province_users(
    programme, province_staff, province_reviewer
):
    rule = make_rule(programme, "dz", region="130682", kind="monthly", amount="1800.00")
    make_entitlements(programme, rule, 2, district="130682", start=500)
    officer = make_user("dingzhou", "district", "130682")
    batch = batches_build(programme=programme, acting_user=officer)[0]
    batch_submit(batch=batch, acting_user=officer)
    batch_review(batch=batch, acting_user=province_reviewer)
    with pytest.raises(PermissionDenied):
        batch_approve(batch=batch, acting_user=province_reviewer)
    batch = batch_approve(batch=batch, acting_user=province_staff)
    assert batch.status == BatchStatus.APPROVED


def test_returning_sends_one_step_back_with_a_reason(
    programme, luquan_data, officer_luquan, city_shijiazhuang, province_staff
):
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    batch_submit(batch=batch, acting_user=officer_luquan)
    with pytest.raises(DomainError):
        batch_return(batch=batch, acting_user=city_shijiazhuang, comment=" ")
    with pytest.raises(PermissionDenied):
        batch_return(batch=batch, acting_user=officer_luquan, comment="自己退回")
    batch = batch_return(batch=batch, acting_user=city_shijiazhuang, comment="第3笔账号有误")
    assert batch.status == BatchStatus.DRAFT and batch.submitted_by is None
    batch = batch_submit(batch=batch, acting_user=officer_luquan, comment="已核实")
    batch = batch_review(batch=batch, acting_user=city_shijiazhuang)
    batch = batch_return(batch=batch, acting_user=province_staff, comment="请市级再核")
    assert batch.status == BatchStatus.SUBMITTED and batch.reviewed_by is None
    batch = batch_review(batch=batch, acting_user=city_shijiazhuang)
    batch = batch_approve(batch=batch, acting_user=province_staff)
    returns = BatchStep.objects.filter(batch=batch, action="return").values_list("level", "comment", "to_status")
    assert list(returns) == [("city", "第3笔账号有误", "draft"), ("province", "请市级再核", "submitted")]
    with pytest.raises(ConflictError):
        batch_return(batch=batch, acting_user=province_staff, comment="太晚了")  # approved is frozen


def test_tampering_with_a_frozen_batch_is_detected(
    programme, luquan_data, officer_luquan, city_shijiazhuang, province_staff
):
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    batch_submit(batch=batch, acting_user=officer_luquan)
    batch_review(batch=batch, acting_user=city_shijiazhuang)
    batch = batch_approve(batch=batch, acting_user=province_staff)
    line = batch.lines.order_by("seq").first()
    PaymentLine.objects.filter(pk=line.pk).update(account_cipher=batch.lines.last().account_cipher)
    problems = batch_integrity_problems(batch)
    assert any("篡改" in p for p in problems)


def test_amount_mismatch_blocks_approval(programme, luquan_data, officer_luquan, city_shijiazhuang, province_staff):
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    batch_submit(batch=batch, acting_user=officer_luquan)
    batch_review(batch=batch, acting_user=city_shijiazhuang)
    line = batch.lines.first()
    PaymentLine.objects.filter(pk=line.pk).update(amount=Decimal("499.99"))
    with pytest.raises(DomainError, match="不一致"):
        batch_approve(batch=batch, acting_user=province_staff)


def test_an_entitlement_cannot_have_two_live_lines(programme, luquan_data, officer_luquan):
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    line = batch.lines.first()
    other = Batch.objects.create(programme=programme, district_id="130110", channel="bank_card", number="X-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentLine.objects.create(
            batch=other, entitlement=line.entitlement, seq=1, amount=line.amount, name="x", id_cipher="x", id_masked="x"
        )
    PaymentLine.objects.filter(pk=line.pk).update(status=LineStatus.PAID)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentLine.objects.create(
            batch=other, entitlement=line.entitlement, seq=1, amount=line.amount, name="x", id_cipher="x", id_masked="x"
        )
    # A failed line leaves room for exactly one re-issue.
    PaymentLine.objects.filter(pk=line.pk).update(status=LineStatus.FAILED)
    PaymentLine.objects.create(
        batch=other, entitlement=line.entitlement, seq=1, amount=line.amount, name="x", id_cipher="x", id_masked="x"
    )


def test_supplement_reissues_corrected_failed_lines(programme, officer_luquan, city_shijiazhuang, province_staff):
    rule = make_rule(programme, "luquan_cash")
    ents = make_entitlements(programme, rule, 3, start=700)
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    failed = batch.lines.get(seq=2)
    PaymentLine.objects.filter(pk=failed.pk).update(status=LineStatus.FAILED, failure_reason="账号不存在")
    failed.refresh_from_db()
    with pytest.raises(DomainError, match="更正"):
        batch_build_supplement(batch=batch, acting_user=officer_luquan)
    with pytest.raises(DomainError):
        line_correct(line=failed, account="12ab", bank_name="中国银行", acting_user=officer_luquan)
    line_correct(
        line=failed, account="6217 0000 1111 2222 333", bank_name="中国银行鹿泉支行", acting_user=officer_luquan
    )
    supplement = batch_build_supplement(batch=batch, acting_user=officer_luquan)
    assert supplement.parent == batch and supplement.number.endswith("BF001")
    assert supplement.line_count == 1 and supplement.total == Decimal("500.00")
    new = supplement.lines.get()
    assert new.reissue_of == failed and new.entitlement == ents[1]
    assert new.account_masked == "6217 **** **** 2333" and new.bank_name == "中国银行鹿泉支行"
    with pytest.raises(DomainError):
        batch_build_supplement(batch=batch, acting_user=officer_luquan)  # nothing left to reissue
    # A normal build never picks up a failed entitlement.
    assert batches_build(programme=programme, acting_user=officer_luquan) == []
    assert AuditEntry.objects.filter(action="line_correct", object_id=str(failed.pk)).exists()
