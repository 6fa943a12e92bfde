"""One person's entitlements, computed again right after their registration or person
record was corrected, instead of at the nightly run.

`entitlements_compute_person` is the district computation (services.entitlements) kept
to one person, not a second rule engine: in one transaction holding the advisory locks
of every district the person touches (where they are registered, where their rows are;
the same keys as the district computation, so the two never run over the same rows at
once), it

1. stages what the rules grant in each of the person's stay districts with the same
   compiled statements (programs.rules.grants_sql), then keeps the person's rows only;
2. takes the person's changed lines out of unapproved batches, audits and upserts their
   rows (the district statements, which read the staged rows);
3. withdraws the person's unsettled rows that no longer qualify, and settles their keys
   with settled money (top-ups, overpayments: services.settlement) — the district
   statements with the district key replaced by the person's (disbursements.sql,
   "one person");
4. marks the districts for the dashboards' catch-up (services.rollups.rollups_mark).

A budget cap makes one person's grant depend on everybody else's (who came first, who
is left under the cap): when a capped rule applies to one of the person's districts,
those districts are computed whole (`entitlements_compute`) instead.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from accounts.services.audit import audit_record
from disbursements import sql
from disbursements.choices import EntitlementStatus
from disbursements.services.batch_lines import lines_pull_unapproved
from disbursements.services.entitlements import (
    _district_rules,
    _user_id,
    entitlements_compute,
    lock_key,
)
from disbursements.services.rollups import rollups_mark
from disbursements.services.settlement import settle_district
from programs.choices import RuleStatus
from programs.models import Programme, SubsidyRule
from programs.rules.grants import capped_groups, grants_sql
from programs.rules.regions import region_index

COMMENT = "登记信息更正后重新计算"


def entitlements_compute_person(*, programme: Programme, person_id: int, acting_user=None) -> dict:
    """Compute one person's entitlements of `programme` again (see the module). Returns
    what changed: written, withdrawn, flagged, topups, the districts touched, and
    `whole` (the districts computed whole because of a budget cap)."""
    with connection.cursor() as cur:
        cur.execute(sql.PERSON_DISTRICTS, {"programme_id": programme.pk, "person_id": person_id})
        codes = [row[0] for row in cur.fetchall()]
    stats = {"written": 0, "withdrawn": 0, "flagged": 0, "topups": 0, "districts": codes, "whole": []}
    if not codes:
        return stats
    regions = region_index()
    rules = list(SubsidyRule.objects.filter(programme=programme, status=RuleStatus.ACTIVE).select_related("region"))
    capped = [c for c in codes if c in regions.path and capped_groups(_district_rules(rules, c, regions))]
    if capped:
        # Who a cap admits depends on everybody in its region: the whole district, same engine.
        for code in capped:
            entitlements_compute(programme=programme, district=code, acting_user=acting_user)
        stats["whole"] = capped
        return stats
    with transaction.atomic():
        _person_run(programme, person_id, codes, rules, regions, _user_id(acting_user), stats)
        if stats["written"] or stats["withdrawn"] or stats["flagged"] or stats["topups"]:
            audit_record(
                user=acting_user,
                action="entitlements_compute_person",
                obj=programme,
                changes={k: stats[k] for k in ("written", "withdrawn", "flagged", "topups", "districts")}
                | {"person": person_id},
                comment=COMMENT,
            )
        rollups_mark(programme_ids=[programme.pk], districts=codes)
    return stats


def _person_run(programme: Programme, person_id: int, codes: list[str], rules, regions, user_id, stats) -> None:
    """Steps 1–3 of the module, inside the caller's transaction."""
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    pg = connection.vendor == "postgresql"
    person = {"programme_id": programme.pk, "person_id": person_id}
    with connection.cursor() as cur:
        if pg:
            for code in codes:  # sorted (PERSON_DISTRICTS): two runs never wait on each other in a circle
                cur.execute(sql.ENTITLEMENT_LOCK, {"key": lock_key(programme.pk, code)})
        cur.execute(sql.ENTITLEMENT_CANDIDATES_DROP)
        cur.execute(sql.ENTITLEMENT_CANDIDATES_CREATE.format(on_commit="ON COMMIT DROP " if pg else ""))
        for code in codes:
            for grants, params in grants_sql(programme, _district_rules(rules, code, regions), regions, code):
                cur.execute(sql.ENTITLEMENT_CANDIDATES_FILL.replace("{grants}", grants), params)
        cur.execute(sql.ENTITLEMENT_CANDIDATES_KEEP_PERSON, {"person_id": person_id})
        cur.execute(sql.ENTITLEMENT_CANDIDATES_INDEX)
        cur.execute(sql.PERSON_LINES_TO_PULL, person)
        _pull_lines(cur, now, user_id)
        cur.execute(
            sql.ENTITLEMENT_AUDIT_CHANGED.format(**sql.json_functions()),
            {"at": at, "user_id": user_id, "granted": EntitlementStatus.GRANTED, "comment": COMMENT},
        )
        cur.execute(sql.ENTITLEMENT_UPSERT, {"granted": EntitlementStatus.GRANTED, "at": at})
        stats["written"] = max(cur.rowcount, 0)
        gone = {**person, "at": at, "user_id": user_id, "withdrawn": EntitlementStatus.WITHDRAWN}
        cur.execute(
            sql.PERSON_AUDIT_GONE.format(**sql.json_functions()),
            {**gone, "comment": "不再符合条件，尚未进入批次：撤销"},
        )
        cur.execute(sql.PERSON_WITHDRAW_GONE, gone)
        stats["withdrawn"] = max(cur.rowcount, 0)
        settled = settle_district(
            cursor=cur,
            programme=programme,
            district=None,
            active_keys={r.rule_key for r in rules},
            at=now,
            user_id=user_id,
            person_id=person_id,
        )
        stats["withdrawn"] += settled["withdrawn"]
        stats["flagged"], stats["topups"] = settled["flagged"], settled["topups"]
        cur.execute(sql.ENTITLEMENT_CANDIDATES_DROP)


def _pull_lines(cur, now, user_id) -> None:
    """The person's lines selected by PERSON_LINES_TO_PULL: a line pending in a batch not
    yet approved is not settled money, so it leaves its batch (as in the district path)."""
    lines_pull_unapproved(
        line_ids=[row[0] for row in cur.fetchall()],
        reason="登记信息更正，批次审批前按新的核定重新生成",
        user_id=user_id,
        at=now,
    )
