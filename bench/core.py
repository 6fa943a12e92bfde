"""The benchmark harness: a fresh database, a context for suites, a results table.

A suite is a module bench/suite_*.py with `run(ctx) -> list[Figure]`. The runner
creates the database `<name>_bench` (dropped first), migrates it, loads the regions,
then runs each suite in name order and prints every figure beside its baseline.
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
    target: str = ""  # e.g. "≥ 25000 rows/s", "≤ 2× baseline"
    ok: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


@dataclass
class Context:
    n: int
    tmpdir: Path
    seed: int = 2021
    figures: list[Figure] = field(default_factory=list)

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
        peak_kb = int(proc.stdout.strip().splitlines()[-1])
        return seconds, peak_kb / 1024


# Runs a module as __main__, then prints the child's peak RSS (kB) as the last line.
# VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across fork+exec, so a child
# started from the (large) runner would report the runner's own resident set.
_MAXRSS_WRAPPER = (
    "import runpy, sys, resource\n"
    "mod = sys.argv[1]; sys.argv = sys.argv[1:]\n"
    "runpy.run_module(mod, run_name='__main__')\n"
    "try:\n"
    "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
    "except (OSError, IndexError):\n"
    "    hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print(hwm)\n"
)


def own_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_context() -> Context:
    n = int(os.environ.get("BENCH_N", "1000000"))
    tmp = Path(os.environ.get("BENCH_TMP") or tempfile.mkdtemp(prefix="portal-bench-"))
    return Context(n=n, tmpdir=tmp)


def format_table(figures: list[Figure]) -> str:
    rows = [("suite", "figure", "value", "baseline", "ratio", "target", "ok")]
    for f in figures:
        rows.append(
            (
                f.suite,
                f.name,
                f"{f.value:,.1f} {f.unit}",
                f"{f.baseline:,.1f} ({f.baseline_name})" if f.baseline is not None else "",
                f"{f.ratio:.2f}×" if f.ratio is not None else "",
                f.target,
                {True: "yes", False: "NO", None: ""}[f.ok],
            )
        )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_results(figures: list[Figure], path: Path, n: int) -> None:
    data = {"n": n, "figures": [{**asdict(f), "ratio": f.ratio} for f in figures]}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
