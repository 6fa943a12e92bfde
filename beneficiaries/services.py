"""Writes on employers, persons and registrations.

Every function is keyword-only, runs in a transaction, checks that the acting user
may do it (raising core.errors domain errors with Chinese messages), and writes the
audit trail. Views, API views, admin, the importer and the demo call these.

Lock order (to avoid deadlocks between two employers registering the same person):
Person row first, then that person's registrations.
"""

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.choices import Role
from accounts.models import AuditEntry, User
from accounts.scopes import is_admin
from accounts.services.audit import audit_record
from accounts.services.notifications import after_commit
from beneficiaries import pii
from beneficiaries.choices import Category, EmployerStatus, Ownership, PayoutChoice, RegistrationStatus, Source
from beneficiaries.idcard import IdNumberError, current_code_of, validate_id_number
from beneficiaries.importer.cells import CellError, bank_name
from beneficiaries.models import Employer, Person, Registration
from beneficiaries.notify import employer_returned_notify
from beneficiaries.phone import PhoneError, validate_mobile
from beneficiaries.uscc import USCCError, validate_uscc
from core.errors import ConflictError, DomainError, PermissionDenied
from programs.choices import ProgrammeStatus
from programs.models import Programme
from regions.choices import Level
from regions.models import Region

EMPLOYER_EDITABLE = ("name", "ownership", "district", "industry", "contact_name", "contact_phone", "address")
NAME_MISMATCH = "该身份证号在系统中已登记的姓名与填写的姓名不一致：请核对姓名和身份证号是否填错"
REGISTRATION_EDITABLE = (
    "start_date",
    "end_date",
    "duty_days",
    "seniority_years",
    "category",
    "bank_name",
    "account",
    "payout_choice",
)


# -- helpers ---------------------------------------------------------------------------


def _is_admin(user: User) -> bool:
    return is_admin(user)


def user_covers_region(user: User, region: Region) -> bool:
    """Is `region` inside the staff user's scope (or the user an administrator)?"""
    if _is_admin(user):
        return True
    return user.is_staff_role and user.region_id is not None and region.path.startswith(user.region.path)


def is_district_officer_for(user: User, employer: Employer) -> bool:
    """The district HR officer whose district contains the employer (verifies it, resolves conflicts)."""
    return (
        user.is_authenticated
        and user.role == Role.DISTRICT
        and user.region_id is not None
        and employer.district.path.startswith(user.region.path)
    )


def _district(district) -> Region:
    if isinstance(district, Region):
        region = district
    else:
        region = Region.objects.filter(code=str(district or "").strip()).first()
        if region is None:
            raise DomainError(f"所在区县“{district}”不存在，请选择区县。", errors={"district": "区县不存在"})
    if region.level != Level.DISTRICT:
        raise DomainError(
            f"“{region.name}”不是区县级单位，请选择单位所在的区县（或功能区）。", errors={"district": "请选择区县"}
        )
    return region


def _text(value, field: str, label: str, *, max_length: int, required: bool = True) -> str:
    s = " ".join(str(value or "").split())
    if required and not s:
        raise DomainError(f"{label}不能为空。", errors={field: f"请填写{label}"})
    if len(s) > max_length:
        raise DomainError(f"{label}过长（最多{max_length}个字）。", errors={field: f"最多{max_length}个字"})
    return s


def _phone(raw, field: str = "contact_phone") -> str:
    """A mobile number, or a landline as typed (employers give office numbers too)."""
    s = str(raw or "").strip()
    if not s:
        return ""
    try:
        return validate_mobile(s)
    except PhoneError:
        digits = s.replace("-", "").replace(" ", "")
        if 7 <= len(digits) <= 13 and digits.isdigit():
            return s[:20]
        raise DomainError(
            f"联系电话“{s}”无效：请填写11位手机号或带区号的固定电话。", errors={field: "电话无效"}
        ) from None


# -- employers -------------------------------------------------------------------------


