"""The app's raw SQL: each statement named, its parameters visible (%(name)s).

The services use the ORM for everything row by row; these statements are the set-based
work that a province's million rows need (INSERT … SELECT, UPDATE … FROM a staging
table, anti-joins against temporary tables). Table names are the models' db_table;
the temporary tables live for one transaction (or one session) of one service.

A few statements are templates completed by the service, each saying which part:
`{obj}`/`{arr}` are the database's JSON builders (`json_functions()`), `{candidates}`
a query the ORM wrote, `{grants}` a rule's compiled query (programs.rules).
"""

from django.db import connection

from disbursements.choices import RED_PACKET_PAYEE, BatchStatus
from disbursements.models import Entitlement
from programs.rules.grants import GRANT_COLUMNS

# --------------------------------------------------------------------------- fragments

# Money is settled once paid, or pending in a batch the province has approved (frozen).
SETTLED_BATCH = ("approved", "exported", "reconciled")
_FROZEN = ", ".join(f"'{s}'" for s in SETTLED_BATCH)


def settled_line(entitlement: str) -> str:
    """SQL: the entitlement `entitlement` (a column) has a paid line, or a pending one in
    an approved (or later) batch."""
    return (
        "EXISTS (SELECT 1 FROM disbursements_paymentline sl JOIN disbursements_batch sb ON sb.id = sl.batch_id"  # noqa: S608
        f" WHERE sl.entitlement_id = {entitlement} AND (sl.status = 'paid'"
        f" OR (sl.status = 'pending' AND sb.status IN ({_FROZEN}))))"
    )


def settled_key(alias: str) -> str:
    """SQL: the (person, rule key) of row `alias` has settled money — a row with a paid
    line or a pending one in an approved (or exported) batch, or a recovery. Such a key
    is never rewritten by the computation's upsert; the settlement step adds top-ups or
    lists overpayments."""
    return (
        f"EXISTS (SELECT 1 FROM disbursements_entitlement s WHERE s.programme_id = {alias}.programme_id"  # noqa: S608
        f" AND s.person_id = {alias}.person_id AND s.rule_key = {alias}.rule_key AND (s.kind = 'adjustment'"
        f" OR {settled_line('s.id')}))"
    )


def json_functions() -> dict[str, str]:
    """The JSON builders of the database in use, for the templates' {obj} and {arr}."""
    if connection.vendor == "postgresql":
        return {"obj": "jsonb_build_object", "arr": "jsonb_build_array"}
    return {"obj": "json_object", "arr": "json_array"}


# --------------------------------------------------------------------------- entitlements

ENTITLEMENT_CANDIDATES = "tmp_entitlement_candidates"
# A cheap digest of a row (PostgreSQL): a weighted sum of hashes of its fields (no text
# formatting, which costs more than the join). Summed over the rows it changes when any
# field does: per stay district, what its computation reads (registrations, their
# person's hukou, their employer's status, ownership, code and verification).
_REG_DIGEST = (
    "hashint8(r.id)::bigint * 3 + hashint8(r.person_id)::bigint * 5 + hashint8(r.employer_id)::bigint * 7"
    " + hashtext(r.status)::bigint * 11 + hashtext(r.category)::bigint * 13 + r.duty_days * 17"
    " + r.seniority_years * 19 + (r.start_date - DATE '2000-01-01') * 23 + (r.end_date - DATE '2000-01-01') * 29"
    " + extract(epoch from r.created_at)::bigint * 31 + hashtext(p.hukou_code)::bigint * 37"
    " + hashtext(e.status)::bigint * 41 + hashtext(e.ownership)::bigint * 43 + hashtext(e.credit_code)::bigint * 47"
    " + COALESCE(extract(epoch from e.verified_at)::bigint, 0) * 53 + hashtext(r.payout_choice)::bigint * 59"
)
REGISTRATION_DIGESTS = (
    f"SELECT r.district_id, count(*), sum({_REG_DIGEST})"  # noqa: S608
    " FROM beneficiaries_registration r JOIN beneficiaries_person p ON p.id = r.person_id"
    " JOIN beneficiaries_employer e ON e.id = r.employer_id"
    " WHERE r.programme_id = %(programme_id)s AND r.district_id = ANY(%(districts)s) GROUP BY r.district_id"
)


# A whole programme's stamp (services.entitlements, `_stamp`): what every district's
# fingerprint reads, cheaper, as row versions. Every insert or update writes a new tuple:
# a new (xmin, ctid) pair (xmin alone does not change when the transaction that wrote a
# row writes it again; a ctid is reused only after its tuple is dead to everyone, so by
# a later transaction); freezing keeps both; with its id and the count a deletion shows.
# The programme's registrations (no join, no grouping), every person and every employer
# (whole tables: a change anywhere, even one no fingerprint reads, makes the run go
# district by district, where the fingerprints decide), and the programme's entitlements.
def _row_versions(alias: str) -> str:
    version = f"hashtext({alias}.xmin::text || {alias}.ctid::text)::bigint * 3 + hashint8({alias}.id)::bigint"
    return f"COALESCE(sum({version}), 0)"


