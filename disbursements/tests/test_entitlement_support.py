"""Builders for the entitlement tests (no tests here): real rows in the real database."""

import datetime as dt
import itertools

from beneficiaries.models import Employer, Person, Registration
from beneficiaries.pii import blind_index, encrypt, mask_id
from beneficiaries.synthetic import id_number
from beneficiaries.uscc import make_uscc
from programs.demo import DEMO_EMPLOYER_CODES, demo_programme

_seq = itertools.count(1)
_employers: dict = {}


def programme():
    return demo_programme()


def employer(district: str, *, ownership: str = "private", status: str = "verified", code: str | None = None):
    if code is not None:  # a named employer exists once, whatever else is asked
        existing = Employer.objects.filter(credit_code=code).first()
        if existing is not None:
            return existing
    key = (district, ownership, status, code)
    emp = _employers.get(key)
    if emp is not None and Employer.objects.filter(pk=emp.pk).exists():
        return emp
    n = next(_seq)
    emp = Employer.objects.create(
        credit_code=code or make_uscc("91", district, f"{n:08d}"),
        name=f"测试单位{n}",
        ownership=ownership,
        district_id=district,
        status=status,
        verified_at=dt.datetime(2021, 1, 20, tzinfo=dt.UTC) if status == "verified" else None,
    )
    _employers[key] = emp
    return emp


def person(hukou: str) -> Person:
    n = next(_seq)
    number = id_number(hukou, dt.date(1980, 1, 1) + dt.timedelta(days=n), n, female=False)
    return Person.objects.create(
        id_hash=blind_index(number),
        id_cipher=encrypt(number),
        id_masked=mask_id(number),
        name=f"测试{n}",
        hukou_code=hukou,
        hukou_code_raw=hukou,
    )


def reg(
    prog,
    district: str,
    hukou: str,
    *,
    ownership: str = "private",
    employer_status: str = "verified",
    code: str | None = None,
    category: str = "migrant",
    duty_days: int = 0,
    seniority: int = 0,
    start: dt.date = dt.date(2021, 1, 25),
    end: dt.date = dt.date(2021, 3, 1),
    status: str = "active",
    who: Person | None = None,
    created_at: dt.datetime | None = None,
) -> Registration:
    emp = employer(district, ownership=ownership, status=employer_status, code=code)
    fields = {}
    if created_at is not None:
        fields["created_at"] = created_at
    return Registration.objects.create(
        person=who or person(hukou),
        programme=prog,
        employer=emp,
        district_id=district,
        start_date=start,
        end_date=end,
        duty_days=duty_days,
        seniority_years=seniority,
        category=category,
        status=status,
        **fields,
    )


GREE, MENGNIU, MODERN = DEMO_EMPLOYER_CODES["gree"], DEMO_EMPLOYER_CODES["mengniu"], DEMO_EMPLOYER_CODES["modern_dairy"]
