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

Two short cuts on PostgreSQL: the districts of a run computed for the first time go
together in one transaction (`_fresh_run`: one statement per rule for all of them), and
a whole-programme run with nothing written since the last one stops at the programme's
stamp (`_stamp`: row versions in one statement, instead of every district's fingerprint).

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

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.services.audit import audit_record
from beneficiaries.models import Registration
from core.db import bulk_settings, fk_triggers_restore, fk_triggers_skip
from core.errors import DomainError
from disbursements import sql
from disbursements.choices import EntitlementStatus
from disbursements.models import CapRefusal, Entitlement, EntitlementComputeState
from disbursements.services.batch_lines import lines_pull_unapproved
from disbursements.services.rollups import rollups_refresh_soon
from disbursements.services.settlement import settle_district
from programs.choices import RuleStatus
from programs.models import Programme, SubsidyRule
from programs.rules.grants import capped_groups, grants_sql, rules_for_district
from programs.rules.regions import RegionIndex, region_index
from regions.models import Region

LOCK_NAMESPACE = 0x454E  # "EN": keeps these advisory lock keys apart from other apps'
# After the first district of a run that writes this many rows, Entitlement is analyzed
# once: the next districts' plans then see a table that is no longer empty (PostgreSQL
# scales the sampled density by the table's growing size). Once, not per district.
ANALYZE_AFTER_ROWS = 20000
ProgressFn = Callable[[int, int, str], None]
SKIPPED = {"candidates": 0, "written": 0, "withdrawn": 0, "flagged": 0, "topups": 0, "skipped": True}


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

    def add(self, code: str, stats: dict) -> None:
        self.districts[code] = stats
        self.written += stats["written"]
        self.withdrawn += stats["withdrawn"]
        self.flagged += stats["flagged"]
        self.topups += stats.get("topups", 0)
        self.refusals_changed |= bool(stats.get("refusals_changed"))

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
    district = _district_of(programme, district)
    regions = region_index()
    codes = entitlement_districts(programme=programme, region=district)
    result = ComputeResult(programme=programme, district=district)
    now = timezone.now()
    # Read before any district is computed: a change made during the run shows as a
    # different digest next time (so it is recomputed), never the other way round.
    active = list(SubsidyRule.objects.filter(programme=programme, status=RuleStatus.ACTIVE))
    # A whole programme with nothing changed since a run that left every district
    # consistent: its stamp says so in one statement, every district skipped.
    stamped = district is None and _stamp_usable(programme, regions)
    if stamped and not force and _stamp_holds(programme, active):
        result.districts = {code: dict(SKIPPED) for code in codes}
        result.seconds = time.perf_counter() - started
        return result
    digests, stamp_inputs = _registration_digests(programme, codes, active, regions)
    fresh = _fresh_run(programme, codes, active, digests, regions, now, _user_id(acting_user))
    analyzed = connection.vendor != "postgresql"
    if not analyzed and sum(stats["written"] for stats in fresh.values()) > ANALYZE_AFTER_ROWS:
        with connection.cursor() as cur:
            cur.execute(sql.ENTITLEMENT_ANALYZE)
        analyzed = True
    for i, code in enumerate(codes, start=1):
        stats = fresh.get(code) or _district_run(
            programme, code, active, digests, regions, now, _user_id(acting_user), force=force
        )
        if not analyzed and stats["written"] > ANALYZE_AFTER_ROWS:
            with connection.cursor() as cur:
                cur.execute(sql.ENTITLEMENT_ANALYZE)
            analyzed = True
        result.add(code, stats)
        if progress is not None:
            progress(i, len(codes), code)
    if stamped and stamp_inputs is not None:
        _stamp_store(programme, codes, active, digests, stamp_inputs, regions, now)
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
    # The dashboards read rollups: refresh them once this commits (debounced), only the
    # districts computed when the run was for a district or a city.
    rollups_refresh_soon(programme.pk, districts=None if district is None else list(result.districts))
    return result


def _district_of(programme: Programme, district: Region | str | None) -> Region | None:
    """The region a run is for (a code is looked up), refused outside the programme's."""
    if isinstance(district, str):
        district = Region.objects.filter(code=district).first()
        if district is None:
            raise DomainError("找不到该区县代码，请检查后重试。")
    if district is not None and not district.path.startswith(programme.region.path):
        raise DomainError(f"“{district.name}”不在项目“{programme.name}”的实施区域内。")
    return district


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
                cur.execute(sql.ENTITLEMENT_LOCK, {"key": lock_key(programme.pk, code)})
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
            return dict(SKIPPED)
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


def _fresh_run(
    programme: Programme, codes: list[str], active: list, digests: dict | None, regions, now, user_id: int | None
) -> dict[str, dict]:
    """The run's districts computed for the first time (nothing stored yet), all in one
    transaction under all their advisory locks: one statement per rule for all of them
    instead of one per rule and district (each of which read the whole person table),
    one locking of the referenced rows and one sorted insert; then each district's cap
    refusals and fingerprint as `_district_run` stores them. Returns their stats by code.
    The others, and all of them when fewer than two are fresh or the rules changed since
    the digests were read, are left to `_district_run` (PostgreSQL only). All or nothing:
    a failure leaves none of these districts written, and the next run computes them."""
    if digests is None or len(codes) < 2:
        return {}
    with transaction.atomic():
        rules = list(SubsidyRule.objects.filter(programme=programme, status=RuleStatus.ACTIVE).select_related("region"))
        if [r.pk for r in rules] != [r.pk for r in active]:
            return {}
        with connection.cursor() as cur:
            fresh = _fresh_districts(cur, programme, codes)
            if len(fresh) < 2:
                return {}
            at = connection.ops.adapt_datetimefield_value(now)
            stats = _fresh_compute(cur, programme, fresh, rules, regions, at)
            cur.execute(sql.ENTITLEMENT_DISTRICTS_DIGEST, {"programme_id": programme.pk, "districts": fresh})
            outputs = {code: f"{count}:{digest}" for code, count, digest in cur.fetchall()}
        # The inputs as read before computing, the outputs as written (as `_district_run`).
        EntitlementComputeState.objects.bulk_create(
            [
                EntitlementComputeState(
                    programme=programme,
                    district_id=code,
                    fingerprint=_fingerprint(
                        _fingerprint_inputs(programme, code, rules, regions, digests), outputs.get(code, "0:0")
                    ),
                    computed_at=now,
                )
                for code in fresh
            ],
            update_conflicts=True,
            unique_fields=["programme", "district"],
            update_fields=["fingerprint", "computed_at"],
        )
    return stats


def _fresh_districts(cur, programme: Programme, codes: list[str]) -> list[str]:
    """Of `codes`, those with no entitlement yet, under their advisory locks (taken in
    sorted order: every other run holds one district's, or a person's in sorted order,
    so no two runs wait on each other in a circle). A district another run computed
    between the two looks is left out (its lock stays held until this commits)."""
    key = {"programme_id": programme.pk, "districts": codes}
    cur.execute(sql.ENTITLEMENT_DISTRICTS_WITH_ROWS, key)
    stored = {code for (code,) in cur.fetchall()}
    fresh = sorted(code for code in codes if code not in stored)
    if len(fresh) < 2:
        return []
    for code in fresh:
        cur.execute(sql.ENTITLEMENT_LOCK, {"key": lock_key(programme.pk, code)})
    cur.execute(sql.ENTITLEMENT_DISTRICTS_WITH_ROWS, {**key, "districts": fresh})
    stored = {code for (code,) in cur.fetchall()}
    return [code for code in fresh if code not in stored]


def _fresh_compute(cur, programme: Programme, fresh: list[str], rules: list, regions, at) -> dict[str, dict]:
    """Steps 1, 2 and 5 of the module for the fresh districts at once (`_fresh_run`)."""
    bulk_settings(cur)
    cur.execute(sql.RANDOM_PAGE_COST)
    needed_by = {code: _district_rules(rules, code, regions) for code in fresh}
    needed_ids = {r.pk for needed in needed_by.values() for r in needed}
    cur.execute(sql.ENTITLEMENT_CANDIDATES_DROP)
    cur.execute(sql.ENTITLEMENT_CANDIDATES_CREATE.format(on_commit="ON COMMIT DROP "))
    for grants, params in grants_sql(programme, [r for r in rules if r.pk in needed_ids], regions, None):
        cur.execute(sql.ENTITLEMENT_CANDIDATES_FILL_IN.replace("{grants}", grants), [*params, fresh])
    cur.execute(sql.ENTITLEMENT_CANDIDATES_PER_DISTRICT)
    candidates = dict(cur.fetchall())
    written = _upsert_fresh(cur, at)
    if written != sum(candidates.values()):
        # Some candidate's key was already settled in another district (the upsert left
        # it): count what was written where.
        cur.execute(sql.ENTITLEMENT_WRITTEN_PER_DISTRICT, {"programme_id": programme.pk, "districts": fresh, "at": at})
        written_in = dict(cur.fetchall())
    else:
        written_in = candidates
    cur.execute(sql.CAP_REFUSAL_DISTRICTS, {"programme_id": programme.pk, "districts": fresh})
    with_refusals = {code for (code,) in cur.fetchall()}
    stats = {}
    for code in fresh:
        changed = False
        if code in with_refusals or capped_groups(needed_by[code]):
            changed = _store_refusals(cur, programme, code, needed_by[code], regions, at)
        stats[code] = {
            "candidates": candidates.get(code, 0),
            "written": written_in.get(code, 0),
            "withdrawn": 0,
            "flagged": 0,
            "topups": 0,
            "refusals_changed": changed,
        }
    cur.execute(sql.ENTITLEMENT_CANDIDATES_DROP)
    return stats


def entitlement_districts(*, programme: Programme, region: Region | None = None) -> list[str]:
    """The stay districts that have registrations or entitlements in `programme`."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(sql.PROGRAMME_DISTRICTS, {"programme_id": programme.pk})
            codes = {code for (code,) in cur.fetchall()}
        if region is not None:
            paths = dict(Region.objects.filter(code__in=codes).values_list("code", "path"))
            codes = {code for code in codes if paths.get(code, "").startswith(region.path)}
        return sorted(codes)
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


def _registration_digests(
    programme: Programme, codes: list[str], rules: list[SubsidyRule], regions
) -> tuple[dict | None, list | None]:
    """Per stay district, a digest of what its computation reads (PostgreSQL; None
    elsewhere): its registrations with their person's hukou and their employer's
    status, ownership, code and verification. One query for all the districts of the
    run, and those of the budget-capped rules' regions (a cap counts across them); the
    same statement reads the programme stamp's inputs (`_stamp`), so both come from one
    snapshot. Returns (digests, the stamp's input rows)."""
    if connection.vendor != "postgresql":
        return None, None
    needed = set(codes)
    for rule in rules:
        if rule.budget_cap is not None:
            needed |= set(regions.districts_within(rule.region_id))
    with connection.cursor() as cur:
        cur.execute(sql.REGISTRATION_DIGESTS_AND_STAMP, {"programme_id": programme.pk, "districts": sorted(needed)})
        rows = cur.fetchall()
    digests = {code: f"{count}:{digest}" for kind, code, count, digest in rows if kind == "d"}
    return digests, [row for row in rows if row[0] == "s"]


def _stamp_usable(programme: Programme, regions: RegionIndex) -> bool:
    """The stamp is stored as the compute state of the programme's own region, which is
    never a stay district unless the programme is a district's (then there is one
    district, and its own fingerprint is as cheap)."""
    return connection.vendor == "postgresql" and regions.level.get(programme.region_id) != "district"


def _stamp(programme: Programme, rules: list[SubsidyRule], rows: list, states: dict[str, str]) -> str:
    """The programme's stamp: the rules' content and the holiday window, the row versions
    of the programme's registrations and entitlements, of every person and every employer
    (disbursements.sql, PROGRAMME_STAMP), and every district's stored fingerprint. Equal
    stamps: no row any district's fingerprint reads was written since (each is covered
    here), so every district would be skipped."""
    parts = [FINGERPRINT_VERSION, str(programme.holiday_start), str(programme.holiday_end)]
    parts += ["|".join(map(str, _rule_fields(rule))) for rule in sorted(rules, key=lambda r: r.pk)]
    parts += sorted(":".join(map(str, row)) for row in rows)
    parts += sorted(f"{code}={fingerprint}" for code, fingerprint in states.items())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _stamp_states(programme: Programme) -> tuple[dict[str, str], str | None]:
    """The districts' stored fingerprints, and the stored stamp."""
    states = dict(EntitlementComputeState.objects.filter(programme=programme).values_list("district_id", "fingerprint"))
    return states, states.pop(programme.region_id, None)


def _stamp_holds(programme: Programme, rules: list[SubsidyRule]) -> bool:
    """Whether nothing changed since the stamp was stored: inputs and outputs read in one
    statement (one snapshot), then the districts' fingerprints."""
    with connection.cursor() as cur:
        cur.execute(sql.PROGRAMME_STAMP, {"programme_id": programme.pk})
        rows = cur.fetchall()
    states, stored = _stamp_states(programme)
    return stored is not None and stored == _stamp(programme, rules, rows, states)


def _stamp_store(
    programme: Programme, codes: list[str], rules: list, digests: dict, inputs: list, regions: RegionIndex, now
) -> None:
    """After a whole run: when every district's stored fingerprint is the one of the
    inputs read at the start of the run (`digests`, `inputs`: one snapshot) and of its
    entitlements now, store the stamp of those inputs and outputs. Otherwise (a change
    made during the run, rules changed, a district that failed) store none, and the
    next run goes district by district."""
    with connection.cursor() as cur:
        cur.execute(sql.PROGRAMME_STAMP_OUTPUTS, {"programme_id": programme.pk})
        outputs = cur.fetchall()
    written = {code: f"{count}:{digest}" for kind, code, count, digest in outputs if kind == "o"}
    states, _stored = _stamp_states(programme)
    for code in codes:
        inputs_of = _fingerprint_inputs(programme, code, rules, regions, digests)
        if states.get(code) != _fingerprint(inputs_of, written.get(code, "0:0")):
            return
    versions = [row for row in outputs if row[0] == "v"]
    EntitlementComputeState.objects.update_or_create(
        programme=programme,
        district_id=programme.region_id,
        defaults={"fingerprint": _stamp(programme, rules, inputs + versions, states), "computed_at": now},
    )


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
        parts.append("|".join(map(str, _rule_fields(rule))))
        if rule.budget_cap is not None:
            parts += [f"{c}={digests.get(c, '0')}" for c in regions.districts_within(rule.region_id)]
    return "\n".join(parts)


def _rule_fields(rule: SubsidyRule) -> tuple:
    """What a rule's content means to the computation (fingerprints and the stamp)."""
    return (
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


def _fingerprint_outputs(programme: Programme, code: str) -> str:
    """The district's entitlements as they stand (a manual change or deletion shows)."""
    with connection.cursor() as cur:
        cur.execute(sql.ENTITLEMENT_DISTRICT_DIGEST, {"programme_id": programme.pk, "district": code})
        return ":".join(map(str, cur.fetchone()))


def _fingerprint(inputs: str, outputs: str) -> str:
    return hashlib.sha256(f"{inputs}\n{outputs}".encode()).hexdigest()


def _user_id(user) -> int | None:
    return user.pk if user is not None and getattr(user, "is_authenticated", False) else None


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
    key = {"programme_id": programme.pk, "district": code}
    withdrawn, settled = 0, {"flagged": 0, "topups": 0}
    with connection.cursor() as cur:
        bulk_settings(cur)
        if connection.vendor == "postgresql":
            cur.execute(sql.RANDOM_PAGE_COST)
        candidates, fresh = _stage_candidates(cur, programme, code, needed, regions)
        if fresh:
            written = _upsert_fresh(cur, at)
        else:
            _pull_changed_lines(cur, key, now, user_id)
            cur.execute(
                sql.ENTITLEMENT_AUDIT_CHANGED.format(**sql.json_functions()),
                {"at": at, "user_id": user_id, "granted": EntitlementStatus.GRANTED, "comment": "重新计算"},
            )
            cur.execute(sql.ENTITLEMENT_UPSERT, {"granted": EntitlementStatus.GRANTED, "at": at})
            written = max(cur.rowcount, 0)
        refusals_changed = _store_refusals(cur, programme, code, needed, regions, at)
        if not fresh:
            withdrawn = _withdraw_gone(cur, key, at, user_id)
            settled = settle_district(
                cursor=cur,
                programme=programme,
                district=code,
                active_keys={r.rule_key for r in rules},
                at=now,
                user_id=user_id,
            )
            withdrawn += settled["withdrawn"]
        cur.execute(sql.ENTITLEMENT_CANDIDATES_DROP)
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
    pg = connection.vendor == "postgresql"
    cur.execute(sql.ENTITLEMENT_CANDIDATES_DROP)
    cur.execute(sql.ENTITLEMENT_CANDIDATES_CREATE.format(on_commit="ON COMMIT DROP " if pg else ""))
    candidates = 0
    for grants, params in grants_sql(programme, needed, regions, code):
        cur.execute(sql.ENTITLEMENT_CANDIDATES_FILL.replace("{grants}", grants), params)
        candidates += max(cur.rowcount, 0)
    cur.execute(sql.ENTITLEMENT_DISTRICT_HAS_ROWS, {"programme_id": programme.pk, "district": code})
    fresh = cur.fetchone() is None  # the district's first computation: nothing to compare or withdraw
    if not fresh:
        # The anti-joins below look rows up in the candidates by (person, rule_key):
        # with an index they stay cheap even when the planner's estimates are stale
        # (right after a first run has filled Entitlement its statistics say "empty").
        cur.execute(sql.ENTITLEMENT_CANDIDATES_INDEX)
        if pg and candidates > 50000:
            cur.execute(sql.ENTITLEMENT_CANDIDATES_ANALYZE)
    return candidates, fresh


def _upsert_fresh(cur, at) -> int:
    """Step 2 of a district's first computation: every candidate into Entitlement.

    The rows come from a join on the rows they refer to, so the foreign keys' per-row
    triggers (five checks a row at COMMIT, most of the time of a first computation) are
    replaced by the same guarantee set-based (`_lock_references`) and the triggers are
    off for this statement only (core.db). Without the right to turn them off, the
    triggers check as usual. A plain INSERT is tried first (no speculative insertion per
    row); when a key is already stored (a person's row moved here from another district)
    it fails as a whole and the upsert runs instead."""
    saved = fk_triggers_skip(cur, tables=[Entitlement._meta.db_table])
    if saved is not None:
        _lock_references(cur)
    params = {"granted": EntitlementStatus.GRANTED, "at": at}
    pg = connection.vendor == "postgresql"
    if pg:
        cur.execute(sql.ENTITLEMENT_INSERT_SORT_MEM)
    try:
        with transaction.atomic():  # a savepoint: the failed insert leaves nothing behind
            cur.execute(sql.ENTITLEMENT_INSERT_FRESH, params)
    except IntegrityError:
        cur.execute(sql.ENTITLEMENT_UPSERT_FRESH, params)
    written = max(cur.rowcount, 0)
    if pg:
        cur.execute(sql.ENTITLEMENT_INSERT_SORT_MEM_RESET)
    fk_triggers_restore(cur, saved)
    return written


def _lock_references(cur) -> None:
    """What the foreign keys' triggers would guarantee, set-based: each referenced row
    locked FOR KEY SHARE (a registration FOR SHARE, which holds its person too), a
    missing one refused. When nobody is writing registrations at this moment, the whole
    table is held in SHARE mode instead of a row lock per candidate (which writes every
    locked row again): updates and deletes of registrations then wait for this commit,
    as they would for the row locks; reads never do."""
    try:
        with transaction.atomic():  # a savepoint: a refusal leaves the transaction usable
            cur.execute(sql.REGISTRATION_SHARE_LOCK)
        table_held = True
    except OperationalError:
        table_held = False
    for column, statement in sql.ENTITLEMENT_REFERENCES_LOCK.items():
        if table_held and column == "registration_id, person_id":
            statement = sql.ENTITLEMENT_REGISTRATIONS_MISSING
        cur.execute(statement)
        missing = cur.fetchone()[0]
        if missing:
            raise IntegrityError(f"disbursements_entitlement.{column}: {missing} rows refer to rows that are gone")


def _pull_changed_lines(cur, key: dict, now, user_id: int | None) -> None:
    """A line pending in a batch not yet approved is not settled money: when the rules
    now give its entitlement another amount (or none, or another registration), the line
    is taken out of the batch and the entitlement rewritten by the upsert; the next build
    batches it again. (Keys with settled money: the settlement step.)"""
    cur.execute(sql.ENTITLEMENT_LINES_TO_PULL, key)
    lines_pull_unapproved(
        line_ids=[row[0] for row in cur.fetchall()],
        reason="规则或登记信息变化，批次审批前按新的核定重新生成",
        user_id=user_id,
        at=now,
    )


def _withdraw_gone(cur, key: dict, at, user_id: int | None) -> int:
    """Step 3: not settled and no longer qualifying: withdrawn, audited (it comes back if
    it qualifies again). Keys with settled money are the settlement step's."""
    params = {**key, "at": at, "user_id": user_id, "withdrawn": EntitlementStatus.WITHDRAWN}
    cur.execute(
        sql.ENTITLEMENT_AUDIT_GONE.format(**sql.json_functions()),
        {**params, "comment": "不再符合条件，尚未进入批次：撤销"},
    )
    cur.execute(sql.ENTITLEMENT_WITHDRAW_GONE, params)
    return max(cur.rowcount, 0)


def _store_refusals(cur, programme: Programme, code: str, rules: list[SubsidyRule], regions, at) -> bool:
    """Replace the district's cap refusals (预算已用完) by what the rules turn away now.
    Returns whether anything changed. Only capped groups turn anybody away."""
    key = {"programme_id": programme.pk, "district": code}
    cur.execute(sql.CAP_REFUSALS_OF_DISTRICT, key)
    before = set(cur.fetchall())
    cur.execute(sql.CAP_REFUSALS_DELETE, key)
    if capped_groups(rules):
        pg = connection.vendor == "postgresql"
        if pg:
            # The anti-join of this statement must be a hash join: with the statistics of
            # freshly loaded rows the planner estimates one row per CTE and picks a nested
            # loop (14 s for 康保's 6,626 people instead of 0.2 s). Only for this statement.
            cur.execute(sql.NESTLOOP_OFF)
        for grants, params in grants_sql(programme, rules, regions, code, refused=True):
            cur.execute(sql.CAP_REFUSALS_INSERT.replace("{grants}", grants), ["预算已用完", at, *params])
        if pg:
            cur.execute(sql.NESTLOOP_ON)
    cur.execute(sql.CAP_REFUSALS_OF_DISTRICT, key)
    return set(cur.fetchall()) != before


def entitlement_totals(*, programme: Programme, region: Region | None = None) -> dict:
    """Granted entitlements per rule (by rule_key, reported under its current version)
    and in all, in `region` (or the whole programme), with the people each rule's budget
    cap turned away (refused, refused_amount: 预算已用完). Amounts are exact Decimals."""
    params = {"programme_id": programme.pk, "granted": EntitlementStatus.GRANTED}
    statement = sql.ENTITLEMENT_TOTALS
    if region is not None and region.pk != programme.region_id:
        statement, params["path"] = sql.ENTITLEMENT_TOTALS_IN_REGION, region.path + "%"
    with connection.cursor() as cur:
        cur.execute(statement, params)
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
