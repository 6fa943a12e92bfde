"""Computing a programme's entitlements from its active rules, set-based and idempotent.

`entitlements_compute` works district by district (the unit a Celery job reports
progress on, and the unit that can fail alone). For each stay district, in one
transaction holding an advisory lock on (programme, district):

1. every applicable active rule is compiled (programs.rules) and its qualifying
   registrations are inserted into a temporary table with INSERT … SELECT — the
   exclusivity groups and budget caps are applied there with window functions;
2. the rows that are new or differ from the stored ones are upserted into
   Entitlement (INSERT … SELECT … ON CONFLICT (programme, person, rule_key) DO
   UPDATE), so a second run with nothing changed writes nothing;
3. a stored entitlement that no longer qualifies is withdrawn when it is not in a
   batch (no pending or paid payment line);
4. money already settled for a (person, rule key) — a row with a pending or paid line,
   or a recovery — is never rewritten: a raised amount adds a 补差 top-up row, a lowered
   one or a person no longer qualifying is listed as an overpayment (多发/待核查) for an
   officer to decide (disbursements.services.settlement);
5. the people a budget cap turned away are stored (CapRefusal, 预算已用完).

Clauses this implements (DESIGN.md, "SubsidyRule"): a rule covers stays in its region
and below; only active registrations count; an employer must be verified unless the
rule says otherwise; in an exclusivity group a person gets one rule, the highest
amount (ties: lower priority number, then lower rule id); a budget cap grants in the
order registrations became verified (the later of the employer's verification and
the registration's creation, then registration id) and stops exactly at the cap; a
person a cap turns away from their best rule of a group falls back to the next best
(in rounds: see programs.rules._allocation_sql).
Employer-funded rules (channel "employer") produce entitlements for statistics only;
batching skips that channel.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.models import AuditEntry
from accounts.services import audit_record
from beneficiaries.models import Registration
from core.errors import DomainError
from disbursements.choices import EntitlementStatus, LineStatus
from disbursements.models import Batch, CapRefusal, Entitlement, EntitlementComputeState, PaymentLine
from disbursements.services.batch_lines import UNAPPROVED, lines_pull_unapproved
from disbursements.services.rollups import rollups_refresh_soon
from disbursements.services.settlement import settle_district, settled_line_sql
from programs.choices import RuleStatus
from programs.models import Programme, SubsidyRule
from programs.rules import GRANT_COLUMNS, RegionIndex, capped_groups, grants_sql, region_index, rules_for_district
from regions.models import Region

LOCK_NAMESPACE = 0x454E  # "EN": keeps these advisory lock keys apart from other apps'
TMP = "tmp_entitlement_candidates"
ProgressFn = Callable[[int, int, str], None]


@dataclass
class ComputeResult:
    programme: Programme
    district: Region | None
    districts: dict[str, dict] = field(default_factory=dict)
    written: int = 0
    withdrawn: int = 0
    flagged: int = 0
    topups: int = 0
    refusals_changed: bool = False
    seconds: float = 0.0

    def totals(self) -> dict:
        return entitlement_totals(programme=self.programme, region=self.district)


def lock_key(programme_id: int, district_code: str) -> int:
    return (LOCK_NAMESPACE << 40) | (programme_id << 20) | int(district_code)


def entitlements_compute(
    *,
    programme: Programme,
    district: Region | str | None = None,
    acting_user=None,
    progress: ProgressFn | None = None,
    force: bool = False,
) -> ComputeResult:
    """Compute `programme`'s entitlements (or one district's, or a city's districts').

    Each district is its own transaction: a run killed half way leaves whole districts
    done and the rest untouched, and the next run finishes the job. Runs for the same
    programme and district are serialized by a transaction-level advisory lock.

    On PostgreSQL a district whose inputs have not changed since its last computation
    (same fingerprint, see `_fingerprint`) is skipped; `force` computes it anyway
    (the nightly run does, to catch what a fingerprint does not cover, such as a
    payment line that failed after its entitlement was flagged).
    """
    started = time.perf_counter()
    if isinstance(district, str):
        district = Region.objects.filter(code=district).first()
        if district is None:
            raise DomainError("找不到该区县代码，请检查后重试。")
    if district is not None and not district.path.startswith(programme.region.path):
        raise DomainError(f"“{district.name}”不在项目“{programme.name}”的实施区域内。")
    regions = region_index()
    codes = entitlement_districts(programme=programme, region=district)
    result = ComputeResult(programme=programme, district=district)
    now = timezone.now()
    # Read before any district is computed: a change made during the run shows as a
    # different digest next time (so it is recomputed), never the other way round.
    active = list(SubsidyRule.objects.filter(programme=programme, status=RuleStatus.ACTIVE))
    digests = _registration_digests(programme, codes, active, regions)
    for i, code in enumerate(codes, start=1):
        stats = _district_run(programme, code, active, digests, regions, now, _user_id(acting_user), force=force)
        result.districts[code] = stats
        result.written += stats["written"]
        result.withdrawn += stats["withdrawn"]
        result.flagged += stats["flagged"]
        result.topups += stats.get("topups", 0)
        result.refusals_changed |= bool(stats.get("refusals_changed"))
        if progress is not None:
            progress(i, len(codes), code)
    result.seconds = time.perf_counter() - started
    if not (result.written or result.withdrawn or result.flagged or result.topups or result.refusals_changed):
        return result  # nothing changed, nothing to trace (the Job row, if any, records the run)
    audit_record(
        user=acting_user,
        action="entitlements_compute",
        obj=programme,
        changes={
            "district": district.code if district else None,
            "districts": len(codes),
            "written": result.written,
            "withdrawn": result.withdrawn,
            "flagged": result.flagged,
            "topups": result.topups,
        },
    )
    # The dashboards read rollups: refresh them once this commits (debounced per programme).
    rollups_refresh_soon(programme.pk)
    return result


def _district_run(
    programme: Programme, code: str, active: list, digests: dict, regions, now, user_id: int | None, *, force: bool
) -> dict:
    """One district in a transaction of its own, under the advisory lock: skipped when
    its fingerprint says nothing changed (unless `force`), computed otherwise, and its
    new fingerprint stored."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Two runs of the same programme (CLI, beat, an officer's button, a Celery
            # redelivery) would otherwise both insert the same new rows and one would
            # fail on the unique index; or both withdraw and re-grant. One waits.
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(programme.pk, code)])
        rules = list(SubsidyRule.objects.filter(programme=programme, status=RuleStatus.ACTIVE).select_related("region"))
        # Rules changed since the digests were read: compute, and store no state.
        same_rules = [r.pk for r in rules] == [r.pk for r in active]
        inputs = _fingerprint_inputs(programme, code, rules, regions, digests) if same_rules else None
        state = EntitlementComputeState.objects.filter(programme=programme, district_id=code).first()
        if (
            not force
            and inputs is not None
            and state is not None
            and state.fingerprint == _fingerprint(inputs, _fingerprint_outputs(programme, code))
        ):
            return {"candidates": 0, "written": 0, "withdrawn": 0, "flagged": 0, "topups": 0, "skipped": True}
        stats = _compute_district(programme, code, rules, regions, now, user_id)
        if inputs is not None:
            # The inputs as read before computing, the outputs as written: a change
            # made meanwhile by someone else makes the next run's fingerprint differ.
            EntitlementComputeState.objects.update_or_create(
                programme=programme,
                district_id=code,
                defaults={
                    "fingerprint": _fingerprint(inputs, _fingerprint_outputs(programme, code)),
                    "computed_at": now,
                },
            )
    return stats


