"""Appeals (申诉): a worker or an employer agent disputes a registration or a payment;
the district officer answers within `appeal_days` working days (default 10).

A worker files from the public lookup after the same identity check (ID number, name,
phone tail): the lookup hands the page a signed, short-lived token naming the person
(`appeal_token`), so the filing form needs no second check and cannot be forged for
somebody else. An employer agent files in the portal about a registration or a
payment line of its own employer.

The resolution names the fix: `corrected` needs a correction of the registration made
after the appeal was filed (found in the audit trail), `reissued` a 补发 line of the
person's entitlement, `explained` only the reasoned refusal. The worker reads the
outcome, masked, on the lookup.
"""

from __future__ import annotations

from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.choices import Role
from accounts.models import AuditEntry, User
from accounts.services.audit import audit_record
from accounts.services.notifications import after_commit
from beneficiaries.models import Person, Registration
from core.errors import ConflictError, DomainError, PermissionDenied
from core.workdays import add_workdays
from disbursements.choices import AppealKind, AppealOutcome, AppealStatus
from disbursements.models import Appeal, PaymentLine
from disbursements.services.notify import appeal_notify
from disbursements.services.safeguards import RateLimited, clean_text, rate_hit, safeguards_for, source_hash

TOKEN_SALT = "disbursements.appeal"
TOKEN_MAX_AGE = 30 * 60  # seconds: long enough to write an appeal, short enough not to linger
TEXT_MAX, RESOLUTION_MAX = 1000, 500
IP_LIMIT, PERSON_LIMIT = (5, 3600), (3, 86400)
KEY_PREFIX = "appeal"  # rate-limit counters in the cache (tests use their own prefix)
# Audit actions that correct a registration (the fix an appeal resolved as `corrected` links to).
CORRECTIONS = (
    "registration_update",
    "registration_reinstate",
    "registration_resolve_conflict",
    "registration_account_correct",
)


# --------------------------------------------------------------------------- worker side


def appeal_token(person_id: int) -> str:
    return signing.dumps({"p": person_id}, salt=TOKEN_SALT, compress=True)


