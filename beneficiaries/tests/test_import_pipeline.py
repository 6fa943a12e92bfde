"""The pipelined PostgreSQL path (a writer thread inserting chunks while the main
thread validates) runs only outside a transaction, as in a Celery job or the CLI:
these tests commit for real and check it gives the sequential path's result."""

import pytest
from django.db import connection

from beneficiaries import pii
from beneficiaries.importer import copy_write, validation
from beneficiaries.importer.workers import workers_import
from beneficiaries.models import Person, Registration
from tests.import_files import worker_row, write_csv

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
    from regions.models import Region
    from regions.services import regions_load
    from tests.factories import make_employer, make_programme

    if not Region.objects.filter(code="130110").exists():
        regions_load()
    # Several chunks from a small file: 7 lines a chunk, the rows encrypted 5 at a time.
    monkeypatch.setattr(copy_write.Pipeline, "CHUNK", 7)
    monkeypatch.setattr(validation, "PII_BATCH", 5)
    return make_employer("甲公司", "130110"), make_employer("乙公司", "130110"), make_programme()


def _state():
    return sorted(Registration.objects.values_list("person__id_hash", "employer__name", "status", "duty_days"))


def run(path, employer, programme, **kw):
    result = workers_import(path=path, employer=employer, programme=programme, **kw)
    result.cleanup()
    return result


def test_the_writer_gets_chunks_while_the_rows_are_validated(tmp_path, committed, monkeypatch):
    """Chunks of CHUNK lines go to the writer as validation goes, not the whole file at
    the end (which held a 1,000,000-row file in memory: 3.2 GB)."""
    first, _second, programme = committed
    sent = []
    put = copy_write.Pipeline._put

    def record(self, item):
        if isinstance(item, bytes):
            sent.append(item.count(b"\n"))
        return put(self, item)

    monkeypatch.setattr(copy_write.Pipeline, "_put", record)
    path = write_csv(tmp_path / "w.csv", [worker_row(i) for i in range(40)])
    result = run(path, first, programme, pipeline=True)
    assert result.engine == "copy+pipeline" and result.created == 40
    # 40 lines written 5 at a time: the first 5 at once (the writer starts while the next
    # rows are checked), then sent once 7 or more wait: 10, 10, 10, and 5 left for the end.
    assert sent == [5, 10, 10, 10, 5], sent


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


def _commit_elsewhere(monkeypatch, rows: dict[int, str], *, after: str = "reject_mismatches"):
    """Let another connection commit persons for these rows (row index → name) the
    first time the import's stage has run `after`: "load" (the persons exist before the
    import's optimistic plain INSERT) or "reject_mismatches" (they appear between the
    lookup and the INSERT: the race; the optimistic first try is turned off)."""
    import threading

    from beneficiaries.importer.copy_write import Stage

    original = getattr(Stage, after)
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

    def hooked(self, *args, **kwargs):
        value = original(self, *args, **kwargs)
        if not done:
            done.append(True)
            other = threading.Thread(target=commit_persons)  # its own connection, autocommit
            other.start()
            other.join()
        return value

    monkeypatch.setattr(Stage, after, hooked)
    if after == "reject_mismatches":
        original_init = Stage.__init__

        def pessimistic(self, *args, **kwargs):
            original_init(self, *args, **kwargs)
            self.optimistic = False

        monkeypatch.setattr(Stage, "__init__", pessimistic)