def entitlement_districts(*, programme: Programme, region: Region | None = None) -> list[str]:
    """The stay districts that have registrations or entitlements in `programme`."""
    regs = Registration.objects.filter(programme=programme)
    ents = Entitlement.objects.filter(programme=programme)
    if region is not None:
        regs = regs.filter(district__path__startswith=region.path)
        ents = ents.filter(district__path__startswith=region.path)
    # order_by(): the models' default ordering would otherwise join the DISTINCT.
    codes = set(regs.order_by().values_list("district_id", flat=True).distinct())
    codes |= set(ents.order_by().values_list("district_id", flat=True).distinct())
    return sorted(codes)


# Bump when the computation's meaning changes: every district recomputes once.
# 2: a person turned away by a cap falls back to the next rule of the group.
# 3: settled money (top-ups, overpayments) and cap refusals are stored.
FINGERPRINT_VERSION = "3"


# A cheap digest of a row: a weighted sum of hashes of its fields (no text formatting,
# which costs more than the join). Summed over the rows it changes when any field does.
_REG_DIGEST = (
    "hashint8(r.id)::bigint * 3 + hashint8(r.person_id)::bigint * 5 + hashint8(r.employer_id)::bigint * 7"
    " + hashtext(r.status)::bigint * 11 + hashtext(r.category)::bigint * 13 + r.duty_days * 17"
    " + r.seniority_years * 19 + (r.start_date - DATE '2000-01-01') * 23 + (r.end_date - DATE '2000-01-01') * 29"
    " + extract(epoch from r.created_at)::bigint * 31 + hashtext(p.hukou_code)::bigint * 37"
    " + hashtext(e.status)::bigint * 41 + hashtext(e.ownership)::bigint * 43 + hashtext(e.credit_code)::bigint * 47"
    " + COALESCE(extract(epoch from e.verified_at)::bigint, 0) * 53 + hashtext(r.payout_choice)::bigint * 59"
)
_ENT_DIGEST = (
    "hashint8(id)::bigint * 3 + hashint8(rule_id)::bigint * 5 + hashint8(person_id)::bigint * 7"
    " + hashint8(registration_id)::bigint * 11 + hashtext(status)::bigint * 13 + hashtext(channel)::bigint * 17"
    " + (amount * 100)::bigint * 19 + hashtext(kind)::bigint * 23 + part::bigint * 29"
)


