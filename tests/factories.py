"""Builders every app's tests use: real rows in the real test database.

The named personas (officers, city and province staff, employer agents, the test
programme and employers) are fixtures in the root conftest.py and are built here.

- users: `make_user`;
- the programme and its rules: `make_programme`, `make_rule`;
- employers, ID numbers and people: `make_employer`, `make_id` (an ID number from its
  parts), `make_person_id` (an ID number from a counter), `make_person`, `make_account`;
- registrations: `register` (through the service, as the employer's agent does) and
  `reg` (straight into the table, for the rule engine's tests);
- entitlements and batches: `make_entitlement(s)` (made directly, not by the rule engine,
  so that the batch tests pin the batch chain and nothing else) and `approve`.
"""

import datetime as dt
import itertools
from decimal import Decimal

from accounts.models import User
from beneficiaries import pii
from beneficiaries.idcard import id_check_char
from beneficiaries.models import Employer, Person, Registration
from beneficiaries.services.registrations import registration_create
from beneficiaries.synthetic import id_number
from beneficiaries.uscc import make_uscc
from disbursements.models import Entitlement
from disbursements.services.batches import batch_approve, batch_review, batch_submit
from programs.demo import DEMO_EMPLOYER_CODES
from programs.models import Programme, SubsidyRule
from regions.models import Region

# One counter for every builder, so that two builders never make the same credit code.
_seq = itertools.count(1)
SURNAMES = "王李张刘陈杨黄赵吴周"
GREE, MENGNIU, MODERN = DEMO_EMPLOYER_CODES["gree"], DEMO_EMPLOYER_CODES["mengniu"], DEMO_EMPLOYER_CODES["modern_dairy"]


def make_user(username: str, role: str, region_code: str | None = None, **extra) -> User:
    region = Region.objects.get(code=region_code) if region_code else None
    return User.objects.create_user(username=username, password="Test-pass-2021", role=role, region=region, **extra)


def make_programme(code: str = "T-2021", **extra) -> Programme:
    fields = dict(
        name="测试项目2021",
        region_id="130000",
        start_date=dt.date(2021, 1, 21),
        end_date=dt.date(2021, 3, 31),
        holiday_start=dt.date(2021, 2, 11),
        holiday_end=dt.date(2021, 2, 17),
        registration_deadline=dt.date(2021, 2, 28),
    )
    fields.update(extra)
    return Programme.objects.get_or_create(code=code, defaults=fields)[0]


def make_rule(
    programme, key="luquan_cash", *, region="130110", kind="cash", channel="bank_card", amount="500.00", **extra
):
    return SubsidyRule.objects.get_or_create(
        programme=programme,
        rule_key=key,
        version=1,
        defaults=dict(
            name=extra.pop("name", f"{key} 留岗补贴"),
            region_id=region,
            kind=kind,
            channel=channel,
            amount=Decimal(amount),
            status="active",
            **extra,
        ),
    )[0]


def make_employer(name: str | None = None, district: str = "130110", *, agents=(), status="verified", **extra):
    n = next(_seq)
    employer = Employer.objects.create(
        credit_code=make_uscc("91", district, f"{n:08d}"),
        name=name or f"测试企业{n}有限公司",
        ownership=extra.pop("ownership", "private"),
        district_id=district,
        status=status,
        **extra,
    )
    if agents:
        employer.agents.add(*agents)
    return employer


def make_id(address: str = "130223", birth: str = "19800101", seq: int | None = None) -> str:
    first17 = address + birth + f"{(seq if seq is not None else next(_seq)) % 1000:03d}"
    return first17 + id_check_char(first17)


def make_person_id(n: int, address: str = "410102") -> str:
    first17 = f"{address}1990{(n // 28) % 12 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}"
    return first17 + id_check_char(first17)


