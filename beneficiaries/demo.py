"""Demo employers of the two demo agents, and a few registrations of their staff.

Idempotent: employers are found by credit code, registrations by (person, programme,
employer) through the service itself.
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from accounts.choices import Role
from accounts.models import User
from accounts.services.audit import audit_record
from beneficiaries.choices import Category, EmployerStatus, Ownership, Source
from beneficiaries.idcard import id_check_char
from beneficiaries.models import Employer
from beneficiaries.services.employers import employer_verify
from beneficiaries.services.registrations import registration_create
from beneficiaries.uscc import make_uscc
from programs.choices import ProgrammeStatus
from programs.models import Programme

DEMO_PROGRAMME = "HEBEI-2021"

# key (as accounts.demo.DEMO_EMPLOYER_AGENTS names it) → employer
DEMO_EMPLOYERS = {
    "luquan_private": dict(
        credit_code=make_uscc("91", "130110", "10785301"),
        name="石家庄冀通建材有限公司",
        ownership=Ownership.PRIVATE,
        district_id="130110",  # 鹿泉区
        industry="建材",
        address="石家庄市鹿泉区铜冶镇",
        contact_name="王经理",
        contact_phone="13831100001",
        agent="qiye_luquan",
    ),
    "gree": dict(
        credit_code=make_uscc("91", "130171", "10785302"),
        name="石家庄格力电器（空调）有限公司",
        ownership=Ownership.STATE,  # 格力电器 is controlled by the 珠海 state-owned assets body
        district_id="130171",  # 石家庄高新区
        industry="家用电器制造",
        address="石家庄高新区",
        contact_name="李主任",
        contact_phone="13831100002",
        agent="qiye_gree",
    ),
}

# Staff of 冀通建材 (mostly from outside 石家庄, as the 鹿泉 scheme is for them).
# address code, birth date, sequence, name, phone, duty days, seniority, category
DEMO_WORKERS = [
    ("130223", "19850314", "271", "赵建国", "13931500011", 7, 6, Category.MIGRANT),  # 滦县 (abolished → 滦州市)
    ("410102", "19900708", "382", "孙丽娟", "13931500012", 3, 2, Category.MIGRANT),  # 郑州中原区
    ("130903", "19791120", "153", "周海涛", "13931500013", 0, 12, Category.MIGRANT),  # 沧州运河区
    ("130185", "19880203", "444", "吴秀英", "13931500014", 7, 4, Category.MIGRANT),  # 鹿泉市 (local: not eligible)
    ("511322", "19951230", "517", "郑小龙", "13931500015", 5, 1, Category.MIGRANT),  # 四川营山县
]
# Also registered by 格力: a conflict for the officers to resolve.
DEMO_CONFLICT_WORKER = ("622421", "19920615", "339", "马向东", "13931500016", 7, 3, Category.MIGRANT)


def _id(address: str, birth: str, seq: str) -> str:
    first17 = address + birth + seq
    return first17 + id_check_char(first17)


@transaction.atomic
def demo_employers() -> dict:
    created = 0
    for key, spec in DEMO_EMPLOYERS.items():
        spec = dict(spec)
        agent = User.objects.filter(username=spec.pop("agent")).first()
        employer, was_created = Employer.objects.get_or_create(credit_code=spec["credit_code"], defaults=spec)
        created += was_created
        if agent is not None:
            employer.agents.add(agent)
        if employer.status != EmployerStatus.VERIFIED:
            officer = (
                User.objects.filter(role=Role.DISTRICT, region_id=employer.district_id, is_active=True)
                .order_by("pk")
                .first()
            )
            if officer is not None:
                employer_verify(employer=employer, acting_user=officer)
            else:
                employer.status, employer.verified_by, employer.verified_at = (
                    EmployerStatus.VERIFIED,
                    None,
                    timezone.now(),
                )
                employer.save(update_fields=["status", "verified_by", "verified_at"])
                audit_record(user=None, action="employer_verify", obj=employer, comment=f"演示数据（{key}）")
    return {"employers": created}


@transaction.atomic
def demo_registrations() -> dict:
    programme = Programme.objects.filter(code=DEMO_PROGRAMME, status=ProgrammeStatus.ACTIVE).first()
    luquan = Employer.objects.filter(credit_code=DEMO_EMPLOYERS["luquan_private"]["credit_code"]).first()
    gree = Employer.objects.filter(credit_code=DEMO_EMPLOYERS["gree"]["credit_code"]).first()
    if programme is None or luquan is None:
        return {"registrations": 0}
    start = max(programme.start_date, dt.date(2021, 1, 21))
    end = min(programme.end_date, dt.date(2021, 3, 31))
    made = []

    def register(employer, agent_name, worker):
        agent = User.objects.filter(username=agent_name).first() or User.objects.filter(is_superuser=True).first()
        if agent is None or employer is None:
            return
        address, birth, seq, name, phone, duty_days, seniority, category = worker
        made.append(
            registration_create(
                acting_user=agent,
                employer=employer,
                programme=programme,
                id_number=_id(address, birth, seq),
                name=name,
                phone=phone,
                start_date=start,
                end_date=end,
                duty_days=duty_days,
                seniority_years=seniority,
                category=category,
                bank_name="中国农业银行石家庄分行",
                account=f"622848{birth}{seq[:2]}{seq[-1]}",
                source=Source.DEMO,
            )
        )

    for worker in DEMO_WORKERS:
        register(luquan, "qiye_luquan", worker)
    register(luquan, "qiye_luquan", DEMO_CONFLICT_WORKER)
    register(gree, "qiye_gree", DEMO_CONFLICT_WORKER)
    return {"registrations": len(made)}


DEMO_STEPS = [("演示企业（冀通建材、格力）", demo_employers), ("演示企业的留岗登记", demo_registrations)]