def _registration_digests(programme: Programme, codes: list[str], rules: list[SubsidyRule], regions) -> dict | None:
    """Per stay district, a digest of what its computation reads (PostgreSQL; None
    elsewhere): its registrations with their person's hukou and their employer's
    status, ownership, code and verification. One query for all the districts of the
    run, and those of the budget-capped rules' regions (a cap counts across them)."""
    if connection.vendor != "postgresql":
        return None
    needed = set(codes)
    for rule in rules:
        if rule.budget_cap is not None:
            needed |= set(regions.districts_within(rule.region_id))
    t = _t()
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT r.district_id, count(*), sum({_REG_DIGEST})"  # noqa: S608
            f" FROM {t['registration']} r JOIN {t['person']} p ON p.id = r.person_id"
            f" JOIN {t['employer']} e ON e.id = r.employer_id"
            " WHERE r.programme_id = %s AND r.district_id = ANY(%s) GROUP BY r.district_id",
            [programme.pk, sorted(needed)],
        )
        return {code: f"{count}:{digest}" for code, count, digest in cur.fetchall()}


def _fingerprint_inputs(
    programme: Programme, code: str, rules: list[SubsidyRule], regions: RegionIndex, digests: dict | None
) -> str | None:
    """The district's inputs: its registrations' digest, the content of the rules it
    reads (the applicable ones and the whole of their capped groups), for a capped rule
    the digests of its region's districts, the holiday window."""
    if digests is None:
        return None
    parts = [FINGERPRINT_VERSION, str(programme.holiday_start), str(programme.holiday_end), digests.get(code, "0")]
    for rule in sorted(_district_rules(rules, code, regions), key=lambda r: r.pk):
        fields = (
            rule.pk,
            rule.region_id,
            rule.amount,
            rule.tiers,
            rule.months,
            rule.channel,
            rule.alt_channel,
            sorted((rule.conditions or {}).items()),
            rule.valid_until,
            rule.budget_cap,
            rule.exclusivity_group,
            rule.priority,
        )
        parts.append("|".join(map(str, fields)))
        if rule.budget_cap is not None:
            parts += [f"{c}={digests.get(c, '0')}" for c in regions.districts_within(rule.region_id)]
    return "\n".join(parts)


def _fingerprint_outputs(programme: Programme, code: str) -> str:
    """The district's entitlements as they stand (a manual change or deletion shows)."""
    t = _t()
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT count(*), COALESCE(sum({_ENT_DIGEST}), 0) FROM {t['ent']}"  # noqa: S608
            " WHERE programme_id = %s AND district_id = %s",
            [programme.pk, code],
        )
        return ":".join(map(str, cur.fetchone()))


def _fingerprint(inputs: str, outputs: str) -> str:
    return hashlib.sha256(f"{inputs}\n{outputs}".encode()).hexdigest()


def _user_id(user) -> int | None:
    return user.pk if user is not None and getattr(user, "is_authenticated", False) else None


