"""Writes on persons: found or created by the blind index of their ID number, and
corrected (hukou region, phone) by the officers of their registrations."""

from django.db import IntegrityError, transaction

from accounts.models import User
from accounts.scopes import is_admin
from accounts.services.audit import audit_record
from beneficiaries import pii
from beneficiaries.idcard import IdNumberError, current_code_of, validate_id_number
from beneficiaries.models import Person
from beneficiaries.phone import PhoneError, validate_mobile
from beneficiaries.services.fields import clean_text
from beneficiaries.signals import registry_changed_send
from core.errors import DomainError, PermissionDenied

NAME_MISMATCH = "该身份证号在系统中已登记的姓名与填写的姓名不一致：请核对姓名和身份证号是否填错"


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
    name = clean_text(name, "name", "姓名", max_length=50)
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
    if is_admin(user):
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
    if "hukou_code" in changes:
        # The hukou decides eligibility: the person's entitlements in every programme are
        # computed again within a minute (beneficiaries.signals), not at the nightly run.
        registry_changed_send(
            Person,
            districts=person.registrations.order_by().values_list("district_id", flat=True).distinct(),
            person_ids=[person.pk],
        )
    return person
