"""The patterns behind fraud signals, each found by a few set-based queries (GROUP BY,
index reads; no loop over workers). `signals_find` returns them as plain dicts;
`disbursements.services.fraud` stores them as signals and holds lines.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable

from django.db import connection
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from beneficiaries import pii
from beneficiaries.choices import Category, RegistrationStatus, Source
from beneficiaries.models import Registration
from disbursements import sql
from disbursements.choices import EntitlementStatus, SignalKind
from disbursements.models import AccountIndex, Entitlement
from disbursements.services.safeguards import safeguards_for
from programs.choices import RuleKind, SurveyStatus
from programs.models import Programme, SurveyReport

LIVE = [RegistrationStatus.ACTIVE, RegistrationStatus.CONFLICT]


def _group(kind, key, district_id, summary, *, members=(), employer_id=None, detail=None, count=None) -> dict:
    members = sorted(set(members))
    return {
        "kind": kind,
        "key": key,
        "district_id": district_id,
        "summary": summary[:300],
        "members": members,
        "employer_id": employer_id,
        "detail": detail or {},
        "count": count if count is not None else len(members),
    }


def _live(programme: Programme):
    return Registration.objects.filter(programme=programme, status__in=LIVE)


def account_index_refresh(programme: Programme) -> int:
    """Bring the account blind index up to date with the registrations changed since
    it was written (decrypting each new or changed account once); returns rows written."""
    stale = (
        Registration.objects.filter(programme=programme)
        .exclude(account_cipher="")
        .exclude(
            Exists(
                AccountIndex.objects.filter(
                    registration_id=OuterRef("pk"), registration_updated_at=OuterRef("updated_at")
                )
            )
        )
        .values_list("pk", "account_cipher", "updated_at")
    )
    written = 0
    chunk: list[AccountIndex] = []

    def flush():
        if connection.vendor == "postgresql":
            # One upsert statement per chunk (execute_values): several times faster than
            # bulk_create's per-object preparation on the first run over a province.
            from psycopg2.extras import execute_values

            with connection.cursor() as cur:
                execute_values(
                    cur.cursor,
                    sql.ACCOUNT_INDEX_UPSERT,
                    [(r.registration_id, programme.pk, r.account_hash, r.registration_updated_at) for r in chunk],
                    page_size=5000,
                )
            return
        AccountIndex.objects.filter(registration_id__in=[row.registration_id for row in chunk]).delete()
        AccountIndex.objects.bulk_create(chunk)

    for pk, cipher, updated_at in stale.iterator(chunk_size=5000):
        chunk.append(
            AccountIndex(
                registration_id=pk,
                programme=programme,
                account_hash=pii.blind_index(pii.decrypt(cipher)),
                registration_updated_at=updated_at,
            )
        )
        if len(chunk) >= 5000:
            flush()
            written += len(chunk)
            chunk = []
    if chunk:
        flush()
        written += len(chunk)
    # An account removed from a registration leaves no index row behind. (The subquery
    # reads registrations, whose statistics are known; a join from a just-filled index
    # table that the planner still believes empty became a nested loop.)
    AccountIndex.objects.filter(
        registration_id__in=Registration.objects.filter(programme=programme, account_cipher="").values("pk")
    ).delete()
    if written > 1000 and connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(sql.ACCOUNT_INDEX_ANALYZE)
    return written


def _members_by(qs, field: str) -> dict:
    out = defaultdict(list)
    for value, reg_id, district_id in qs.values_list(field, "pk", "district_id"):
        out[value].append((reg_id, district_id))
    return out


def _main_district(rows) -> str:
    counts = defaultdict(int)
    for _reg, district in rows:
        counts[district] += 1
    return min(counts, key=lambda d: (-counts[d], d))


def _shared_accounts(programme, safeguards) -> list[dict]:
    account_index_refresh(programme)
    base = AccountIndex.objects.filter(programme=programme, registration__status__in=LIVE)
    hashes = list(
        base.values("account_hash")
        .annotate(n=Count("registration__person_id", distinct=True))
        .filter(n__gte=safeguards.shared_account_min)
        .values_list("account_hash", flat=True)
    )
    if not hashes:
        return []
    regs = _live(programme).filter(pk__in=base.filter(account_hash__in=hashes).values("registration_id"))
    by_hash = defaultdict(list)
    masked = {}
    rows = AccountIndex.objects.filter(registration__in=regs, account_hash__in=hashes).values_list(
        "account_hash",
        "registration_id",
        "registration__district_id",
        "registration__employer_id",
        "registration__account_masked",
    )
    employers = defaultdict(set)
    for account_hash, reg_id, district_id, employer_id, account_masked in rows:
        by_hash[account_hash].append((reg_id, district_id))
        employers[account_hash].add(employer_id)
        masked[account_hash] = account_masked
    return [
        _group(
            SignalKind.SHARED_ACCOUNT,
            f"acct:{h[:40]}",
            _main_district(members),
            f"{len(members)} 名人员登记了同一银行账号（{masked[h]}），涉及 {len(employers[h])} 家单位",
            members=[m[0] for m in members],
            detail={"account": masked[h], "employers": len(employers[h])},
        )
        for h, members in by_hash.items()
    ]


def _shared_phones(programme, safeguards) -> list[dict]:
    # Groups on the phone's blind index (phones are stored encrypted); the masked number
    # that the signal shows is the person's own phone_masked.
    live = _live(programme).exclude(person__phone_hash="")
    hashes = list(
        live.values("person__phone_hash")
        .annotate(n=Count("person_id", distinct=True))
        .filter(n__gte=safeguards.shared_phone_min)
        .values_list("person__phone_hash", flat=True)
    )
    if not hashes:
        return []
    matching = live.filter(person__phone_hash__in=hashes)
    groups = _members_by(matching, "person__phone_hash")
    masked = dict(matching.values_list("person__phone_hash", "person__phone_masked"))
    return [
        _group(
            SignalKind.SHARED_PHONE,
            f"phone:{phone_hash[:40]}",
            _main_district(members),
            f"{len(members)} 名人员登记了同一手机号（{masked[phone_hash]}）",
            members=[m[0] for m in members],
            detail={"phone": masked[phone_hash]},
        )
        for phone_hash, members in groups.items()
    ]


def _survey_staying(programme) -> dict[str, int]:
    """Each district's 留岗 count in its latest approved (or locked) 摸排 report."""
    latest = (
        SurveyReport.objects.filter(programme=programme, status__in=[SurveyStatus.APPROVED, SurveyStatus.LOCKED])
        .values("district_id")
        .annotate(last=Max("as_of"))
    )
    wanted = {(row["district_id"], row["last"]) for row in latest}
    rows = SurveyReport.objects.filter(
        programme=programme,
        status__in=[SurveyStatus.APPROVED, SurveyStatus.LOCKED],
        district_id__in={d for d, _ in wanted},
    ).values_list("district_id", "as_of", "staying")
    return {district: staying for district, as_of, staying in rows if (district, as_of) in wanted}


