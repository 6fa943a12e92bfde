"""What a set of rules grants: the statements the computation inserts and the preview counts."""

from __future__ import annotations

from programs import sql
from programs.rules.compile import rule_compile
from programs.rules.regions import RegionIndex

GRANT_COLUMNS = "programme_id, rule_id, rule_key, person_id, registration_id, district_id, channel, amount, reason"


def capped_groups(rules) -> set[str]:
    """The exclusivity groups (a lone capped rule is its own group "#<id>") in which a
    budget cap can turn a person away, so that who gets what depends on other people."""
    return {r.exclusivity_group or f"#{r.pk}" for r in rules if r.budget_cap is not None}


def rules_for_district(rules, applicable) -> list:
    """The rules a district's computation needs: those applicable to it, and every rule
    of a capped exclusivity group one of them belongs to. A cap in such a group is
    shared with people elsewhere whose choice depends on the group's other rules (a
    person who gets a better rule of the group in another district does not use up
    the cap here), even rules that do not cover this district."""
    ids = {r.pk for r in applicable}
    groups = {r.exclusivity_group for r in applicable if r.exclusivity_group} & capped_groups(rules)
    return [r for r in rules if r.pk in ids or (r.exclusivity_group and r.exclusivity_group in groups)]


def grants_sql(
    programme, rules, regions: RegionIndex, district: str | None, *, refused: bool = False
) -> list[tuple[str, list]]:
    """SELECT statements giving the entitlement rows (GRANT_COLUMNS) that `rules` grant,
    for one stay district or (None) all of them. The one implementation of what a set
    of rules grants: the computation inserts these rows, the preview counts them.

    Rules in no exclusivity group and without a cap are plain selects. The others go
    through one statement (`_allocation_sql`): in each group a person gets their best
    rule, or when a budget cap turns them away the next best, in rounds. A capped rule
    (and every rule sharing a group with one) is selected over its whole region,
    because the cap counts across districts, and filtered to the district afterwards.

    `refused=True` gives instead the people a budget cap turned away (预算已用完): those
    who qualify for a rule of a capped group and got no rule of it at all, as rows of
    their first choice (GRANT_COLUMNS). The same statement, so the same order.
    """
    statements: list[tuple[str, list]] = []
    capped = capped_groups(rules)
    wparts: list[tuple[str, list]] = []
    group_sizes: dict[str, int] = {}
    for rule in rules:
        group = rule.exclusivity_group or f"#{rule.pk}"
        is_windowed = bool(rule.exclusivity_group) or rule.budget_cap is not None
        is_global = group in capped
        compiled = rule_compile(rule, programme=programme, regions=regions, district=None if is_global else district)
        if is_windowed:
            compiled.joins.add("e")
        channel_sql, channel_params = _channel_sql(rule)
        fragments = {
            "channel": channel_sql,
            "amount": compiled.amount,
            "reason": compiled.reason,
            "tables": compiled.from_clause(),
            "where": compiled.where,
        }
        params = [
            programme.pk,
            rule.pk,
            rule.rule_key,
            *channel_params,
            *compiled.amount_params,
            *compiled.reason_params,
        ]
        if not is_windowed:
            if refused:
                continue
            statements.append((sql.GRANT_ROWS.format(**fragments), params + compiled.where_params))
            continue
        cap_fen = int(rule.budget_cap * 100) if rule.budget_cap is not None else None
        group_sizes[group] = group_sizes.get(group, 0) + 1
        wparts.append(
            (
                sql.GRANT_CANDIDATES.format(**fragments),
                [*params, group, rule.priority, cap_fen, *compiled.where_params],
            )
        )
    if wparts:
        # Only a cap turns anybody away: without one, everybody's first choice is final.
        rounds = max((size for g, size in group_sizes.items() if g in capped), default=1)
        union = " UNION ALL ".join(s for s, _ in wparts)
        params = [p for _, ps in wparts for p in ps]
        allocation, tail_params = _allocation_sql(union, rounds, district, refused=refused)
        statements.append((allocation, params + tail_params))
    return statements


def _channel_sql(rule) -> tuple[str, list]:
    """The channel a granted row is paid through: the rule's, or — where the rule offers a
    second one ("800元的电子红包或现金补贴") — the registration's choice if it names either."""
    if not rule.alt_channel:
        return "%s", [rule.channel]
    return (
        "CASE WHEN r.payout_choice IN (%s, %s) THEN r.payout_choice ELSE %s END",
        [rule.channel, rule.alt_channel, rule.channel],
    )


