"""The fault suite's Celery worker: `celery -A portal worker` with the steps of every job
slowed down, so that a fault (a killed worker, a restarted PostgreSQL or Redis) lands part
way through a job of any kind; on test data most jobs end in well under a second.

The product has no knob for this. The fault suite runs real worker processes, where a
monkeypatch of the test process cannot reach, so this bootstrap patches the worker's own
process before Celery starts (its pool processes are forked from it and keep the patch):

- every progress report of a job (`Progress.set_total`, `Progress.advance`) is written at
  once, not at most once a second, and then waits JOB_TEST_SLOWDOWN seconds;
- `job_step`, the steps between progress reports (a district's entitlements, a
  voucher chunk, a rollup step, the fraud signals), waits as long;
- every import's rows are checked by forked worker processes, as a large file's are.

Usage (tests/faults/services.py): python -m tests.faults.worker <celery worker options>
"""

import os
import sys
import time


def slow_down(pause: float) -> None:
    """Patch the job engine of this process: every step waits `pause` seconds."""
    from accounts.services import jobs

    progress_init, set_total, advance = jobs.Progress.__init__, jobs.Progress.set_total, jobs.Progress.advance
    original_pause = jobs.job_step

    def pause_step() -> None:
        time.sleep(pause)

    def init(self, job, *, total: int = 0, interval: float = 1.0):
        progress_init(self, job, total=total, interval=0.0)  # every report is written

    def slow_set_total(self, total: int) -> None:
        set_total(self, total)
        pause_step()

    def slow_advance(self, done: int, **kwargs) -> None:
        advance(self, done, **kwargs)
        pause_step()

    jobs.Progress.__init__ = init
    jobs.Progress.set_total = slow_set_total
    jobs.Progress.advance = slow_advance
    # Every module that imported the step by name (Django has loaded them all by now).
    for module in list(sys.modules.values()):
        if getattr(module, "job_step", None) is original_pause:
            module.job_step = pause_step


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    # Every import's rows are checked by forked worker processes, 500 at a time, as a
    # large file's are (beneficiaries.importer.validation): the faults land on that path.
    from beneficiaries.importer import validation

    validation.PARALLEL_MIN_ROWS, validation.PII_BATCH = 0, 500
    pause = float(os.environ.get("JOB_TEST_SLOWDOWN") or 0)
    if pause:
        slow_down(pause)
    from portal.celery import app

    app.worker_main(["worker", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