def make_person(n: int | None = None, *, name: str | None = None, phone: str = "") -> tuple[Person, str]:
    n = next(_seq) if n is None else n
    number = make_person_id(n)
    person = Person.objects.create(
        id_hash=pii.blind_index(number),
        id_cipher=pii.encrypt(number),
        id_masked=pii.mask_id(number),
        name=name or f"{SURNAMES[n % 10]}测{n}",
        hukou_code=number[:6],
        hukou_code_raw=number[:6],
        **_phone(phone or f"138{n:08d}", pii.blind_index(number)),
    )
    return person, number


def _phone(phone: str, id_hash: str) -> dict:
    return {
        "phone_cipher": pii.encrypt(phone),
        "phone_hash": pii.blind_index(phone),
        "phone_tail": pii.phone_tail_digest(id_hash, phone[-4:]),
        "phone_masked": pii.mask_phone(phone),
    }


def make_account(n: int) -> str:
    return f"6222{n:015d}"


def register(agent, employer, programme, id_number=None, **extra):
    """A registration made through the service, as the employer's agent makes it."""
    fields = dict(
        acting_user=agent,
        employer=employer,
        programme=programme,
        id_number=id_number or make_id("130223", "19850314", 271),
        name=extra.pop("name", "赵建国"),
        phone="13931500011",
        start_date=dt.date(2021, 1, 25),
        end_date=dt.date(2021, 3, 1),
        duty_days=7,
        seniority_years=3,
        category="migrant",
        bank_name="农业银行",
        account="6228480012345678901",
    )
    fields.update(extra)
    return registration_create(**fields)


_stay_employers: dict = {}


def _stay_employer(district: str, *, ownership: str = "private", status: str = "verified", code: str | None = None):
    """One employer per kind asked for, made once (a named one, by code, exists once)."""
    if code is not None:
        existing = Employer.objects.filter(credit_code=code).first()
        if existing is not None:
            return existing
    key = (district, ownership, status, code)
    emp = _stay_employers.get(key)
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
    _stay_employers[key] = emp
    return emp


def _hukou_person(hukou: str) -> Person:
    n = next(_seq)
    number = id_number(hukou, dt.date(1980, 1, 1) + dt.timedelta(days=n), n, female=False)
    return Person.objects.create(
        id_hash=pii.blind_index(number),
        id_cipher=pii.encrypt(number),
        id_masked=pii.mask_id(number),
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
    """A registration written straight into the table: a person of `hukou` staying in `district`."""
    emp = _stay_employer(district, ownership=ownership, status=employer_status, code=code)
    fields = {}
    if created_at is not None:
        fields["created_at"] = created_at
    return Registration.objects.create(
        person=who or _hukou_person(hukou),
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


def make_entitlement(
    programme, rule, *, district="130110", employer=None, amount=None, channel=None, person=None, n=None, account=None
) -> Entitlement:
    n = next(_seq) if n is None else n
    if person is None:
        person, _ = make_person(n)
    employer = employer or make_employer(district=district)
    account = make_account(n) if account is None else account
    registration = Registration.objects.create(
        person=person,
        programme=programme,
        employer=employer,
        district_id=district,
        start_date=dt.date(2021, 2, 1),
        end_date=dt.date(2021, 2, 28),
        bank_name="中国工商银行石家庄分行",
        account_cipher=pii.encrypt(account) if account else "",
        account_masked=pii.mask_account(account) if account else "",
    )
    return Entitlement.objects.create(
        programme=programme,
        rule=rule,
        rule_key=rule.rule_key,
        person=person,
        registration=registration,
        district_id=district,
        channel=channel or rule.channel,
        amount=Decimal(amount) if amount is not None else rule.amount,
    )


def make_entitlements(programme, rule, count: int, *, district="130110", start: int = 1000, **kw) -> list[Entitlement]:
    employer = make_employer(district=district)
    return [
        make_entitlement(programme, rule, district=district, employer=employer, n=start + i, **kw) for i in range(count)
    ]


def approve(batch, officer, city, province):
    """Push a draft batch through submit → review → approve."""
    batch = batch_submit(batch=batch, acting_user=officer)
    batch = batch_review(batch=batch, acting_user=city)
    return batch_approve(batch=batch, acting_user=province)
