"""A first computation and a build write their rows with the foreign keys checked
set-based (core.db) instead of by per-row triggers, and without redundant indexes: the
guarantees stay (a missing reference is refused, the triggers are back on afterwards, a
build is all or nothing) and the indexes left each serve something the others do not."""

import pytest
from django.db import IntegrityError, connection, transaction

from disbursements import sql
from disbursements.models import Batch, Entitlement, PaymentLine
from disbursements.services import batches as batches_service
from disbursements.services.batches import batches_build
from disbursements.services.entitlements import _upsert_fresh, entitlements_compute
from programs.demo import demo_programme
from tests.factories import make_entitlements, make_programme, make_rule, reg

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger-free path is PostgreSQL's"),
]


def _role() -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('session_replication_role')")
        return cur.fetchone()[0]


def _stage(cur, rows):
    cur.execute(sql.ENTITLEMENT_CANDIDATES_DROP)
    cur.execute(sql.ENTITLEMENT_CANDIDATES_CREATE.format(on_commit=""))
    cur.executemany(
        f"INSERT INTO {sql.ENTITLEMENT_CANDIDATES} (programme_id, rule_id, rule_key, person_id, registration_id,"
        " district_id, channel, amount, reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '{}')",
        rows,
    )


def _candidate(registration, rule, **change):
    row = {
        "programme_id": registration.programme_id,
        "rule_id": rule.pk,
        "rule_key": rule.rule_key,
        "person_id": registration.person_id,
        "registration_id": registration.pk,
        "district_id": registration.district_id,
        "channel": rule.channel,
        "amount": rule.amount,
    }
    row.update(change)
    return list(row.values())


def test_a_first_computation_writes_its_rows_and_turns_the_triggers_back_on():
    programme = demo_programme()
    regs = [reg(programme, "130110", "410102") for _ in range(3)]
    result = entitlements_compute(programme=programme)
    assert result.written == 3
    assert Entitlement.objects.filter(programme=programme, registration__in=regs).count() == 3
    assert _role() == "origin"


@pytest.mark.parametrize(
    "change",
    [
        {"registration_id": 987654321},  # the registration is gone
        {"person_id": 987654321},  # the registration is no longer this person's
        {"rule_id": 987654321},
        {"district_id": "139999"},
    ],
)
def test_a_first_computation_refuses_a_row_whose_reference_is_missing(change):
    """What the per-row trigger would refuse at COMMIT, the set-based check refuses."""
    programme = make_programme("HB-FK")
    rule = make_rule(programme)
    registration = reg(programme, "130110", "410102")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        _stage(cur, [_candidate(registration, rule), _candidate(registration, rule, rule_key="other", **change)])
        _upsert_fresh(cur, connection.ops.adapt_datetimefield_value(registration.created_at))
    assert not Entitlement.objects.filter(programme=programme).exists()


def _registration_locks(cur) -> set[str]:
    cur.execute(
        "SELECT l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
        " WHERE l.pid = pg_backend_pid() AND c.relname = 'beneficiaries_registration'"
    )
    return {mode for (mode,) in cur.fetchall()}


def test_the_set_based_check_locks_the_referenced_rows():
    """As the triggers would, another transaction cannot delete or change them until this
    one ends: nobody writing registrations, the whole table is held (SHARE)."""
    programme = make_programme("HB-LOCK")
    rule = make_rule(programme)
    registration = reg(programme, "130110", "410102")
    with transaction.atomic(), connection.cursor() as cur:
        _stage(cur, [_candidate(registration, rule)])
        assert _upsert_fresh(cur, connection.ops.adapt_datetimefield_value(registration.created_at)) == 1
        assert "ShareLock" in _registration_locks(cur)
        assert _role() == "origin"


@pytest.mark.django_db(transaction=True)
def test_while_someone_writes_registrations_each_referenced_row_is_locked():
    """The table lock is only tried (NOWAIT): another transaction writing registrations
    at that moment is not waited for, each referenced registration is locked FOR SHARE."""
    import psycopg2

    programme = make_programme("HB-LOCK2")
    rule = make_rule(programme)
    registration = reg(programme, "130110", "410102")
    db = connection.settings_dict
    other = psycopg2.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"] or None, host=db["HOST"], port=db["PORT"]
    )
    try:
        with other.cursor() as writer:
            writer.execute("LOCK TABLE beneficiaries_registration IN ROW EXCLUSIVE MODE")
            with transaction.atomic(), connection.cursor() as cur:
                _stage(cur, [_candidate(registration, rule)])
                assert _upsert_fresh(cur, connection.ops.adapt_datetimefield_value(registration.created_at)) == 1
                assert _registration_locks(cur) >= {"RowShareLock"}
                assert "ShareLock" not in _registration_locks(cur)
        other.rollback()
    finally:
        other.close()
    assert Entitlement.objects.filter(programme=programme).count() == 1


