"""The pipelined PostgreSQL path (a writer thread inserting chunks while the main
thread validates) runs only outside a transaction, as in a Celery job or the CLI:
these tests commit for real and check it gives the sequential path's result."""

import pytest
from django.db import connection

from beneficiaries import pii
from beneficiaries.importer import workers as workers_module
from beneficiaries.importer.testing import worker_row, write_csv
from beneficiaries.importer.workers import workers_import
from beneficiaries.models import Person, Registration

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the pipelined COPY path needs PostgreSQL")


@pytest.fixture
def regions_back_after_flush(django_db_blocker):
    """A transactional test ends with a flush that empties every table, regions too;
    put them back for the tests that follow (this teardown runs after the flush)."""
    yield
    from regions.services import regions_load

    with django_db_blocker.unblock():
        regions_load()


@pytest.fixture
def committed(regions_back_after_flush, transactional_db, monkeypatch):
    from beneficiaries.tests.factories import make_employer, make_programme
    from regions.models import Region
    from regions.services import regions_load

    if not Region.objects.filter(code="130110").exists():
        regions_load()
    monkeypatch.setattr(workers_module._Pipeline, "CHUNK", 7)  # several chunks from a small file
    return make_employer("甲公司", "130110"), make_employer("乙公司", "130110"), make_programme()


def _state():
    return sorted(Registration.objects.values_list("person__id_hash", "employer__name", "status", "duty_days"))


def run(path, employer, programme, **kw):
    result = workers_import(path=path, employer=employer, programme=programme, **kw)
    result.cleanup()
    return result


def test_pipeline_matches_the_sequential_path(tmp_path, committed):
    first, second, programme = committed
    rows = [worker_row(i) for i in range(40)]
    seed = write_csv(tmp_path / "seed.csv", [rows[3], rows[25], rows[30]])
    rows[17]["手机号"] = "1"  # rejected in validation (chunk 3)
    rows[30] = {**rows[30], "姓名": "改了名字"}  # a known ID under another name: rejected by the database check
    path = write_csv(tmp_path / "w.csv", rows)
    outcomes = {}
    for mode in ("pipeline", "sequential"):
        Registration.objects.all().delete()
        Person.objects.all().delete()
        run(seed, second, programme)
        result = run(path, first, programme, valid_only=True, pipeline=mode == "pipeline")
        assert result.engine == ("copy+pipeline" if mode == "pipeline" else "copy")
        outcomes[mode] = (
            result.accepted,
            result.rejected,
            result.created,
            result.conflicts,
            result.unchanged,
            result.persons_created,
            result.conflict_rows,
            result.errors,
            _state(),
        )
    assert outcomes["pipeline"] == outcomes["sequential"]
    accepted, rejected, created, conflicts, *_ = outcomes["pipeline"]
    assert (accepted, rejected, created, conflicts) == (38, 2, 38, 2)
    assert [e["row"] for e in outcomes["pipeline"][7]] == [19, 32]


def test_pipeline_rolls_back_everything_when_a_row_is_rejected(tmp_path, committed):
    first, _, programme = committed
    rows = [worker_row(i) for i in range(30)]
    rows[25]["留岗开始日期"] = "无"  # the last chunk: earlier chunks were already inserted
    result = run(write_csv(tmp_path / "w.csv", rows), first, programme, pipeline=True)
    assert result.engine == "copy+pipeline" and not result.written and result.rejected == 1
    assert Registration.objects.count() == 0 and Person.objects.count() == 0


def test_pipeline_reimport_changes_nothing(tmp_path, committed):
    first, _, programme = committed
    path = write_csv(tmp_path / "w.csv", [worker_row(i) for i in range(20)])
    assert run(path, first, programme, pipeline=True).created == 20
    before = _state()
    again = run(path, first, programme, pipeline=True)
    assert again.created == 0 and again.unchanged == 20 and _state() == before
    assert Person.objects.filter(id_hash=pii.blind_index(worker_row(3)["身份证号"])).exists()


def _commit_elsewhere(rows: dict[int, str]):
    """A reject_mismatches that, the first time, lets another connection commit persons
    for these rows (row index → name) right after it looked: the race that the plain
    person INSERT of a new person must survive."""
    import threading

    from beneficiaries.importer.workers import _Stage

    original = _Stage.reject_mismatches
    done = []

    def commit_persons():
        for seq, name in rows.items():
            number = worker_row(seq)["身份证号"]
            Person.objects.create(
                id_hash=pii.blind_index(number),
                id_cipher=pii.encrypt(number),
                id_masked=pii.mask_id(number),
                name=name,
                hukou_code="410102",
            )
        connection.close()

    def racing(self):
        late = original(self)
        if not done:
            done.append(True)
            other = threading.Thread(target=commit_persons)  # its own connection, autocommit
            other.start()
            other.join()
        return late

    return racing


@pytest.mark.parametrize("pipeline", [True, False])
def test_persons_committed_meanwhile_by_someone_else_are_used(tmp_path, committed, monkeypatch, pipeline):
    from beneficiaries.importer.workers import NAME_MISMATCH, _Stage

    first, _, programme = committed
    rows = [worker_row(i) for i in range(6)]  # one chunk
    monkeypatch.setattr(workers_module._Pipeline, "CHUNK", 100)
    monkeypatch.setattr(_Stage, "reject_mismatches", _commit_elsewhere({2: rows[2]["姓名"], 4: "别的名字"}))
    result = run(write_csv(tmp_path / "w.csv", rows), first, programme, valid_only=True, pipeline=pipeline)

    assert result.written and (result.accepted, result.rejected, result.created) == (5, 1, 5)
    assert result.persons_created == 4  # rows 0, 1, 3, 5; row 2's person came from elsewhere
    assert [(e["row"], e["errors"][0]["message"]) for e in result.errors] == [(6, NAME_MISMATCH)]
    assert Person.objects.count() == 6
    registered = Registration.objects.filter(employer=first).values_list("person__id_hash", "person__name")
    assert sorted(registered) == sorted(
        (pii.blind_index(r["身份证号"]), r["姓名"]) for i, r in enumerate(rows) if i != 4
    )


def test_a_late_name_mismatch_still_writes_nothing_by_default(tmp_path, committed, monkeypatch):
    from beneficiaries.importer.workers import _Stage

    first, _, programme = committed
    monkeypatch.setattr(workers_module._Pipeline, "CHUNK", 100)
    monkeypatch.setattr(_Stage, "reject_mismatches", _commit_elsewhere({1: "别的名字"}))
    result = run(write_csv(tmp_path / "w.csv", [worker_row(i) for i in range(4)]), first, programme, pipeline=True)
    assert not result.written and result.rejected == 1
    assert Registration.objects.count() == 0 and Person.objects.count() == 1  # only the other one's
