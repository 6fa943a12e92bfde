"""Builders for batch tests: programme, rule, employer, persons with encrypted numbers,
registrations and entitlements, written straight into the test database.

Entitlements are made directly (not by the rule engine) so that these tests pin the
batch chain and nothing else.
"""

import datetime as dt
import itertools
from decimal import Decimal

from beneficiaries import pii
from beneficiaries.models import Employer, Person, Registration
from beneficiaries.synthetic import id_check_char
from beneficiaries.uscc import make_uscc
from disbursements.models import Entitlement
from programs.models import Programme, SubsidyRule

_seq = itertools.count(1)
SURNAMES = "王李张刘陈杨黄赵吴周"


def make_programme(code: str = "HB-T", **extra) -> Programme:
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


def make_employer(district="130110") -> Employer:
    n = next(_seq)
    return Employer.objects.create(
        credit_code=make_uscc("91", district, f"{n:08d}"),
        name=f"测试企业{n}有限公司",
        ownership="private",
        district_id=district,
        status="verified",
    )


def make_id(n: int, address: str = "410102") -> str:
    first17 = f"{address}1990{(n // 28) % 12 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}"
    return first17 + id_check_char(first17)


def make_person(n: int | None = None, *, name: str | None = None, phone: str = "") -> tuple[Person, str]:
    n = next(_seq) if n is None else n
    number = make_id(n)
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


def make_entitlement(
    programme, rule, *, district="130110", employer=None, amount=None, channel=None, person=None, n=None, account=None
) -> Entitlement:
    n = next(_seq) if n is None else n
    if person is None:
        person, _ = make_person(n)
    employer = employer or make_employer(district)
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
    employer = make_employer(district)
    return [
        make_entitlement(programme, rule, district=district, employer=employer, n=start + i, **kw) for i in range(count)
    ]


def approve(batch, officer, city, province):
    """Push a draft batch through submit → review → approve."""
    from disbursements.services.batches import batch_approve, batch_review, batch_submit

    batch = batch_submit(batch=batch, acting_user=officer)
    batch = batch_review(batch=batch, acting_user=city)
    return batch_approve(batch=batch, acting_user=province)
