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

Fresh, not rebuilt: a change marks the districts it touched (`rollups_mark`: a
RollupDirty row written in the change's transaction) and queues one catch-up job
(`rollups_catch_up_start`, after commit; beat starts it too, so a lost message costs
at most the beat period). The catch-up (disbursements.services.freshness) refreshes
only the marked districts, their cities and the province (`rollups_refresh(districts=…)`).
The whole refresh stays for the 10-minute safety net and whoever changes everything
at once (a programme's computation, an import).
"""

import json
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection, transaction
from django.dispatch import Signal
from django.utils import timezone

from accounts.choices import JobKind, JobState
from accounts.models import Job
from accounts.services.job_recovery import job_start_unless_waiting
from accounts.services.jobs import JOB_TASKS, job_start_after_commit
from beneficiaries.models import Employer, Registration
from disbursements import sql
from disbursements.models import (
    CapRefusal,
    Entitlement,
    Overpayment,
    PaymentLine,
    RecomputeMark,
    RegionRollup,
    RollupDirty,
    RuleRollup,
)
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

_WHOLE = dict.fromkeys(("only_rows", "only_code", "only_s", "only", "only_e", "best_join", "only_upper"), "")


def only_fragments(programme: Programme, districts: list[str] | None) -> tuple[dict, dict]:
    """The {only…} fragments of the rollup statements (disbursements.sql) and their
    parameters: empty for the whole programme; else IN lists of `districts` and of the
    regions above them up to the programme's region (their sums change with them)."""
    if districts is None:
        return _WHOLE, {}
    paths = Region.objects.filter(code__in=districts, path__startswith=programme.region.path).values_list(
        "path", flat=True
    )
    codes = sorted({p[i : i + 6] for p in paths for i in range(0, len(p), 7)})
    below = sorted(set(districts))
    upper = [c for c in codes if c not in below] or ["-"]  # "-": no region has it (an empty IN is not SQL)
    params = {f"only_d{i}": code for i, code in enumerate(below or ["-"])}
    params |= {f"only_u{i}": code for i, code in enumerate(upper)}
    d_list = ", ".join(f"%({k})s" for k in params if k.startswith("only_d"))
    u_list = ", ".join(f"%({k})s" for k in params if k.startswith("only_u"))
    fragments = {
        "only_rows": f" AND (region_id IN ({d_list}) OR region_id IN ({u_list}))",
        "only_code": f" AND code IN ({d_list})",
        "only_s": f" AND s.district_id IN ({d_list})",
        "only": f" AND district_id IN ({d_list})",
        "only_e": f" AND e.district_id IN ({d_list})",
        "best_join": (
            f" JOIN {Entitlement._meta.db_table} be ON be.id = l.entitlement_id"
            f" AND be.programme_id = %(pid)s AND be.district_id IN ({d_list})"
        ),
        "only_upper": f" AND r.code IN ({u_list})",
    }
    return fragments, params


def rollups_refresh(*, programme, districts: Iterable[str] | None = None, progress=None) -> dict:
    """Rebuild the programme's rollups (RegionRollup, RuleRollup), or only those of
    `districts` and of the regions above them (the rows of every other district are
    left as they are). Idempotent; safe to call from any job that changed
    registrations, entitlements, batches or lines. The delete and the inserts are one
    transaction: a reader sees the old rows or the new ones, never none."""
    programme = _programme(programme)
    districts = None if districts is None else sorted(set(districts))
    if districts is not None and not RegionRollup.objects.filter(programme=programme, level="district").exists():
        # Never refreshed whole: the cities' sums need every district's row first.
        districts = None
    t = _tables()
    now = timezone.now()
    only, only_params = only_fragments(programme, districts)
    params = {"pid": programme.pk, "now": now, "prefix": programme.region.path + "%", **only_params}
    district_sql = sql.ROLLUP_DISTRICTS.format(
        survey_sums=", ".join(f"SUM(s.{c}) AS {c}" for c in SURVEY_SUMS),
        survey_cols=", ".join(SURVEY_SUMS),
        survey_vals=", ".join(f"COALESCE(sv.{c}, 0)" for c in SURVEY_SUMS),
        money_cols=", ".join(MONEY_SUMS),
        **t,
        **only,
    )
    upper_sql = sql.ROLLUP_UPPER.format(
        summed_cols=", ".join(SUMMED), summed_vals=", ".join(f"SUM(x.{c})" for c in SUMMED), **t, **only
    )
    step = progress or (lambda n: None)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(sql.ROLLUP_LOCK, {"namespace": LOCK_NAMESPACE, "programme_id": programme.pk})
            # These are whole-table aggregations: hash joins are always the right plan. Without
            # fresh statistics (rows just loaded, not yet analyzed) the planner picks nested
            # loops over "empty" tables and a refresh of ten thousand rows takes minutes.
            # A few districts' refresh reads their rows through the indexes instead.
            for statement in [sql.NESTLOOP_OFF] if districts is None else sql.INDEXES_ONLY:
                cursor.execute(statement)
        # Read under the lock: the marks this refresh covers, deleted with its rows.
        marks = RollupDirty.objects.filter(programme=programme)
        if districts is not None:
            marks = marks.filter(district_id__in=districts)
        mark_ids = list(marks.values_list("id", flat=True))
        delete_params = {"programme_id": programme.pk, **only_params}
        cursor.execute(sql.RULE_ROLLUPS_DELETE.format(**only), delete_params)
        cursor.execute(sql.ROLLUPS_DELETE.format(**only), delete_params)
        cursor.execute(district_sql, params)
        refreshed = cursor.rowcount
        if refreshed < 0:  # SQLite gives no count for INSERT … SELECT
            rows = RegionRollup.objects.filter(programme=programme, level="district")
            refreshed = (rows if districts is None else rows.filter(region_id__in=districts)).count()
        step(1)
        cursor.execute(upper_sql, params)
        step(2)
        cursor.execute(sql.RULE_ROLLUP_DISTRICTS.format(**t, **only), params)
        step(3)
        cursor.execute(sql.RULE_ROLLUP_UPPER.format(**t, **only), params)
        step(4)
        RollupDirty.objects.filter(id__in=mark_ids).delete()
    return {
        "programme": programme.code,
        "programme_id": programme.pk,
        "districts": refreshed,
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


def rollups_refresh_soon(programme_id: int, *, districts: Iterable[str] | None = None) -> None:
    """Refresh the programme's rollups once the current transaction commits (so the
    job reads the rows that triggered it): only `districts` when given (marked, then
    the catch-up job), else the whole programme. Not queued while the database or
    Redis restarts: beat starts the catch-up, and refreshes everything, within its
    periods."""
    if districts is not None:
        rollups_mark(programme_ids=[programme_id], districts=districts)
        return
    job_start_after_commit(lambda: rollups_job_start(programme_id), what=f"rollups of programme {programme_id}")


# --- marks and the catch-up job ----------------------------------------------------------

CATCH_UP = {"catch_up": True}  # the catch-up job's params: one job for every programme


def _programmes_of(programme_ids, districts: list[str]) -> list[int]:
    """The programmes a change counts in: the given ones, or (None: an employer, which
    belongs to no programme) every programme but drafts whose region holds a district."""
    if programme_ids is not None:
        return sorted(set(programme_ids))
    paths = list(Region.objects.filter(code__in=districts).values_list("path", flat=True))
    return sorted(
        p.pk
        for p in Programme.objects.exclude(status=ProgrammeStatus.DRAFT).select_related("region")
        if any(path.startswith(p.region.path) for path in paths)
    )


def rollups_mark(
    *,
    programme_ids: Iterable[int] | None,
    districts: Iterable[str],
    person_ids: Iterable[int] = (),
    recompute: bool = False,
) -> int:
    """Note, in the current transaction, that `districts` changed in these programmes
    (None: every programme holding them): their rollup rows are refreshed by the
    catch-up job, queued once this commits. `person_ids`: these people's entitlements
    are computed again first (an edited registration or person); `recompute`: every
    entitlement of the districts is (an employer's status or details changed). Returns
    how many programmes were marked."""
    districts = sorted({d for d in districts if d})
    if not districts:
        return 0
    programmes = _programmes_of(None if programme_ids is None else list(programme_ids), districts)
    now = timezone.now()
    people = sorted(set(person_ids))
    RollupDirty.objects.bulk_create(
        [RollupDirty(programme_id=p, district_id=d, marked_at=now) for p in programmes for d in districts]
    )
    marks = []
    for p in programmes:
        if recompute:
            marks += [RecomputeMark(programme_id=p, district_id=d, marked_at=now) for d in districts]
        marks += [RecomputeMark(programme_id=p, district_id=districts[0], person_id=x, marked_at=now) for x in people]
    RecomputeMark.objects.bulk_create(marks)
    if programmes:
        rollups_catch_up_soon()
    return len(programmes)


def rollups_catch_up_start() -> Job:
    """Queue the catch-up job unless one is waiting (a burst of changes queues one; a
    running one may have read the marks before this change, so a new one is queued)."""
    return job_start_unless_waiting(
        kind=JobKind.REFRESH_ROLLUPS,
        task=JOB_TASKS[JobKind.REFRESH_ROLLUPS],
        params=CATCH_UP,
        message="刷新变更区县的统计",
    )


# Set while the catch-up itself runs: the marks its computations write are refreshed by
# the same run (its second step), so they queue no other catch-up (in-process, that one
# would start inside this one and read the same marks, again and again).
_catching_up: ContextVar[bool] = ContextVar("rollups_catching_up", default=False)


@contextmanager
def rollups_catching_up():
    token = _catching_up.set(True)
    try:
        yield
    finally:
        _catching_up.reset(token)


def rollups_catch_up_soon() -> None:
    """The catch-up job, once the current transaction commits (its marks are visible):
    once per transaction, however many changes it marks (a demo or a bulk edit would
    otherwise queue, in-process, one catch-up per change), and not from the catch-up."""
    if _catching_up.get():
        return
    waiting = getattr(connection, "_rollups_catch_up", None)
    if (
        connection.in_atomic_block
        and waiting is not None
        and not waiting.ran
        and any(f is waiting for _ids, f, _robust in connection.run_on_commit)
    ):
        return  # this transaction's callback is registered and still to run

    def start() -> None:
        # Committed now: job_start_after_commit queues at once, with its handling of a
        # broker or database that is restarting.
        start.ran = True
        job_start_after_commit(rollups_catch_up_start, what="rollups catch-up")

    start.ran = False
    connection._rollups_catch_up = start  # a rolled back transaction drops it from run_on_commit
    transaction.on_commit(start)


def rollups_pending(*, programme: Programme, region: Region) -> bool:
    """Whether a change under `region` is not yet in its rollup rows: a district marked
    and not yet refreshed, or a whole refresh of the programme waiting or running
    (what the dashboard says beside "数据更新于"). One query: it runs on every request."""
    params = {
        "programme_id": programme.pk,
        "path": region.path + "%",
        "kind": JobKind.REFRESH_ROLLUPS,
        "queued": JobState.QUEUED,
        "running": JobState.RUNNING,
        "params": json.dumps({"programme_id": programme.pk}),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql.ROLLUP_PENDING, params)
        dirty, whole = cursor.fetchone()
    return bool(dirty or whole)
