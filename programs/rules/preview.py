"""Who a rule would grant, and at what cost, before it is activated."""

from __future__ import annotations

from decimal import Decimal

from django.apps import apps
from django.db import connection

from programs.rules.compile import sql_in
from programs.rules.grants import grants_sql
from programs.rules.regions import region_index


def rule_preview(rule, *, within=None) -> dict:
    """Who would be granted `rule`, by stay district, and at what cost.

    Counts registrations as they stand now (active, in the rule's region, and in
    `within` — the viewer's region — when given), through the computation's own
    statements (`grants_sql`): the budget cap, and for a rule in an exclusivity group
    the group's other active rules (a person who gets a better rule of the group is not
    counted; one turned away from a better rule by its cap is). A draft is previewed as
    if it were activated: it takes the place of the active version of its rule_key.
    """
    programme = rule.programme
    regions = region_index()
    rules = [rule]
    if rule.exclusivity_group:
        SubsidyRule = apps.get_model("programs", "SubsidyRule")
        rules += list(
            SubsidyRule.objects.filter(
                programme=programme, status="active", exclusivity_group=rule.exclusivity_group
            ).exclude(rule_key=rule.rule_key)
        )
    statements = grants_sql(programme, rules, regions, None)
    union = " UNION ALL ".join(
        f"SELECT district_id, rule_id, person_id, amount FROM ({s}) g{i}"  # noqa: S608
        for i, (s, _) in enumerate(statements)
    )
    params = [p for _, ps in statements for p in ps]
    where, where_params = "", []
    if within is not None and within.pk != programme.region_id:
        marks, codes = sql_in(regions.districts_within(within.pk) or ["------"])
        where, where_params = f" AND district_id IN ({marks})", codes
    sql = (
        "SELECT district_id, COUNT(*), SUM(CAST(ROUND(amount * 100) AS BIGINT))"  # noqa: S608
        f" FROM ({union}) q WHERE rule_id = %s{where} GROUP BY district_id"
    )
    figures: dict[str, dict] = {}

    def row(code):
        return figures.setdefault(
            code,
            {"count": 0, "fen": 0, "refused": 0, "topups": 0, "topup_fen": 0, "flagged": 0, "flagged_fen": 0},
        )

    with connection.cursor() as cur:
        cur.execute(sql, [*params, rule.pk, *where_params])
        for code, count, fen in cur.fetchall():
            row(code).update(count=count, fen=int(fen or 0))
        # Who the budget cap turns away (预算已用完): the computation's own statement.
        if rule.budget_cap is not None:
            if connection.vendor == "postgresql" and connection.in_atomic_block:
                # A hash anti-join, as in the computation (disbursements.entitlements._store_refusals).
                cur.execute("SET LOCAL enable_nestloop = off")
            for s, ps in grants_sql(programme, rules, regions, None, refused=True):
                cur.execute(
                    f"SELECT district_id, COUNT(*) FROM ({s}) q WHERE rule_id = %s{where} GROUP BY district_id",  # noqa: S608
                    [*ps, rule.pk, *where_params],
                )
                for code, count in cur.fetchall():
                    row(code)["refused"] = count
            if connection.vendor == "postgresql" and connection.in_atomic_block:
                cur.execute("SET LOCAL enable_nestloop = on")
        # Against money already settled for the rule key (paid, or in a batch, and
        # recoveries): what activating adds as 补差 top-ups, and what it would list as
        # 多发/待核查 (see disbursements.settlement).
        settled_sql, settled_params = _settled_sql(programme, rule.rule_key)
        cur.execute(
            f"WITH g AS (SELECT person_id, amount FROM ({union}) q WHERE rule_id = %s),"  # noqa: S608
            f" s AS ({settled_sql})"
            " SELECT s.district_id,"
            " SUM(CASE WHEN g.amount > s.settled THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN g.amount > s.settled THEN CAST(ROUND((g.amount - s.settled) * 100) AS BIGINT) ELSE 0 END),"
            " SUM(CASE WHEN COALESCE(g.amount, 0) < s.settled THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN COALESCE(g.amount, 0) < s.settled"
            " THEN CAST(ROUND((s.settled - COALESCE(g.amount, 0)) * 100) AS BIGINT) ELSE 0 END)"
            f" FROM s LEFT JOIN g ON g.person_id = s.person_id WHERE 1 = 1{where.replace('district_id', 's.district_id')}"
            " GROUP BY s.district_id",
            [*params, rule.pk, *settled_params, *where_params],
        )
        for code, topups, topup_fen, flagged, flagged_fen in cur.fetchall():
            if topups or flagged:
                row(code).update(
                    topups=topups, topup_fen=int(topup_fen or 0), flagged=flagged, flagged_fen=int(flagged_fen or 0)
                )
    Region = apps.get_model("regions", "Region")
    names = dict(Region.objects.filter(code__in=list(figures)).values_list("code", "name"))
    out = [
        {
            "district": code,
            "name": names.get(code, code),
            "count": f["count"],
            "amount": Decimal(f["fen"]) / 100,
            "refused": f["refused"],
            "topups": f["topups"],
            "topup_amount": Decimal(f["topup_fen"]) / 100,
            "flagged": f["flagged"],
            "flagged_amount": Decimal(f["flagged_fen"]) / 100,
        }
        for code, f in sorted(figures.items())
    ]

    def total(name):
        return sum((r[name] for r in out), Decimal("0")).quantize(Decimal("0.01"))

    return {
        "districts": out,
        "count": sum(r["count"] for r in out),
        "amount": total("amount"),
        "refused": sum(r["refused"] for r in out),
        "topups": sum(r["topups"] for r in out),
        "topup_amount": total("topup_amount"),
        "flagged": sum(r["flagged"] for r in out),
        "flagged_amount": total("flagged_amount"),
        "group": rule.exclusivity_group,
        "group_rules": len(rules),
    }


def _settled_sql(programme, rule_key: str) -> tuple[str, list]:
    """Per person, the money settled for `rule_key` (rows with a paid line or a pending one
    in an approved batch, and recoveries) and the district of their base row. The tables are looked up through the
    app registry: this app sits below disbursements."""
    ent = apps.get_model("disbursements", "Entitlement")._meta.db_table
    line = apps.get_model("disbursements", "PaymentLine")._meta.db_table
    batch = apps.get_model("disbursements", "Batch")._meta.db_table
    return (
        "SELECT e.person_id, MAX(CASE WHEN e.kind = 'base' THEN e.district_id END) AS district_id,"  # noqa: S608
        f" SUM(e.amount) AS settled FROM {ent} e WHERE e.programme_id = %s AND e.rule_key = %s"
        " AND e.status = 'granted' AND (e.kind = 'adjustment' OR EXISTS (SELECT 1 FROM"
        f" {line} l JOIN {batch} b ON b.id = l.batch_id WHERE l.entitlement_id = e.id AND (l.status = 'paid'"
        " OR (l.status = 'pending' AND b.status IN ('approved', 'exported', 'reconciled'))))) GROUP BY e.person_id",
        [programme.pk, rule_key],
    )
