"""Is the portal able to do its work? The checks behind /healthz and `manage.py check_services`.

Four things must be fine: the database answers, the broker (Redis) answers, a Celery
worker is alive (its liveness key, renewed every JOB_HEARTBEAT_SECONDS, see
accounts.worker) and beat runs (its sweep stamped Redis within three sweep periods).
Without REDIS_URL, tasks run in-process: broker, worker and beat are then not needed.

Every check is short (a few seconds' timeout at most) and says what is wrong in a line
that never carries a password.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection

from core.env import redact_url

logger = logging.getLogger(__name__)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact_url(text[0] if text else exc.__class__.__name__)[:200]


def database_target() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"SQLite {db['NAME']}"
    return f"PostgreSQL {db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"


def check_database() -> Check:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        return Check("database", True, database_target())
    except DatabaseError as exc:
        if not connection.in_atomic_block:
            connection.close()  # a broken connection must not be reused by the next request
        return Check("database", False, f"{database_target()} does not answer: {_first_line(exc)}")


def _redis():
    from accounts.worker import redis_client

    return redis_client()


def check_broker(client=None) -> Check:
    if not settings.REDIS_URL:
        return Check("broker", True, "no REDIS_URL: tasks run in-process")
    try:
        (client or _redis()).ping()
        return Check("broker", True, redact_url(settings.REDIS_URL))
    except Exception as exc:
        return Check("broker", False, f"Redis {redact_url(settings.REDIS_URL)} does not answer: {_first_line(exc)}")


def check_worker(client=None) -> Check:
    from accounts.worker import live_workers

    if not settings.REDIS_URL:
        return Check("worker", True, "in-process")
    try:
        live = live_workers(client or _redis())
    except Exception as exc:
        return Check("worker", False, f"cannot read workers' liveness from Redis: {_first_line(exc)}")
    if not live:
        return Check("worker", False, "no Celery worker has reported in the last 30 s: start or restart the worker")
    return Check("worker", True, f"{len(live)} alive: " + ", ".join(sorted(w.split("|")[0] for w in live)))


def check_beat(client=None) -> Check:
    from accounts.worker import sweep_age

    if not settings.REDIS_URL:
        return Check("beat", True, "in-process")
    limit = 3 * settings.JOB_SWEEP_SECONDS + 15
    try:
        age = sweep_age(client or _redis())
    except Exception as exc:
        return Check("beat", False, f"cannot read beat's last run from Redis: {_first_line(exc)}")
    if age is None:
        return Check("beat", False, "beat's job sweep has never run: start celery beat (and a worker)")
    if age > limit:
        return Check("beat", False, f"beat's job sweep last ran {age:.0f} s ago (more than {limit} s): restart beat")
    return Check("beat", True, f"job sweep ran {age:.0f} s ago")


def check_all() -> list[Check]:
    checks = [check_database()]
    client = None
    if settings.REDIS_URL:
        try:
            client = _redis()
        except Exception:  # reported by check_broker
            client = None
    broker = check_broker(client)
    checks.append(broker)
    if broker.ok:
        checks += [check_worker(client), check_beat(client)]
    else:
        checks += [
            Check("worker", False, "unknown: the broker is down"),
            Check("beat", False, "unknown: the broker is down"),
        ]
    return checks


_said = False


def say_once_if_database_is_unreachable() -> None:
    """At start-up (web and worker processes): a DATABASE_URL that parses but points at
    nothing is said once, in one clear line, instead of a traceback on every request."""
    global _said
    if _said:
        return
    _said = True
    check = check_database()
    if not check.ok:
        logger.error(
            "DATABASE_URL: %s. Start the database or correct DATABASE_URL; requests fail until it answers.",
            check.detail,
        )