def _json_fns() -> tuple[str, str]:
    if connection.vendor == "postgresql":
        return "jsonb_build_object", "jsonb_build_array"
    return "json_object", "json_array"


def _t() -> dict[str, str]:
    return {
        "ent": Entitlement._meta.db_table,
        "line": PaymentLine._meta.db_table,
        "batch": Batch._meta.db_table,
        "registration": Registration._meta.db_table,
        "audit": AuditEntry._meta.db_table,
        "person": Registration._meta.get_field("person").related_model._meta.db_table,
        "employer": Registration._meta.get_field("employer").related_model._meta.db_table,
    }


def _settled_key(alias: str) -> str:
    """SQL: the (person, rule key) of row `alias` has settled money — a row with a paid
    line or a pending one in an approved (or exported) batch, or a recovery. Such a key is never rewritten by the upsert; the
    settlement step (disbursements.services.settlement) adds top-ups or lists overpayments."""
    t = _t()
    return (
        f"EXISTS (SELECT 1 FROM {t['ent']} s WHERE s.programme_id = {alias}.programme_id"  # noqa: S608
        f" AND s.person_id = {alias}.person_id AND s.rule_key = {alias}.rule_key AND (s.kind = 'adjustment'"
        f" OR {settled_line_sql('s.id')}))"
    )


def _applicable(rules: list[SubsidyRule], code: str, regions: RegionIndex) -> list[SubsidyRule]:
    path = regions.path[code]
    return [r for r in rules if path.startswith(regions.path[r.region_id])]


def _district_rules(rules: list[SubsidyRule], code: str, regions: RegionIndex) -> list[SubsidyRule]:
    """The rules a district's computation reads: the applicable ones, and the whole of
    every budget-capped exclusivity group among them (programs.rules.rules_for_district)."""
    return rules_for_district(rules, _applicable(rules, code, regions))


def _compute_district(
    programme: Programme, code: str, rules: list[SubsidyRule], regions: RegionIndex, now, user_id: int | None = None
) -> dict[str, int]:
    """One district, in the steps of the module's docstring: stage the candidates (1),
    take changed lines out of unapproved batches and audit the changes, upsert (2), store
    the cap refusals (5), withdraw what no longer qualifies (3) and settle (4). A district
    computed for the first time has nothing to compare, withdraw or settle."""
    at = connection.ops.adapt_datetimefield_value(now)
    needed = _district_rules(rules, code, regions)
    withdrawn, settled = 0, {"flagged": 0, "topups": 0}
    with connection.cursor() as cur:
        candidates, fresh = _stage_candidates(cur, programme, code, needed, regions)
        if not fresh:
            _pull_changed_lines(cur, programme, code, now, user_id)
            _audit_changed(cur, at, user_id)
        written = _upsert(cur, at, fresh)
        refusals_changed = _store_refusals(cur, programme, code, needed, regions, at)
        if not fresh:
            withdrawn = _withdraw_gone(cur, programme, code, at, user_id)
            settled = settle_district(
                cursor=cur,
                programme=programme,
                district=code,
                candidates=TMP,
                active_keys={r.rule_key for r in rules},
                at=now,
                user_id=user_id,
            )
            withdrawn += settled["withdrawn"]
        cur.execute(f"DROP TABLE IF EXISTS {TMP}")
        if connection.vendor == "postgresql" and written > 20000:
            # Keep the planner's picture of Entitlement current for the next districts
            # (autovacuum would do it too, later). ANALYZE samples: cheap on any size.
            cur.execute(f"ANALYZE {_t()['ent']}")
    return {
        "candidates": candidates,
        "written": written,
        "withdrawn": withdrawn,
        "flagged": settled["flagged"],
        "topups": settled["topups"],
        "refusals_changed": refusals_changed,
    }


