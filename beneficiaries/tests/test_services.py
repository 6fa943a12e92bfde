import datetime as dt

import pytest

from accounts.models import AuditEntry
from beneficiaries import pii
from beneficiaries.models import Employer, Person, Registration
from beneficiaries.services.employers import employer_register, employer_return, employer_update, employer_verify
from beneficiaries.services.persons import person_upsert
from beneficiaries.services.registrations import (
    registration_resolve_conflict,
    registration_update,
    registration_withdraw,
)
from beneficiaries.services.reveal import pii_reveal
from beneficiaries.uscc import make_uscc
from core.errors import ConflictError, DomainError, PermissionDenied
from tests.factories import make_id, register


def _register_employer(agent, **extra):
    fields = dict(
        acting_user=agent,
        credit_code=make_uscc("91", "130110", "55500011"),
        name="鹿泉某建材厂",
        ownership="private",
        district="130110",
        industry="建材",
        contact_name="王经理",
        contact_phone="+86 138-3110-0001",
        address="鹿泉区",
    )
    fields.update(extra)
    return employer_register(**fields)


def test_employer_register_pending_linked_and_audited(agent_gree):
    employer = _register_employer(agent_gree)
    assert employer.status == "pending"
    assert list(employer.agents.all()) == [agent_gree]
    assert employer.contact_phone == "13831100001"
    assert AuditEntry.objects.filter(action="employer_register", object_id=str(employer.pk)).exists()


def test_employer_register_duplicate_code_is_a_conflict(agent_gree, agent_other):
    _register_employer(agent_gree)
    with pytest.raises(ConflictError, match="已登记"):
        _register_employer(agent_other, name="另一个名字")


def test_employer_register_checks(agent_gree, officer_luquan):
    good = make_uscc("91", "130110", "55500011")
    with pytest.raises(DomainError, match="校验位不正确"):
        _register_employer(agent_gree, credit_code=good[:17] + ("1" if good[17] != "1" else "2"))
    with pytest.raises(DomainError, match="不是区县级单位"):
        _register_employer(agent_gree, district="130100")
    with pytest.raises(PermissionDenied):
        _register_employer(officer_luquan)


def test_verify_and_return_only_by_the_district_officer(
    agent_gree, officer_luquan, officer_cangzhou, city_shijiazhuang
):
    employer = _register_employer(agent_gree)
    for user in (agent_gree, officer_cangzhou, city_shijiazhuang):
        with pytest.raises(PermissionDenied):
            employer_verify(employer=employer, acting_user=user)
    with pytest.raises(DomainError, match="必须填写原因"):
        employer_return(employer=employer, acting_user=officer_luquan, reason="  ")
    employer_return(employer=employer, acting_user=officer_luquan, reason="营业执照照片不清晰")
    employer.refresh_from_db()
    assert employer.status == "returned" and employer.return_reason == "营业执照照片不清晰"
    # The agent corrects it: back to pending.
    employer_update(employer=employer, acting_user=agent_gree, address="鹿泉区铜冶镇1号")
    employer.refresh_from_db()
    assert employer.status == "pending"
    employer_verify(employer=employer, acting_user=officer_luquan)
    employer.refresh_from_db()
    assert employer.status == "verified" and employer.verified_by == officer_luquan
    actions = set(AuditEntry.objects.filter(object_id=str(employer.pk)).values_list("action", flat=True))
    assert {"employer_register", "employer_return", "employer_update", "employer_verify"} <= actions