PROGRAMME_STAMP_INPUTS = (
    f"SELECT 's', 'r', count(*), {_row_versions('r')} FROM beneficiaries_registration r"  # noqa: S608
    " WHERE r.programme_id = %(programme_id)s"
    f" UNION ALL SELECT 's', 'p', count(*), {_row_versions('p')} FROM beneficiaries_person p"
    f" UNION ALL SELECT 's', 'e', count(*), {_row_versions('e')} FROM beneficiaries_employer e"
)
_ENTITLEMENT_VERSIONS = (
    f"SELECT 'v', '', count(*), {_row_versions('x')} FROM disbursements_entitlement x"  # noqa: S608
    " WHERE x.programme_id = %(programme_id)s"
)
# The computation's row digest (PostgreSQL): a manual change or deletion of a stored
# entitlement changes the district's fingerprint.
_ENT_DIGEST = (
    "hashint8(id)::bigint * 3 + hashint8(rule_id)::bigint * 5 + hashint8(person_id)::bigint * 7"
    " + hashint8(registration_id)::bigint * 11 + hashtext(status)::bigint * 13 + hashtext(channel)::bigint * 17"
    " + (amount * 100)::bigint * 19 + hashtext(kind)::bigint * 23 + part::bigint * 29"
)
# The same digest for several districts at once: (district, count, sum).
ENTITLEMENT_DISTRICTS_DIGEST = (
    f"SELECT district_id, count(*), COALESCE(sum({_ENT_DIGEST}), 0) FROM disbursements_entitlement"  # noqa: S608
    " WHERE programme_id = %(programme_id)s AND district_id = ANY(%(districts)s) GROUP BY district_id"
)
# Every district's entitlement digest of a programme, ('o', district, count, sum), and
# the programme's entitlement versions (the stamp's), in one statement: one snapshot.
PROGRAMME_STAMP_OUTPUTS = (
    f"SELECT 'o', district_id, count(*), sum({_ENT_DIGEST}) FROM disbursements_entitlement"  # noqa: S608
    " WHERE programme_id = %(programme_id)s GROUP BY district_id UNION ALL " + _ENTITLEMENT_VERSIONS
)
# The stamp's inputs and outputs in one statement: one snapshot.
PROGRAMME_STAMP = PROGRAMME_STAMP_INPUTS + " UNION ALL " + _ENTITLEMENT_VERSIONS
# The districts' registration digests and the stamp's inputs in one statement, so that
# both are read from the same snapshot: ('d', district, count, digest) and the stamp's rows.
REGISTRATION_DIGESTS_AND_STAMP = (
    f"SELECT 'd', r.district_id, count(*), sum({_REG_DIGEST})"  # noqa: S608
    " FROM beneficiaries_registration r JOIN beneficiaries_person p ON p.id = r.person_id"
    " JOIN beneficiaries_employer e ON e.id = r.employer_id"
    " WHERE r.programme_id = %(programme_id)s AND r.district_id = ANY(%(districts)s) GROUP BY r.district_id"
    " UNION ALL " + PROGRAMME_STAMP_INPUTS
)
# The stay districts with registrations, and those with entitlements, of a programme:
# an index skip scan (one probe per district, not a read of every row).
PROGRAMME_DISTRICTS = """
WITH RECURSIVE rd(code) AS (
    (SELECT district_id FROM beneficiaries_registration WHERE programme_id = %(programme_id)s
     ORDER BY district_id LIMIT 1)
    UNION ALL
    SELECT (SELECT district_id FROM beneficiaries_registration WHERE programme_id = %(programme_id)s
            AND district_id > rd.code ORDER BY district_id LIMIT 1) FROM rd WHERE rd.code IS NOT NULL
), ed(code) AS (
    (SELECT district_id FROM disbursements_entitlement WHERE programme_id = %(programme_id)s
     ORDER BY district_id LIMIT 1)
    UNION ALL
    SELECT (SELECT district_id FROM disbursements_entitlement WHERE programme_id = %(programme_id)s
            AND district_id > ed.code ORDER BY district_id LIMIT 1) FROM ed WHERE ed.code IS NOT NULL
)
SELECT code FROM rd WHERE code IS NOT NULL UNION SELECT code FROM ed WHERE code IS NOT NULL
"""
ENTITLEMENT_DISTRICT_DIGEST = (
    f"SELECT count(*), COALESCE(sum({_ENT_DIGEST}), 0) FROM disbursements_entitlement"  # noqa: S608
    " WHERE programme_id = %(programme_id)s AND district_id = %(district)s"
)
# Same column types as Entitlement (numeric(14,2), jsonb on PostgreSQL); {on_commit}:
# "ON COMMIT DROP" on PostgreSQL.
ENTITLEMENT_CANDIDATES_CREATE = (
    f"CREATE TEMP TABLE {ENTITLEMENT_CANDIDATES} {{on_commit}}AS SELECT {GRANT_COLUMNS}"  # noqa: S608
    " FROM disbursements_entitlement WHERE 1 = 0"
)
ENTITLEMENT_CANDIDATES_DROP = f"DROP TABLE IF EXISTS {ENTITLEMENT_CANDIDATES}"
# A rule's compiled query ({grants}, with its own positional parameters) into the candidates.
ENTITLEMENT_CANDIDATES_FILL = f"INSERT INTO {ENTITLEMENT_CANDIDATES} ({GRANT_COLUMNS}) {{grants}}"
# The same, for several districts at once: a rule's statement for the whole programme
# ({grants} with district None), kept to the districts given as its last parameter.
ENTITLEMENT_CANDIDATES_FILL_IN = (
    f"INSERT INTO {ENTITLEMENT_CANDIDATES} ({GRANT_COLUMNS})"  # noqa: S608
    f" SELECT {GRANT_COLUMNS} FROM ({{grants}}) g WHERE g.district_id = ANY(%s)"
)
ENTITLEMENT_CANDIDATES_PER_DISTRICT = f"SELECT district_id, count(*) FROM {ENTITLEMENT_CANDIDATES} GROUP BY district_id"  # noqa: S608
ENTITLEMENT_WRITTEN_PER_DISTRICT = (
    "SELECT district_id, count(*) FROM disbursements_entitlement WHERE programme_id = %(programme_id)s"
    " AND district_id = ANY(%(districts)s) AND computed_at = %(at)s GROUP BY district_id"
)
ENTITLEMENT_CANDIDATES_INDEX = (
    f"CREATE INDEX {ENTITLEMENT_CANDIDATES}_person_rule ON {ENTITLEMENT_CANDIDATES} (person_id, rule_key)"
)
ENTITLEMENT_CANDIDATES_ANALYZE = f"ANALYZE {ENTITLEMENT_CANDIDATES}"
ENTITLEMENT_ANALYZE = "ANALYZE disbursements_entitlement"
ENTITLEMENT_DISTRICT_HAS_ROWS = (
    "SELECT 1 FROM disbursements_entitlement"
    " WHERE programme_id = %(programme_id)s AND district_id = %(district)s LIMIT 1"
)
# Of the districts given, those with rows (PostgreSQL: one index probe per district).
ENTITLEMENT_DISTRICTS_WITH_ROWS = (
    "SELECT d FROM unnest(%(districts)s::text[]) d WHERE EXISTS (SELECT 1 FROM disbursements_entitlement"
    " WHERE programme_id = %(programme_id)s AND district_id = d)"
)
CAP_REFUSAL_DISTRICTS = (
    "SELECT d FROM unnest(%(districts)s::text[]) d WHERE EXISTS (SELECT 1 FROM disbursements_caprefusal"
    " WHERE programme_id = %(programme_id)s AND district_id = d)"
)
ENTITLEMENT_LOCK = "SELECT pg_advisory_xact_lock(%(key)s)"
# A district's rules look up a few thousand to a hundred thousand persons by id, rows
# the cache holds: with the default random_page_cost (4, spinning disks) the planner
# scans the whole person table instead, once per rule and district (a province's
# million rows, 20 times over). This transaction only.
RANDOM_PAGE_COST = "SET LOCAL random_page_cost = 1.1"


