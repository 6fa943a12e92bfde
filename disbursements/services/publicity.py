"""公示: who is to be paid is published, de-identified, for a review period before payment.

A district officer publishes a notice for a built batch, or for the district's granted
entitlements: one line per person with the name masked (张*三, 欧阳**), the employer,
the scheme and the amount — the lines are a snapshot, and an ID number, a phone or an
account never reaches them. The notice runs `notice_days` working days (the
programme's setting, default 5; statutory holidays skipped). Anyone may object to a
line, without an account; the officer upholds (the line is withdrawn or sent for
correction through the normal services) or dismisses it with a reason.

A batch cannot be submitted while a notice covering it is open, while it has an
unresolved objection, or — where the programme requires 公示 for its district — before
a notice has run at all (`batch_submission_block`).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.choices import Role
from accounts.models import User
from accounts.services.audit import audit_record
from accounts.services.notifications import after_commit
from beneficiaries.pii import mask_name
from beneficiaries.services.registrations import registration_withdraw
from core.errors import ConflictError, DomainError, PermissionDenied
from core.money import ZERO
from core.workdays import period_end
from disbursements.choices import (
    BatchStatus,
    EntitlementStatus,
    LineStatus,
    NoticeLineStatus,
    NoticeStatus,
    ObjectionStatus,
)
from disbursements.models import Batch, Entitlement, Notice, NoticeLine, Objection, PaymentLine, PublicityRequirement
from disbursements.services.batch_lines import PAID_CHANNELS, batch_close_gaps, batch_recount
from disbursements.services.fraud import held_lines
from disbursements.services.notify import objection_notify
from disbursements.services.safeguards import RateLimited, clean_text, rate_hit, safeguards_for, source_hash
from programs.models import Programme
from regions.models import Region

# Objections from one address: (count, window seconds), overall and per notice.
OBJECTION_IP_LIMIT = settings.GONGSHI_OBJECTION_IP_LIMIT
OBJECTION_NOTICE_LIMIT = settings.GONGSHI_OBJECTION_NOTICE_LIMIT
REASON_MAX, CONTACT_MAX, RESOLUTION_MAX = 1000, 100, 500
KEY_PREFIX = "gongshi"  # rate-limit counters in the cache (tests use their own prefix)


# --------------------------------------------------------------------------- text


def mask_person_name(name: str) -> str:
    """张三 → 张*, 张小三 → 张*三, 欧阳娜娜 → 欧阳** (beneficiaries.pii.mask_name)."""
    return mask_name(name)


def objection_rate_check(*, notice: Notice, ip: str) -> None:
    who = source_hash(ip)[:32]
    if rate_hit(f"{KEY_PREFIX}:obj:ip:{who}", OBJECTION_IP_LIMIT):
        raise RateLimited(
            "提交异议过于频繁，请一小时后再试；如情况紧急，请拨打公示所列监督电话。", OBJECTION_IP_LIMIT[1]
        )
    if rate_hit(f"{KEY_PREFIX}:obj:n{notice.pk}:{who}", OBJECTION_NOTICE_LIMIT):
        raise RateLimited("您对本公示提交的异议已达上限，请拨打公示所列监督电话反映。", OBJECTION_NOTICE_LIMIT[1])


# --------------------------------------------------------------------------- settings


def publicity_required(*, programme: Programme, district: Region) -> bool:
    """Does the programme require 公示 before paying in `district`? (A requirement for a
    city covers its districts.)"""
    paths = [district.path[:i] for i in range(7, len(district.path) + 1, 7)]
    return PublicityRequirement.objects.filter(programme=programme, region__path__in=paths).exists()


# --------------------------------------------------------------------------- notices


def _may_publish(user: User, district: Region) -> bool:
    if user.is_superuser:
        return True
    return user.role == Role.DISTRICT and user.region_id is not None and district.path.startswith(user.region.path)


def notice_create(
    *,
    acting_user: User,
    contact_phone: str,
    batch: Batch | None = None,
    programme: Programme | None = None,
    district: Region | None = None,
    title: str = "",
    days: int | None = None,
    starts_on: dt.date | None = None,
) -> Notice:
    """Publish a notice for `batch` (a draft), or for `district`'s granted, programme-paid
    entitlements of `programme` that are not in a submitted batch yet."""
    if batch is not None:
        programme, district = batch.programme, batch.district
        if batch.status != BatchStatus.DRAFT:
            raise ConflictError("只能为草稿状态的批次发布公示（公示须在提交前完成）。")
    if programme is None or district is None:
        raise DomainError("请选择批次，或选择项目和区县。")
    if not _may_publish(acting_user, district):
        raise PermissionDenied("只有本区县的人社专员可以发布公示。")
    contact_phone = clean_text(contact_phone, max_length=30)
    if not contact_phone:
        raise DomainError("请填写监督电话（区县人社局的联系电话）。", errors={"contact_phone": ["请填写监督电话"]})
    days = days or safeguards_for(programme).notice_days
    if not 1 <= days <= 30:
        raise DomainError("公示期应为 1–30 个工作日。", errors={"days": ["公示期应为 1–30 个工作日"]})
    starts_on = starts_on or timezone.localdate()
    title = clean_text(title, max_length=200) or f"{district.name}{programme.name}拟发放人员名单公示"
    with transaction.atomic():
        rows = _notice_rows(batch, programme, district, starts_on)
        if not rows:
            raise DomainError("没有可公示的发放人员。")
        notice = Notice.objects.create(
            programme=programme,
            district=district,
            batch=batch,
            title=title,
            contact_phone=contact_phone,
            starts_on=starts_on,
            ends_on=period_end(starts_on, days),
            days=days,
            line_count=len(rows),
            total=sum((row[4] for row in rows), ZERO),
            created_by=acting_user,
        )
        NoticeLine.objects.bulk_create(
            [
                NoticeLine(
                    notice=notice,
                    seq=seq,
                    entitlement_id=ent_id,
                    name_masked=mask_person_name(name),
                    employer_name=employer,
                    scheme=scheme,
                    amount=amount,
                )
                for seq, (ent_id, name, employer, scheme, amount) in enumerate(rows, start=1)
            ],
            batch_size=2000,
        )
        audit_record(
            user=acting_user,
            action="notice_publish",
            obj=notice,
            changes={
                "batch": batch.number if batch else None,
                "district": district.code,
                "period": [str(notice.starts_on), str(notice.ends_on)],
                "lines": notice.line_count,
                "total": str(notice.total),
            },
        )
    return notice


def _notice_rows(batch: Batch | None, programme: Programme, district: Region, starts_on: dt.date) -> list[tuple]:
    """(entitlement, name, employer, scheme, amount) of everyone the notice lists: the
    batch's pending lines, or the district's entitlements not yet in a submitted batch."""
    if batch is not None:
        # One notice at a time per batch: two officers clicking at once get one.
        Batch.objects.select_for_update().filter(pk=batch.pk).first()
        if Notice.objects.filter(batch=batch, status=NoticeStatus.PUBLISHED, ends_on__gte=starts_on).exists():
            raise ConflictError("本批次已有公示正在进行中。")
        source = (
            PaymentLine.objects.filter(batch=batch, status=LineStatus.PENDING)
            .order_by("seq")
            .values_list("entitlement_id", flat=True)
        )
        entitlements = Entitlement.objects.filter(pk__in=list(source))
    else:
        entitlements = _district_entitlements(programme, district)
    return list(
        entitlements.order_by("registration__employer__name", "person__name", "id").values_list(
            "id", "person__name", "registration__employer__name", "rule__name", "amount"
        )
    )


def _district_entitlements(programme: Programme, district: Region):
    in_chain = PaymentLine.objects.filter(
        status__in=[LineStatus.PENDING, LineStatus.PAID],
        batch__status__in=[s for s in BatchStatus.values if s != "draft"],
    ).values("entitlement_id")
    return Entitlement.objects.filter(
        programme=programme,
        district__path__startswith=district.path,
        status=EntitlementStatus.GRANTED,
        channel__in=PAID_CHANNELS,
    ).exclude(pk__in=in_chain)


def notice_withdraw(*, notice: Notice, acting_user: User, reason: str) -> Notice:
    """Take a notice down (published in error). The reason is audited."""
    reason = clean_text(reason, max_length=RESOLUTION_MAX)
    if not reason:
        raise DomainError("撤回公示时必须填写原因。", errors={"reason": ["请填写撤回原因"]})
    if not _may_publish(acting_user, notice.district):
        raise PermissionDenied("只有本区县的人社专员可以撤回公示。")
    updated = Notice.objects.filter(pk=notice.pk, status=NoticeStatus.PUBLISHED).update(
        status=NoticeStatus.WITHDRAWN, version=notice.version + 1
    )
    if updated != 1:
        raise ConflictError("公示已撤回。")
    audit_record(
        user=acting_user,
        action="notice_withdraw",
        obj=notice,
        changes={"status": [NoticeStatus.PUBLISHED, NoticeStatus.WITHDRAWN]},
        comment=reason,
    )
    notice.refresh_from_db()
    return notice


def notices_public(*, region: Region | None = None):
    """Published notices, newest first, optionally within a city or district."""
    qs = Notice.objects.public().select_related("district", "district__parent", "programme")
    if region is not None:
        qs = qs.filter(district__path__startswith=region.path)
    return qs.order_by("-starts_on", "-id")


def notice_totals(notice: Notice) -> dict:
    """Totals of the lines still listed (withdrawn ones are shown struck out, not counted)."""
    agg = notice.lines.filter(status=NoticeLineStatus.LISTED).aggregate(n=Count("id"), total=Sum("amount"))
    return {"count": agg["n"] or 0, "total": agg["total"] or ZERO}


# --------------------------------------------------------------------------- objections


def objection_file(*, notice: Notice, line_seq: int | None, reason: str, contact: str = "", ip: str = "") -> Objection:
    """Anyone files an objection to an open notice (the view checks the rate first)."""
    if not notice.is_open():
        raise ConflictError("该公示不在公示期内，不能再提出异议；如有问题请拨打监督电话。")
    reason = clean_text(reason, max_length=REASON_MAX)
    if len(reason) < 5:
        raise DomainError("请写明异议理由（至少 5 个字）。", errors={"reason": ["请写明异议理由（至少 5 个字）"]})
    line = None
    if line_seq:
        line = NoticeLine.objects.filter(notice=notice, seq=line_seq).first()
        if line is None:
            raise DomainError(
                f"公示中没有序号为 {line_seq} 的人员，请核对序号。", errors={"line": ["公示中没有该序号"]}
            )
    objection = Objection.objects.create(
        notice=notice,
        line=line,
        reason=reason,
        contact=clean_text(contact, max_length=CONTACT_MAX),
        source_hash=source_hash(ip) if ip else "",
    )
    audit_record(
        user=None,
        action="objection_file",
        obj=objection,
        changes={"notice": notice.pk, "line": line.seq if line else None, "status": [None, ObjectionStatus.OPEN]},
    )
    after_commit(objection_notify, objection=objection)  # the district officers who must check it
    return objection


OUTCOME_WITHDRAW, OUTCOME_CORRECT = "withdraw", "correct"


def objection_resolve(
    *, objection: Objection, acting_user: User, decision: str, resolution: str, outcome: str = ""
) -> Objection:
    """Uphold or dismiss an objection, with a reason.

    Upheld with `withdraw`: the person's registration is withdrawn (beneficiaries'
    normal service), the pending line leaves the draft batch and the entitlement is
    withdrawn. Upheld with `correct`: the line leaves the draft batch and waits for the
    officer to correct the registration; the next computation and batch pick it up.
    """
    resolution = clean_text(resolution, max_length=RESOLUTION_MAX)
    if decision not in (ObjectionStatus.UPHELD, ObjectionStatus.DISMISSED):
        raise DomainError("请选择“异议成立”或“异议不成立”。")
    if not resolution:
        raise DomainError("请填写处理意见。", errors={"resolution": ["请填写处理意见"]})
    if not _may_publish(acting_user, objection.notice.district):
        raise PermissionDenied("只有本区县的人社专员可以处理异议。")
    if decision == ObjectionStatus.UPHELD:
        if objection.line is None:
            outcome = ""
        elif outcome not in (OUTCOME_WITHDRAW, OUTCOME_CORRECT):
            raise DomainError("异议成立时请选择：撤销该人员，或待更正后再发放。")
    else:
        outcome = ""
    with transaction.atomic():
        updated = Objection.objects.filter(pk=objection.pk, status=ObjectionStatus.OPEN).update(
            status=decision, outcome=outcome, resolution=resolution, resolved_by=acting_user, resolved_at=timezone.now()
        )
        if updated != 1:
            raise ConflictError("该异议已经处理过了，请刷新页面。")
        if outcome:
            _apply_upheld(objection, outcome, acting_user, resolution)
        audit_record(
            user=acting_user,
            action="objection_resolve",
            obj=objection,
            changes={"status": [ObjectionStatus.OPEN, decision], "outcome": outcome or None},
            comment=resolution,
        )
    objection.refresh_from_db()
    return objection


def _apply_upheld(objection: Objection, outcome: str, user: User, resolution: str) -> None:

    line = objection.line
    entitlement = Entitlement.objects.select_related("registration").get(pk=line.entitlement_id)
    new_status = NoticeLineStatus.WITHDRAWN if outcome == OUTCOME_WITHDRAW else NoticeLineStatus.CORRECTED
    NoticeLine.objects.filter(pk=line.pk).update(status=new_status)
    Notice.objects.filter(pk=line.notice_id).update(version=objection.notice.version + 1)
    audit_record(
        user=user,
        action="notice_line_" + new_status,
        obj=line,
        changes={"status": [line.status, new_status]},
        comment=f"异议#{objection.pk}成立：{resolution}",
    )
    batch_line_remove_pending(entitlement=entitlement, acting_user=user, reason=f"公示异议#{objection.pk}成立")
    if outcome == OUTCOME_WITHDRAW:
        registration_withdraw(
            registration=entitlement.registration, acting_user=user, reason=f"公示异议成立：{resolution}"
        )
        if entitlement.status == EntitlementStatus.GRANTED:
            Entitlement.objects.filter(pk=entitlement.pk).update(status=EntitlementStatus.WITHDRAWN)
            audit_record(
                user=user,
                action="entitlement_withdraw",
                obj=entitlement,
                changes={
                    "status": [EntitlementStatus.GRANTED, EntitlementStatus.WITHDRAWN],
                    "amount": str(entitlement.amount),
                },
                comment=f"公示异议#{objection.pk}成立",
            )


def batch_line_remove_pending(*, entitlement: Entitlement, acting_user: User, reason: str) -> PaymentLine | None:
    """Take an entitlement's pending line out of its draft batch (a 公示 objection was
    upheld before submission). Batches past draft are frozen for good: refused."""
    line = (
        PaymentLine.objects.select_related("batch").filter(entitlement=entitlement, status=LineStatus.PENDING).first()
    )
    if line is None:
        return None
    batch = Batch.objects.select_for_update().get(pk=line.batch_id)
    if batch.status != BatchStatus.DRAFT:
        raise ConflictError(f"该人员所在批次 {batch.number} 已提交，不能再移出；请先退回批次。")
    old_count, old_total = batch.line_count, batch.total
    line.delete()
    batch_recount(batch)
    batch_close_gaps(batch)
    audit_record(
        user=acting_user,
        action="batch_line_remove",
        obj=batch,
        changes={
            "line_count": [old_count, batch.line_count],
            "total": [str(old_total), str(batch.total)],
            "entitlement": entitlement.pk,
            "amount": str(line.amount),
        },
        comment=reason,
    )
    return line


# --------------------------------------------------------------------------- the rule at submission


def notices_covering(batch: Batch):
    """Notices of this batch, and district notices that list any of its entitlements."""
    return Notice.objects.filter(
        Q(batch=batch) | Q(batch__isnull=True, lines__entitlement__lines__batch=batch), status=NoticeStatus.PUBLISHED
    ).distinct()


def batch_submission_block(batch: Batch, *, today: dt.date | None = None) -> str | None:
    """Why `batch` may not be submitted yet (in Chinese, with until when), or None."""
    today = today or timezone.localdate()
    notices = list(notices_covering(batch).order_by("-ends_on"))
    open_notice = next((n for n in notices if n.ends_on >= today), None)
    if open_notice is not None:
        return (
            f"本批次正在公示（“{open_notice.title}”，公示期 {open_notice.starts_on:%Y-%m-%d} 至 "
            f"{open_notice.ends_on:%Y-%m-%d}），公示期满后（{open_notice.ends_on + dt.timedelta(days=1):%Y-%m-%d} 起）方可提交。"
        )
    pending = Objection.objects.filter(notice__in=[n.pk for n in notices], status=ObjectionStatus.OPEN).count()
    if pending:
        return f"本批次的公示还有 {pending} 条异议尚未处理，请在“公示管理”中处理完毕后再提交。"
    if not notices and publicity_required(programme=batch.programme, district=batch.district):
        days = safeguards_for(batch.programme).notice_days
        until = period_end(today, days)
        return (
            f"本项目要求{batch.district.name}的发放名单先公示 {days} 个工作日才能提交。"
            f"请先发布公示；今天发布的公示到 {until:%Y-%m-%d} 结束，{until + dt.timedelta(days=1):%Y-%m-%d} 起可提交。"
        )
    held = held_lines(batch).count()
    if held:
        return f"本批次有 {held} 笔明细存在待核查的高风险预警，请先在“风险预警”中排除或确认，确认的人员须移出批次。"
    return None
