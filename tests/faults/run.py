"""`make test`'s fault suite: start its own PostgreSQL and Redis, run tests/faults on
them, stop them. Usage: python tests/faults/run.py [pytest arguments]

The measured recovery times are printed at the end and written to
.faults-recovery.json (for the report and docs/operations.md).
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.faults.services import OwnPostgres, OwnRedis  # noqa: E402


def main(argv: list[str]) -> int:
    pg = OwnPostgres().init()
    redis = OwnRedis().init()
    files = Path(tempfile.mkdtemp(prefix="portal-faults-files-"))
    try:
        env = {
            **os.environ,
            "DATABASE_URL": pg.url,
            "REDIS_URL": redis.url,
            "FAULTS_PGDATA": str(pg.data),
            "FAULTS_PG_PORT": str(pg.port),
            "FAULTS_REDIS_DIR": str(redis.dir),
            "FAULTS_REDIS_PORT": str(redis.port),
            "CELERY_EAGER": "false",  # the test process sends jobs to the broker, like the web
            # Recovery at the suite's pace: the same mechanism as production (heartbeat,
            # sweep, threshold, "half the threshold" for a lost message), shorter intervals,
            # so that a lost message is back in seconds instead of 45-75 s. The bound the
            # cases assert (two minutes) is production's; production's defaults are tested
            # by the unit tests of accounts.services.
            "JOB_HEARTBEAT_SECONDS": os.environ.get("JOB_HEARTBEAT_SECONDS", "2"),
            "JOB_STALE_SECONDS": os.environ.get("JOB_STALE_SECONDS", "10"),
            "JOB_SWEEP_SECONDS": os.environ.get("JOB_SWEEP_SECONDS", "3"),
            # One media folder and bank-files folder for the test process and its workers.
            "TEST_MEDIA_ROOT": str(files / "media"),
            "BANK_FILES_DIR": str(files / "bankfiles"),
        }
        cmd = [sys.executable, "-m", "pytest", "tests/faults", "-m", "faults", "-p", "no:randomly", *argv]
        return subprocess.call(cmd, cwd=ROOT, env=env)
    finally:
        redis.destroy()
        pg.destroy()
        shutil.rmtree(files, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