def _key_share(table: str, key: str, column: str) -> str:
    """SQL: lock FOR KEY SHARE the rows of `table` that the candidates' `column` points
    at (what the foreign key's trigger would lock, set-based), and count the candidates
    whose row is missing (what the trigger would refuse at COMMIT)."""
    return (
        f"WITH locked AS MATERIALIZED (SELECT {key} AS k FROM {table}"  # noqa: S608
        f" WHERE {key} IN (SELECT {column} FROM {ENTITLEMENT_CANDIDATES}) FOR KEY SHARE)"
        f" SELECT count(*) FROM {ENTITLEMENT_CANDIDATES} t WHERE NOT EXISTS"
        f" (SELECT 1 FROM locked WHERE locked.k = t.{column})"
    )


# Per foreign key of Entitlement (the candidates carry every one): its referenced rows
# locked, the missing ones counted (PostgreSQL: a district's first computation writes
# with the per-row triggers off, core.db). The person is the registration's: one
# statement locks the registrations FOR SHARE (not even their person may change until
# this commits) and counts the candidates whose registration is gone or no longer that
# person's; a registration so locked keeps its person from being deleted.
ENTITLEMENT_REFERENCES_LOCK = {
    f.column: _key_share(f.related_model._meta.db_table, f.target_field.column, f.column)
    for f in Entitlement._meta.concrete_fields
    if f.is_relation and f.column not in ("person_id", "registration_id")
}
ENTITLEMENT_REFERENCES_LOCK["registration_id, person_id"] = (
    "WITH locked AS MATERIALIZED (SELECT id, person_id FROM beneficiaries_registration"  # noqa: S608
    f" WHERE id IN (SELECT registration_id FROM {ENTITLEMENT_CANDIDATES}) FOR SHARE)"
    f" SELECT count(*) FROM {ENTITLEMENT_CANDIDATES} t WHERE NOT EXISTS"
    " (SELECT 1 FROM locked WHERE locked.id = t.registration_id AND locked.person_id = t.person_id)"
)
# The whole registration table, held against updates and deletes until the transaction
# ends, when nobody is writing it right now (NOWAIT): then the candidates' registrations
# need no row lock each, only the check that they are there and still the person's.
REGISTRATION_SHARE_LOCK = "LOCK TABLE beneficiaries_registration IN SHARE MODE NOWAIT"
ENTITLEMENT_REGISTRATIONS_MISSING = (
    f"SELECT count(*) FROM {ENTITLEMENT_CANDIDATES} t WHERE NOT EXISTS"  # noqa: S608
    " (SELECT 1 FROM beneficiaries_registration r WHERE r.id = t.registration_id AND r.person_id = t.person_id)"
)
# Lines in these batches are not settled money yet (batch_lines.UNAPPROVED).
_UNAPPROVED = ", ".join(f"'{s}'" for s in (BatchStatus.DRAFT, BatchStatus.SUBMITTED, BatchStatus.REVIEWED))

# The district's lines pending in batches not yet approved whose entitlement the rules
# now give another amount, registration, district or channel (or none).
ENTITLEMENT_LINES_TO_PULL = f"""
SELECT l.id FROM disbursements_paymentline l JOIN disbursements_batch b ON b.id = l.batch_id
JOIN disbursements_entitlement e ON e.id = l.entitlement_id
WHERE e.programme_id = %(programme_id)s AND e.district_id = %(district)s AND e.kind = 'base'
  AND l.status = 'pending' AND b.status IN ({_UNAPPROVED}) AND NOT {settled_key("e")}
  AND NOT EXISTS (SELECT 1 FROM {ENTITLEMENT_CANDIDATES} t WHERE t.person_id = e.person_id
      AND t.rule_key = e.rule_key AND t.amount = e.amount AND t.registration_id = e.registration_id
      AND t.district_id = e.district_id AND t.channel = e.channel)
"""  # noqa: S608

_CHANGED = (
    "x.amount <> t.amount OR x.registration_id <> t.registration_id OR x.district_id <> t.district_id"
    " OR x.channel <> t.channel OR x.status <> %(granted)s"
)
_STORED_BASE = (
    "x.programme_id = t.programme_id AND x.person_id = t.person_id AND x.rule_key = t.rule_key AND x.kind = 'base'"
)
# Audit rows of the stored entitlements the rules change (what it was, what it becomes).
ENTITLEMENT_AUDIT_CHANGED = f"""
INSERT INTO accounts_auditentry (at, user_id, action, object_type, object_id, changes, comment)
SELECT %(at)s, %(user_id)s, 'entitlement_recompute', 'disbursements.entitlement', CAST(x.id AS TEXT),
       {{obj}}('amount', {{arr}}(x.amount, t.amount), 'status', {{arr}}(x.status, %(granted)s),
       'rule', {{arr}}(x.rule_id, t.rule_id), 'registration', {{arr}}(x.registration_id, t.registration_id),
       'district', {{arr}}(x.district_id, t.district_id), 'channel', {{arr}}(x.channel, t.channel)), %(comment)s
FROM {ENTITLEMENT_CANDIDATES} t JOIN disbursements_entitlement x ON {_STORED_BASE}
WHERE NOT {settled_key("x")} AND ({_CHANGED})
"""  # noqa: S608