def _stage_candidates(cur, programme: Programme, code: str, needed: list[SubsidyRule], regions) -> tuple[int, bool]:
    """Step 1: the district's qualifying rows into the temporary table. Returns how many,
    and whether the district is computed for the first time (nothing stored yet)."""
    t = _t()
    cols = GRANT_COLUMNS
    pg = connection.vendor == "postgresql"
    cur.execute(f"DROP TABLE IF EXISTS {TMP}")
    # Same column types as Entitlement (numeric(14,2), jsonb on PostgreSQL).
    cur.execute(
        f"CREATE TEMP TABLE {TMP} {'ON COMMIT DROP ' if pg else ''}AS SELECT {cols} FROM {t['ent']} WHERE 1 = 0"  # noqa: S608
    )
    candidates = 0
    for sql, params in grants_sql(programme, needed, regions, code):
        cur.execute(f"INSERT INTO {TMP} ({cols}) {sql}", params)
        candidates += max(cur.rowcount, 0)
    cur.execute(f"SELECT 1 FROM {t['ent']} WHERE programme_id = %s AND district_id = %s LIMIT 1", [programme.pk, code])  # noqa: S608
    fresh = cur.fetchone() is None  # the district's first computation: nothing to compare or withdraw
    if not fresh:
        # The anti-joins below look rows up in the candidates by (person, rule_key):
        # with an index they stay cheap even when the planner's estimates are stale
        # (right after a first run has filled Entitlement its statistics say "empty").
        cur.execute(f"CREATE INDEX {TMP}_person_rule ON {TMP} (person_id, rule_key)")
        if pg and candidates > 50000:
            cur.execute(f"ANALYZE {TMP}")
    return candidates, fresh


def _pull_changed_lines(cur, programme: Programme, code: str, now, user_id: int | None) -> None:
    """A line pending in a batch not yet approved is not settled money: when the rules
    now give its entitlement another amount (or none, or another registration), the line
    is taken out of the batch and the entitlement rewritten by the upsert; the next build
    batches it again. (Keys with settled money: the settlement step.)"""
    t = _t()
    unapproved = ", ".join(f"'{s}'" for s in UNAPPROVED)
    cur.execute(
        f"SELECT l.id FROM {t['line']} l JOIN {t['batch']} b ON b.id = l.batch_id"  # noqa: S608
        f" JOIN {t['ent']} e ON e.id = l.entitlement_id"
        f" WHERE e.programme_id = %s AND e.district_id = %s AND e.kind = 'base' AND l.status = %s"
        f" AND b.status IN ({unapproved}) AND NOT {_settled_key('e')}"
        f" AND NOT EXISTS (SELECT 1 FROM {TMP} t WHERE t.person_id = e.person_id AND t.rule_key = e.rule_key"
        " AND t.amount = e.amount AND t.registration_id = e.registration_id AND t.district_id = e.district_id"
        " AND t.channel = e.channel)",
        [programme.pk, code, LineStatus.PENDING],
    )
    lines_pull_unapproved(
        line_ids=[row[0] for row in cur.fetchall()],
        reason="规则或登记信息变化，批次审批前按新的核定重新生成",
        user_id=user_id,
        at=now,
    )


def _audit_changed(cur, at, user_id: int | None) -> None:
    """Every change to an existing entitlement leaves a row in the audit trail (what it
    was, what it becomes); new rows are traced by computed_at and the run's own audit
    entry."""
    t = _t()
    obj, arr = _json_fns()
    cur.execute(
        f"INSERT INTO {t['audit']} (at, user_id, action, object_type, object_id, changes, comment)"  # noqa: S608
        f" SELECT %s, %s, 'entitlement_recompute', 'disbursements.entitlement', CAST(x.id AS TEXT),"
        f" {obj}('amount', {arr}(x.amount, t.amount), 'status', {arr}(x.status, %s),"
        f" 'rule', {arr}(x.rule_id, t.rule_id), 'registration', {arr}(x.registration_id, t.registration_id),"
        f" 'district', {arr}(x.district_id, t.district_id), 'channel', {arr}(x.channel, t.channel)), %s"
        f" FROM {TMP} t JOIN {t['ent']} x ON x.programme_id = t.programme_id AND x.person_id = t.person_id"
        f" AND x.rule_key = t.rule_key AND x.kind = 'base'"
        f" WHERE NOT {_settled_key('x')} AND (x.amount <> t.amount OR x.registration_id <> t.registration_id"
        f" OR x.district_id <> t.district_id OR x.channel <> t.channel OR x.status <> %s)",
        [at, user_id, EntitlementStatus.GRANTED, "重新计算", EntitlementStatus.GRANTED],
    )


