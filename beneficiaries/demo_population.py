"""A synthetic population for HEBEI-2021 in which every rule of the article grants something.

About 11,000 registrations: employers of every ownership type in the districts the
article names (and two it only surveys), workers from outside the province, from
other Hebei cities and from the same city (so some get nothing), the unemployed of
定州 and 辛集, the staff of 格力, 蒙牛 and 现代牧业, and exactly 6,608 hardship people
of 康保县, whose ¥300 relief totals ¥1,982,400 as the article says.

Every ID number passes GB 11643 and every credit code GB 32100; ID and account numbers
are encrypted and blind-indexed like real ones. Rows go in with bulk_create (this is
demo data, not a registration by an employer). Idempotent: skipped when the 康保 unit's
registrations are already there. Deterministic: the same seed gives the same people.
"""

import datetime as dt
import random

from django.db import transaction
from django.utils import timezone

from beneficiaries.choices import Category, EmployerStatus, Ownership, PayoutChoice, RegistrationStatus, Source
from beneficiaries.models import Employer, Person, Registration
from beneficiaries.pii import blind_index, encrypt, mask_account, mask_id, mask_phone, phone_tail_digest
from beneficiaries.synthetic import OUTSIDE_PROVINCE_CODES, Synthesizer
from beneficiaries.uscc import make_uscc
from programs.demo import DEMO_EMPLOYER_CODES, PROGRAMME_CODE
from programs.models import Programme

KANGBAO_HARDSHIP = 6608
SEED = 2021

# Home codes in other Hebei cities, and "local" codes per city prefix.
OTHER_HEBEI = ["130602", "130702", "130802", "130902", "131102", "130402", "130502", "131002", "130303", "130223"]
LOCAL = {
    "1301": ["130102", "130104", "130105", "130110", "130183"],
    "1307": ["130702", "130722", "130723", "130725"],
    "1308": ["130802", "130821"],
    "1309": ["130902", "130903", "130921", "130981"],
    "1311": ["131102", "131121", "131182"],
}