_INSERT = f"""
INSERT INTO disbursements_entitlement AS ent ({GRANT_COLUMNS}, status, computed_at, kind, part)
SELECT t.programme_id, t.rule_id, t.rule_key, t.person_id, t.registration_id, t.district_id,
       t.channel, t.amount, t.reason, %(granted)s, %(at)s, 'base', 0
FROM {ENTITLEMENT_CANDIDATES} t{{join}}
WHERE {{changed}}
ORDER BY t.person_id, t.rule_key
"""  # noqa: S608
_UPSERT = (
    _INSERT
    + f"""ON CONFLICT (programme_id, person_id, rule_key, kind, part) DO UPDATE SET rule_id = excluded.rule_id,
    registration_id = excluded.registration_id, district_id = excluded.district_id,
    channel = excluded.channel, amount = excluded.amount, reason = excluded.reason,
    status = excluded.status, computed_at = excluded.computed_at
WHERE NOT {settled_key("ent")}
"""
)
# A district's first computation: every candidate is new (or a person's row moved here
# from another district, which ON CONFLICT updates).
ENTITLEMENT_UPSERT_FRESH = _UPSERT.replace("{join}", "").replace("{changed}", "TRUE")
# The same without ON CONFLICT, tried first: a plain insert skips the speculative
# insertion of every row (~15 % of the statement); a key already stored (a row moved
# from another district) makes it fail as a whole, and the upsert runs instead.
ENTITLEMENT_INSERT_FRESH = _INSERT.replace("{join}", "").replace("{changed}", "TRUE")
# Its sort (~300 bytes a row: a province's 600,000 rows) in memory, not in temp files;
# back to core.db's bulk value after. This transaction only.
ENTITLEMENT_INSERT_SORT_MEM = "SET LOCAL work_mem = '512MB'"
ENTITLEMENT_INSERT_SORT_MEM_RESET = "SET LOCAL work_mem = '64MB'"
# Later computations: new rows, and rows whose amount or facts changed and that hold no
# settled money.
ENTITLEMENT_UPSERT = _UPSERT.replace("{join}", f" LEFT JOIN disbursements_entitlement x ON {_STORED_BASE}").replace(
    "{changed}", f"x.id IS NULL OR (NOT {settled_key('x')} AND ({_CHANGED} OR x.reason IS DISTINCT FROM t.reason))"
)

_GONE = f"""ent.programme_id = %(programme_id)s AND ent.district_id = %(district)s AND ent.kind = 'base'
  AND ent.status <> %(withdrawn)s AND NOT {settled_key("ent")}
  AND NOT EXISTS (SELECT 1 FROM {ENTITLEMENT_CANDIDATES} t WHERE t.person_id = ent.person_id
      AND t.rule_key = ent.rule_key)"""  # noqa: S608
# Not settled and no longer qualifying: audited, then withdrawn.
ENTITLEMENT_AUDIT_GONE = f"""
INSERT INTO accounts_auditentry (at, user_id, action, object_type, object_id, changes, comment)
SELECT %(at)s, %(user_id)s, 'entitlement_recompute', 'disbursements.entitlement', CAST(ent.id AS TEXT),
       {{obj}}('status', {{arr}}(ent.status, %(withdrawn)s), 'amount', {{arr}}(ent.amount, ent.amount)), %(comment)s
FROM disbursements_entitlement ent WHERE {_GONE}
"""  # noqa: S608
ENTITLEMENT_WITHDRAW_GONE = f"""
UPDATE disbursements_entitlement AS ent SET status = %(withdrawn)s, computed_at = %(at)s WHERE {_GONE}
"""  # noqa: S608

# Granted entitlements per rule key: (rule_key, people, fen), of the programme or of the
# districts under a region's path.
_TOTALS = (
    "SELECT rule_key, SUM(CASE WHEN kind = 'adjustment' THEN 0 ELSE 1 END),"
    " SUM(CAST(ROUND(amount * 100) AS BIGINT)) FROM disbursements_entitlement ent"
    " WHERE programme_id = %(programme_id)s AND status = %(granted)s"
)
ENTITLEMENT_TOTALS = _TOTALS + " GROUP BY rule_key"
ENTITLEMENT_TOTALS_IN_REGION = (
    _TOTALS + " AND district_id IN (SELECT code FROM regions_region WHERE path LIKE %(path)s) GROUP BY rule_key"  # noqa: S608
)

CAP_REFUSALS_OF_DISTRICT = (
    "SELECT person_id, rule_id, amount FROM disbursements_caprefusal"
    " WHERE programme_id = %(programme_id)s AND district_id = %(district)s"
)
CAP_REFUSALS_DELETE = (
    "DELETE FROM disbursements_caprefusal WHERE programme_id = %(programme_id)s AND district_id = %(district)s"
)
# The people a budget cap turns away, from a rule's compiled query ({grants}; its own
# positional parameters follow the reason and the time).
CAP_REFUSALS_INSERT = """
INSERT INTO disbursements_caprefusal (programme_id, rule_id, rule_key, person_id, registration_id, district_id,
    amount, reason, computed_at)
SELECT q.programme_id, q.rule_id, q.rule_key, q.person_id, q.registration_id, q.district_id, q.amount, %s, %s
FROM ({grants}) q WHERE 1 = 1
ON CONFLICT (programme_id, person_id, rule_key) DO UPDATE SET rule_id = excluded.rule_id,
    registration_id = excluded.registration_id, district_id = excluded.district_id,
    amount = excluded.amount, computed_at = excluded.computed_at
"""
NESTLOOP_OFF = "SET LOCAL enable_nestloop = off"
# For the sort of a build's lines (~400 bytes a line: 1M lines in memory); back to
# core.db's bulk value after. This transaction only.
BATCH_LINES_SORT_MEM = "SET LOCAL work_mem = '512MB'"
BATCH_LINES_SORT_MEM_RESET = "SET LOCAL work_mem = '64MB'"
NESTLOOP_ON = "SET LOCAL enable_nestloop = on"
# A few districts' rollup refresh (the catch-up) reads their rows through the indexes, so
# that it costs the same at 1M or 10M rows: the planner, misled by a join estimate, would
# scan every payment line and compile the plan (JIT, 150 ms) for a thousand rows.
INDEXES_ONLY = ("SET LOCAL enable_seqscan = off", "SET LOCAL jit = off")

# --------------------------------------------------------------------------- reconciliation