def _upsert(cur, at, fresh: bool) -> int:
    """Step 2: new rows, and rows whose amount or facts changed and that are not in a
    batch. (A fresh district may still meet a person's row from another district, moved
    here: ON CONFLICT updates it.) Returns how many were written."""
    ent = _t()["ent"]
    changed = (
        "TRUE"
        if fresh
        else f"x.id IS NULL OR (NOT {_settled_key('x')} AND (x.amount <> t.amount"
        " OR x.registration_id <> t.registration_id OR x.district_id <> t.district_id"
        " OR x.channel <> t.channel OR x.status <> %s OR x.reason IS DISTINCT FROM t.reason))"
    )
    join = (
        ""
        if fresh
        else f" LEFT JOIN {ent} x ON x.programme_id = t.programme_id AND x.person_id = t.person_id"
        " AND x.rule_key = t.rule_key AND x.kind = 'base'"
    )
    cur.execute(
        f"INSERT INTO {ent} AS ent ({GRANT_COLUMNS}, status, computed_at, kind, part)"  # noqa: S608
        f" SELECT t.programme_id, t.rule_id, t.rule_key, t.person_id, t.registration_id, t.district_id,"
        f" t.channel, t.amount, t.reason, %s, %s, 'base', 0"
        f" FROM {TMP} t{join} WHERE {changed}"
        f" ORDER BY t.person_id, t.rule_key"
        f" ON CONFLICT (programme_id, person_id, rule_key, kind, part) DO UPDATE SET rule_id = excluded.rule_id,"
        f" registration_id = excluded.registration_id, district_id = excluded.district_id,"
        f" channel = excluded.channel, amount = excluded.amount, reason = excluded.reason,"
        f" status = excluded.status, computed_at = excluded.computed_at"
        f" WHERE NOT {_settled_key('ent')}",
        [EntitlementStatus.GRANTED, at] + ([] if fresh else [EntitlementStatus.GRANTED]),
    )
    return max(cur.rowcount, 0)


def _withdraw_gone(cur, programme: Programme, code: str, at, user_id: int | None) -> int:
    """Step 3: not settled and no longer qualifying: withdrawn, audited (it comes back if
    it qualifies again). Keys with settled money are the settlement step's."""
    t = _t()
    obj, arr = _json_fns()
    withdraw_where = (
        f"ent.programme_id = %s AND ent.district_id = %s AND ent.kind = 'base' AND ent.status <> %s"  # noqa: S608
        f" AND NOT {_settled_key('ent')}"
        f" AND NOT EXISTS (SELECT 1 FROM {TMP} t WHERE t.person_id = ent.person_id AND t.rule_key = ent.rule_key)"
    )
    cur.execute(
        f"INSERT INTO {t['audit']} (at, user_id, action, object_type, object_id, changes, comment)"  # noqa: S608
        f" SELECT %s, %s, 'entitlement_recompute', 'disbursements.entitlement', CAST(ent.id AS TEXT),"
        f" {obj}('status', {arr}(ent.status, %s), 'amount', {arr}(ent.amount, ent.amount)), %s"
        f" FROM {t['ent']} ent WHERE {withdraw_where}",
        [
            at,
            user_id,
            EntitlementStatus.WITHDRAWN,
            "不再符合条件，尚未进入批次：撤销",
            programme.pk,
            code,
            EntitlementStatus.WITHDRAWN,
        ],
    )
    cur.execute(
        f"UPDATE {t['ent']} AS ent SET status = %s, computed_at = %s WHERE {withdraw_where}",  # noqa: S608
        [EntitlementStatus.WITHDRAWN, at, programme.pk, code, EntitlementStatus.WITHDRAWN],
    )
    return max(cur.rowcount, 0)