def _allocation_sql(union: str, rounds: int, district: str | None, *, refused: bool = False) -> tuple[str, list]:
    """One statement over the candidate rows `union` (GRANT_COLUMNS + grp, prio,
    cap_fen, vkey) granting each person at most one rule per group.

    A person's choices in a group are their qualifying rules ranked by amount (highest
    first), then priority, then rule id. Round 1: everybody claims their first choice;
    round k: whoever was turned away in round k-1 claims their k-th choice. Each
    capped rule takes its claims round by round, within a round in the order
    registrations became countable (vkey, then registration id), on top of what
    earlier rounds granted, and stops at the first claim that would pass its cap: it
    takes nobody after that, in that round or any later one (so the total never exceeds
    the cap, to the fen). A rule without a cap takes every claim. Rounds are unrolled
    into CTEs (a group has a handful of rules); everything is window functions and
    joins, the same on PostgreSQL and SQLite.
    """
    running = "SUM(c.fen) OVER (PARTITION BY c.rule_id ORDER BY c.vkey, c.registration_id ROWS UNBOUNDED PRECEDING)"
    ctes = [
        f"wc AS ({union})",
        "wd AS (SELECT wc.*, CAST(ROUND(amount * 100) AS BIGINT) AS fen, ROW_NUMBER() OVER"
        " (PARTITION BY person_id, grp ORDER BY amount DESC, prio, rule_id) AS choice FROM wc)",
    ]
    for k in range(1, rounds + 1):
        if k == 1:
            ctes.append(f"s1 AS (SELECT c.*, {running} AS running, 0 AS closed FROM wd c WHERE c.choice = 1)")  # noqa: S608
        else:
            # Who is still without a rule of the group: turned away in the previous round.
            ctes.append(
                f"c{k} AS (SELECT wd.* FROM wd JOIN o{k - 1} o ON o.person_id = wd.person_id"  # noqa: S608
                f" AND o.grp = wd.grp AND o.ok = 0 WHERE wd.choice = {k})"
            )
            # What each rule has granted so far, and whether it has already turned someone away.
            done = " UNION ALL ".join(f"SELECT rule_id, fen, ok FROM o{j}" for j in range(1, k))  # noqa: S608
            ctes.append(
                f"u{k} AS (SELECT rule_id, SUM(CASE WHEN ok = 1 THEN fen ELSE 0 END) AS used,"  # noqa: S608
                f" MAX(CASE WHEN ok = 1 THEN 0 ELSE 1 END) AS closed FROM ({done}) d GROUP BY rule_id)"
            )
            ctes.append(
                f"s{k} AS (SELECT c.*, COALESCE(u.used, 0) + {running} AS running, COALESCE(u.closed, 0) AS closed"  # noqa: S608
                f" FROM c{k} c LEFT JOIN u{k} u ON u.rule_id = c.rule_id)"
            )
        ctes.append(
            f"o{k} AS (SELECT s.*, CASE WHEN s.cap_fen IS NULL OR (s.closed = 0 AND s.running <= s.cap_fen)"  # noqa: S608
            f" THEN 1 ELSE 0 END AS ok FROM s{k} s)"
        )
    district_filter, params = ("AND district_id = %s", [district]) if district else ("", [])
    if refused:
        # First choices of people with no granted row in their group: turned away by caps.
        # An anti-join on a grouped set (a hash join), not NOT EXISTS over the unioned rounds
        # (which the planner runs as a nested loop: minutes for a county of 6,000 people).
        granted = " UNION ALL ".join(
            f"SELECT person_id, grp FROM o{k} WHERE ok = 1"  # noqa: S608
            for k in range(1, rounds + 1)
        )
        ctes.append(f"gr AS (SELECT person_id, grp FROM ({granted}) u GROUP BY person_id, grp)")  # noqa: S608
        cols = ", ".join(f"w.{c.strip()}" for c in GRANT_COLUMNS.split(","))
        final = (
            f"SELECT {cols} FROM wd w LEFT JOIN gr ON gr.person_id = w.person_id AND gr.grp = w.grp"  # noqa: S608
            f" WHERE w.choice = 1 AND gr.person_id IS NULL {district_filter.replace('district_id', 'w.district_id')}"
        )
        return f"WITH {', '.join(ctes)} {final}", params
    params = params * rounds
    final = " UNION ALL ".join(
        f"SELECT {GRANT_COLUMNS} FROM o{k} WHERE ok = 1 {district_filter}"  # noqa: S608
        for k in range(1, rounds + 1)
    )
    return f"WITH {', '.join(ctes)} {final}", params