# Every figure by group in one pass: the programme's entitlements of the paid channels
# joined once to their lines (a hash join), reduced per entitlement (paid? live? failed?
# how much? any line not matching its entitlement?), then summed per group. {group}: the
# whitelisted columns grouped by; {channels}: the paid channels; {where}: the optional
# filters below.
_LIVE = "l.status IN ('pending', 'paid')"
_GRANTED = "status = 'granted'"
_ADJUSTED = f"{_GRANTED} AND kind = 'adjustment'"
_FAILED = f"{_GRANTED} AND has_live = 0 AND has_failed = 1"
_PENDING = f"{_GRANTED} AND kind <> 'adjustment' AND has_paid = 0 AND (has_live = 1 OR has_failed = 0)"
RECONCILIATION_FIGURES = f"""
WITH per AS (
    SELECT e.district_id, e.rule_key, e.channel, e.status, e.amount, e.kind,
           MAX(CASE WHEN l.status = 'paid' THEN 1 ELSE 0 END) AS has_paid,
           MAX(CASE WHEN {_LIVE} THEN 1 ELSE 0 END) AS has_live,
           MAX(CASE WHEN l.status = 'failed' THEN 1 ELSE 0 END) AS has_failed,
           SUM(CASE WHEN l.status = 'paid' THEN l.amount ELSE 0 END) AS paid_amount,
           SUM(CASE WHEN l.status = 'paid' THEN 1 ELSE 0 END) AS paid_n,
           SUM(CASE WHEN {_LIVE} THEN l.amount ELSE 0 END) AS live_amount,
           SUM(CASE WHEN {_LIVE} AND (l.amount <> e.amount OR e.status <> 'granted') THEN 1 ELSE 0 END) AS odd_n
    FROM disbursements_entitlement e
    LEFT JOIN disbursements_paymentline l ON l.entitlement_id = e.id
    WHERE e.programme_id = %(programme_id)s AND e.channel IN ({{channels}}){{where}}
    GROUP BY e.id, e.district_id, e.rule_key, e.channel, e.status, e.amount, e.kind
)
SELECT {{group}},
       SUM(CASE WHEN {_GRANTED} THEN amount ELSE 0 END),
       SUM(CASE WHEN {_GRANTED} AND kind <> 'adjustment' THEN 1 ELSE 0 END),
       SUM(CASE WHEN {_FAILED} THEN amount ELSE 0 END), SUM(CASE WHEN {_FAILED} THEN 1 ELSE 0 END),
       SUM(CASE WHEN {_PENDING} THEN amount ELSE 0 END), SUM(CASE WHEN {_PENDING} THEN 1 ELSE 0 END),
       SUM(paid_amount), SUM(paid_n), SUM(live_amount), SUM(odd_n),
       SUM(CASE WHEN {_ADJUSTED} THEN amount ELSE 0 END)
FROM per
GROUP BY {{group}}
ORDER BY {{group}}
"""  # noqa: S608
RECONCILIATION_IN_REGION = " AND e.district_id IN (SELECT code FROM regions_region WHERE path LIKE %(path)s)"
RECONCILIATION_OF_RULE = " AND e.rule_key = %(rule_key)s"

# --------------------------------------------------------------------------- rollups

# A programme's dashboard rollups (services.rollups), rebuilt in one transaction. The
# templates take the tables ({region}, {survey} …: rollups._tables) and the summed
# columns (the survey's and the money's) from the service; values are %(pid)s, %(now)s
# and %(prefix)s (the programme region's path and "%").
# A refresh of some districts only (the catch-up after a change) passes {only…}: an
# IN list of those districts (`rollups.only_fragments`), or of their cities and
# province for the upper rows; the whole refresh passes empty strings. Each source is
# filtered before its GROUP BY, so a district's refresh reads that district's rows only.
ROLLUP_LOCK = "SELECT pg_advisory_xact_lock(%(namespace)s, %(programme_id)s)"
RULE_ROLLUPS_DELETE = "DELETE FROM disbursements_rulerollup WHERE programme_id = %(programme_id)s{only_rows}"
ROLLUPS_DELETE = "DELETE FROM disbursements_regionrollup WHERE programme_id = %(programme_id)s{only_rows}"

ROLLUP_DISTRICTS = """
WITH d AS (
    SELECT code, path FROM {region} WHERE level = 'district' AND path LIKE %(prefix)s{only_code}
), sv AS (
    SELECT s.district_id, MAX(s.as_of) AS as_of, COUNT(*) AS n,
           {survey_sums}
    FROM {survey} s
    WHERE s.programme_id = %(pid)s AND s.status IN ('approved', 'locked'){only_s}
      AND s.as_of = (SELECT MAX(s2.as_of) FROM {survey} s2
                     WHERE s2.programme_id = s.programme_id AND s2.district_id = s.district_id
                       AND s2.status IN ('approved', 'locked'))
    GROUP BY s.district_id
), reg AS (
    SELECT district_id, COUNT(*) AS n FROM {registration}
    WHERE programme_id = %(pid)s AND status = 'active'{only} GROUP BY district_id
), emp AS (
    SELECT district_id, COUNT(*) AS n, COUNT(*) FILTER (WHERE status = 'verified') AS v
    FROM {employer} WHERE 1 = 1{only} GROUP BY district_id
), ent AS (
    SELECT district_id,
           COUNT(*) FILTER (WHERE channel <> 'employer' AND kind <> 'adjustment') AS n,
           SUM(amount) FILTER (WHERE channel <> 'employer') AS amt,
           SUM(amount) FILTER (WHERE channel <> 'employer' AND kind = 'adjustment') AS adj,
           COUNT(*) FILTER (WHERE channel = 'employer') AS en,
           SUM(amount) FILTER (WHERE channel = 'employer') AS eamt
    FROM {entitlement} WHERE programme_id = %(pid)s AND status = 'granted'{only} GROUP BY district_id
), best AS (
    SELECT l.entitlement_id,
           MAX(CASE l.status WHEN 'paid' THEN 3 WHEN 'pending' THEN 2 ELSE 1 END) AS st,
           MAX(l.amount) AS amt
    FROM {line} l{best_join} GROUP BY l.entitlement_id
), pay AS (
    SELECT e.district_id,
           COUNT(*) AS bn, SUM(b.amt) AS bamt,
           COUNT(*) FILTER (WHERE b.st = 3) AS pdn, SUM(b.amt) FILTER (WHERE b.st = 3) AS pdamt,
           COUNT(*) FILTER (WHERE b.st = 2) AS pnn, SUM(b.amt) FILTER (WHERE b.st = 2) AS pnamt,
           COUNT(*) FILTER (WHERE b.st = 1) AS fn, SUM(b.amt) FILTER (WHERE b.st = 1) AS famt
    FROM best b JOIN {entitlement} e ON e.id = b.entitlement_id
    WHERE e.programme_id = %(pid)s AND e.status = 'granted' AND e.channel <> 'employer'{only_e}
    GROUP BY e.district_id
), refused AS (
    SELECT district_id, COUNT(*) AS n, SUM(amount) AS amt FROM {refusal}
    WHERE programme_id = %(pid)s{only} GROUP BY district_id
), over AS (
    SELECT district_id, COUNT(*) AS n, SUM(amount) AS amt FROM {overpayment}
    WHERE programme_id = %(pid)s AND status = 'open'{only} GROUP BY district_id
)
INSERT INTO {rollup} (programme_id, region_id, level, path, refreshed_at, survey_as_of, survey_districts,
                      {survey_cols}, {money_cols})
SELECT %(pid)s, d.code, 'district', d.path, %(now)s, sv.as_of, COALESCE(sv.n, 0),
       {survey_vals},
       COALESCE(emp.n, 0), COALESCE(emp.v, 0), COALESCE(reg.n, 0),
       COALESCE(ent.n, 0), COALESCE(ent.amt, 0), COALESCE(ent.en, 0), COALESCE(ent.eamt, 0),
       COALESCE(pay.bn, 0), COALESCE(pay.bamt, 0), COALESCE(pay.pnn, 0), COALESCE(pay.pnamt, 0),
       COALESCE(pay.pdn, 0), COALESCE(pay.pdamt, 0), COALESCE(pay.fn, 0), COALESCE(pay.famt, 0),
       COALESCE(ent.adj, 0), COALESCE(refused.n, 0), COALESCE(refused.amt, 0),
       COALESCE(over.n, 0), COALESCE(over.amt, 0)
FROM d
LEFT JOIN sv ON sv.district_id = d.code
LEFT JOIN reg ON reg.district_id = d.code
LEFT JOIN emp ON emp.district_id = d.code
LEFT JOIN ent ON ent.district_id = d.code
LEFT JOIN pay ON pay.district_id = d.code
LEFT JOIN refused ON refused.district_id = d.code
LEFT JOIN over ON over.district_id = d.code
"""