def _store_refusals(cur, programme: Programme, code: str, rules: list[SubsidyRule], regions, at) -> bool:
    """Replace the district's cap refusals (预算已用完) by what the rules turn away now.
    Returns whether anything changed. Only capped groups turn anybody away."""
    table = CapRefusal._meta.db_table
    current = f"SELECT person_id, rule_id, amount FROM {table} WHERE programme_id = %s AND district_id = %s"  # noqa: S608
    cur.execute(current, [programme.pk, code])
    before = set(cur.fetchall())
    cur.execute(f"DELETE FROM {table} WHERE programme_id = %s AND district_id = %s", [programme.pk, code])  # noqa: S608
    if capped_groups(rules):
        pg = connection.vendor == "postgresql"
        if pg:
            # The anti-join of this statement must be a hash join: with the statistics of
            # freshly loaded rows the planner estimates one row per CTE and picks a nested
            # loop (14 s for 康保's 6,626 people instead of 0.2 s). Only for this statement.
            cur.execute("SET LOCAL enable_nestloop = off")
        for sql, params in grants_sql(programme, rules, regions, code, refused=True):
            cur.execute(
                f"INSERT INTO {table} (programme_id, rule_id, rule_key, person_id, registration_id, district_id,"  # noqa: S608
                f" amount, reason, computed_at) SELECT q.programme_id, q.rule_id, q.rule_key, q.person_id,"
                f" q.registration_id, q.district_id, q.amount, %s, %s FROM ({sql}) q WHERE 1 = 1"
                f" ON CONFLICT (programme_id, person_id, rule_key) DO UPDATE SET rule_id = excluded.rule_id,"
                f" registration_id = excluded.registration_id, district_id = excluded.district_id,"
                f" amount = excluded.amount, computed_at = excluded.computed_at",
                ["预算已用完", at, *params],
            )
        if pg:
            cur.execute("SET LOCAL enable_nestloop = on")
    cur.execute(current, [programme.pk, code])
    return set(cur.fetchall()) != before


def entitlement_totals(*, programme: Programme, region: Region | None = None) -> dict:
    """Granted entitlements per rule (by rule_key, reported under its current version)
    and in all, in `region` (or the whole programme), with the people each rule's budget
    cap turned away (refused, refused_amount: 预算已用完). Amounts are exact Decimals."""
    t = _t()
    sql = (
        "SELECT rule_key, SUM(CASE WHEN kind = 'adjustment' THEN 0 ELSE 1 END),"  # noqa: S608
        f" SUM(CAST(ROUND(amount * 100) AS BIGINT)) FROM {t['ent']} ent"
        " WHERE programme_id = %s AND status = %s"
    )
    params: list = [programme.pk, EntitlementStatus.GRANTED]
    if region is not None and region.pk != programme.region_id:
        codes = list(Region.objects.within(region).values_list("code", flat=True))
        sql += f" AND district_id IN ({', '.join(['%s'] * len(codes))})"
        params += codes
    sql += " GROUP BY rule_key"
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = {key: (count, Decimal(int(fen)) / 100) for key, count, fen in cur.fetchall()}
    refused = cap_refusal_totals(programme=programme, region=region)
    for key in refused:
        rows.setdefault(key, (0, Decimal("0")))
    latest: dict[str, SubsidyRule] = {}
    for rule in (
        SubsidyRule.objects.filter(programme=programme).select_related("region").order_by("rule_key", "version")
    ):
        if rule.status == RuleStatus.ACTIVE or rule.rule_key not in latest or latest[rule.rule_key].status != "active":
            latest[rule.rule_key] = rule
    out = []
    for key in sorted(rows, key=lambda k: (latest[k].priority, latest[k].pk) if k in latest else (0, 0)):
        count, amount = rows[key]
        rule = latest.get(key)
        out.append(
            {
                "rule": rule.pk if rule else None,
                "rule_key": key,
                "name": rule.name if rule else key,
                "region": rule.region_id if rule else "",
                "region_name": rule.region.name if rule else "",
                "channel": rule.channel if rule else "",
                "count": count,
                "amount": amount.quantize(Decimal("0.01")),
                "refused": refused.get(key, (0, Decimal("0")))[0],
                "refused_amount": refused.get(key, (0, Decimal("0")))[1].quantize(Decimal("0.01")),
            }
        )
    return {
        "rules": out,
        "count": sum(r["count"] for r in out),
        "amount": sum((r["amount"] for r in out), Decimal("0.00")).quantize(Decimal("0.01")),
        "refused": sum(r["refused"] for r in out),
    }


def cap_refusal_totals(*, programme: Programme, region: Region | None = None, rule_key: str | None = None) -> dict:
    """People turned away by budget caps (预算已用完), per rule_key: {key: (count, amount)}."""
    qs = CapRefusal.objects.filter(programme=programme)
    if region is not None and region.pk != programme.region_id:
        qs = qs.filter(district__path__startswith=region.path)
    if rule_key:
        qs = qs.filter(rule_key=rule_key)
    out: dict[str, tuple[int, Decimal]] = {}
    for key, n, amount in qs.order_by().values_list("rule_key").annotate(n=Count("id"), a=Sum("amount")):
        out[key] = (n, amount or Decimal("0"))
    return out
