"""Who a rule would grant, and at what cost, before it is activated."""

from __future__ import annotations

from decimal import Decimal

from django.apps import apps
from django.db import connection

from programs import sql
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

    The steps: the rules that decide (the group's), who is granted, who a cap turns
    away, what it tops up or flags against money already settled, then the rows by
    district and their totals.
    """
    programme = rule.programme
    regions = region_index()
    rules = _rules_deciding(rule)
    statements = grants_sql(programme, rules, regions, None)
    grants = " UNION ALL ".join(sql.GRANTS_PART.format(statement=s, i=i) for i, (s, _) in enumerate(statements))
    params = [p for _, ps in statements for p in ps]
    within_sql, within_params = "", []
    if within is not None and within.pk != programme.region_id:
        marks, codes = sql_in(regions.districts_within(within.pk) or ["------"])
        within_sql, within_params = f" AND district_id IN ({marks})", codes
    figures: dict[str, dict] = {}
    with connection.cursor() as cur:
        cur.execute(sql.PREVIEW_GRANTED.format(grants=grants, within=within_sql), [*params, rule.pk, *within_params])
        for code, count, fen in cur.fetchall():
            _figures_row(figures, code).update(count=count, fen=int(fen or 0))
        if rule.budget_cap is not None:
            _count_refused(cur, figures, rule, rules, regions, within_sql, within_params)
        settled_sql, settled_params = _settled_sql(programme, rule.rule_key)
        cur.execute(
            sql.PREVIEW_SETTLED.format(
                grants=grants, settled=settled_sql, within=within_sql.replace("district_id", "s.district_id")
            ),
            [*params, rule.pk, *settled_params, *within_params],
        )
        for code, topups, topup_fen, flagged, flagged_fen in cur.fetchall():
            if topups or flagged:
                _figures_row(figures, code).update(
                    topups=topups, topup_fen=int(topup_fen or 0), flagged=flagged, flagged_fen=int(flagged_fen or 0)
                )
    return _preview_result(rule, rules, figures)


def _rules_deciding(rule) -> list:
    """The rule, and the other active rules of its exclusivity group (not its own active version)."""
    rules = [rule]
    if rule.exclusivity_group:
        SubsidyRule = apps.get_model("programs", "SubsidyRule")
        rules += list(
            SubsidyRule.objects.filter(
                programme=rule.programme, status="active", exclusivity_group=rule.exclusivity_group
            ).exclude(rule_key=rule.rule_key)
        )
    return rules


def _figures_row(figures: dict, code: str) -> dict:
    return figures.setdefault(
        code,
        {"count": 0, "fen": 0, "refused": 0, "topups": 0, "topup_fen": 0, "flagged": 0, "flagged_fen": 0},
    )


def _count_refused(cur, figures: dict, rule, rules, regions, within_sql: str, within_params: list) -> None:
    """Who the budget cap turns away (预算已用完): the computation's own statement."""
    hash_join = connection.vendor == "postgresql" and connection.in_atomic_block
    if hash_join:
        cur.execute(sql.NESTLOOP_OFF)
    for s, ps in grants_sql(rule.programme, rules, regions, None, refused=True):
        cur.execute(sql.PREVIEW_REFUSED.format(refused=s, within=within_sql), [*ps, rule.pk, *within_params])
        for code, count in cur.fetchall():
            _figures_row(figures, code)["refused"] = count
    if hash_join:
        cur.execute(sql.NESTLOOP_ON)


def _preview_result(rule, rules, figures: dict) -> dict:
    """The rows by district (with their names) and the totals."""
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
    """Per person, the money settled for `rule_key` and the district of their base row
    (programs.sql.SETTLED_BY_PERSON)."""
    return (
        sql.SETTLED_BY_PERSON.format(
            entitlement=apps.get_model("disbursements", "Entitlement")._meta.db_table,
            line=apps.get_model("disbursements", "PaymentLine")._meta.db_table,
            batch=apps.get_model("disbursements", "Batch")._meta.db_table,
        ),
        [programme.pk, rule_key],
    )