def may_edit_employer(user: User, employer: Employer) -> bool:
    """Its agents, the officer of its district, administrators."""
    if _is_admin(user) or is_district_officer_for(user, employer):
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
    if not (acting_user.role == Role.EMPLOYER or _is_admin(acting_user)):
        raise PermissionDenied("只有企业经办人可以登记用人单位。")
    try:
        code = validate_uscc(credit_code)
    except USCCError as exc:
        raise DomainError(str(exc), errors={"credit_code": str(exc)}) from None
    if ownership not in Ownership.values:
        raise DomainError("请选择经济类型。", errors={"ownership": "请选择经济类型"})
    region = _district(district)
    existing = Employer.objects.filter(credit_code=code).first()
    if existing is not None:
        raise ConflictError(
            f"统一社会信用代码 {code} 已登记（{existing.name}）。如需成为该单位的经办人，请联系所在区县人社部门。",
            errors={"credit_code": "该代码已登记"},
        )
    employer = Employer(
        credit_code=code,
        name=_text(name, "name", "单位名称", max_length=200),
        ownership=ownership,
        district=region,
        industry=_text(industry, "industry", "行业", max_length=100, required=False),
        contact_name=_text(contact_name, "contact_name", "联系人", max_length=50, required=False),
        contact_phone=_phone(contact_phone),
        address=_text(address, "address", "地址", max_length=200, required=False),
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
    if district is not None and _district(district).code != employer.district_id:
        employer = employer_move(employer=employer, district=district, acting_user=acting_user)
    changes = {}
    for field, value in fields.items():
        if field == "ownership":
            if value not in Ownership.values:
                raise DomainError("请选择经济类型。", errors={"ownership": "请选择经济类型"})
            old, new = employer.ownership, value
        elif field == "contact_phone":
            value = _phone(value)
            old, new = employer.contact_phone, value
        else:
            limits = {"name": 200, "industry": 100, "contact_name": 50, "address": 200}
            value = _text(
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
    return employer


def may_move_employer(user: User, employer: Employer) -> bool:
    """Before verification its agents (and the officer); after, only the officer of its
    district (or an administrator): a verified employer's staff count in that district."""
    if _is_admin(user) or is_district_officer_for(user, employer):
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
    target = _district(district)
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
    comment = _text(reason, "reason", "迁移原因", max_length=500, required=False)
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
    # The agents are told once the return has committed (what to correct, and where).
    after_commit(employer_returned_notify, employer_id=employer.pk, audit_id=entry.pk)
    return employer


# -- persons ---------------------------------------------------------------------------


def person_upsert(
    *, id_number: str, name: str, phone: str = "", hukou_code: str | None = None, acting_user: User | None = None
) -> Person:
    """Find the person by the blind index of the ID number, or create them.

    Sex and birth date come from the number; the hukou region is the given code, or
    the number's address code counted as its current code (鹿泉市 130185 → 130110).
    An existing person's phone (and a given hukou region) are updated to the latest
    given; their name is not: a known ID number under another name is refused, as the
    importer refuses it, because it is most likely a mistyped number that would put
    the registration (and the money) on someone else.
    """
    try:
        info = validate_id_number(id_number)
    except IdNumberError as exc:
        raise DomainError(f"身份证号：{exc}", errors={"id_number": str(exc)}) from None
    name = _text(name, "name", "姓名", max_length=50)
    if phone:
        try:
            phone = validate_mobile(phone)
        except PhoneError as exc:
            raise DomainError(str(exc), errors={"phone": str(exc)}) from None
    if hukou_code:
        given = str(hukou_code).strip()
        current = current_code_of(given)
        if current is None:
            raise DomainError(f"户籍地区代码 {given} 不存在，请核对。", errors={"hukou_code": "代码不存在"})
        hukou = current
    else:
        hukou = info.current_code
    id_hash = pii.blind_index(info.number)
    with transaction.atomic():
        person = Person.objects.filter(id_hash=id_hash).first()
        if person is None:
            try:
                with transaction.atomic():
                    return Person.objects.create(
                        id_hash=id_hash,
                        id_cipher=pii.encrypt(info.number),
                        id_masked=pii.mask_id(info.number),
                        name=name,
                        sex=info.sex,
                        birth_date=info.birth_date,
                        hukou_code_raw=info.address_code,
                        hukou_code=hukou,
                        **_phone_fields(phone, id_hash),
                    )
            except IntegrityError:  # created concurrently by another registration
                person = Person.objects.get(id_hash=id_hash)
        if person.name != name:
            raise DomainError(NAME_MISMATCH + "。", errors={"id_number": NAME_MISMATCH, "name": NAME_MISMATCH})
        update = {}
        if phone and person.phone_hash != pii.blind_index(phone):
            update.update(_phone_fields(phone, id_hash))
        if hukou_code and person.hukou_code != hukou:
            update["hukou_code"] = hukou
        if update:
            # The hukou region decides eligibility: its change is traced like any correction.
            changes = {k: [getattr(person, k), v] for k, v in update.items() if not k.startswith("phone_")}
            if "phone_masked" in update:  # the phone is audited masked, never in clear
                changes["phone"] = [person.phone_masked, update["phone_masked"]]
            for k, v in update.items():
                setattr(person, k, v)
            person.save(update_fields=list(update))
            audit_record(user=acting_user, action="person_update", obj=person, changes=changes, comment="登记时更新")
        return person


def _phone_fields(phone: str, id_hash: str) -> dict:
    """A person's phone columns: encrypted, blind index, keyed digest of the last four
    digits (the public lookup), masked. All empty without a phone."""
    if not phone:
        return {"phone_cipher": "", "phone_hash": "", "phone_tail": "", "phone_masked": ""}
    return {
        "phone_cipher": pii.encrypt(phone),
        "phone_hash": pii.blind_index(phone),
        "phone_tail": pii.phone_tail_digest(id_hash, phone[-4:]),
        "phone_masked": pii.mask_phone(phone),
    }


def may_correct_person(user: User, person: Person) -> bool:
    """Administrators, and staff whose region holds one of the person's registrations."""
    if user is None or not user.is_authenticated:
        return False
    if _is_admin(user):
        return True
    if not user.is_staff_role or user.region_id is None:
        return False
    return person.registrations.filter(district__path__startswith=user.region.path).exists()


@transaction.atomic
def person_correct(
    *,
    person: Person,
    acting_user: User,
    hukou_code: str | None = None,
    phone: str | None = None,
    comment: str = "",
) -> Person:
    """Correct a person's hukou region (an input that decides eligibility) or phone.

    The code is checked against the region codes (an abolished code counts as its
    successor, as for a new ID number). The audit row keeps the old and new values; the
    next computation recomputes the person, with the settled-money rules (a paid
    entitlement is never rewritten: a raise becomes a 补差 top-up, a loss a 多发 item)."""
    person = Person.objects.select_for_update().get(pk=person.pk)
    if not may_correct_person(acting_user, person):
        raise PermissionDenied("只有该人员登记所在地的人社工作人员可以更正其户籍或手机号。")
    changes, fields = {}, []
    if hukou_code is not None:
        given = str(hukou_code).strip()
        current = current_code_of(given) if given else None
        if current is None:
            raise DomainError(
                f"户籍地区代码“{given}”不存在，请填写 6 位行政区划代码（如 130110）。",
                errors={"hukou_code": "户籍地区代码不存在"},
            )
        if current != person.hukou_code:
            changes["hukou_code"] = [person.hukou_code, current]
            person.hukou_code = current
            fields.append("hukou_code")
    if phone is not None:
        try:
            value = validate_mobile(phone) if str(phone).strip() else ""
        except PhoneError as exc:
            raise DomainError(str(exc), errors={"phone": str(exc)}) from None
        # The phone is stored encrypted: compare by its blind index, audit only masked values.
        if (pii.blind_index(value) if value else "") != person.phone_hash:
            new = _phone_fields(value, person.id_hash)
            changes["phone"] = [person.phone_masked, new["phone_masked"]]
            for name, column in new.items():
                setattr(person, name, column)
            fields.extend(new)
    if not changes:
        return person
    person.save(update_fields=fields)
    audit_record(user=acting_user, action="person_correct", obj=person, changes=changes, comment=comment)
    return person


# -- registrations ---------------------------------------------------------------------


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
    if _is_admin(user):
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
    if not may_register_for(acting_user, employer):
        raise PermissionDenied("只能为本人经办的单位（或本区县的单位）登记留岗人员。")
    if programme.status != ProgrammeStatus.ACTIVE:
        raise DomainError(f"项目“{programme.name}”不在进行中，不能登记。", errors={"programme": "项目不在进行中"})
    if employer.status == EmployerStatus.RETURNED:
        raise DomainError(
            f"单位已被退回（{employer.return_reason}），请先修改单位信息重新提交审核。",
            errors={"employer": "单位已被退回"},
        )
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
    # Lock the person: two employers registering them at once queue up here, so the
    # second one sees the first one's active registration and becomes a conflict.
    Person.objects.select_for_update().filter(pk=person.pk).first()
    existing = Registration.objects.filter(person=person, programme=programme, employer=employer).first()
    if existing is not None and existing.status != RegistrationStatus.WITHDRAWN:
        return existing
    others_active = (
        Registration.objects.filter(person=person, programme=programme, status=RegistrationStatus.ACTIVE)
        .exclude(employer=employer)
        .exists()
    )
    if existing is not None:
        # Withdrawn by mistake and registered again: reinstate it with the new details.
        for field, value in values.items():
            setattr(existing, field, value)
        existing.bank_name = _bank(bank_name)
        existing.account_cipher, existing.account_masked = account_cipher, account_masked
        existing.payout_choice = payout_choice
        existing.status = RegistrationStatus.CONFLICT if others_active else RegistrationStatus.ACTIVE
        existing.status_note = "该人员已由其他单位登记，待区县人社专员核实" if others_active else "重新登记"
        existing.updated_at = timezone.now()
        existing.save()
        audit_record(
            user=acting_user, action="registration_reinstate", obj=existing, changes={"status": existing.status}
        )
        return existing
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
        status_note="该人员已由其他单位登记，待区县人社专员核实" if others_active else "",
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
    return registration


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
    if not (acting_user.is_staff_role or _is_admin(acting_user)):
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
    return keep


# -- personal data ---------------------------------------------------------------------

REVEALABLE = {("person", "id_number"), ("registration", "id_number"), ("registration", "account")}


def pii_reveal(*, acting_user: User, obj, field: str) -> str:
    """The full ID or account number, for a user whose role needs it; always audited."""
    kind = obj._meta.model_name
    if (kind, field) not in REVEALABLE:
        raise DomainError("不能查看该字段。")
    if not (acting_user.is_authenticated and acting_user.can_view_pii):
        raise PermissionDenied("您没有查看完整证件号码和银行账号的权限。")
    if kind == "person":
        in_scope = Registration.objects.for_user(acting_user).filter(person_id=obj.pk).exists()
        person = obj
    else:
        in_scope = Registration.objects.for_user(acting_user).filter(pk=obj.pk).exists()
        person = obj.person
    if not in_scope:
        raise PermissionDenied("该记录不在您的管辖范围内。")
    if field == "id_number":
        value = pii.decrypt(person.id_cipher)
    else:
        value = pii.decrypt(obj.account_cipher) if obj.account_cipher else ""
    with transaction.atomic():
        audit_record(user=acting_user, action="reveal", obj=obj, changes={"field": field})
    return value
