"""The benchmark harness: a fresh database, a context for suites, a results table.

A suite is a module bench/suite_*.py with `run(ctx) -> list[Figure]`. The runner
creates the database `<name>_bench` (dropped first), migrates it, loads the regions,
then runs each suite in name order and prints every figure beside its baseline and
its floor.

A baseline is whatever the figure is compared with for information (the stock library,
a hand-written statement that pays the same per-row trigger costs). A floor is the
plainest statement PostgreSQL needs for the same job, measured in the same run
(COPY into an UNLOGGED table, CREATE UNLOGGED TABLE AS, COPY TO): the targets of
issue #12 are ratios to floors, because a baseline that pays the project's own
overheads hides them (docs/benchmarks.md, 2026-12-06).
"""

import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Figure:
    suite: str
    name: str
    value: float
    unit: str
    baseline: float | None = None  # the same-run baseline, in the same unit
    baseline_name: str = ""
    target: str = ""  # e.g. "≥ 50000 rows/s", "≤ 1.5× floor"
    ok: bool | None = None
    note: str = ""
    floor: float | None = None  # the same-run floor of the stage, in the same unit
    floor_name: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline

    @property
    def floor_ratio(self) -> float | None:
        """How many times slower than the floor: project / floor for a duration,
        floor / project for a rate (a unit ending in "/s"), so 1.0 is the floor and
        larger is worse whatever the unit."""
        if self.floor in (None, 0) or self.value == 0:
            return None
        return self.floor / self.value if self.unit.endswith("/s") else self.value / self.floor


@dataclass
class Context:
    n: int
    tmpdir: Path
    seed: int = 2021
    figures: list[Figure] = field(default_factory=list)
    json_path: Path | None = None  # `python -m bench e2e --json PATH`: where the e2e suite writes its stages
    children_peak_mb: float = 0.0  # of the last peak_memory_of: the largest peak of a process it forked

    @property
    def connection(self):
        from django.db import connection

        return connection

    @contextmanager
    def timer(self):
        """with ctx.timer() as t: …; then t.seconds."""

        class T:
            seconds = 0.0

        t = T()
        gc.collect()
        start = time.perf_counter()
        try:
            yield t
        finally:
            t.seconds = time.perf_counter() - start

    def peak_memory_of(self, module_args: list[str], env: dict | None = None) -> tuple[float, float]:
        """Run `python -m <module_args…>` in a fresh process; return (seconds, peak RSS in MB).

        Peak memory must be measured in a process of its own: the runner's own
        resident set would hide what the measured code needs.
        """
        full_env = {**os.environ, **(env or {})}
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", _MAXRSS_WRAPPER, *module_args], env=full_env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{module_args} failed:\n{proc.stdout}\n{proc.stderr}")
        *_, children_kb, peak_kb = proc.stdout.strip().splitlines()
        self.children_peak_mb = int(children_kb) / 1024
        return seconds, int(peak_kb) / 1024


# Runs a module as __main__, then prints the largest peak RSS (kB) of the processes it
# forked and waited for (the importer's worker processes: their pages are shared with it
# until written, so the two do not simply add up), and its own peak RSS as the last line.
# VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across fork+exec, so a child
# started from the (large) runner would report the runner's own resident set.
_MAXRSS_WRAPPER = (
    "import runpy, sys, resource\n"
    "mod = sys.argv[1]; sys.argv = sys.argv[1:]\n"
    "runpy.run_module(mod, run_name='__main__')\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "try:\n"
    "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
    "except (OSError, IndexError):\n"
    "    hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print(hwm)\n"
)


def load_average() -> list[float]:
    """The 1, 5 and 15-minute load averages, rounded: printed beside the figures, since
    a figure from a busy machine is not comparable with one from a quiet one."""
    return [round(x, 2) for x in os.getloadavg()]


def own_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_context() -> Context:
    n = int(os.environ.get("BENCH_N", "1000000"))
    tmp = Path(os.environ.get("BENCH_TMP") or tempfile.mkdtemp(prefix="portal-bench-"))
    return Context(n=n, tmpdir=tmp)


def _num(x: float) -> str:
    """Three significant digits at least: a 0.03 s floor must not print as 0.0."""
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def format_table(figures: list[Figure]) -> str:
    rows = [("suite", "figure", "value", "floor", "project/floor", "baseline", "ratio", "target", "")]
    for f in figures:
        rows.append(
            (
                f.suite,
                f.name,
                f"{_num(f.value)} {f.unit}",
                f"{_num(f.floor)} ({f.floor_name})" if f.floor is not None else "",
                f"{f.floor_ratio:.2f}×" if f.floor_ratio is not None else "",
                f"{_num(f.baseline)} ({f.baseline_name})" if f.baseline is not None else "",
                f"{f.ratio:.2f}×" if f.ratio is not None else "",
                f.target,
                {True: "PASS", False: "FAIL", None: ""}[f.ok],
            )
        )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_results(figures: list[Figure], path: Path, n: int) -> None:
    data = {"n": n, "figures": [{**asdict(f), "ratio": f.ratio, "floor_ratio": f.floor_ratio} for f in figures]}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


class QueuedRollups:
    """The dashboards' refresh a stage queues after it commits (a job of its own on the
    broker in production; run in-process, inside the stage's call, where tasks run
    eagerly, as here): held back while the stage is timed (`hold`), then run and timed
    as a figure of its own (`run`), so a stage's time is the stage's work."""

    def __init__(self):
        self.job_ids: list[int] = []

    def delay(self, job_id: int) -> None:
        self.job_ids.append(job_id)

    @contextmanager
    def hold(self):
        from accounts.choices import JobKind
        from accounts.services.jobs import JOB_TASKS

        task = JOB_TASKS[JobKind.REFRESH_ROLLUPS]
        JOB_TASKS[JobKind.REFRESH_ROLLUPS] = self
        try:
            yield self
        finally:
            JOB_TASKS[JobKind.REFRESH_ROLLUPS] = task

    def run(self) -> float:
        """Run the held refresh jobs as the worker would; returns their seconds."""
        from accounts.choices import JobKind
        from accounts.services.jobs import JOB_TASKS

        started = time.perf_counter()
        for job_id in self.job_ids:
            JOB_TASKS[JobKind.REFRESH_ROLLUPS](job_id)
        self.job_ids = []
        return time.perf_counter() - started
