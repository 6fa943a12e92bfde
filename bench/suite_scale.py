"""Scale-out: entitlement throughput at 1, 2 and 4 worker processes (issue #12, point 6).

`python -m bench scale` (never part of a plain `python -m bench`: it is the big one).

* A synthetic population of BENCH_SCALE_N registrations (default 10,000,000), generated
  in SQL (generate_series) straight into the real tables and spread evenly over every
  Hebei district, under one province-wide programme with two rules: ¥500 for workers
  whose hukou is outside the province (half of them), ¥300 relief for hardship people
  (one in ten).
* For each worker count W in BENCH_SCALE_WORKERS (default 1,2,4): the entitlements are
  emptied, a compute Job is opened as `compute_entitlements_task` opens a fanned-out one,
  and W forked processes take the districts one at a time from a shared queue (what W
  Celery worker processes with prefetch 1 do) and run `compute_district_task`, the task
  a real worker runs for a district: the district's transaction, its heartbeat, and the
  Job row's bookkeeping. The wall time runs from the first fork to the Job closing.
  The rollup refresh each district queues is created as a Job row but not sent (no
  broker here): it is a separate job on the compute queue, not part of the computation.
* The floor: the same rows by one CREATE UNLOGGED TABLE … AS in one backend.
* Also measured: the machine's CPU busy share during each run (from /proc/stat: on two
  cores the curve flattens when it reaches 100 %), the worker processes' own CPU, and
  the disk the population takes (pg_total_relation_size) per million registrations,
  for docs/scaling.md.

The curve is printed as measured and written as JSON to BENCH_SCALE_JSON (default
`scale.json` in the bench's temporary folder).
"""

import json
import multiprocessing
import os
import resource
import time
from pathlib import Path

from bench.core import Figure, load_average

PROGRAMME = "BENCH-SCALE"
EMPLOYERS_PER = 100  # registrations per employer
FLOOR_NAME = "CTAS UNLOGGED, one backend"
TABLES = (
    "beneficiaries_person",
    "beneficiaries_employer",
    "beneficiaries_registration",
    "disbursements_entitlement",
)

# The same rows as the two rules, for the floor.
FLOOR_SQL = """
CREATE UNLOGGED TABLE bench_scale_floor AS
SELECT r.programme_id, ru.id AS rule_id, ru.rule_key, r.person_id, r.id AS registration_id, r.district_id,
       ru.channel, ru.amount, 'granted' AS status, now() AS computed_at
FROM beneficiaries_registration r
JOIN beneficiaries_person p ON p.id = r.person_id
JOIN beneficiaries_employer e ON e.id = r.employer_id
JOIN programs_subsidyrule ru ON ru.programme_id = r.programme_id
 AND ((ru.rule_key = 'SCALE-CASH' AND substr(p.hukou_code, 1, 2) <> substr(r.district_id, 1, 2))
   OR (ru.rule_key = 'SCALE-RELIEF' AND r.category = 'hardship'))
WHERE r.programme_id = %s AND r.status = 'active' AND e.status = 'verified'
"""


