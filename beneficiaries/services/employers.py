"""Writes on employers: register, update, move (with their registrations), verify, return."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.choices import Role
from accounts.models import AuditEntry, User
from accounts.scopes import is_admin
from accounts.services.audit import audit_record
from accounts.services.notifications import after_commit
from beneficiaries.choices import EmployerStatus, Ownership, RegistrationStatus
from beneficiaries.models import Employer, Registration
from beneficiaries.notify import employer_returned_notify
from beneficiaries.services.access import is_district_officer_for
from beneficiaries.services.fields import clean_phone, clean_text, district_region
from beneficiaries.signals import registry_changed_send
from beneficiaries.uscc import USCCError, validate_uscc
from core.errors import ConflictError, DomainError, PermissionDenied

EMPLOYER_EDITABLE = ("name", "ownership", "district", "industry", "contact_name", "contact_phone", "address")


def may_edit_employer(user: User, employer: Employer) -> bool:
    """Its agents, the officer of its district, administrators."""
    if is_admin(user) or is_district_officer_for(user, employer):
        return True
    return user.role == Role.EMPLOYER and employer.agents.filter(pk=user.pk).exists()


@transaction.atomic
def employer_register(
    *,
    acting_user: User,
    credit_code: str,
    name: str,
    ownership: str,
    district,
    industry: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    address: str = "",
) -> Employer:
    """An employer agent signs its employer up; it waits for the district officer (pending)."""
    if not (acting_user.role == Role.EMPLOYER or is_admin(acting_user)):
        raise PermissionDenied("只有企业经办人可以登记用人单位。")
    try:
        code = validate_uscc(credit_code)
    except USCCError as exc:
        raise DomainError(str(exc), errors={"credit_code": str(exc)}) from None
    if ownership not in Ownership.values:
        raise DomainError("请选择经济类型。", errors={"ownership": "请选择经济类型"})
    region = district_region(district)
    existing = Employer.objects.filter(credit_code=code).first()
    if existing is not None:
        raise ConflictError(
            f"统一社会信用代码 {code} 已登记（{existing.name}）。如需成为该单位的经办人，请联系所在区县人社部门。",
            errors={"credit_code": "该代码已登记"},
        )
    employer = Employer(
        credit_code=code,
        name=clean_text(name, "name", "单位名称", max_length=200),
        ownership=ownership,
        district=region,
        industry=clean_text(industry, "industry", "行业", max_length=100, required=False),
        contact_name=clean_text(contact_name, "contact_name", "联系人", max_length=50, required=False),
        contact_phone=clean_phone(contact_phone),
        address=clean_text(address, "address", "地址", max_length=200, required=False),
        status=EmployerStatus.PENDING,
    )
    try:
        with transaction.atomic():
            employer.save()
    except IntegrityError:  # registered by someone else a moment ago
        raise ConflictError(f"统一社会信用代码 {code} 已登记。", errors={"credit_code": "该代码已登记"}) from None
    if acting_user.role == Role.EMPLOYER:
        employer.agents.add(acting_user)
    audit_record(
        user=acting_user,
        action="employer_register",
        obj=employer,
        changes={"credit_code": code, "name": employer.name, "district": region.code},
    )
    registry_changed_send(Employer, districts=[region.code])  # the district's employer count
    return employer


@transaction.atomic
def employer_update(*, employer: Employer, acting_user: User, **fields) -> Employer:
    """Correct an employer's details. A returned employer goes back to pending (resubmitted).

    A change of district is a move (`employer_move`): before verification its agent may
    move it; after verification only the officer of its district may, because a move
    takes its staff, and what they are granted, into another district's rules."""
    employer = Employer.objects.select_for_update().select_related("district").get(pk=employer.pk)
    if not may_edit_employer(acting_user, employer):
        raise PermissionDenied("只有本单位经办人或所在区县人社专员可以修改单位信息。")
    unknown = set(fields) - set(EMPLOYER_EDITABLE)
    if unknown:
        raise DomainError(f"不能修改这些字段：{'、'.join(sorted(unknown))}。")
    district = fields.pop("district", None)
    if district is not None and district_region(district).code != employer.district_id:
        employer = employer_move(employer=employer, district=district, acting_user=acting_user)
    changes = {}
    for field, value in fields.items():
        if field == "ownership":
            if value not in Ownership.values:
                raise DomainError("请选择经济类型。", errors={"ownership": "请选择经济类型"})
            old, new = employer.ownership, value
        elif field == "contact_phone":
            value = clean_phone(value)
            old, new = employer.contact_phone, value
        else:
            limits = {"name": 200, "industry": 100, "contact_name": 50, "address": 200}
            value = clean_text(
                value,
                field,
                Employer._meta.get_field(field).verbose_name,
                max_length=limits[field],
                required=field == "name",
            )
            old, new = getattr(employer, field), value
        if old != new:
            changes[field] = [old, new]
            setattr(employer, field, value)
    if not changes:
        return employer
    update_fields = [f for f in changes]
    if employer.status == EmployerStatus.RETURNED:
        employer.status, employer.verified_by, employer.verified_at = EmployerStatus.PENDING, None, None
        update_fields += ["status", "verified_by", "verified_at"]
        changes["status"] = "pending"
    employer.save(update_fields=update_fields)
    audit_record(user=acting_user, action="employer_update", obj=employer, changes=changes)
    # Its ownership and status decide what its staff are granted: their districts are
    # computed again within a minute (a name or a phone only changes what is shown).
    registry_changed_send(
        Employer, districts=[employer.district_id], recompute=bool({"ownership", "status"} & set(changes))
    )
    return employer


