"""Dashboard rollups: a programme's figures per region, rebuilt by set-based SQL.

`rollups_refresh(programme=…)` replaces the programme's RegionRollup and RuleRollup
rows in one transaction:

1. one row per district of the programme's region, by INSERT … SELECT with a GROUP BY
   over each source (registrations, employers, entitlements, payment lines and the
   latest approved survey report of each district);
2. one row per city and for the province: the sums of the district rows below them
   (a join on the materialized path), so every level adds up exactly.

It reads every app's tables, which only disbursements may do (the highest data app).
Dashboards read these few hundred rows instead of scanning a million registrations;
Celery keeps them current (disbursements.tasks: on change and by beat).

Definitions (per programme; "entitled" counts programme-paid rules only, employer-funded
rules are counted apart; an entitlement's payment state is its best line: paid, else
pending, else failed):
    registered_workers   active registrations
    employers            employers in the district (verified: employers_verified)
    entitled             granted entitlements, channel ≠ employer: base rows, top-ups (补差) and
                         recoveries (追回, negative; also apart as adjusted); counts leave
                         recoveries out
    refused              people a budget cap turned away (预算已用完), at their rule's amount
    overpaid             open 多发/待核查 items
    batched              entitlements with at least one payment line = pending + paid + failed
    paid / pending       best line paid / pending
    failed               every line failed and none re-issued yet
So entitled = paid + pending + failed + not yet batched + adjusted, to the fen.

Works on PostgreSQL (advisory lock against two refreshes at once) and on SQLite (the
zero-setup `make run`).
"""

from django.db import connection, transaction
from django.dispatch import Signal
from django.utils import timezone

from accounts.choices import JobKind
from accounts.models import Job
from accounts.services import JOB_TASKS, job_start_after_commit, job_start_unless_waiting
from beneficiaries.models import Employer, Registration
from disbursements.models import CapRefusal, Entitlement, Overpayment, PaymentLine, RegionRollup, RuleRollup
from programs.choices import ProgrammeStatus
from programs.models import Programme, SubsidyRule, SurveyReport
from regions.models import Region

# Sent by the Celery tasks (disbursements.tasks) after a refresh, with programme_id:
# the dashboards (portal, a higher layer) warm their cached panels on it.
rollups_refreshed = Signal()

# pg_advisory_xact_lock(namespace, programme_id): two refreshes of one programme queue up
# instead of deleting each other's rows half way.
LOCK_NAMESPACE = 7306

SURVEY_SUMS = [
    "enterprises_surveyed",
    "outside_workers",
    "outside_other_province",
    "outside_other_city",
    "outside_other_county",
    "staying",
    "staying_on_duty",
    "staying_local",
    "staying_nonlocal",
    "poverty_staying",
    "enterprises_with_benefits",
    "benefits_amount",
]
MONEY_SUMS = [
    "employers",
    "employers_verified",
    "registered_workers",
    "entitled_count",
    "entitled_amount",
    "employer_funded_count",
    "employer_funded_amount",
    "batched_count",
    "batched_amount",
    "pending_count",
    "pending_amount",
    "paid_count",
    "paid_amount",
    "failed_count",
    "failed_amount",
    "adjusted_amount",
    "refused_count",
    "refused_amount",
    "overpaid_count",
    "overpaid_amount",
]
SUMMED = ["survey_districts", *SURVEY_SUMS, *MONEY_SUMS]


def _tables() -> dict:
    return {
        "region": Region._meta.db_table,
        "survey": SurveyReport._meta.db_table,
        "registration": Registration._meta.db_table,
        "employer": Employer._meta.db_table,
        "entitlement": Entitlement._meta.db_table,
        "line": PaymentLine._meta.db_table,
        "rule": SubsidyRule._meta.db_table,
        "rollup": RegionRollup._meta.db_table,
        "rulerollup": RuleRollup._meta.db_table,
        "refusal": CapRefusal._meta.db_table,
        "overpayment": Overpayment._meta.db_table,
    }


