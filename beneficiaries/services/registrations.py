"""Writes on registrations: create (or reinstate), update, withdraw, resolve a conflict.

Lock order (to avoid deadlocks between two employers registering the same person):
Person row first, then that person's registrations."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from accounts.choices import Role
from accounts.models import User
from accounts.scopes import is_admin
from accounts.services.audit import audit_record
from beneficiaries import pii
from beneficiaries.choices import CONFLICT_NOTE, Category, EmployerStatus, PayoutChoice, RegistrationStatus, Source
from beneficiaries.importer.cells import CellError, bank_name
from beneficiaries.models import REGISTRATION_STAY_FIELDS, Employer, Person, Registration
from beneficiaries.services.access import is_district_officer_for, user_covers_region
from beneficiaries.services.persons import person_upsert
from beneficiaries.signals import registry_changed_send
from core.errors import ConflictError, DomainError, PermissionDenied
from programs.choices import ProgrammeStatus
from programs.models import Programme

REGISTRATION_EDITABLE = (
    *REGISTRATION_STAY_FIELDS,
    "account",
    "payout_choice",
)


def _registration_values(programme: Programme, *, start_date, end_date, duty_days, seniority_years, category) -> dict:
    errors = {}
    if not isinstance(start_date, dt.date) or not isinstance(end_date, dt.date):
        raise DomainError("请填写留岗开始和结束日期。", errors={"start_date": "请填写日期"})
    if start_date > end_date:
        errors["end_date"] = "结束日期不能早于开始日期"
    if start_date < programme.start_date or end_date > programme.end_date:
        errors["start_date"] = (
            f"留岗日期应在项目期间 {programme.start_date:%Y-%m-%d} 至 {programme.end_date:%Y-%m-%d} 之内"
        )
    try:
        duty_days = int(duty_days or 0)
        seniority_years = int(seniority_years or 0)
    except (TypeError, ValueError):
        raise DomainError("在岗天数和工龄应为整数。", errors={"duty_days": "应为整数"}) from None
    holiday_days = (programme.holiday_end - programme.holiday_start).days + 1  # as the importer
    if not 0 <= duty_days <= holiday_days:
        errors["duty_days"] = (
            f"春节在岗天数应在0至{holiday_days}天之间"
            f"（春节假期 {programme.holiday_start:%Y-%m-%d} 至 {programme.holiday_end:%Y-%m-%d}）"
        )
    if not 0 <= seniority_years <= 60:
        errors["seniority_years"] = "工龄应在0至60年之间"
    if category not in Category.values:
        errors["category"] = "请选择人员类别"
    if errors:
        raise DomainError("；".join(errors.values()) + "。", errors=errors)
    return dict(
        start_date=start_date,
        end_date=end_date,
        duty_days=duty_days,
        seniority_years=seniority_years,
        category=category,
    )


def _bank(raw) -> str:
    """The same check as the import's (beneficiaries.importer.cells.bank_name)."""
    try:
        return bank_name(" ".join(str(raw or "").split()))
    except CellError as exc:
        raise DomainError(str(exc), errors={"bank_name": str(exc)}) from None


def _payout_choice(raw) -> str:
    value = str(raw or "").strip()
    if value not in PayoutChoice.values:
        raise DomainError(
            f"领取方式“{value}”无法识别，请选择电子红包、现金或银行卡（或留空，按补贴规则发放）。",
            errors={"payout_choice": "请选择领取方式"},
        )
    return value


def _account(raw) -> tuple[str, str]:
    number = pii.normalize_account(raw)
    if not number:
        return "", ""
    if not (number.isdigit() and 12 <= len(number) <= 19):
        raise DomainError(
            "银行账号应为12至19位数字，请核对（Excel 中请把该列设置为“文本”格式）。", errors={"account": "账号无效"}
        )
    return pii.encrypt(number), pii.mask_account(number)


def may_register_for(user: User, employer: Employer) -> bool:
    if is_admin(user):
        return True
    if user.role == Role.EMPLOYER:
        return employer.agents.filter(pk=user.pk).exists()
    return user.role == Role.DISTRICT and is_district_officer_for(user, employer)


