"""The fault suite's stack: its own PostgreSQL and Redis (started by tests/faults/run.py),
a Celery worker and beat as production runs them, on the test database."""

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from django.db import InterfaceError, OperationalError, connection

from tests.faults.services import ROOT, CeleryProcess, OwnPostgres, OwnRedis

RECOVERY_LOG = ROOT / ".faults-recovery.json"


def pytest_collection_modifyitems(config, items):
    if os.environ.get("FAULTS_PGDATA"):
        return
    skip = pytest.mark.skip(reason="the fault suite runs on its own services: python tests/faults/run.py")
    for item in items:
        if "faults" in item.keywords:
            item.add_marker(skip)


class Stack:
    def __init__(self, env: dict, work: Path):
        self.pg = OwnPostgres(os.environ["FAULTS_PGDATA"], int(os.environ["FAULTS_PG_PORT"]))
        self.redis = OwnRedis(os.environ["FAULTS_REDIS_DIR"], int(os.environ["FAULTS_REDIS_PORT"]))
        self.work = work
        self.worker = CeleryProcess("worker", env, work)
        self.beat = CeleryProcess("beat", env, work)

    def db(self, fn, timeout: float = 120.0):
        """Run a query of the test process, riding out a database restart."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return fn()
            except (OperationalError, InterfaceError):
                connection.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)


@pytest.fixture(scope="session")
def stack(django_db_setup, django_db_blocker):
    work = Path(tempfile.mkdtemp(prefix="portal-faults-"))
    db_name = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.test_settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{os.environ['FAULTS_PG_PORT']}/{db_name}",
        "CELERY_EAGER": "false",
        # Every job step pauses (tests/faults/worker.py): the faults land part way through every kind.
        "JOB_TEST_SLOWDOWN": os.environ.get("JOB_TEST_SLOWDOWN", "0.3"),
        "PYTHONUNBUFFERED": "1",
    }
    s = Stack(env, work)
    s.worker.start()
    s.beat.start()
    yield s
    s.worker.stop()
    s.beat.stop()
    if os.environ.get("SHOW_WORKER_LOG"):
        print((work / "worker.log").read_text(errors="replace"))
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def recovery_log():
    measured: dict = {}
    yield measured
    RECOVERY_LOG.write_text(json.dumps(measured, ensure_ascii=False, indent=2, sort_keys=True))
    lines = [f"  {kind:<18} {fault:<9} {m['recovered_s']:>6.1f} s to running again, {m['done_s']:>6.1f} s to done"
             for kind, faults in sorted(measured.items()) for fault, m in faults.items()]  # fmt: skip
    print("\nMeasured recovery (from the new worker's start / the service's return):\n" + "\n".join(lines))