def _over_survey(programme) -> list[dict]:
    staying = _survey_staying(programme)
    if not staying:
        return []
    found = []
    # 摸排 留岗 counts workers staying at work: the hardship and unemployed categories
    # (relief recipients, not stayers) are not compared with it.
    live = _live(programme).filter(district_id__in=list(staying), category=Category.MIGRANT)
    for district_id, n in live.values("district_id").annotate(n=Count("id")).values_list("district_id", "n"):
        if n > staying[district_id]:
            found.append(
                _group(
                    SignalKind.DISTRICT_OVER_SURVEY,
                    f"dist:{district_id}",
                    district_id,
                    f"登记 {n:,} 人，超过摸排留岗人数 {staying[district_id]:,} 人",
                    detail={"registered": n, "surveyed": staying[district_id]},
                    count=n,
                )
            )
    per_employer = live.values("employer_id", "district_id", "employer__name").annotate(n=Count("id"))
    for row in per_employer:
        if row["n"] > staying[row["district_id"]]:
            found.append(
                _group(
                    SignalKind.EMPLOYER_OVER_SURVEY,
                    f"emp:{row['employer_id']}",
                    row["district_id"],
                    f"{row['employer__name']}登记 {row['n']:,} 人，超过所在区县摸排留岗人数 {staying[row['district_id']]:,} 人",
                    employer_id=row["employer_id"],
                    detail={"registered": row["n"], "surveyed": staying[row["district_id"]]},
                    count=row["n"],
                )
            )
    return found