ROLLUP_UPPER = """
INSERT INTO {rollup} (programme_id, region_id, level, path, refreshed_at, survey_as_of, {summed_cols})
SELECT %(pid)s, r.code, r.level, r.path, %(now)s, MAX(x.survey_as_of), {summed_vals}
FROM {region} r
JOIN {rollup} x ON x.programme_id = %(pid)s AND x.level = 'district' AND x.path LIKE r.path || '%%'
WHERE r.level <> 'district' AND r.path LIKE %(prefix)s{only_upper}
GROUP BY r.code, r.level, r.path
"""

# Beside "数据更新于", on every dashboard request (services.rollups.rollups_pending): a
# district under the region marked and not refreshed yet, or a whole refresh of the
# programme waiting or running (its params are exactly {"programme_id": N}, written the
# same way by PostgreSQL's jsonb and by SQLite). Raw: the ORM's compilation of the same
# two EXISTS costs ten times their execution.
ROLLUP_PENDING = """
SELECT EXISTS (SELECT 1 FROM disbursements_rollupdirty m JOIN regions_region r ON r.code = m.district_id
               WHERE m.programme_id = %(programme_id)s AND r.path LIKE %(path)s),
       EXISTS (SELECT 1 FROM accounts_job j WHERE j.kind = %(kind)s AND j.state IN (%(queued)s, %(running)s)
               AND CAST(j.params AS TEXT) = %(params)s)
"""

RULE_ROLLUP_DISTRICTS = """
WITH best AS (
    SELECT l.entitlement_id, MAX(CASE l.status WHEN 'paid' THEN 3 WHEN 'pending' THEN 2 ELSE 1 END) AS st,
           MAX(l.amount) AS amt
    FROM {line} l{best_join} GROUP BY l.entitlement_id
), names AS (
    SELECT r.rule_key, r.name, r.kind FROM {rule} r
    WHERE r.programme_id = %(pid)s
      AND r.version = (SELECT MAX(r2.version) FROM {rule} r2
                       WHERE r2.programme_id = r.programme_id AND r2.rule_key = r.rule_key)
)
INSERT INTO {rulerollup} (programme_id, region_id, rule_key, rule_name, kind, entitled_count, entitled_amount,
                          paid_count, paid_amount, refreshed_at)
SELECT %(pid)s, e.district_id, e.rule_key, COALESCE(MAX(names.name), e.rule_key), COALESCE(MAX(names.kind), ''),
       COUNT(*) FILTER (WHERE e.kind <> 'adjustment'), SUM(e.amount),
       COUNT(*) FILTER (WHERE b.st = 3), COALESCE(SUM(b.amt) FILTER (WHERE b.st = 3), 0), %(now)s
FROM {entitlement} e
JOIN {region} d ON d.code = e.district_id AND d.level = 'district' AND d.path LIKE %(prefix)s
LEFT JOIN best b ON b.entitlement_id = e.id
LEFT JOIN names ON names.rule_key = e.rule_key
WHERE e.programme_id = %(pid)s AND e.status = 'granted'{only_e}
GROUP BY e.district_id, e.rule_key
"""

RULE_ROLLUP_UPPER = """
INSERT INTO {rulerollup} (programme_id, region_id, rule_key, rule_name, kind, entitled_count, entitled_amount,
                          paid_count, paid_amount, refreshed_at)
SELECT %(pid)s, r.code, x.rule_key, MAX(x.rule_name), MAX(x.kind), SUM(x.entitled_count), SUM(x.entitled_amount),
       SUM(x.paid_count), SUM(x.paid_amount), %(now)s
FROM {region} r
JOIN {rulerollup} x ON x.programme_id = %(pid)s
JOIN {region} d ON d.code = x.region_id AND d.level = 'district' AND d.path LIKE r.path || '%%'
WHERE r.level <> 'district' AND r.path LIKE %(prefix)s{only_upper}
GROUP BY r.code, x.rule_key
"""

# --------------------------------------------------------------------------- settlement

_KEY = "x.programme_id = b.programme_id AND x.person_id = b.person_id AND x.rule_key = b.rule_key"
# Keys with settled money whose base row is in the district (or whose person the
# district's candidates hold), where the rules' target differs from what is settled and
# unsettled, or an item is open. Few rows: a run with nothing changed returns only the
# kept overpayments.
SETTLEMENT_MISMATCHES = f"""
SELECT k.id, k.person_id, k.rule_key, k.district_id, k.settled, k.unsettled,
       t.amount, t.rule_id, t.registration_id, t.district_id, t.channel
FROM (
    SELECT b.id, b.person_id, b.rule_key, b.district_id,
           (SELECT SUM(x.amount) FROM disbursements_entitlement x WHERE {_KEY} AND x.status = 'granted'
              AND (x.kind = 'adjustment' OR {settled_line("x.id")})) AS settled,
           (SELECT SUM(x.amount) FROM disbursements_entitlement x WHERE {_KEY} AND x.status = 'granted'
              AND x.kind <> 'adjustment' AND NOT {settled_line("x.id")}) AS unsettled
    FROM disbursements_entitlement b
    WHERE b.programme_id = %(programme_id)s AND b.kind = 'base'
      AND (b.district_id = %(district)s OR EXISTS (SELECT 1 FROM {ENTITLEMENT_CANDIDATES} t0
           WHERE t0.person_id = b.person_id AND t0.rule_key = b.rule_key))
      AND EXISTS (SELECT 1 FROM disbursements_entitlement x WHERE {_KEY}
           AND (x.kind = 'adjustment' OR {settled_line("x.id")}))
) k
LEFT JOIN {ENTITLEMENT_CANDIDATES} t ON t.person_id = k.person_id AND t.rule_key = k.rule_key
WHERE COALESCE(t.amount, 0) <> COALESCE(k.settled, 0) + COALESCE(k.unsettled, 0)
   OR EXISTS (SELECT 1 FROM disbursements_overpayment o WHERE o.programme_id = %(programme_id)s
              AND o.person_id = k.person_id AND o.rule_key = k.rule_key AND o.status = 'open')
ORDER BY k.person_id, k.rule_key
"""  # noqa: S608