@transaction.atomic
def registration_create(
    *,
    acting_user: User,
    employer: Employer,
    programme: Programme,
    id_number: str,
    name: str,
    phone: str = "",
    start_date: dt.date,
    end_date: dt.date,
    duty_days: int = 0,
    seniority_years: int = 0,
    category: str = Category.MIGRANT,
    bank_name: str = "",
    account: str = "",
    payout_choice: str = "",
    hukou_code: str | None = None,
    source: str = Source.FORM,
) -> Registration:
    """Register a person as staying with `employer` during `programme`.

    Idempotent on (person, programme, employer): registering the same person again
    returns the existing registration. If the person is already active with another
    employer in the programme, the new one is saved as a conflict for the district
    officer to resolve: never two active registrations (also a partial unique index).
    """
    _check_may_register(acting_user, employer, programme)
    values = _registration_values(
        programme,
        start_date=start_date,
        end_date=end_date,
        duty_days=duty_days,
        seniority_years=seniority_years,
        category=category,
    )
    account_cipher, account_masked = _account(account)
    payout_choice = _payout_choice(payout_choice)
    person = person_upsert(id_number=id_number, name=name, phone=phone, hukou_code=hukou_code, acting_user=acting_user)
    existing, others_active = _registrations_of(person, programme, employer)
    if existing is not None and existing.status != RegistrationStatus.WITHDRAWN:
        return existing
    if existing is not None:
        # Withdrawn by mistake and registered again: reinstate it with the new details.
        values.update(
            bank_name=_bank(bank_name),
            account_cipher=account_cipher,
            account_masked=account_masked,
            payout_choice=payout_choice,
        )
        return _registration_reinstate(existing, values, others_active=others_active, acting_user=acting_user)
    registration = Registration.objects.create(
        person=person,
        programme=programme,
        employer=employer,
        district_id=employer.district_id,
        bank_name=_bank(bank_name),
        account_cipher=account_cipher,
        account_masked=account_masked,
        payout_choice=payout_choice,
        status=RegistrationStatus.CONFLICT if others_active else RegistrationStatus.ACTIVE,
        status_note=CONFLICT_NOTE if others_active else "",
        source=source,
        **values,
    )
    audit_record(
        user=acting_user,
        action="registration_create",
        obj=registration,
        changes={
            "person": person.pk,
            "employer": employer.pk,
            "programme": programme.code,
            "status": registration.status,
            **({"payout_choice": [None, payout_choice]} if payout_choice else {}),
        },
    )
    _changed(registration, recompute=False)  # the count; the grant: next computation (_changed)
    return registration


# What a registration's entitlements do not depend on: a change of these alone is not
# recomputed (the account goes into the payment line when it is built).
NOT_DECIDING = {"bank_name", "account"}


def _changed(*registrations: Registration, recompute: bool = True) -> None:
    """The dashboards' figures of these registrations' districts, and (`recompute`) their
    people's entitlements, are brought up to date within a minute (beneficiaries.signals).
    A new registration is only counted: its grant comes with the next computation (an
    officer's run, an import's, the nightly one), as registering many at once would
    otherwise queue one computation per person."""
    for programme_id in sorted({r.programme_id for r in registrations}):
        mine = [r for r in registrations if r.programme_id == programme_id]
        registry_changed_send(
            Registration,
            districts=[r.district_id for r in mine],
            programme_id=programme_id,
            person_ids=[r.person_id for r in mine] if recompute else [],
        )


def _registrations_of(person: Person, programme: Programme, employer: Employer) -> tuple[Registration | None, bool]:
    """The person's registration with this employer (if any), and whether they are active
    with another employer in the programme."""
    # Lock the person: two employers registering them at once queue up here, so the
    # second one sees the first one's active registration and becomes a conflict.
    Person.objects.select_for_update().filter(pk=person.pk).first()
    existing = Registration.objects.filter(person=person, programme=programme, employer=employer).first()
    if existing is not None and existing.status != RegistrationStatus.WITHDRAWN:
        return existing, False
    others_active = (
        Registration.objects.filter(person=person, programme=programme, status=RegistrationStatus.ACTIVE)
        .exclude(employer=employer)
        .exists()
    )
    return existing, others_active