def test_person_upsert_derives_and_finds_by_blind_index(db):
    number = make_id("130185", "19880203", 444)
    person = person_upsert(id_number=number.lower(), name="吴秀英", phone="13931500014")
    assert person.sex == "F"
    assert person.birth_date == dt.date(1988, 2, 3)
    assert person.hukou_code_raw == "130185" and person.hukou_code == "130110"
    assert person.id_masked == number[:6] + "********" + number[-4:]
    assert number not in person.id_cipher and pii.decrypt(person.id_cipher) == number
    again = person_upsert(id_number=" ".join([number[:6], number[6:]]), name="吴秀英", phone="")
    assert again.pk == person.pk
    assert Person.objects.count() == 1
    given = person_upsert(id_number=make_id("130110", "19900101", 1), name="甲", hukou_code="130223")
    assert given.hukou_code == "130284"


def test_person_upsert_rejects_a_bad_number(db):
    with pytest.raises(DomainError, match="校验位不正确"):
        person_upsert(id_number="110105194912310021", name="某人")


def test_registration_create_is_idempotent_and_encrypts_account(agent_other, employer_luquan, programme):
    first = register(agent_other, employer_luquan, programme)
    second = register(agent_other, employer_luquan, programme)
    assert first.pk == second.pk
    assert first.status == "active"
    assert first.district_id == "130110"
    assert first.account_masked == "6228 **** **** 8901"
    assert "6228480012345678901" not in first.account_cipher
    assert pii.decrypt(first.account_cipher) == "6228480012345678901"


def test_registration_by_a_second_employer_is_a_conflict(
    agent_other, agent_gree, employer_luquan, employer_gree, programme, city_shijiazhuang, officer_luquan
):
    number = make_id("622421", "19920615", 339)
    a = register(agent_other, employer_luquan, programme, number)
    b = register(agent_gree, employer_gree, programme, number)
    assert (a.status, b.status) == ("active", "conflict")
    assert Registration.objects.filter(person=a.person, status="active").count() == 1
    # 鹿泉's officer cannot decide for 高新区's employer …
    with pytest.raises(PermissionDenied, match="超出您的管辖范围"):
        registration_resolve_conflict(keep=a, acting_user=officer_luquan, note="核实")
    # … the city can.
    with pytest.raises(DomainError, match="处理说明"):
        registration_resolve_conflict(keep=b, acting_user=city_shijiazhuang, note="")
    registration_resolve_conflict(keep=b, acting_user=city_shijiazhuang, note="经核实在格力留岗")
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == ("rejected", "active")
    assert "格力" in a.status_note
    assert AuditEntry.objects.filter(action="registration_resolve_conflict", object_id=str(b.pk)).exists()
    assert AuditEntry.objects.filter(action="registration_reject", object_id=str(a.pk)).exists()
    # Registering again is idempotent: the rejected one stays rejected.
    assert register(agent_other, employer_luquan, programme, number).status == "rejected"


def test_conflict_within_one_district_is_resolved_by_its_officer(agent_other, officer_luquan, programme):
    from tests.factories import make_employer

    one = make_employer("鹿泉甲厂", "130110", agents=[agent_other])
    two = make_employer("鹿泉乙厂", "130110", agents=[agent_other])
    number = make_id("410102", "19900708", 382)
    a = register(agent_other, one, programme, number)
    b = register(agent_other, two, programme, number)
    assert b.status == "conflict"
    registration_resolve_conflict(keep=a, acting_user=officer_luquan, note="以甲厂为准")
    b.refresh_from_db()
    assert b.status == "rejected"
    with pytest.raises(PermissionDenied):
        registration_resolve_conflict(keep=a, acting_user=agent_other, note="x")


def test_registration_permissions_and_checks(agent_gree, employer_luquan, programme, officer_luquan):
    with pytest.raises(PermissionDenied):
        register(agent_gree, employer_luquan, programme)
    with pytest.raises(DomainError, match="项目期间"):
        register(officer_luquan, employer_luquan, programme, start_date=dt.date(2020, 12, 1))
    with pytest.raises(DomainError, match="结束日期不能早于开始日期"):
        register(officer_luquan, employer_luquan, programme, end_date=dt.date(2021, 1, 22))
    with pytest.raises(DomainError, match="银行账号"):
        register(officer_luquan, employer_luquan, programme, account="1.23E+18")
    Employer.objects.filter(pk=employer_luquan.pk).update(status="returned", return_reason="资料不全")
    employer_luquan.refresh_from_db()
    with pytest.raises(DomainError, match="已被退回"):
        register(officer_luquan, employer_luquan, programme)