def test_a_first_computation_of_a_key_stored_elsewhere_updates_it():
    """The plain insert fails on a key already stored (the person's row in another
    district); the upsert then moves the row, as before."""
    programme = make_programme("HB-MOVED")
    rule = make_rule(programme)
    registration = reg(programme, "130110", "410102")
    with transaction.atomic(), connection.cursor() as cur:
        _stage(cur, [_candidate(registration, rule)])
        _upsert_fresh(cur, connection.ops.adapt_datetimefield_value(registration.created_at))
    Entitlement.objects.filter(programme=programme).update(district_id="130102", amount="1.00")
    with transaction.atomic(), connection.cursor() as cur:
        _stage(cur, [_candidate(registration, rule)])
        assert _upsert_fresh(cur, connection.ops.adapt_datetimefield_value(registration.created_at)) == 1
    assert list(Entitlement.objects.filter(programme=programme).values_list("district_id", "amount")) == [
        ("130110", rule.amount)
    ]


def test_a_build_writes_every_line_numbered_and_turns_the_triggers_back_on(officer_luquan):
    programme = make_programme("HB-ONEPASS")
    cash = make_rule(programme, "cash", amount="500.00")
    ss = make_rule(programme, "ss", channel="ss_card", amount="123.45")
    make_entitlements(programme, cash, 4, district="130110", start=30_000)
    make_entitlements(programme, ss, 2, district="130110", start=31_000)
    built = batches_build(programme=programme, acting_user=officer_luquan)
    assert sorted((b.channel, b.line_count, str(b.total)) for b in built) == [
        ("bank_card", 4, "2000.00"),
        ("ss_card", 2, "246.90"),
    ]
    for batch in built:
        lines = PaymentLine.objects.filter(batch=batch).order_by("seq")
        assert [line.seq for line in lines] == list(range(1, batch.line_count + 1))
        # Numbered in entitlement order, each line the amount of its entitlement.
        assert [line.entitlement_id for line in lines] == sorted(line.entitlement_id for line in lines)
        assert all(line.amount == line.entitlement.amount for line in lines)
    assert _role() == "origin"


def test_a_build_is_all_or_nothing(officer_luquan, monkeypatch):
    programme = make_programme("HB-ALL")
    rule = make_rule(programme)
    make_entitlements(programme, rule, 3, district="130110", start=32_000)

    def fail(*args, **kwargs):
        raise RuntimeError("the worker died writing the lines")

    monkeypatch.setattr(batches_service, "_insert_lines", fail)
    with pytest.raises(RuntimeError):
        batches_build(programme=programme, acting_user=officer_luquan)
    assert not Batch.objects.filter(programme=programme).exists()
    monkeypatch.undo()
    assert [b.line_count for b in batches_build(programme=programme, acting_user=officer_luquan)] == [3]


def test_an_entitlement_paid_in_another_channel_is_not_batched_again(officer_luquan):
    """Paid once: a pending or paid line anywhere keeps the entitlement out of a build,
    whatever its channel is now (the lines' INSERT has no ON CONFLICT to skip it)."""
    programme = make_programme("HB-ONCE")
    rule = make_rule(programme)
    ent = make_entitlements(programme, rule, 2, district="130110", start=33_000)[0]
    first = batches_build(programme=programme, acting_user=officer_luquan)
    assert [b.line_count for b in first] == [2]
    Entitlement.objects.filter(pk=ent.pk).update(channel="cash")  # switched after being batched
    assert batches_build(programme=programme, acting_user=officer_luquan) == []


@pytest.mark.parametrize("table", ["disbursements_entitlement", "disbursements_paymentline"])
def test_no_index_is_the_leading_part_of_another(table):
    """A full index on (a) is redundant beside one on (a, b, …): every insert would pay
    for both. (A partial index serves only its predicate, so it covers nothing.)"""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT i.indexrelid::regclass::text, i.indkey::text, i.indpred IS NOT NULL, i.indisunique,"
            " pg_get_indexdef(i.indexrelid) LIKE '%%pattern_ops%%'"
            " FROM pg_index i WHERE i.indrelid = %s::regclass",
            [table],
        )
        indexes = [(name, keys.split(), partial, unique, pattern) for name, keys, partial, unique, pattern in cur]
    assert not [name for name, *_rest, pattern in indexes if pattern]  # no LIKE-only index
    redundant = [
        (name, other)
        for name, keys, partial, unique, _p in indexes
        for other, other_keys, other_partial, _u, _q in indexes
        if name != other and not partial and not unique and not other_partial and other_keys[: len(keys)] == keys
    ]
    assert redundant == []