# --------------------------------------------------------------------------- one person

# One person's computation (services.person_compute) runs the district computation's
# statements on candidates kept to that person: the same statements with the district
# key replaced by the person's (`_of_person` fails loudly at import if a statement no
# longer holds the text it replaces, so the two paths cannot drift apart silently).


def _of_person(statement: str, old: str, new: str) -> str:
    if old not in statement:
        raise RuntimeError(f"disbursements.sql: the person variant no longer finds {old!r}")
    return statement.replace(old, new)


ENTITLEMENT_CANDIDATES_KEEP_PERSON = f"DELETE FROM {ENTITLEMENT_CANDIDATES} WHERE person_id <> %(person_id)s"  # noqa: S608
PERSON_LINES_TO_PULL = _of_person(
    ENTITLEMENT_LINES_TO_PULL, "e.district_id = %(district)s", "e.person_id = %(person_id)s"
)
PERSON_AUDIT_GONE = _of_person(
    ENTITLEMENT_AUDIT_GONE, "ent.district_id = %(district)s", "ent.person_id = %(person_id)s"
)
PERSON_WITHDRAW_GONE = _of_person(
    ENTITLEMENT_WITHDRAW_GONE, "ent.district_id = %(district)s", "ent.person_id = %(person_id)s"
)
PERSON_SETTLEMENT_MISMATCHES = _of_person(
    SETTLEMENT_MISMATCHES,
    f"""AND (b.district_id = %(district)s OR EXISTS (SELECT 1 FROM {ENTITLEMENT_CANDIDATES} t0
           WHERE t0.person_id = b.person_id AND t0.rule_key = b.rule_key))""",  # noqa: S608
    "AND b.person_id = %(person_id)s",
)
# The districts a person's computation touches: where they are registered, and where
# their entitlements are (a moved registration leaves rows behind to withdraw).
PERSON_DISTRICTS = """
SELECT district_id FROM beneficiaries_registration WHERE programme_id = %(programme_id)s AND person_id = %(person_id)s
UNION
SELECT district_id FROM disbursements_entitlement WHERE programme_id = %(programme_id)s AND person_id = %(person_id)s
ORDER BY 1
"""

# --------------------------------------------------------------------------- batches

BATCH_CANDIDATES = "tmp_batch_candidates"
# The districts that may have something to batch (granted entitlements of the programme,
# optionally under a region's path: %(path)s, "%%" for all), whose (programme, district)
# locks a build takes, in this order, before it reads what to batch.
BATCH_BUILD_DISTRICTS = """
SELECT DISTINCT e.district_id FROM disbursements_entitlement e JOIN regions_region d ON d.code = e.district_id
WHERE e.programme_id = %(programme_id)s AND e.status = 'granted' AND d.path LIKE %(path)s
ORDER BY e.district_id
"""
# Serializes builders of one (programme, district).
BATCH_BUILD_LOCK = "SELECT pg_advisory_xact_lock(%(namespace)s, %(district)s)"
# The entitlements to batch, staged once per build with what their lines take from
# them. {candidates}: the ORM's query of unbatched entitlements (its own positional
# parameters), and {lock}: " FOR SHARE OF disbursements_entitlement" on PostgreSQL, so
# the rows staged cannot change (or go) before the build commits: the counts are the
# lines', and the lines' foreign key to them needs no per-row check (BATCH_LINES_INSERT).
# SQLite serializes writers anyway.
BATCH_CANDIDATES_STAGE = f"""
CREATE TEMP TABLE {BATCH_CANDIDATES} AS
SELECT c.id, c.district_id, c.channel, c.amount, c.person_id, c.registration_id FROM ({{candidates}}{{lock}}) c
"""  # noqa: S608
BATCH_CANDIDATES_LOCK = " FOR SHARE OF disbursements_entitlement"
BATCH_CANDIDATES_DROP = f"DROP TABLE IF EXISTS {BATCH_CANDIDATES}"
# Without statistics the planner takes the staged rows for a handful and joins the
# snapshot's tables by one index probe per line (5× slower than hash joins).
BATCH_CANDIDATES_ANALYZE = f"ANALYZE {BATCH_CANDIDATES}"
# Parameter: districts (the ones locked): a district that got its first entitlements
# since the locks were taken waits for the next build.
BATCH_CANDIDATES_UNLOCKED = f"DELETE FROM {BATCH_CANDIDATES} WHERE NOT district_id = ANY(%(districts)s)"  # noqa: S608
# The build's batches, one per district × channel, with their line counts and totals
# (fen: an integer on every database, never a float): one GROUP BY of the staged rows.
BATCH_GROUPS = f"""
SELECT district_id, channel, COUNT(*), SUM(CAST(ROUND(amount * 100) AS BIGINT)) FROM {BATCH_CANDIDATES}
GROUP BY district_id, channel ORDER BY district_id, channel
"""  # noqa: S608
# Every line of the build in one statement, numbered 1..n per batch in entitlement
# order (numbered on the narrow rows), with the snapshot it is paid on, written in
# (batch, seq) order: in the hash joins' order each row would touch a random page of
# every index (twice the time). The sort of the wide rows gets BATCH_LINES_SORT_MEM. A red packet is paid to the phone number (the
# platform's account key): the line's account snapshot is the person's encrypted phone.
# {batches}: the new batches' ids as named parameters (%(b0)s, …). No ON CONFLICT (its
# speculative insertion costs a third more a row): the staged candidates have no pending
# or paid line, and the build's locks keep it so; the "paid once" partial unique index
# is the last word. The foreign keys point at batches this transaction made and at
# entitlements the staging locked.
BATCH_LINES_INSERT = f"""
INSERT INTO disbursements_paymentline
    (batch_id, entitlement_id, seq, amount, name, id_cipher, id_masked,
     account_cipher, account_masked, bank_name, status, bank_reference, failure_reason, updated_at)
SELECT n.batch_id, n.id, n.seq, n.amount, p.name, p.id_cipher, p.id_masked,
       CASE WHEN n.channel = 'red_packet' THEN p.phone_cipher ELSE r.account_cipher END,
       CASE WHEN n.channel = 'red_packet' THEN p.phone_masked ELSE r.account_masked END,
       CASE WHEN n.channel = 'red_packet' THEN '{RED_PACKET_PAYEE}' ELSE r.bank_name END,
       'pending', '', '', %(now)s
FROM (
    SELECT c.id, c.channel, c.amount, c.person_id, c.registration_id, b.id AS batch_id,
           ROW_NUMBER() OVER (PARTITION BY b.id ORDER BY c.id) AS seq
    FROM {BATCH_CANDIDATES} c
    JOIN disbursements_batch b ON b.district_id = c.district_id AND b.channel = c.channel
    WHERE b.id IN ({{batches}})
) n
JOIN beneficiaries_person p ON p.id = n.person_id
JOIN beneficiaries_registration r ON r.id = n.registration_id
ORDER BY n.batch_id, n.seq
"""  # noqa: S608

