"""Small builders for beneficiaries tests (real rows in the real test database)."""

import datetime as dt
import itertools

from beneficiaries.idcard import id_check_char
from beneficiaries.models import Employer
from beneficiaries.uscc import make_uscc
from programs.models import Programme

_seq = itertools.count(1)


def make_id(address: str = "130223", birth: str = "19800101", seq: int | None = None) -> str:
    first17 = address + birth + f"{(seq if seq is not None else next(_seq)) % 1000:03d}"
    return first17 + id_check_char(first17)


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


def make_employer(name: str = "某某建材有限公司", district: str = "130110", *, agents=(), status="verified", **extra):
    n = next(_seq)
    employer = Employer.objects.create(
        credit_code=make_uscc("91", district, f"{n:08d}"),
        name=name,
        ownership=extra.pop("ownership", "private"),
        district_id=district,
        status=status,
        **extra,
    )
    if agents:
        employer.agents.add(*agents)
    return employer
