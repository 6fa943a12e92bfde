"""The raw SQL of programs, as named statements with their parameters in order.

The rule engine compiles each rule's conditions to WHERE fragments
(programs.rules.compile) and unrolls the allocation of capped groups into rounds of
CTEs (programs.rules.grants._allocation_sql): generated from the rules' data, not
fixed text, they stay there. The statements they are put into are here. `{name}`
marks a SQL fragment the caller composes (a compiled rule's parts, the grant
statements, an optional district filter, a table name); `%s` marks a parameter,
listed in order above each statement.
"""

# The rows a rule grants (GRANT_COLUMNS of programs.rules.grants), over a registration
# `r` and what it joins. {channel}, {amount}, {reason}, {where}: fragments of the compiled
# rule (programs.rules.compile.CompiledRule); {tables}: its FROM clause.
# Params: programme id, rule id, rule key, the channel's, the amount's and the reason's
# params, then the WHERE clause's.
_GRANT_SELECT = (
    "SELECT %s AS programme_id, %s AS rule_id, %s AS rule_key, r.person_id AS person_id,"
    " r.id AS registration_id, r.district_id AS district_id, {channel} AS channel,"
    " {amount} AS amount, {reason} AS reason"
)
GRANT_ROWS = _GRANT_SELECT + " FROM {tables} WHERE {where}"

# The same rows as candidates of the allocation in an exclusivity group or under a
# budget cap (programs.rules.grants._allocation_sql), with the group, the priority, the
# cap in fen and the order in which registrations became countable (vkey).
# Params: as GRANT_ROWS up to the reason's, then group, priority, cap in fen (or NULL),
# then the WHERE clause's.
GRANT_CANDIDATES = (
    _GRANT_SELECT + ", CAST(%s AS TEXT) AS grp, %s AS prio, CAST(%s AS BIGINT) AS cap_fen,"
    " CASE WHEN e.verified_at IS NOT NULL AND e.verified_at > r.created_at"
    " THEN e.verified_at ELSE r.created_at END AS vkey"
    " FROM {tables} WHERE {where}"
)

# The grant statements of a preview, narrowed to the columns it counts.
# {statement}: one statement of programs.rules.grants.grants_sql; {i}: its position.
# Params: the statement's own.
GRANTS_PART = "SELECT district_id, rule_id, person_id, amount FROM ({statement}) g{i}"

# Per stay district: how many people the rule is granted to, and the sum in fen.
# {grants}: the grant statements joined by UNION ALL; {within}: "" or
# " AND district_id IN (%s, …)" (the viewer's districts).
# Params: the grants' params, rule id, the within codes.
PREVIEW_GRANTED = (
    "SELECT district_id, COUNT(*), SUM(CAST(ROUND(amount * 100) AS BIGINT))"
    " FROM ({grants}) q WHERE rule_id = %s{within} GROUP BY district_id"
)

# Per stay district: how many people a budget cap turns away (预算已用完).
# {refused}: one statement of grants_sql(…, refused=True); {within}: as above.
# Params: the statement's params, rule id, the within codes.
PREVIEW_REFUSED = "SELECT district_id, COUNT(*) FROM ({refused}) q WHERE rule_id = %s{within} GROUP BY district_id"

# Per district of the base row: against the money already settled for the rule key,
# how many people activating tops up (补差) and by how much in fen, and how many it
# would list as 多发/待核查 and by how much (see disbursements.settlement).
# {grants}: as in PREVIEW_GRANTED; {settled}: SETTLED_BY_PERSON; {within}: as above
# but on s.district_id.
# Params: the grants' params, rule id, SETTLED_BY_PERSON's params, the within codes.
PREVIEW_SETTLED = (
    "WITH g AS (SELECT person_id, amount FROM ({grants}) q WHERE rule_id = %s),"
    " s AS ({settled})"
    " SELECT s.district_id,"
    " SUM(CASE WHEN g.amount > s.settled THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN g.amount > s.settled THEN CAST(ROUND((g.amount - s.settled) * 100) AS BIGINT) ELSE 0 END),"
    " SUM(CASE WHEN COALESCE(g.amount, 0) < s.settled THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN COALESCE(g.amount, 0) < s.settled"
    " THEN CAST(ROUND((s.settled - COALESCE(g.amount, 0)) * 100) AS BIGINT) ELSE 0 END)"
    " FROM s LEFT JOIN g ON g.person_id = s.person_id WHERE 1 = 1{within}"
    " GROUP BY s.district_id"
)

# Per person, the money settled for a rule key (rows with a paid line, or a pending one
# in an approved batch, and recoveries) and the district of their base row.
# {entitlement}, {line}, {batch}: the tables of disbursements' Entitlement, PaymentLine
# and Batch (looked up through the app registry: programs sits below disbursements).
# Params: programme id, rule key.
SETTLED_BY_PERSON = (
    "SELECT e.person_id, MAX(CASE WHEN e.kind = 'base' THEN e.district_id END) AS district_id,"
    " SUM(e.amount) AS settled FROM {entitlement} e WHERE e.programme_id = %s AND e.rule_key = %s"
    " AND e.status = 'granted' AND (e.kind = 'adjustment' OR EXISTS (SELECT 1 FROM"
    " {line} l JOIN {batch} b ON b.id = l.batch_id WHERE l.entitlement_id = e.id AND (l.status = 'paid'"
    " OR (l.status = 'pending' AND b.status IN ('approved', 'exported', 'reconciled'))))) GROUP BY e.person_id"
)

# A hash anti-join for the refusals, as in the computation
# (disbursements.entitlements._store_refusals): PostgreSQL, inside a transaction only.
NESTLOOP_OFF = "SET LOCAL enable_nestloop = off"
NESTLOOP_ON = "SET LOCAL enable_nestloop = on"
