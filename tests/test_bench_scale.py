"""`python -m bench scale` at a tiny N, so that the scale-out bench cannot rot unnoticed: the
population is generated, each worker count computes every district through the
per-district task in forked processes, the Job closes, and every run writes the same rows
as the floor. No timing is asserted (N = 3,000 says nothing about throughput).

A subprocess on a database of its own (`<name>_scaletest_bench`), as tests/test_bench_e2e.py.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.bench


def test_scale_at_tiny_n_prints_the_curve_and_writes_it(tmp_path):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("the bench needs PostgreSQL (DATABASE_URL=postgres://…)")
    out = tmp_path / "scale.json"
    env = {
        **os.environ,
        "DATABASE_URL": url.rstrip("/") + "_scaletest",
        "BENCH_SCALE_N": "3000",
        "BENCH_SCALE_WORKERS": "1,2",
        "BENCH_SCALE_JSON": str(out),
        "BENCH_TMP": str(tmp_path),
        "BENCH_RESULTS": str(tmp_path / "results.json"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "scale"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "speed-up" in proc.stdout

    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["n"] == 3000 and data["districts"] > 100
    # Half the workers from outside the province, one in ten in hardship: ~0.6 rows each.
    assert 1500 < data["floor"]["rows"] < 2100
    assert [p["workers"] for p in data["curve"]] == [1, 2]
    for point in data["curve"]:
        assert point["entitlements"] == data["floor"]["rows"], point
        assert point["districts"] == data["districts"], point
        # Every worker process took districts: the work was shared.
        assert point["processes_seen"] == point["workers"], point
        assert point["entitlements_per_second"] > 0 and 0 < point["machine_cpu_busy"] <= 1
    sizes = data["sizes"]["bytes"]
    assert sizes["disbursements_entitlement"] > 0 and sizes["database"] >= sum(
        v for k, v in sizes.items() if k != "database"
    )