def _overlapping_stays(programme) -> list[dict]:
    # Set-based in two steps, both plain GROUP BY / index reads (a correlated EXISTS on
    # date ranges can turn into a nested loop over a million rows): the people with live
    # registrations in two or more districts — few — then their date ranges compared.
    live = _live(programme)
    people = (
        live.values("person_id").annotate(n=Count("district_id", distinct=True)).filter(n__gt=1).values("person_id")
    )
    rows = live.filter(person_id__in=people).values_list("person_id", "pk", "district_id", "start_date", "end_date")
    by_person = defaultdict(list)
    for person_id, reg_id, district_id, start, end in rows:
        by_person[person_id].append((reg_id, district_id, start, end))
    found = []
    for person_id, regs in by_person.items():
        members = {
            (a[0], a[1])
            for a in regs
            for b in regs
            if a[1] != b[1] and a[2] <= b[3] and b[2] <= a[3]  # two districts, ranges overlap
        }
        if members:
            found.append(
                _group(
                    SignalKind.OVERLAPPING_STAYS,
                    f"overlap:{person_id}",
                    _main_district(members),
                    f"同一人员在 {len({d for _r, d in members})} 个区县的留岗期间重叠",
                    members=[m[0] for m in members],
                )
            )
    return found


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _implausible_ages(programme, safeguards) -> list[dict]:
    first_day = programme.start_date
    # Younger than min_age: born after the day min_age years before; older than
    # max_age: born on or before the day (max_age + 1) years before.
    young = Q(person__birth_date__gt=_years_before(first_day, safeguards.min_age))
    old = Q(person__birth_date__lte=_years_before(first_day, safeguards.max_age + 1))
    rows = _live(programme).filter(young | old).values_list("person_id", "pk", "district_id", "person__birth_date")
    groups = defaultdict(list)
    births = {}
    for person_id, reg_id, district_id, birth in rows:
        groups[person_id].append((reg_id, district_id))
        births[person_id] = birth
    found = []
    for person_id, members in groups.items():
        birth = births[person_id]
        age = first_day.year - birth.year - ((first_day.month, first_day.day) < (birth.month, birth.day))
        found.append(
            _group(
                SignalKind.IMPLAUSIBLE_AGE,
                f"age:{person_id}",
                _main_district(members),
                f"项目开始时年龄 {age} 周岁（合理范围 {safeguards.min_age}–{safeguards.max_age} 周岁）",
                members=[m[0] for m in members],
                detail={"age": age},
            )
        )
    return found


def _late_registrations(programme) -> list[dict]:
    deadline = programme.registration_deadline + dt.timedelta(days=1)
    after = timezone.make_aware(dt.datetime.combine(deadline, dt.time.min))
    # Synthetic demo rows carry the time they were generated, not a registration time.
    late = _live(programme).filter(created_at__gte=after).exclude(source=Source.DEMO)
    groups = defaultdict(list)
    names = {}
    for employer_id, reg_id, district_id, name in late.values_list(
        "employer_id", "pk", "district_id", "employer__name"
    ):
        groups[employer_id].append((reg_id, district_id))
        names[employer_id] = name
    return [
        _group(
            SignalKind.LATE_REGISTRATION,
            f"late:{employer_id}",
            _main_district(members),
            f"{names[employer_id]}在登记截止日（{programme.registration_deadline:%Y-%m-%d}）后登记 {len(members)} 人",
            members=[m[0] for m in members],
            employer_id=employer_id,
        )
        for employer_id, members in groups.items()
    ]


def _stacking(programme, safeguards) -> list[dict]:
    if not safeguards.forbid_stacking:
        return []
    # One pass over the programme's granted entitlements, grouped by registration (a
    # registration is one person at one employer).
    employer_funded = Q(rule__kind=RuleKind.EMPLOYER_FUNDED)
    stacked = (
        Entitlement.objects.filter(programme=programme, status=EntitlementStatus.GRANTED)
        .values("registration_id")
        .annotate(own=Count("id", filter=employer_funded), public=Count("id", filter=~employer_funded))
        .filter(own__gt=0, public__gt=0)
        .values("registration_id")
    )
    rows = _live(programme).filter(pk__in=stacked).values_list("pk", "district_id", "employer_id", "employer__name")
    return [
        _group(
            SignalKind.STACKING,
            f"stack:{reg_id}",
            district_id,
            f"同一人员同时享受{name}的企业自发补贴和政府补贴（本项目不允许叠加）",
            members=[reg_id],
            employer_id=employer_id,
        )
        for reg_id, district_id, employer_id, name in rows
    ]


# The patterns in the order they are looked for; `signals_find` reports each one done.
PATTERN_STEPS = 7


def signals_find(programme: Programme, *, step: Callable[[int], None] | None = None) -> list[dict]:
    """Every pattern of the programme as it stands (nothing written but the account index).

    `step(n)` is called after the n-th of the PATTERN_STEPS patterns (a job's progress)."""
    safeguards = safeguards_for(programme)
    finders = (
        lambda: _shared_accounts(programme, safeguards),
        lambda: _shared_phones(programme, safeguards),
        lambda: _over_survey(programme),
        lambda: _overlapping_stays(programme),
        lambda: _implausible_ages(programme, safeguards),
        lambda: _late_registrations(programme),
        lambda: _stacking(programme, safeguards),
    )
    found: list[dict] = []
    for n, finder in enumerate(finders, start=1):
        found += finder()
        if step is not None:
            step(n)
    return found
