"""Reads that may go to the read replica, and the database router that sends them there.

A dashboard reads many rows and may be a few seconds stale; a form, an approval or a
payment must read what it is about to change. So nothing goes to the replica by
default: only the reads made inside `replica_reads()` (a context manager and a
decorator, used by the dashboard views) do, and only when DATABASE_REPLICA_URL is set
(settings.READ_REPLICA names the alias). Writes always go to `default`, even the save of
an object that was read from the replica (Django would otherwise write it back to the
database it came from). Raw SQL through `django.db.connection` is on `default` too.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

# The alias portal/settings.py gives the replica when DATABASE_REPLICA_URL is set.
REPLICA = "replica"

# A context variable, not a thread-local: correct under threads and async views alike.
_replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)


@contextmanager
def replica_reads():
    """`with replica_reads(): …`, or `@replica_reads()` on a view (a fresh context per
    call): the ORM reads inside go to the replica when one is configured."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


def replica_alias() -> str | None:
    """The alias reads go to now: the replica inside `replica_reads()` when configured."""
    alias = getattr(settings, "READ_REPLICA", "")
    return alias if alias and _replica_reads.get() else None


class ReplicaRouter:
    """settings.DATABASE_ROUTERS: reads inside `replica_reads()` to the replica, every
    write to default."""

    def db_for_read(self, model, **hints):
        return replica_alias()

    def db_for_write(self, model, **hints):
        # Explicit: without it an instance read from the replica is saved to the replica.
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # The replica is a copy of default: an object read there may point at one from here.
        return obj1._state.db == obj2._state.db or {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return None  # a streaming standby gets its schema from the primary; `migrate` targets default