def _populate(cur, n: int, programme_id: int) -> list[str]:
    """N persons and registrations, N / 100 employers, every district the same share."""
    cur.execute("SELECT code FROM regions_region WHERE level = 'district' AND code LIKE '13%%' ORDER BY code")
    districts = [r[0] for r in cur.fetchall()]
    cur.execute("DROP TABLE IF EXISTS bench_scale_district")
    cur.execute("CREATE TEMP TABLE bench_scale_district (i int PRIMARY KEY, code text)")
    cur.executemany("INSERT INTO bench_scale_district VALUES (%s, %s)", list(enumerate(districts)))
    nd, ne = len(districts), max(len(districts), n // EMPLOYERS_PER)
    # Employer k (1 … ne) is in district k mod nd; worker g works for employer g mod ne + 1.
    cur.execute(
        "INSERT INTO beneficiaries_employer (credit_code, name, ownership, district_id, industry, address,"
        " contact_name, contact_phone, status, return_reason, verified_at, created_at)"
        " SELECT 'SCALE' || lpad(k::text, 13, '0'), '规模企业' || k, 'private', d.code, '', '', '', '', 'verified', '',"
        " now(), now() FROM generate_series(1, %s) k JOIN bench_scale_district d ON d.i = k %% %s ORDER BY k",
        [ne, nd],
    )
    cur.execute("SELECT min(id) FROM beneficiaries_employer WHERE credit_code LIKE 'SCALE%%'")
    first_employer = cur.fetchone()[0]
    # Half the workers from outside Hebei, half local (their stay district's code).
    cur.execute(
        "INSERT INTO beneficiaries_person (id_hash, id_cipher, id_masked, name, sex, hukou_code_raw, hukou_code,"
        " created_at)"
        " SELECT md5('scale' || g), 'bench', '000000********0000', 'w' || g, 'M', h, h, now()"
        " FROM (SELECT g, CASE WHEN g %% 2 = 0 THEN '410102' ELSE d.code END AS h"
        "       FROM generate_series(1, %s) g JOIN bench_scale_district d ON d.i = (g %% %s + 1) %% %s) s ORDER BY g",
        [n, ne, nd],
    )
    cur.execute(
        "SELECT min(id), max(id) FROM beneficiaries_person WHERE id_hash = md5('scale1') OR id_hash = md5(%s)",
        [f"scale{n}"],
    )
    first_person, last_person = cur.fetchone()
    if last_person - first_person + 1 != n:  # one statement on a private database: contiguous ids
        raise RuntimeError(f"persons are not numbered contiguously ({first_person}…{last_person} for {n})")
    cur.execute(
        "INSERT INTO beneficiaries_registration (person_id, programme_id, employer_id, district_id, start_date, end_date,"
        " duty_days, seniority_years, category, bank_name, account_cipher, account_masked, status, status_note, source,"
        " created_at, updated_at)"
        " SELECT %s + g - 1, %s, %s + g %% %s, d.code, '2021-01-25', '2021-03-01', g %% 8, g %% 12,"
        " CASE WHEN g %% 10 = 3 THEN 'hardship' ELSE 'migrant' END, '', '', '', 'active', '', 'import', now(), now()"
        " FROM generate_series(1, %s) g JOIN bench_scale_district d ON d.i = (g %% %s + 1) %% %s ORDER BY g",
        [first_person, programme_id, first_employer, ne, n, ne, nd],
    )
    for table in TABLES[:3]:
        cur.execute(f"ANALYZE {table}")
    return districts


def _programme():
    from programs.models import Programme, SubsidyRule

    programme, _ = Programme.objects.get_or_create(
        code=PROGRAMME,
        defaults=dict(
            name="基准：全省规模",
            region_id="130000",
            start_date="2021-01-21",
            end_date="2021-03-31",
            holiday_start="2021-02-11",
            holiday_end="2021-02-17",
            registration_deadline="2021-02-28",
            budget=0,
            status="active",
        ),
    )
    for key, kind, amount, conditions in (
        ("SCALE-CASH", "cash", "500.00", {"hukou_outside": "province"}),
        ("SCALE-RELIEF", "relief", "300.00", {"category_in": ["hardship"]}),
    ):
        SubsidyRule.objects.get_or_create(
            programme=programme,
            rule_key=key,
            version=1,
            defaults=dict(
                name=f"规模基准（{key}）",
                region_id="130000",
                kind=kind,
                amount=amount,
                channel="bank_card",
                conditions=conditions,
                status="active",
            ),
        )
    return programme


def _empty_entitlements(cur) -> None:
    cur.execute(
        "TRUNCATE disbursements_entitlement, disbursements_entitlementcomputestate, disbursements_caprefusal CASCADE"
    )
    cur.execute("VACUUM ANALYZE disbursements_entitlement")


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _backend_cpu_seconds(pid: int) -> float:
    """CPU time of a PostgreSQL backend (same machine), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker(codes, job_id: int, backend_cpu) -> None:
    """One forked worker process: districts from the shared queue until it is empty,
    each through the task a Celery worker runs for it. Reports its PostgreSQL backend's
    CPU time (the database's share of the work) on `backend_cpu`."""
    from celery import current_app
    from django.conf import settings
    from django.db import connection, connections

    from disbursements.tasks import compute_district_task

    # The rollup refresh a district queues: its Job row is written, its message goes nowhere.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    current_app.amqp.send_task_message = lambda *args, **kwargs: None
    try:
        while (code := codes.get()) is not None:
            compute_district_task(job_id, code)
        connection.ensure_connection()
        backend_cpu.put(_backend_cpu_seconds(connection.connection.get_backend_pid()))
    finally:
        connections.close_all()


def _open_job(programme, districts: list[str]) -> int:
    """A compute Job as `compute_entitlements_task` leaves a fanned-out one: claimed
    (running), its total the districts, nothing done yet."""
    from django.utils import timezone

    from accounts.choices import JobKind, JobState
    from accounts.models import Job

    job = Job.objects.create(
        kind=JobKind.COMPUTE,
        state=JobState.RUNNING,
        params={"programme_id": programme.pk, "programme": programme.code, "district": None, "force": False},
        progress_total=len(districts),
        result={"done": {}},
        attempts=1,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        message="基准：已分派",
    )
    return job.pk


def _run_with(workers: int, programme, districts: list[str]) -> dict:
    from django.db import connection, connections

    from accounts.models import Job

    with connection.cursor() as cur:
        _empty_entitlements(cur)
    job_id = _open_job(programme, districts)
    connections.close_all()  # the children open their own connections
    mp = multiprocessing.get_context("fork")
    codes = mp.Queue()
    # Largest first would help uneven districts; these are even, so in code order.
    for code in districts:
        codes.put(code)
    for _ in range(workers):
        codes.put(None)
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, total0 = _cpu_ticks()
    started = time.perf_counter()
    backend_cpu = mp.Queue()
    procs = [mp.Process(target=_worker, args=(codes, job_id, backend_cpu)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    seconds = time.perf_counter() - started
    busy1, total1 = _cpu_ticks()
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    database_cpu = sum(backend_cpu.get(timeout=10) for _ in procs)
    if any(proc.exitcode for proc in procs):
        raise RuntimeError(f"a worker process failed: exit codes {[p.exitcode for p in procs]}")
    job = Job.objects.get(pk=job_id)
    if job.state != "done":
        raise RuntimeError(f"the job did not close: {job.state} {job.message}")
    python_cpu = (after_children.ru_utime + after_children.ru_stime) - (
        before_children.ru_utime + before_children.ru_stime
    )
    return {
        "workers": workers,
        "seconds": round(seconds, 2),
        "entitlements": job.result["written"],
        "entitlements_per_second": round(job.result["written"] / seconds),
        "machine_cpu_busy": round((busy1 - busy0) / max(1, total1 - total0), 3),
        "worker_processes_cpu_seconds": round(python_cpu, 2),
        # The workers' own PostgreSQL backends (on a shared or remote server: theirs only).
        "database_cpu_seconds": round(database_cpu, 2),
        # The largest worker process so far (Linux: kB), Django and the inherited pages included.
        "worker_peak_rss_mb": round(after_children.ru_maxrss / 1024),
        "districts": len(job.result["districts"]),
        "processes_seen": len({d.get("worker") for d in job.result["districts"].values()}),
    }


def _floor(programme_id: int) -> tuple[int, float]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_scale_floor")
        start = time.perf_counter()
        cur.execute(FLOOR_SQL, [programme_id])
        seconds = time.perf_counter() - start
        cur.execute("SELECT count(*) FROM bench_scale_floor")
        rows = cur.fetchone()[0]
        cur.execute("DROP TABLE bench_scale_floor")
    return rows, seconds


def _sizes(n: int) -> dict:
    """Bytes on disk of the population's tables (indexes and TOAST included)."""
    from django.db import connection

    with connection.cursor() as cur:
        sizes = {}
        for table in TABLES:
            cur.execute("SELECT pg_total_relation_size(%s)", [table])
            sizes[table] = cur.fetchone()[0]
        cur.execute("SELECT pg_database_size(current_database())")
        sizes["database"] = cur.fetchone()[0]
    return {"bytes": sizes, "mb_per_million_registrations": {k: round(v / n * 1e6 / 2**20) for k, v in sizes.items()}}


def run(ctx) -> list[Figure]:
    from django.db import connection, transaction

    n = int(os.environ.get("BENCH_SCALE_N", "10000000"))
    counts = [int(x) for x in os.environ.get("BENCH_SCALE_WORKERS", "1,2,4").split(",")]
    programme = _programme()
    with ctx.timer() as gen, transaction.atomic(), connection.cursor() as cur:
        districts = _populate(cur, n, programme.pk)
    print(f"   population: {n:,} registrations over {len(districts)} districts in {gen.seconds:.1f} s", flush=True)
    floor_rows, floor_seconds = _floor(programme.pk)
    curve = []
    for workers in counts:
        point = _run_with(workers, programme, districts)
        point["load_average"] = load_average()
        curve.append(point)
        print(f"   {workers} worker process(es): {point}", flush=True)
    sizes = _sizes(n)
    base = curve[0]["entitlements_per_second"]
    print("   workers  entitlements/s  speed-up  machine CPU busy  cores used by the run (Python + PostgreSQL)")
    for point in curve:
        cores = (point["worker_processes_cpu_seconds"] + point["database_cpu_seconds"]) / point["seconds"]
        print(
            f"   {point['workers']:>7}  {point['entitlements_per_second']:>14,}"
            f"  {point['entitlements_per_second'] / base:>7.2f}×  {point['machine_cpu_busy']:>15.0%}  {cores:.2f}"
        )
    path = Path(os.environ.get("BENCH_SCALE_JSON") or ctx.tmpdir / "scale.json")
    path.write_text(
        json.dumps(
            {
                "n": n,
                "districts": len(districts),
                "cpus": os.cpu_count(),
                "population_seconds": round(gen.seconds, 1),
                "floor": {"name": FLOOR_NAME, "rows": floor_rows, "seconds": round(floor_seconds, 2)},
                "curve": curve,
                "sizes": sizes,
                "load_average": load_average(),
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    print(f"   written to {path}")
    figures = [
        Figure(
            "scale",
            f"entitlements, {p['workers']} worker process(es)",
            p["entitlements_per_second"],
            "rows/s",
            floor=floor_rows / floor_seconds,
            floor_name=FLOOR_NAME,
            baseline=base,
            baseline_name="1 worker process",
            ok=p["entitlements"] == floor_rows,
            target="rows = floor's rows",
            note=f"{p['seconds']} s, CPU busy {p['machine_cpu_busy']:.0%}, load {p['load_average']}",
        )
        for p in curve
    ]
    figures.append(
        Figure(
            "scale",
            "disk per million registrations",
            sum(sizes["mb_per_million_registrations"][t] for t in TABLES),
            "MB",
            note=", ".join(f"{t.split('_', 1)[1]} {sizes['mb_per_million_registrations'][t]}" for t in TABLES),
        )
    )
    return figures