def person_from_token(token: str) -> Person:
    try:
        data = signing.loads(token or "", salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise DomainError("身份核验已超过 30 分钟，请重新查询后再提交申诉。") from exc
    except signing.BadSignature as exc:
        raise DomainError("请先通过本人查询核验身份，再提交申诉。") from exc
    person = Person.objects.filter(pk=data.get("p")).first()
    if person is None:
        raise DomainError("请先通过本人查询核验身份，再提交申诉。")
    return person


def worker_rate_check(*, person: Person, ip: str) -> None:
    if rate_hit(f"{KEY_PREFIX}:ip:{source_hash(ip)[:32]}", IP_LIMIT):
        raise RateLimited("提交申诉过于频繁，请一小时后再试。", IP_LIMIT[1])
    if rate_hit(f"{KEY_PREFIX}:p:{person.pk}", PERSON_LIMIT):
        raise RateLimited("您今天提交的申诉已达上限，请耐心等待答复，或联系所在区县人社部门。", PERSON_LIMIT[1])


def _text(text: str) -> str:
    text = clean_text(text, max_length=TEXT_MAX)
    if len(text) < 5:
        raise DomainError("请写明申诉的具体情况（至少 5 个字）。", errors={"text": ["请写明申诉的具体情况"]})
    return text


def _kind(kind: str) -> str:
    if kind not in AppealKind.values:
        raise DomainError("请选择申诉事项。", errors={"kind": ["请选择申诉事项"]})
    return kind


def _create(*, registration: Registration, kind, text, user=None, person=None, line=None, by_worker=False) -> Appeal:
    today = timezone.localdate()
    appeal = Appeal.objects.create(
        programme_id=registration.programme_id,
        district_id=registration.district_id,
        person_id=registration.person_id if person is None else person.pk,
        employer_id=registration.employer_id,
        registration=registration,
        line=line,
        kind=kind,
        text=text,
        filed_by=user,
        filed_by_worker=by_worker,
        due_on=add_workdays(today, safeguards_for(registration.programme).appeal_days),
    )
    audit_record(
        user=user,
        action="appeal_file",
        obj=appeal,
        changes={"status": [None, AppealStatus.OPEN], "kind": kind, "by": "worker" if by_worker else "employer"},
    )
    after_commit(appeal_notify, appeal=appeal)  # the district officers who must answer it
    return appeal


def appeal_file_worker(*, person: Person, registration_id: int | None, kind: str, text: str) -> Appeal:
    """A worker's appeal about one of their registrations (the latest when not named)."""
    kind, text = _kind(kind), _text(text)
    registrations = Registration.objects.filter(person=person).select_related("programme").order_by("-created_at")
    registration = registrations.filter(pk=registration_id).first() if registration_id else registrations.first()
    if registration is None:
        raise DomainError("没有找到您的留岗登记，无法确定受理的区县；请直接联系用人单位所在区县人社部门。")
    return _create(registration=registration, kind=kind, text=text, person=person, by_worker=True)


# --------------------------------------------------------------------------- employer side


def appeal_file_employer(
    *,
    acting_user: User,
    kind: str,
    text: str,
    registration: Registration | None = None,
    line: PaymentLine | None = None,
) -> Appeal:
    """An employer agent's appeal about a rejected registration or a failed payment of
    its own employer (anything else is not found: 404 at the edge, refused here)."""
    if acting_user.role != Role.EMPLOYER:
        raise PermissionDenied("只有用人单位经办人可以在此提交申诉。")
    kind, text = _kind(kind), _text(text)
    if line is not None:
        registration = line.entitlement.registration
    if registration is None:
        raise DomainError("请选择申诉涉及的登记或发放明细。")
    if not Registration.objects.for_user(acting_user).filter(pk=registration.pk).exists():
        raise PermissionDenied("只能对本单位的登记或发放提出申诉。")
    return _create(registration=registration, kind=kind, text=text, user=acting_user, line=line)


# --------------------------------------------------------------------------- officer side


def may_resolve(user: User, appeal: Appeal) -> bool:
    if user.is_superuser:
        return True
    return (
        user.role == Role.DISTRICT and user.region_id is not None and appeal.district.path.startswith(user.region.path)
    )


def _fix_for(appeal: Appeal, outcome: str) -> str:
    """The fix the resolution links to, or a DomainError saying what to do first."""
    if outcome == AppealOutcome.CORRECTED:
        ids = list(
            Registration.objects.filter(person_id=appeal.person_id, programme_id=appeal.programme_id).values_list(
                "pk", flat=True
            )
        )
        if appeal.registration_id and appeal.registration_id not in ids:
            ids.append(appeal.registration_id)
        fix = (
            AuditEntry.objects.filter(
                object_type="beneficiaries.registration",
                object_id__in=[str(i) for i in ids],
                action__in=CORRECTIONS,
                at__gte=appeal.created_at,
            )
            .order_by("-at")
            .first()
        )
        if fix is None:
            raise DomainError("请先在留岗登记页面更正该人员的登记（或为失败明细更正账号），再以“已更正登记”办结申诉。")
        return f"registration:{fix.object_id}"
    if outcome == AppealOutcome.REISSUED:
        line = (
            PaymentLine.objects.filter(
                entitlement__person_id=appeal.person_id,
                entitlement__programme_id=appeal.programme_id,
                reissue_of__isnull=False,
            )
            .select_related("batch")
            .order_by("-id")
            .first()
        )
        if line is None:
            raise DomainError("该人员还没有补发明细：请先更正账号并生成补发批次，再以“已补发”办结申诉。")
        return f"line:{line.pk}:{line.batch.number}"
    return ""


def appeal_resolve(*, appeal: Appeal, acting_user: User, outcome: str, resolution: str) -> Appeal:
    if outcome not in AppealOutcome.values:
        raise DomainError("请选择办理结果。", errors={"outcome": ["请选择办理结果"]})
    resolution = clean_text(resolution, max_length=RESOLUTION_MAX)
    if not resolution:
        raise DomainError("请填写给申诉人的答复意见。", errors={"resolution": ["请填写答复意见"]})
    if not may_resolve(acting_user, appeal):
        raise PermissionDenied("只有受理区县的人社专员可以办结申诉。")
    fix = _fix_for(appeal, outcome)
    with transaction.atomic():
        updated = Appeal.objects.filter(pk=appeal.pk, status=AppealStatus.OPEN).update(
            status=AppealStatus.RESOLVED,
            outcome=outcome,
            resolution=resolution,
            fix_reference=fix,
            resolved_by=acting_user,
            resolved_at=timezone.now(),
        )
        if updated != 1:
            raise ConflictError("该申诉已经办结，请刷新页面。")
        audit_record(
            user=acting_user,
            action="appeal_resolve",
            obj=appeal,
            changes={"status": [AppealStatus.OPEN, AppealStatus.RESOLVED], "outcome": outcome, "fix": fix or None},
            comment=resolution,
        )
    appeal.refresh_from_db()
    return appeal


def appeals_overdue(qs, today=None):
    return qs.filter(status=AppealStatus.OPEN, due_on__lt=today or timezone.localdate())


def appeals_for_lookup(person_id: int) -> list[dict]:
    """A worker's appeals as the lookup shows them: no officer names, no other people."""
    rows = Appeal.objects.filter(Q(person_id=person_id)).select_related("district").order_by("-created_at")[:20]
    return [
        {
            "number": a.pk,
            "kind": a.get_kind_display(),
            "filed": a.created_at,
            "due_on": a.due_on,
            "district": a.district.name,
            "status": a.get_status_display(),
            "resolved": a.status == AppealStatus.RESOLVED,
            "outcome": a.get_outcome_display() if a.outcome else "",
            "resolution": a.resolution,
        }
        for a in rows
    ]
