"""The raw SQL of programs, as named statements with their parameters in order.

The rule engine builds the statements that select what a rule grants from the rule's
data (programs.rules.compile, programs.rules.grants: a small compiler, not fixed
text). What programs runs around them is here. `{name}` marks a SQL fragment the
caller composes (the grant statements, an optional district filter, a table name);
`%s` marks a parameter, listed in order above each statement.
"""

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