# (key, district, name, ownership, credit code or None, workers, hukou mix, category, verified)
# hukou mix: (share outside the province, share from another Hebei city); the rest are local.
PLAN = [
    (
        "lq-private",
        "130110",
        "石家庄鹿泉恒达机械制造有限公司",
        Ownership.PRIVATE,
        None,
        420,
        (0.6, 0.2),
        Category.MIGRANT,
        True,
    ),
    (
        "lq-individual",
        "130110",
        "鹿泉区铜冶镇顺发五金经营部",
        Ownership.INDIVIDUAL,
        None,
        60,
        (0.6, 0.2),
        Category.MIGRANT,
        True,
    ),
    (
        "lq-site",
        "130110",
        "中建某局鹿泉区安置房项目部",
        Ownership.CONSTRUCTION,
        None,
        260,
        (0.7, 0.2),
        Category.MIGRANT,
        True,
    ),
    ("lq-state", "130110", "鹿泉区供水有限公司", Ownership.STATE, None, 80, (0.3, 0.3), Category.MIGRANT, True),
    (
        "lq-pending",
        "130110",
        "鹿泉区新设物流有限公司",
        Ownership.PRIVATE,
        None,
        40,
        (0.6, 0.2),
        Category.MIGRANT,
        False,
    ),
    (
        "xh-chem",
        "130172",
        "石家庄循环化工园区某化工有限公司",
        Ownership.PRIVATE,
        None,
        320,
        (0.5, 0.3),
        Category.MIGRANT,
        True,
    ),
    (
        "gree",
        "130171",
        "石家庄格力电器（空调）有限公司",
        Ownership.STATE,
        DEMO_EMPLOYER_CODES["gree"],
        300,
        (0.6, 0.2),
        Category.MIGRANT,
        True,
    ),
    (
        "cz-yunhe",
        "130903",
        "沧州运河区某精密机械有限公司",
        Ownership.PRIVATE,
        None,
        300,
        (0.6, 0.2),
        Category.MIGRANT,
        True,
    ),
    (
        "cz-renqiu",
        "130982",
        "任丘市某石化设备有限公司",
        Ownership.PRIVATE,
        None,
        220,
        (0.5, 0.2),
        Category.MIGRANT,
        True,
    ),
    (
        "cz-bohai",
        "130973",
        "沧州渤海新区某港口物流有限公司",
        Ownership.FOREIGN,
        None,
        180,
        (0.5, 0.3),
        Category.MIGRANT,
        True,
    ),
    (
        "hs-taocheng",
        "131102",
        "衡水桃城区某商贸有限公司",
        Ownership.PRIVATE,
        None,
        300,
        (0.6, 0.2),
        Category.MIGRANT,
        True,
    ),
    (
        "hs-anping",
        "131125",
        "安平县某丝网制品有限公司",
        Ownership.PRIVATE,
        None,
        240,
        (0.5, 0.2),
        Category.MIGRANT,
        True,
    ),
    (
        "mengniu",
        "130773",
        "蒙牛乳业（塞北）有限公司",
        Ownership.PRIVATE,
        DEMO_EMPLOYER_CODES["mengniu"],
        250,
        (0.4, 0.3),
        Category.MIGRANT,
        True,
    ),
    (
        "modern",
        "130773",
        "现代牧业（塞北）有限公司",
        Ownership.PRIVATE,
        DEMO_EMPLOYER_CODES["modern_dairy"],
        200,
        (0.4, 0.3),
        Category.MIGRANT,
        True,
    ),
    (
        "dz-unemp",
        "130682",
        "定州市公共就业服务中心（失业人员）",
        Ownership.STATE,
        None,
        300,
        (0.0, 0.0),
        Category.UNEMPLOYED,
        True,
    ),
    (
        "xj-unemp",
        "130181",
        "辛集市公共就业服务中心（失业人员）",
        Ownership.STATE,
        None,
        150,
        (0.0, 0.0),
        Category.UNEMPLOYED,
        True,
    ),
    (
        "kb-hardship",
        "130723",
        "康保县民政局（困难群众春节慰问）",
        Ownership.STATE,
        None,
        KANGBAO_HARDSHIP,
        (0.0, 0.0),
        Category.HARDSHIP,
        True,
    ),
    (
        "cd-shuangqiao",
        "130802",
        "承德双桥区某食品有限公司",
        Ownership.PRIVATE,
        None,
        200,
        (0.5, 0.2),
        Category.MIGRANT,
        True,
    ),
    (
        "zjk-qiaodong",
        "130702",
        "张家口桥东区某装备制造有限公司",
        Ownership.COLLECTIVE,
        None,
        200,
        (0.4, 0.3),
        Category.MIGRANT,
        True,
    ),
]
MARKER = "kb-hardship"


def _credit_code(key: str, district: str, given: str | None) -> str:
    if given:
        return given
    index = [p[0] for p in PLAN].index(key)
    return make_uscc("91", district, f"DM{index:06d}")


def _home(rng: random.Random, district: str, mix: tuple[float, float]) -> str:
    if district in ("130682", "130181", "130723"):  # locals: own-county hukou
        return district
    roll = rng.random()
    if roll < mix[0]:
        return rng.choice(OUTSIDE_PROVINCE_CODES)
    if roll < mix[0] + mix[1]:
        return rng.choice([c for c in OTHER_HEBEI if c[:4] != district[:4]])
    return rng.choice(LOCAL.get(district[:4], [district]))


