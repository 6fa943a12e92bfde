"""What a Celery worker and beat tell the rest of the portal about themselves.

- A worker gets an identity when it starts, "<node name>|<boot id>" in the environment
  (PORTAL_WORKER_ID), which its pool processes inherit and write into the Job rows they
  claim (`accounts.services.jobs.worker_identity`).
- While it runs, a thread of the worker's main process keeps a liveness key in Redis
  (`portal:worker:<node>|<boot>`, expiring after three missed beats): /healthz and
  `check_services` read "a worker is alive" from it, and the sweep recovers a running
  job whose worker's key is gone without waiting for the full threshold.
- When a worker starts, the running jobs that an earlier boot of the same node held
  (its node name is unique, so that boot is dead: kill -9, container restart) are
  recovered at once, not after the threshold.
- The sweep (run by beat) stamps `portal:sweep:last`: /healthz reads "beat runs" from it.

Signals are connected in AccountsConfig.ready(); in a web process they never fire.
Without REDIS_URL (in-process tasks) none of this runs.
"""

import logging
import os
import threading
import time
import uuid

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from accounts.choices import JobState
from accounts.models import Job
from accounts.services.job_recovery import job_recover
from accounts.services.jobs import JOB_TASKS
from core.env import redact_url

logger = logging.getLogger(__name__)

WORKER_KEY = "portal:worker:{}"
WORKER_PATTERN = "portal:worker:*"
SWEEP_KEY = "portal:sweep:last"


def redis_client():
    """A Redis client on REDIS_URL with short timeouts (a health check must not hang)."""
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=3, socket_connect_timeout=3)


def live_workers(client=None) -> set[str]:
    """ "<node>|<boot>" of every worker whose liveness key is fresh."""
    client = client or redis_client()
    prefix = WORKER_KEY.format("")
    return {key.decode()[len(prefix) :] for key in client.scan_iter(match=WORKER_PATTERN, count=100)}


def sweep_stamp(client=None) -> None:
    (client or redis_client()).set(SWEEP_KEY, str(time.time()))


def sweep_age(client=None) -> float | None:
    """Seconds since the sweep last ran, or None if it never did (on this Redis)."""
    raw = (client or redis_client()).get(SWEEP_KEY)
    return None if raw is None else max(0.0, time.time() - float(raw))


class _Liveness(threading.Thread):
    def __init__(self, identity: str):
        super().__init__(name="portal-worker-liveness", daemon=True)
        self.identity = identity
        self.stopped = threading.Event()

    def run(self) -> None:
        client = None
        while True:
            try:
                client = client or redis_client()
                client.set(
                    WORKER_KEY.format(self.identity), str(time.time()), ex=int(3 * settings.JOB_HEARTBEAT_SECONDS)
                )
            except Exception:  # Redis restarts: the next beat reconnects
                client = None
            if self.stopped.wait(settings.JOB_HEARTBEAT_SECONDS):
                break
        try:
            (client or redis_client()).delete(WORKER_KEY.format(self.identity))
        except Exception:  # noqa: S110 (the key expires by itself)
            pass


_liveness: _Liveness | None = None


def on_worker_init(sender=None, **kwargs) -> None:
    # PORTAL_WORKER_ID is this process's identity, inherited by its pool processes through
    # the environment: not a setting, so it is not declared in portal/settings.py.
    node = getattr(sender, "hostname", None) or "worker"
    os.environ["PORTAL_WORKER_ID"] = f"{node}|{uuid.uuid4().hex[:12]}"


def on_worker_ready(sender=None, **kwargs) -> None:
    global _liveness
    identity = os.environ.get("PORTAL_WORKER_ID")
    if not identity or not settings.REDIS_URL:
        return
    _liveness = _Liveness(identity)
    _liveness.start()
    try:
        recover_jobs_of_earlier_boots(identity)
    except Exception as exc:
        if isinstance(exc, DatabaseError):
            # Said once, in one line: a DATABASE_URL that points at nothing (or at an empty database).
            detail = redact_url(str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__)
            if "no such table" in detail or "does not exist" in detail:
                logger.error("DATABASE_URL: the database has no tables yet (%s): run manage.py migrate.", detail)
            else:
                logger.error("DATABASE_URL: the database does not answer (%s). Jobs wait until it does.", detail)
        else:
            logger.exception("could not recover the jobs of an earlier start of this worker; the sweep will")


def on_worker_shutdown(sender=None, **kwargs) -> None:
    if _liveness is not None:
        _liveness.stopped.set()
        _liveness.join(timeout=5)


def recover_jobs_of_earlier_boots(identity: str) -> list[int]:
    """Jobs left running by an earlier start of this node (same node name, other boot
    id) have no live holder: recover them now."""
    node = identity.split("|", 1)[0]
    dead = (
        Job.objects.filter(state=JobState.RUNNING, kind__in=list(JOB_TASKS), worker__startswith=f"{node}|")
        .exclude(worker__startswith=f"{identity}|")
        .order_by("created_at")
    )
    recovered = []
    for job in dead:
        with transaction.atomic():
            job_recover(job=job, acting_user=None, reason="处理进程已重启")
        recovered.append(job.pk)
    if recovered:
        logger.warning("recovered jobs %s left running by an earlier start of %s", recovered, node)
    if not connection.in_atomic_block:
        connection.close()  # opened in the main process: never share it with forked pool processes
    return recovered


def connect() -> None:
    from celery import signals

    signals.worker_init.connect(on_worker_init, weak=False, dispatch_uid="portal_worker_init")
    signals.worker_ready.connect(on_worker_ready, weak=False, dispatch_uid="portal_worker_ready")
    signals.worker_shutdown.connect(on_worker_shutdown, weak=False, dispatch_uid="portal_worker_shutdown")