def _check_may_register(acting_user: User, employer: Employer, programme: Programme) -> None:
    if not may_register_for(acting_user, employer):
        raise PermissionDenied("只能为本人经办的单位（或本区县的单位）登记留岗人员。")
    if programme.status != ProgrammeStatus.ACTIVE:
        raise DomainError(f"项目“{programme.name}”不在进行中，不能登记。", errors={"programme": "项目不在进行中"})
    if employer.status == EmployerStatus.RETURNED:
        raise DomainError(
            f"单位已被退回（{employer.return_reason}），请先修改单位信息重新提交审核。",
            errors={"employer": "单位已被退回"},
        )


def _registration_reinstate(
    existing: Registration, values: dict, *, others_active: bool, acting_user: User
) -> Registration:
    """A withdrawn registration registered again: active (or a conflict) with the new details."""
    for field, value in values.items():
        setattr(existing, field, value)
    existing.status = RegistrationStatus.CONFLICT if others_active else RegistrationStatus.ACTIVE
    existing.status_note = CONFLICT_NOTE if others_active else "重新登记"
    existing.updated_at = timezone.now()
    existing.save(update_fields=[*values, "status", "status_note", "updated_at"])
    audit_record(user=acting_user, action="registration_reinstate", obj=existing, changes={"status": existing.status})
    _changed(existing)
    return existing


@transaction.atomic
def registration_update(*, registration: Registration, acting_user: User, **fields) -> Registration:
    """Correct a registration's stay details or payment account (not the person)."""
    registration = (
        Registration.objects.select_for_update()
        .select_related("employer__district", "programme")
        .get(pk=registration.pk)
    )
    if not may_register_for(acting_user, registration.employer):
        raise PermissionDenied("只能修改本人经办单位（或本区县单位）的登记。")
    unknown = set(fields) - set(REGISTRATION_EDITABLE)
    if unknown:
        raise DomainError(f"不能修改这些字段：{'、'.join(sorted(unknown))}（证件号码不能修改，请撤销后重新登记）。")
    if registration.status in (RegistrationStatus.REJECTED, RegistrationStatus.WITHDRAWN):
        raise ConflictError("该登记已驳回或撤销，不能修改。")
    current = {
        f: getattr(registration, f) for f in ("start_date", "end_date", "duty_days", "seniority_years", "category")
    }
    current.update({k: v for k, v in fields.items() if k in current})
    values = _registration_values(registration.programme, **current)
    changes = {}
    for field, value in values.items():
        if getattr(registration, field) != value:
            changes[field] = [str(getattr(registration, field)), str(value)]
            setattr(registration, field, value)
    if "bank_name" in fields:
        bank = _bank(fields["bank_name"])
        if bank != registration.bank_name:
            changes["bank_name"] = [registration.bank_name, bank]
            registration.bank_name = bank
    if "payout_choice" in fields:
        # How the money goes out (电子红包 or 现金): it decides the channel, so it is audited.
        choice = _payout_choice(fields["payout_choice"])
        if choice != registration.payout_choice:
            changes["payout_choice"] = [registration.payout_choice, choice]
            registration.payout_choice = choice
    if "account" in fields:
        cipher, masked = _account(fields["account"])
        before = pii.decrypt(registration.account_cipher) if registration.account_cipher else ""
        if before != pii.normalize_account(fields["account"]):
            changes["account"] = [registration.account_masked, masked]  # masked only: no PII in the audit trail
            registration.account_cipher, registration.account_masked = cipher, masked
    if not changes:
        return registration
    registration.updated_at = timezone.now()
    update_fields = [f if f != "account" else "account_cipher" for f in changes] + ["updated_at"]
    if "account" in changes:
        update_fields.append("account_masked")
    registration.save(update_fields=update_fields)
    audit_record(user=acting_user, action="registration_update", obj=registration, changes=changes)
    if set(changes) - NOT_DECIDING:
        _changed(registration)
    return registration