@transaction.atomic
def demo_population() -> dict:
    """The synthetic population of the demo programme: the employers of PLAN, then their
    workers (persons and registrations, drawn from a seeded generator), once."""
    programme = Programme.objects.filter(code=PROGRAMME_CODE).first()
    if programme is None:
        return {"registrations": 0}
    marker_code = _credit_code(MARKER, "130723", None)
    if Registration.objects.filter(programme=programme, employer__credit_code=marker_code).exists():
        return {"registrations": 0, "skipped": "已加载"}
    employers = _demo_employers()
    now = timezone.now()
    persons, regs = _demo_workers(employers, now)
    Person.objects.bulk_create(persons, batch_size=2000)
    # bulk_create fills primary keys on PostgreSQL and SQLite ≥ 3.35; look them up otherwise.
    if persons and persons[0].pk is None:
        ids = dict(Person.objects.filter(id_hash__in=[p.id_hash for p in persons]).values_list("id_hash", "id"))
        for p in persons:
            p.pk = p.id = ids[p.id_hash]
    Registration.objects.bulk_create(
        [
            Registration(
                person_id=p.pk,
                programme=programme,
                status=RegistrationStatus.ACTIVE,
                source=Source.DEMO,
                created_at=now,
                updated_at=now,
                **r,
            )
            for p, r in zip(persons, regs, strict=True)
        ],
        batch_size=2000,
    )
    return {"employers": len(employers), "registrations": len(regs)}


def _demo_employers() -> dict[str, Employer]:
    verified_at = timezone.make_aware(dt.datetime(2021, 1, 20, 9, 0))
    employers: dict[str, Employer] = {}
    for key, district, name, ownership, code, _n, _mix, _cat, verified in PLAN:
        code = _credit_code(key, district, code)
        employer, _ = Employer.objects.get_or_create(
            credit_code=code,
            defaults=dict(
                name=name,
                ownership=ownership,
                district_id=district,
                industry="",
                status=EmployerStatus.VERIFIED if verified else EmployerStatus.PENDING,
                verified_at=verified_at if verified else None,
            ),
        )
        employers[key] = employer
    return employers


def _demo_workers(employers: dict[str, Employer], now) -> tuple[list[Person], list[dict]]:
    """The persons (unsaved) and their registrations' fields, PLAN's counts per employer."""
    rng = random.Random(SEED)
    syn = Synthesizer(SEED)
    taken = set(Person.objects.values_list("id_hash", flat=True))
    persons, regs = [], []
    for key, district, _name, _own, _code, count, mix, category, _v in PLAN:
        for index in range(count):
            while True:
                w = syn.worker(home_code=_home(rng, district, mix))
                h = blind_index(w.id_number)
                if h not in taken:
                    taken.add(h)
                    break
            birth = dt.date(int(w.id_number[6:10]), int(w.id_number[10:12]), int(w.id_number[12:14]))
            persons.append(
                Person(
                    id_hash=h,
                    id_cipher=encrypt(w.id_number),
                    id_masked=mask_id(w.id_number),
                    name=w.name,
                    sex="M" if int(w.id_number[16]) % 2 else "F",
                    birth_date=birth,
                    hukou_code_raw=w.hukou_code,
                    hukou_code=w.hukou_code,
                    phone_cipher=encrypt(w.phone),
                    phone_hash=blind_index(w.phone),
                    phone_tail=phone_tail_digest(h, w.phone[-4:]),
                    phone_masked=mask_phone(w.phone),
                    created_at=now,
                )
            )
            start = dt.date(2021, 1, 21) + dt.timedelta(days=rng.randrange(12))
            end = dt.date(2021, 2, 18) + dt.timedelta(days=rng.randrange(41))
            if rng.random() < 0.05:  # a few leave during the holiday
                end = dt.date(2021, 2, 14)
            regs.append(
                dict(
                    employer=employers[key],
                    district_id=district,
                    start_date=start,
                    end_date=end,
                    duty_days=w.duty_days if category == Category.MIGRANT else 0,
                    seniority_years=w.seniority_years,
                    category=category,
                    bank_name=w.bank_name,
                    account_cipher=encrypt(w.account),
                    account_masked=mask_account(w.account),
                    payout_choice=_payout_choice(key, index),
                )
            )
    return persons, regs


def _payout_choice(key: str, index: int) -> str:
    """循环化工园区 pays "800元的电子红包或现金补贴": of the park's workers, one in four chose
    cash, the others the red packet (by position, so the random population is unchanged)."""
    if key != "xh-chem":
        return PayoutChoice.RULE
    return PayoutChoice.CASH if index % 4 == 3 else PayoutChoice.RED_PACKET


DEMO_STEPS = [("合成留岗人员（每条规则都有受益人；康保县困难群众 6,608 人）", demo_population)]