def may_move_employer(user: User, employer: Employer) -> bool:
    """Before verification its agents (and the officer); after, only the officer of its
    district (or an administrator): a verified employer's staff count in that district."""
    if is_admin(user) or is_district_officer_for(user, employer):
        return True
    return employer.status != EmployerStatus.VERIFIED and may_edit_employer(user, employer)


# Registrations that still count: they move with their employer. Rejected and withdrawn
# ones stay where they were registered (a record of what happened there).
MOVING_REGISTRATIONS = (RegistrationStatus.ACTIVE, RegistrationStatus.CONFLICT)


@transaction.atomic
def employer_move(*, employer: Employer, district, acting_user: User, reason: str = "") -> Employer:
    """Move an employer to another district, and its registrations with it.

    A registration's stay district is its employer's: the staff move too, so that the
    new district's officer sees them and its rules decide their grants (the next
    computation withdraws the old district's unbatched entitlements and grants the new
    ones). Refused while any of them has money on its way (a pending payment line):
    that batch belongs to the old district and must finish first. A verified employer
    stays verified: its officer moved it. Audited for the employer and for each
    registration (old and new district)."""
    employer = Employer.objects.select_for_update().select_related("district").get(pk=employer.pk)
    if not may_move_employer(acting_user, employer):
        if employer.status == EmployerStatus.VERIFIED and may_edit_employer(acting_user, employer):
            raise PermissionDenied(
                "单位已通过审核，不能自行更改所在区县：请联系所在区县人社专员办理迁移。",
                errors={"district": "已审核的单位由区县人社专员迁移"},
            )
        raise PermissionDenied("只有单位所在区县的人社专员可以迁移用人单位。")
    target = district_region(district)
    old = employer.district
    if target.code == old.code:
        return employer
    moving = Registration.objects.select_for_update().filter(
        employer=employer, district_id=old.code, status__in=MOVING_REGISTRATIONS
    )
    # Money on its way: a pending payment line of one of these registrations. Read through
    # the reverse relations so that this app needs nothing from disbursements.
    in_flight = moving.filter(entitlements__lines__status="pending").count()
    if in_flight:
        raise ConflictError(
            f"该单位有{in_flight}名人员在尚未完成的发放批次中，批次完成（银行结果导入）后才能迁移所在区县。",
            errors={"district": "有未完成的发放批次"},
        )
    moved = list(moving.values_list("pk", flat=True))
    now = timezone.now()
    Registration.objects.filter(pk__in=moved).update(district=target, updated_at=now)
    employer.district = target
    employer.save(update_fields=["district"])
    comment = clean_text(reason, "reason", "迁移原因", max_length=500, required=False)
    audit_record(
        user=acting_user,
        action="employer_move",
        obj=employer,
        changes={"district": [old.code, target.code], "registrations_moved": len(moved)},
        comment=comment,
    )
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                user=acting_user if acting_user.is_authenticated else None,
                action="registration_move",
                object_type=Registration._meta.label_lower,
                object_id=str(pk),
                changes={"district": [old.code, target.code], "employer": employer.pk},
                comment=comment,
            )
            for pk in moved
        ],
        batch_size=1000,
    )
    # Both districts' figures change, and what the moved staff are granted (the new
    # district's rules; the old district's unbatched rows are withdrawn).
    registry_changed_send(Employer, districts=[old.code, target.code], recompute=True)
    return employer


@transaction.atomic
def employer_verify(*, employer: Employer, acting_user: User) -> Employer:
    """The district officer confirms the employer: from now on its staff count."""
    employer = Employer.objects.select_for_update().select_related("district").get(pk=employer.pk)
    if not is_district_officer_for(acting_user, employer):
        raise PermissionDenied("只有单位所在区县的人社专员可以审核用人单位。")
    if employer.status == EmployerStatus.VERIFIED:
        return employer
    employer.status = EmployerStatus.VERIFIED
    employer.verified_by = acting_user
    employer.verified_at = timezone.now()
    employer.return_reason = ""
    employer.save(update_fields=["status", "verified_by", "verified_at", "return_reason"])
    audit_record(user=acting_user, action="employer_verify", obj=employer, changes={"status": "verified"})
    registry_changed_send(Employer, districts=[employer.district_id], recompute=True)  # from now on its staff count
    return employer


@transaction.atomic
def employer_return(*, employer: Employer, acting_user: User, reason: str) -> Employer:
    """The district officer sends the employer back to its agent with a reason."""
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise DomainError("退回时必须填写原因，告诉企业需要修改什么。", errors={"reason": "请填写退回原因"})
    employer = Employer.objects.select_for_update().select_related("district").get(pk=employer.pk)
    if not is_district_officer_for(acting_user, employer):
        raise PermissionDenied("只有单位所在区县的人社专员可以退回用人单位。")
    previous = employer.status
    employer.status = EmployerStatus.RETURNED
    employer.return_reason = reason[:500]
    employer.verified_by, employer.verified_at = None, None
    employer.save(update_fields=["status", "return_reason", "verified_by", "verified_at"])
    entry = audit_record(
        user=acting_user,
        action="employer_return",
        obj=employer,
        changes={"status": [previous, "returned"]},
        comment=reason,
    )
    registry_changed_send(Employer, districts=[employer.district_id], recompute=previous == EmployerStatus.VERIFIED)
    # The agents are told once the return has committed (what to correct, and where).
    after_commit(employer_returned_notify, employer_id=employer.pk, audit_id=entry.pk)
    return employer