DISTRICT_SQL = """
WITH d AS (
    SELECT code, path FROM {region} WHERE level = 'district' AND path LIKE %(prefix)s
), sv AS (
    SELECT s.district_id, MAX(s.as_of) AS as_of, COUNT(*) AS n,
           {survey_sums}
    FROM {survey} s
    WHERE s.programme_id = %(pid)s AND s.status IN ('approved', 'locked')
      AND s.as_of = (SELECT MAX(s2.as_of) FROM {survey} s2
                     WHERE s2.programme_id = s.programme_id AND s2.district_id = s.district_id
                       AND s2.status IN ('approved', 'locked'))
    GROUP BY s.district_id
), reg AS (
    SELECT district_id, COUNT(*) AS n FROM {registration}
    WHERE programme_id = %(pid)s AND status = 'active' GROUP BY district_id
), emp AS (
    SELECT district_id, COUNT(*) AS n, COUNT(*) FILTER (WHERE status = 'verified') AS v
    FROM {employer} GROUP BY district_id
), ent AS (
    SELECT district_id,
           COUNT(*) FILTER (WHERE channel <> 'employer' AND kind <> 'adjustment') AS n,
           SUM(amount) FILTER (WHERE channel <> 'employer') AS amt,
           SUM(amount) FILTER (WHERE channel <> 'employer' AND kind = 'adjustment') AS adj,
           COUNT(*) FILTER (WHERE channel = 'employer') AS en,
           SUM(amount) FILTER (WHERE channel = 'employer') AS eamt
    FROM {entitlement} WHERE programme_id = %(pid)s AND status = 'granted' GROUP BY district_id
), best AS (
    SELECT l.entitlement_id,
           MAX(CASE l.status WHEN 'paid' THEN 3 WHEN 'pending' THEN 2 ELSE 1 END) AS st,
           MAX(l.amount) AS amt
    FROM {line} l GROUP BY l.entitlement_id
), pay AS (
    SELECT e.district_id,
           COUNT(*) AS bn, SUM(b.amt) AS bamt,
           COUNT(*) FILTER (WHERE b.st = 3) AS pdn, SUM(b.amt) FILTER (WHERE b.st = 3) AS pdamt,
           COUNT(*) FILTER (WHERE b.st = 2) AS pnn, SUM(b.amt) FILTER (WHERE b.st = 2) AS pnamt,
           COUNT(*) FILTER (WHERE b.st = 1) AS fn, SUM(b.amt) FILTER (WHERE b.st = 1) AS famt
    FROM best b JOIN {entitlement} e ON e.id = b.entitlement_id
    WHERE e.programme_id = %(pid)s AND e.status = 'granted' AND e.channel <> 'employer'
    GROUP BY e.district_id
), refused AS (
    SELECT district_id, COUNT(*) AS n, SUM(amount) AS amt FROM {refusal}
    WHERE programme_id = %(pid)s GROUP BY district_id
), over AS (
    SELECT district_id, COUNT(*) AS n, SUM(amount) AS amt FROM {overpayment}
    WHERE programme_id = %(pid)s AND status = 'open' GROUP BY district_id
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

UPPER_SQL = """
INSERT INTO {rollup} (programme_id, region_id, level, path, refreshed_at, survey_as_of, {summed_cols})
SELECT %(pid)s, r.code, r.level, r.path, %(now)s, MAX(x.survey_as_of), {summed_vals}
FROM {region} r
JOIN {rollup} x ON x.programme_id = %(pid)s AND x.level = 'district' AND x.path LIKE r.path || '%%'
WHERE r.level <> 'district' AND r.path LIKE %(prefix)s
GROUP BY r.code, r.level, r.path
"""

RULE_DISTRICT_SQL = """
WITH best AS (
    SELECT l.entitlement_id, MAX(CASE l.status WHEN 'paid' THEN 3 WHEN 'pending' THEN 2 ELSE 1 END) AS st,
           MAX(l.amount) AS amt
    FROM {line} l GROUP BY l.entitlement_id
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
WHERE e.programme_id = %(pid)s AND e.status = 'granted'
GROUP BY e.district_id, e.rule_key
"""

RULE_UPPER_SQL = """
INSERT INTO {rulerollup} (programme_id, region_id, rule_key, rule_name, kind, entitled_count, entitled_amount,
                          paid_count, paid_amount, refreshed_at)
SELECT %(pid)s, r.code, x.rule_key, MAX(x.rule_name), MAX(x.kind), SUM(x.entitled_count), SUM(x.entitled_amount),
       SUM(x.paid_count), SUM(x.paid_amount), %(now)s
FROM {region} r
JOIN {rulerollup} x ON x.programme_id = %(pid)s
JOIN {region} d ON d.code = x.region_id AND d.level = 'district' AND d.path LIKE r.path || '%%'
WHERE r.level <> 'district' AND r.path LIKE %(prefix)s
GROUP BY r.code, x.rule_key
"""


def _programme(programme) -> Programme:
    if isinstance(programme, Programme):
        return programme
    return Programme.objects.select_related("region").get(pk=programme)


ROLLUP_STEPS = 4  # the statements of a refresh, for a job's progress


def rollups_refresh(*, programme, progress=None) -> dict:
    """Rebuild the programme's rollups (RegionRollup, RuleRollup). Idempotent; safe to
    call from any job that changed registrations, entitlements, batches or lines."""
    programme = _programme(programme)
    t = _tables()
    now = timezone.now()
    params = {"pid": programme.pk, "now": now, "prefix": programme.region.path + "%"}
    district_sql = DISTRICT_SQL.format(
        survey_sums=", ".join(f"SUM(s.{c}) AS {c}" for c in SURVEY_SUMS),
        survey_cols=", ".join(SURVEY_SUMS),
        survey_vals=", ".join(f"COALESCE(sv.{c}, 0)" for c in SURVEY_SUMS),
        money_cols=", ".join(MONEY_SUMS),
        **t,
    )
    upper_sql = UPPER_SQL.format(
        summed_cols=", ".join(SUMMED), summed_vals=", ".join(f"SUM(x.{c})" for c in SUMMED), **t
    )
    step = progress or (lambda n: None)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, programme.pk])
            # These are whole-table aggregations: hash joins are always the right plan. Without
            # fresh statistics (rows just loaded, not yet analyzed) the planner picks nested
            # loops over "empty" tables and a refresh of ten thousand rows takes minutes.
            cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(f"DELETE FROM {t['rulerollup']} WHERE programme_id = %s", [programme.pk])  # noqa: S608
        cursor.execute(f"DELETE FROM {t['rollup']} WHERE programme_id = %s", [programme.pk])  # noqa: S608
        cursor.execute(district_sql, params)
        districts = cursor.rowcount
        step(1)
        cursor.execute(upper_sql, params)
        step(2)
        cursor.execute(RULE_DISTRICT_SQL.format(**t), params)
        step(3)
        cursor.execute(RULE_UPPER_SQL.format(**t), params)
        step(4)
    return {
        "programme": programme.code,
        "programme_id": programme.pk,
        "districts": districts,
        "refreshed_at": now.isoformat(),
    }


def rollups_refresh_all() -> list[dict]:
    """Every programme that is not a draft (beat runs this)."""
    return [
        rollups_refresh(programme=p)
        for p in Programme.objects.exclude(status=ProgrammeStatus.DRAFT).select_related("region")
    ]


def rollups_job_start(programme_id: int) -> Job:
    """Queue a refresh of the programme's rollups, unless one is already queued (a
    running one may have read the rows before this change: a new one is queued). The
    task is found by its job kind (disbursements.tasks registers it), so that the
    services that change figures need not import the task module."""
    return job_start_unless_waiting(
        kind=JobKind.REFRESH_ROLLUPS,
        task=JOB_TASKS[JobKind.REFRESH_ROLLUPS],
        params={"programme_id": programme_id},
        message="刷新统计",
    )


def rollups_refresh_soon(programme_id: int) -> None:
    """Refresh the programme's rollups once the current transaction commits (so the
    job reads the rows that triggered it). Not queued while the database or Redis
    restarts: beat's rollups_refresh_all refreshes the figures within its period."""
    job_start_after_commit(lambda: rollups_job_start(programme_id), what=f"rollups of programme {programme_id}")
