"""`python -m bench e2e` at a tiny N, so that the bench code cannot rot unnoticed (the rules
and disbursements suites had, by the time issue #12 looked at them).

It runs as a subprocess on a database of its own: the bench drops and recreates
`<name>_bench` itself, which must be neither pytest-django's test database nor the one a
`make bench` may be using (`<name>_e2etest_bench`). No timing is asserted: figures at
N = 2,000 say nothing about the targets, which `make bench` checks at 1M.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.bench


def test_e2e_at_tiny_n_writes_every_stage_beside_a_floor(tmp_path):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("the bench needs PostgreSQL (DATABASE_URL=postgres://…)")
    out = tmp_path / "e2e.json"
    env = {
        **os.environ,
        "DATABASE_URL": url.rstrip("/") + "_e2etest",
        "BENCH_N": "2000",
        "BENCH_TMP": str(tmp_path),
        "BENCH_RESULTS": str(tmp_path / "results.json"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "e2e", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data) == {"n", "load_average", "total_seconds", "stages", "entitlements_rerun_seconds"}
    # A figure of its own, not in the total.
    assert data["entitlements_rerun_seconds"] > 0
    assert data["n"] == 2000
    assert len(data["load_average"]) == 3
    assert [s["name"] for s in data["stages"]] == ["import", "entitlements", "batches", "export"]
    for stage in data["stages"]:
        required = {"name", "seconds", "floor_seconds", "ratio", "rows_per_second"}
        # A stage with two floors (issue #12: CTAS beside the plain table with indexes
        # after) has the second too.
        assert required <= set(stage) <= required | {"floor_ctas_seconds", "ratio_ctas"}, stage
        assert stage["seconds"] > 0 and stage["floor_seconds"] > 0 and stage["ratio"] > 0, stage
        assert stage["rows_per_second"] > 0, stage
    batches = data["stages"][2]
    assert batches["floor_ctas_seconds"] > 0 and batches["ratio_ctas"] > 0, batches
    assert data["total_seconds"] >= sum(s["seconds"] for s in data["stages"]) - 0.01
    entitlements = data["stages"][1]
    assert entitlements["floor_ctas_seconds"] > 0 and entitlements["ratio_ctas"] > 0, entitlements
    # The import stage's rate is of the N imported rows.
    imported = data["stages"][0]
    assert imported["rows_per_second"] == pytest.approx(2000 / imported["seconds"], rel=0.01)

    # The same run's figures, with the floors, in the results file (not bench/results.json).
    figures = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))["figures"]
    e2e = [f for f in figures if f["suite"] == "e2e" and f["floor"] is not None]
    assert len(e2e) == 5 and all(f["floor_ratio"] > 0 for f in e2e)
    rerun = [f for f in figures if f["suite"] == "e2e" and f["name"].startswith("entitlements re-run")]
    assert len(rerun) == 1 and rerun[0]["note"] == "wrote 0 rows", rerun
    assert "judged against the plain-table floor" in proc.stdout