@pytest.mark.parametrize("after", ["load", "reject_mismatches"])
@pytest.mark.parametrize("pipeline", [True, False])
def test_persons_committed_meanwhile_by_someone_else_are_used(tmp_path, committed, monkeypatch, pipeline, after):
    from beneficiaries.importer.result import NAME_MISMATCH

    first, _, programme = committed
    rows = [worker_row(i) for i in range(6)]  # one chunk
    monkeypatch.setattr(copy_write.Pipeline, "CHUNK", 100)
    _commit_elsewhere(monkeypatch, {2: rows[2]["姓名"], 4: "别的名字"}, after=after)
    result = run(write_csv(tmp_path / "w.csv", rows), first, programme, valid_only=True, pipeline=pipeline)

    assert result.written and (result.accepted, result.rejected, result.created) == (5, 1, 5)
    assert result.persons_created == 4  # rows 0, 1, 3, 5; row 2's person came from elsewhere
    assert [(e["row"], e["errors"][0]["message"]) for e in result.errors] == [(6, NAME_MISMATCH)]
    assert Person.objects.count() == 6
    registered = Registration.objects.filter(employer=first).values_list("person__id_hash", "person__name")
    assert sorted(registered) == sorted(
        (pii.blind_index(r["身份证号"]), r["姓名"]) for i, r in enumerate(rows) if i != 4
    )


@pytest.mark.parametrize("after", ["load", "reject_mismatches"])
def test_a_late_name_mismatch_still_writes_nothing_by_default(tmp_path, committed, monkeypatch, after):
    first, _, programme = committed
    monkeypatch.setattr(copy_write.Pipeline, "CHUNK", 100)
    _commit_elsewhere(monkeypatch, {1: "别的名字"}, after=after)
    result = run(write_csv(tmp_path / "w.csv", [worker_row(i) for i in range(4)]), first, programme, pipeline=True)
    assert not result.written and result.rejected == 1
    assert Registration.objects.count() == 0 and Person.objects.count() == 1  # only the other one's


def test_a_known_person_ends_the_optimistic_inserts_and_every_chunk_is_right(tmp_path, committed):
    """Chunks of 7: chunk 1 all new (optimistic INSERT), chunk 2 meets a person known
    from another employer (the INSERT fails, is rolled back, the chunk is looked up),
    chunks 3 and later are looked up first."""
    first, second, programme = committed
    rows = [worker_row(i) for i in range(30)]
    run(write_csv(tmp_path / "seed.csv", [rows[9], rows[20]]), second, programme)
    result = run(write_csv(tmp_path / "w.csv", rows), first, programme, pipeline=True)
    assert result.written and (result.created, result.conflicts, result.persons_created) == (30, 2, 28)
    assert result.conflict_rows == [11, 22]
    assert Person.objects.count() == 30
    assert Registration.objects.filter(employer=first, status="active").count() == 28


def test_chunks_of_new_persons_are_counted_without_scanning_the_stage(tmp_path, committed, monkeypatch):
    """While every person is new, the rows COPY reported are the counts: the two counts and
    the conflict-row query never run (each was a scan of the staging table per chunk)."""
    first, _, programme = committed
    for name in ("STAGE_COUNT", "STAGE_COUNT_NEW", "STAGE_CONFLICT_ROWS"):
        monkeypatch.setattr(copy_write.sql, name, "SELECT 1/0")  # fails the import if it runs
    result = run(write_csv(tmp_path / "w.csv", [worker_row(i) for i in range(30)]), first, programme, pipeline=True)
    assert result.written and (result.created, result.persons_created, result.unchanged) == (30, 30, 0)
    assert result.conflict_rows == [] and Registration.objects.count() == 30


def test_conflicts_registered_before_are_still_listed_on_a_reimport(tmp_path, committed):
    """The shortcuts above are for chunks of new persons only: a re-import of rows that are
    already conflicts here lists them again, and counts them unchanged."""
    first, second, programme = committed
    rows = [worker_row(i) for i in range(20)]
    run(write_csv(tmp_path / "seed.csv", [rows[4], rows[15]]), second, programme)
    path = write_csv(tmp_path / "w.csv", rows)
    assert run(path, first, programme, pipeline=True).conflict_rows == [6, 17]
    again = run(path, first, programme, pipeline=True)
    assert (again.created, again.unchanged, again.conflict_rows) == (0, 20, [6, 17])
