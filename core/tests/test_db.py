"""core.db: the per-row triggers are off only when it is safe and allowed, only for the
caller's transaction, and back on afterwards."""

import pytest
from django.db import connection, transaction

from core.db import bulk_settings, fk_triggers_off, fk_triggers_restore, fk_triggers_skip

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="session_replication_role is PostgreSQL's"),
]

TABLE = "disbursements_paymentline"


def _setting(cur, name: str) -> str:
    cur.execute("SELECT current_setting(%s)", [name])
    return cur.fetchone()[0]


def test_the_triggers_are_off_inside_and_back_after():
    with transaction.atomic(), connection.cursor() as cur:
        before = _setting(cur, "session_replication_role")
        with fk_triggers_off(cur, tables=[TABLE]) as off:
            assert off
            assert _setting(cur, "session_replication_role") == "replica"
        assert _setting(cur, "session_replication_role") == before == "origin"


def test_a_table_with_a_trigger_of_its_own_keeps_every_trigger():
    """Replica mode would skip the table's own trigger too: the fast path is refused."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("CREATE FUNCTION pg_temp.noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'")
        cur.execute(f"CREATE TRIGGER test_noop BEFORE INSERT ON {TABLE} FOR EACH ROW EXECUTE FUNCTION pg_temp.noop()")
        assert fk_triggers_skip(cur, tables=["disbursements_batch", TABLE]) is None
        assert _setting(cur, "session_replication_role") == "origin"
        assert fk_triggers_skip(cur, tables=["disbursements_batch"]) == "origin"  # the other table alone may


def test_a_role_without_the_right_keeps_the_triggers_and_the_transaction_usable():
    table_owner = connection.settings_dict["USER"]
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("CREATE ROLE core_db_plain NOLOGIN NOSUPERUSER")
        cur.execute("SET LOCAL ROLE core_db_plain")
        try:
            saved = fk_triggers_skip(cur, tables=[TABLE])
            assert saved is None
            assert _setting(cur, "session_replication_role") == "origin"
            fk_triggers_restore(cur, saved)  # a no-op
            cur.execute("SELECT 1")  # the refusal was rolled back to its savepoint
        finally:
            cur.execute(f'SET LOCAL ROLE "{table_owner}"')


def test_bulk_settings_last_for_the_transaction_only():
    with connection.cursor() as cur:
        default = _setting(cur, "work_mem")
        with transaction.atomic():
            bulk_settings(cur)
            assert _setting(cur, "work_mem") == "64MB"
            assert _setting(cur, "jit") == "off"
    assert default != "64MB"  # it was the setting that changed it