# --------------------------------------------------------------------------- bank files

# A batch's lines lo..hi with their scheme, for COPY (SELECT …) TO STDOUT, which takes
# no parameters: {batch_id}, {lo} and {hi} are formatted in as integers.
BANK_FILE_ROWS = """
SELECT l.seq, l.name, l.id_cipher, l.account_cipher, l.bank_name, l.amount, r.name
FROM disbursements_paymentline l
JOIN disbursements_entitlement e ON e.id = l.entitlement_id
JOIN programs_subsidyrule r ON r.id = e.rule_id
WHERE l.batch_id = {batch_id} AND l.seq BETWEEN {lo} AND {hi}
ORDER BY l.seq
"""
# A batch file's lines, streamed (disbursements.services.file_stream): the columns as
# stored, for the worker processes to decrypt, quote and hash (text built here, with a
# CASE and a regex per cell, cost the database twice the time of the plain columns, and
# the database is the one process that cannot be split), and whether each line's amount
# is its entitlement's. {range}: the seqs of one range (file_stream).
FILE_STREAM = """
SELECT l.seq, l.entitlement_id, l.amount, l.name, l.id_cipher, l.account_cipher, l.bank_name, r.name,
       l.amount = e.amount
FROM disbursements_paymentline l
JOIN disbursements_entitlement e ON e.id = l.entitlement_id
JOIN programs_subsidyrule r ON r.id = e.rule_id
WHERE l.batch_id = %(batch_id)s AND {range}
ORDER BY l.seq
"""

# --------------------------------------------------------------------------- bank results

BANK_RESULTS_DROP = "DROP TABLE IF EXISTS tmp_bank_results"
BANK_RESULTS_CREATE = (
    "CREATE TEMP TABLE tmp_bank_results"
    " (seq integer PRIMARY KEY, status varchar(10), reason varchar(200), bankref varchar(60))"
)
BANK_RESULTS_COPY = "COPY tmp_bank_results FROM STDIN WITH (FORMAT csv)"
BANK_RESULTS_INSERT = "INSERT INTO tmp_bank_results VALUES (%s, %s, %s, %s)"  # executemany: (seq, status, reason, ref)
CHANGED_LINES_DROP = "DROP TABLE IF EXISTS tmp_changed_lines"
CHANGED_LINES_CREATE = "CREATE TEMP TABLE tmp_changed_lines (id bigint PRIMARY KEY)"
# The batch's pending lines the result file names: the ones the update below changes.
CHANGED_LINES_FILL = """
INSERT INTO tmp_changed_lines (id)
SELECT l.id FROM disbursements_paymentline l JOIN tmp_bank_results t ON t.seq = l.seq
WHERE l.batch_id = %(batch_id)s AND l.status = 'pending'
"""
# Only pending lines change: importing the same file again changes nothing.
BANK_RESULTS_APPLY = """
UPDATE disbursements_paymentline
SET status = t.status, failure_reason = COALESCE(t.reason, ''), bank_reference = COALESCE(t.bankref, ''),
    updated_at = %(now)s
FROM tmp_bank_results t
WHERE disbursements_paymentline.batch_id = %(batch_id)s AND disbursements_paymentline.seq = t.seq
  AND disbursements_paymentline.status = 'pending'
"""
# One audit row per changed line. {object_id}, {changes}: the database's cast and JSON.
BANK_RESULTS_AUDIT = """
INSERT INTO accounts_auditentry (at, user_id, action, object_type, object_id, changes, comment)
SELECT %(now)s, %(user_id)s, 'line_result', 'disbursements.paymentline', {object_id}, {changes}, %(comment)s
FROM disbursements_paymentline l JOIN tmp_changed_lines c ON c.id = l.id
"""
BANK_RESULTS_AUDIT_PG = BANK_RESULTS_AUDIT.format(
    object_id="l.id::text",
    changes="json_build_object('status', json_build_array('pending', l.status), 'reason', l.failure_reason)::jsonb",
)
BANK_RESULTS_AUDIT_OTHER = BANK_RESULTS_AUDIT.format(
    object_id="CAST(l.id AS TEXT)",
    changes="json_object('status', json_array('pending', l.status), 'reason', l.failure_reason)",
)
BANK_RESULTS_CLEANUP = ("DROP TABLE tmp_changed_lines", "DROP TABLE tmp_bank_results")

# --------------------------------------------------------------------------- fraud signals

# The account blind index, one upsert per chunk (psycopg2's execute_values fills VALUES %s
# with (registration_id, programme_id, account_hash, registration_updated_at) rows).
ACCOUNT_INDEX_UPSERT = (
    "INSERT INTO disbursements_accountindex"
    " (registration_id, programme_id, account_hash, registration_updated_at) VALUES %s"
    " ON CONFLICT (registration_id) DO UPDATE SET account_hash = EXCLUDED.account_hash,"
    " registration_updated_at = EXCLUDED.registration_updated_at"
)
ACCOUNT_INDEX_ANALYZE = "ANALYZE disbursements_accountindex"