def test_registration_update_and_withdraw(agent_other, employer_luquan, programme):
    reg = register(agent_other, employer_luquan, programme)
    registration_update(registration=reg, acting_user=agent_other, duty_days=3, account="6222020200114321")
    reg.refresh_from_db()
    assert reg.duty_days == 3 and reg.account_masked == "6222 **** **** 4321"
    entry = AuditEntry.objects.get(action="registration_update", object_id=str(reg.pk))
    assert "6222020200114321" not in str(entry.changes)
    with pytest.raises(DomainError, match="证件号码不能修改"):
        registration_update(registration=reg, acting_user=agent_other, id_number="x")
    registration_withdraw(registration=reg, acting_user=agent_other, reason="误登记")
    reg.refresh_from_db()
    assert reg.status == "withdrawn"


def test_pii_reveal_is_audited_and_refused_without_permission(
    agent_other, employer_luquan, programme, officer_luquan, officer_cangzhou, city_shijiazhuang
):
    number = make_id("130223", "19850314", 271)
    reg = register(agent_other, employer_luquan, programme, number)
    assert pii_reveal(acting_user=officer_luquan, obj=reg, field="id_number") == number
    assert pii_reveal(acting_user=officer_luquan, obj=reg, field="account") == "6228480012345678901"
    assert pii_reveal(acting_user=officer_luquan, obj=reg.person, field="id_number") == number
    assert AuditEntry.objects.filter(action="reveal", user=officer_luquan).count() == 3
    with pytest.raises(PermissionDenied, match="没有查看"):
        pii_reveal(acting_user=city_shijiazhuang, obj=reg, field="id_number")  # can_view_pii is off
    with pytest.raises(PermissionDenied, match="管辖范围"):
        pii_reveal(acting_user=officer_cangzhou, obj=reg, field="id_number")
    with pytest.raises(PermissionDenied):
        pii_reveal(acting_user=agent_other, obj=reg, field="id_number")
    assert AuditEntry.objects.filter(action="reveal").count() == 3


def test_registering_again_after_withdrawal_reinstates(agent_other, employer_luquan, programme):
    reg = register(agent_other, employer_luquan, programme)
    registration_withdraw(registration=reg, acting_user=agent_other, reason="误撤")
    again = register(agent_other, employer_luquan, programme, duty_days=2)
    assert again.pk == reg.pk and again.status == "active" and again.duty_days == 2
    assert AuditEntry.objects.filter(action="registration_reinstate", object_id=str(reg.pk)).exists()


def test_a_known_id_number_under_another_name_is_refused_as_the_importer_does(agent_other, employer_luquan, programme):
    """Most likely a mistyped ID number: registering it would put the money on someone else."""
    register(agent_other, employer_luquan, programme)
    with pytest.raises(DomainError, match="已登记的姓名与填写的姓名不一致") as caught:
        register(agent_other, employer_luquan, programme, name="赵建军")
    assert set(caught.value.errors) == {"id_number", "name"}
    assert Person.objects.get().name == "赵建国" and Registration.objects.count() == 1


def test_duty_days_are_capped_by_the_programmes_holiday_as_in_the_importer(agent_other, employer_luquan, programme):
    days = (programme.holiday_end - programme.holiday_start).days + 1
    with pytest.raises(DomainError, match=f"春节在岗天数应在0至{days}天之间") as caught:
        register(agent_other, employer_luquan, programme, duty_days=days + 1)
    assert "duty_days" in caught.value.errors
    assert register(agent_other, employer_luquan, programme, duty_days=days).duty_days == days