@transaction.atomic
def registration_withdraw(*, registration: Registration, acting_user: User, reason: str = "") -> Registration:
    """The employer (or officer) withdraws a registration made in error."""
    registration = Registration.objects.select_for_update().select_related("employer__district").get(pk=registration.pk)
    if not may_register_for(acting_user, registration.employer):
        raise PermissionDenied("只能撤销本人经办单位（或本区县单位）的登记。")
    if registration.status == RegistrationStatus.WITHDRAWN:
        return registration
    previous = registration.status
    registration.status = RegistrationStatus.WITHDRAWN
    registration.status_note = " ".join(str(reason or "").split())[:500] or "已撤销"
    registration.updated_at = timezone.now()
    registration.save(update_fields=["status", "status_note", "updated_at"])
    audit_record(
        user=acting_user,
        action="registration_withdraw",
        obj=registration,
        changes={"status": [previous, "withdrawn"]},
        comment=registration.status_note,
    )
    _changed(registration)
    return registration


def conflict_group(registration: Registration):
    """The registrations competing with this one: same person, same programme, not closed."""
    return (
        Registration.objects.filter(
            person_id=registration.person_id,
            programme_id=registration.programme_id,
            status__in=[RegistrationStatus.ACTIVE, RegistrationStatus.CONFLICT],
        )
        .select_related("employer", "district")
        .order_by("created_at", "id")
    )


@transaction.atomic
def registration_resolve_conflict(*, keep: Registration, acting_user: User, note: str) -> Registration:
    """The officer decides which employer's registration of a person stays active; the
    competing ones (active or in conflict) are rejected.

    The officer's scope must cover every registration involved: a district officer for
    conflicts within their district, the city (or province) when two districts compete.
    """
    note = " ".join(str(note or "").split())
    if not note:
        raise DomainError("请填写处理说明（例如核实的实际留岗单位）。", errors={"note": "请填写处理说明"})
    if not (acting_user.is_staff_role or is_admin(acting_user)):
        raise PermissionDenied("只有人社部门工作人员可以处理重复登记。")
    # Lock order: person, then registrations.
    Person.objects.select_for_update().filter(pk=keep.person_id).first()
    keep = Registration.objects.select_for_update().select_related("district").get(pk=keep.pk)
    group = list(conflict_group(keep).select_for_update(of=("self",)))
    if keep.status not in (RegistrationStatus.ACTIVE, RegistrationStatus.CONFLICT):
        raise ConflictError("该登记已驳回或撤销，不能设为有效。")
    if len(group) < 2 and keep.status == RegistrationStatus.ACTIVE:
        raise ConflictError("该人员在本项目中没有待处理的重复登记。")
    for reg in group:
        if not user_covers_region(acting_user, reg.district):
            raise PermissionDenied(
                f"重复登记涉及{reg.district.name}的单位，超出您的管辖范围，请由共同的上级（市级）人社部门处理。"
            )
    now = timezone.now()
    rejected = []
    for reg in group:
        if reg.pk == keep.pk:
            continue
        reg.status = RegistrationStatus.REJECTED
        reg.status_note = f"重复登记，保留{keep.employer.name}的登记：{note}"[:500]
        reg.updated_at = now
        reg.save(update_fields=["status", "status_note", "updated_at"])  # before keep becomes active (unique index)
        rejected.append(reg.pk)
        audit_record(
            user=acting_user,
            action="registration_reject",
            obj=reg,
            changes={"status": "rejected", "kept": keep.pk},
            comment=note,
        )
    keep.status = RegistrationStatus.ACTIVE
    keep.status_note = note[:500]
    keep.updated_at = now
    keep.save(update_fields=["status", "status_note", "updated_at"])
    audit_record(
        user=acting_user,
        action="registration_resolve_conflict",
        obj=keep,
        changes={"status": "active", "rejected": rejected},
        comment=note,
    )
    _changed(keep, *(reg for reg in group if reg.pk != keep.pk))
    return keep
