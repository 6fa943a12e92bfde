"""Bulk writes on PostgreSQL: foreign keys checked set-based instead of by per-row
triggers, and memory for the big sorts of one transaction.

Django's foreign keys are checked by one trigger per row and key, deferred to COMMIT
(~60 µs a row and key on a busy machine): for a statement writing a million rows whose
referenced rows it has just read, the checks cost more than the writing. The caller
takes the locks the triggers would take (`SELECT … FOR KEY SHARE` of the referenced
rows, set-based, failing when one is missing) and then runs its statement with the
triggers off (`fk_triggers_off`): `SET LOCAL session_replication_role = replica`, for
the caller's transaction only, restored right after.

Replica mode skips every ordinary trigger and rule, not only the foreign keys': the
fast path is refused (the triggers stay on, the statement is only slower) for a table
that has a trigger of its own which replica mode would skip, and when the database role
may not set the parameter (it needs a superuser or, since PostgreSQL 15, `GRANT SET ON
PARAMETER session_replication_role TO <role>`). On other databases nothing changes.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection, transaction

REPLICATION_ROLE = "SELECT current_setting('session_replication_role')"
REPLICATION_ROLE_REPLICA = "SET LOCAL session_replication_role = replica"
# Parameter: role (the one saved before).
REPLICATION_ROLE_RESTORE = "SELECT set_config('session_replication_role', %(role)s, true)"
# Triggers of the tables' own (not the foreign keys' internal ones) that fire only in
# origin mode, and rewrite rules: what replica mode would silently skip. Parameter: tables.
SKIPPED_IN_REPLICA = (
    "SELECT count(*) FROM pg_trigger WHERE tgrelid = ANY(%(tables)s::regclass[]) AND NOT tgisinternal"
    " AND tgenabled = 'O'"
    " UNION ALL SELECT count(*) FROM pg_rules WHERE tablename = ANY(%(tables)s)"
)
# Sorting and hashing a district's or a programme's rows in memory, not in temp files;
# building a temporary table's index likewise. A temporary table has no statistics until
# analyzed, so the planner overestimates and JIT-compiles (~0.4 s a statement for no
# gain). For the caller's transaction only.
BULK_SETTINGS = (
    "SET LOCAL work_mem = '64MB'",
    "SET LOCAL maintenance_work_mem = '128MB'",
    "SET LOCAL jit = off",
)


def fk_triggers_skip(cursor, *, tables: list[str]) -> str | None:
    """Turn the per-row triggers off for the rest of the current transaction, when it is
    safe and allowed (see the module). Returns the role to restore (`fk_triggers_restore`),
    or None when the triggers stay on. The caller must hold the referenced rows' locks
    before writing: with the triggers off nothing else checks them."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return None
    cursor.execute(SKIPPED_IN_REPLICA, {"tables": tables})
    if any(n for (n,) in cursor.fetchall()):
        return None
    try:
        with transaction.atomic():  # a savepoint: a refusal leaves the transaction usable
            cursor.execute(REPLICATION_ROLE)
            saved = cursor.fetchone()[0]
            cursor.execute(REPLICATION_ROLE_REPLICA)
    except DatabaseError:
        return None
    return saved


def fk_triggers_restore(cursor, saved: str | None) -> None:
    """Put back what `fk_triggers_skip` changed (nothing when it returned None)."""
    if saved is not None:
        cursor.execute(REPLICATION_ROLE_RESTORE, {"role": saved})


@contextmanager
def fk_triggers_off(cursor, *, tables: list[str]) -> Iterator[bool]:
    """`fk_triggers_skip` … `fk_triggers_restore` around a block; yields whether the
    triggers are off. An error inside leaves the restoring to the transaction's rollback."""
    saved = fk_triggers_skip(cursor, tables=tables)
    yield saved is not None
    fk_triggers_restore(cursor, saved)


def bulk_settings(cursor) -> None:
    """More sort and index-build memory, and no JIT, for the rest of the current
    transaction (PostgreSQL; a no-op elsewhere and outside a transaction)."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        for statement in BULK_SETTINGS:
            cursor.execute(statement)
