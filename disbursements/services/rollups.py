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
from accounts.services.job_recovery import job_start_unless_waiting
from accounts.services.jobs import JOB_TASKS, job_start_after_commit
from beneficiaries.models import Employer, Registration
from disbursements import sql
from disbursements.models import CapRefusal, Entitlement, Overpayment, PaymentLine, RegionRollup, RuleRollup
from programs.choices import ProgrammeStatus
from programs.models import Programme, SubsidyRule, SurveyReport
from programs.surveys.fields import DATA_FIELDS
from regions.models import Region

# Sent by the Celery tasks (disbursements.tasks) after a refresh, with programme_id:
# the dashboards (portal, a higher layer) warm their cached panels on it.
rollups_refreshed = Signal()

# pg_advisory_xact_lock(namespace, programme_id): two refreshes of one programme queue up
# instead of deleting each other's rows half way.
LOCK_NAMESPACE = 7306

SURVEY_SUMS = DATA_FIELDS  # the survey's figures: one list, in programs.surveys.fields
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
    district_sql = sql.ROLLUP_DISTRICTS.format(
        survey_sums=", ".join(f"SUM(s.{c}) AS {c}" for c in SURVEY_SUMS),
        survey_cols=", ".join(SURVEY_SUMS),
        survey_vals=", ".join(f"COALESCE(sv.{c}, 0)" for c in SURVEY_SUMS),
        money_cols=", ".join(MONEY_SUMS),
        **t,
    )
    upper_sql = sql.ROLLUP_UPPER.format(
        summed_cols=", ".join(SUMMED), summed_vals=", ".join(f"SUM(x.{c})" for c in SUMMED), **t
    )
    step = progress or (lambda n: None)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(sql.ROLLUP_LOCK, {"namespace": LOCK_NAMESPACE, "programme_id": programme.pk})
            # These are whole-table aggregations: hash joins are always the right plan. Without
            # fresh statistics (rows just loaded, not yet analyzed) the planner picks nested
            # loops over "empty" tables and a refresh of ten thousand rows takes minutes.
            cursor.execute(sql.NESTLOOP_OFF)
        cursor.execute(sql.RULE_ROLLUPS_DELETE, {"programme_id": programme.pk})
        cursor.execute(sql.ROLLUPS_DELETE, {"programme_id": programme.pk})
        cursor.execute(district_sql, params)
        districts = cursor.rowcount
        step(1)
        cursor.execute(upper_sql, params)
        step(2)
        cursor.execute(sql.RULE_ROLLUP_DISTRICTS.format(**t), params)
        step(3)
        cursor.execute(sql.RULE_ROLLUP_UPPER.format(**t), params)
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
