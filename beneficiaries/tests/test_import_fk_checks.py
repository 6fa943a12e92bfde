"""The COPY path checks the registrations' foreign keys set-based, with the per-row
triggers off for its own statements only (copy_write.Stage.check_references_here).
These tests hold it to that: nothing else on the tables would be skipped, the setting
is back afterwards, and a role without the right imports the same rows the slow way."""

import pytest
from django.db import connection

from beneficiaries.importer.workers import workers_import
from beneficiaries.models import Person, Registration
from tests.factories import make_employer, make_programme
from tests.import_files import worker_row, write_csv

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path needs PostgreSQL"),
]


def _import(tmp_path, rows, employer, programme):
    result = workers_import(path=write_csv(tmp_path / "w.csv", rows), employer=employer, programme=programme)
    result.cleanup()
    return result


def _role() -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('session_replication_role')")
        return cur.fetchone()[0]


def test_the_tables_have_no_triggers_or_rules_that_replica_mode_would_skip():
    """session_replication_role = replica skips every ordinary trigger and rule: only the
    foreign keys' own (internal) triggers may be there, since the importer checks those."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN (%s::regclass,"
            " %s::regclass)",
            [Registration._meta.db_table, Person._meta.db_table],
        )
        assert cur.fetchall() == []
        cur.execute(
            "SELECT tablename, rulename FROM pg_rules WHERE tablename IN (%s, %s)",
            [Registration._meta.db_table, Person._meta.db_table],
        )
        assert cur.fetchall() == []


def test_the_triggers_are_back_on_after_an_import(tmp_path):
    before = _role()
    result = _import(tmp_path, [worker_row(i) for i in range(5)], make_employer(), make_programme())
    assert result.written and result.created == 5
    assert _role() == before  # later statements in the caller's transaction are checked again


def test_a_role_without_the_right_imports_the_same_rows_with_the_triggers(tmp_path):
    employer, programme = make_employer(), make_programme()
    rows = [worker_row(i) for i in range(6)]
    _import(tmp_path, rows[:2], make_employer("乙公司"), programme)  # two will be conflicts
    table_owner = connection.settings_dict["USER"]
    with connection.cursor() as cur:
        # A plain role (rolled back with the test's transaction), allowed the tables but
        # not to set session_replication_role: the import must fall back, not fail.
        cur.execute("CREATE ROLE portal_import_plain NOLOGIN NOSUPERUSER")
        cur.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO portal_import_plain")
        cur.execute("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO portal_import_plain")
        cur.execute("SET LOCAL ROLE portal_import_plain")
    try:
        result = _import(tmp_path, rows, employer, programme)
        assert _role() == "origin"
    finally:
        with connection.cursor() as cur:
            cur.execute(f'SET LOCAL ROLE "{table_owner}"')
    assert (result.written, result.created, result.conflicts, result.persons_created) == (True, 6, 2, 4)
    assert Registration.objects.filter(employer=employer, programme=programme).count() == 6


@pytest.mark.parametrize("index_key", ["short", "k" * 64, "长的索引密钥" * 20])
def test_the_importers_blind_index_is_pii_blind_index(settings, index_key):
    """The batch API's precomputed HMAC states (core.crypto.bulk, what the importer
    uses through pii.fast) must give pii.blind_index exactly (else the importer would
    silently fall back to the slow function, or worse, mis-index)."""
    from beneficiaries import pii
    from core import crypto

    settings.PII_INDEX_KEY = index_key
    f = crypto.bulk()
    encrypt, blind_index = f.encrypt, f.blind_index
    assert blind_index is not crypto.keyed_digest  # the fast one passed its own probe
    for value in ("13010219900101123X", "6222021234567890123", "410102196003150019"):
        assert blind_index(value) == pii.blind_index(value)
        assert pii.decrypt(encrypt(value)) == value
