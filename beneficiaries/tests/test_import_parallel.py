"""Phase A on every core: a large file's rows are checked and encrypted by forked worker
processes (validation.checking_pool), and the result is the single-process path's, to
the byte: the same clean lines, the same outcomes and rejected rows (a second row of the
same person included, across chunks), the same sample, the same rows in the database."""

import csv
import datetime as dt
import io
import os
import types

import pytest
from django.db import connection

from beneficiaries import pii
from beneficiaries.importer import reports, validation
from beneficiaries.importer.columns import WORKER_COLUMNS, header_scorer, map_headers
from beneficiaries.importer.outcomes import Outcomes
from beneficiaries.importer.result import ImportResult, NoProgress
from beneficiaries.importer.workers import workers_import
from beneficiaries.models import Person, Registration
from beneficiaries.spreadsheets import open_table
from core import crypto
from programs.models import Programme
from tests.import_files import WORKER_HEADERS, worker_row, write_csv, write_xlsx

PROGRAMME = Programme(
    code="P-2021",
    start_date=dt.date(2021, 1, 21),
    end_date=dt.date(2021, 3, 31),
    holiday_start=dt.date(2021, 2, 11),
    holiday_end=dt.date(2021, 2, 17),
)


def _messy_rows(n: int) -> list[dict]:
    """Valid rows with every kind of trouble spread over several chunks of 7."""
    rows = [worker_row(i) for i in range(n)]
    rows[2]["手机号"] = "123"  # a bad cell
    rows[5]["身份证号"] = rows[1]["身份证号"]  # a second row of a person, same chunk
    rows[30]["身份证号"] = rows[3]["身份证号"]  # … another chunk
    rows[31]["身份证号"] = rows[2]["身份证号"]  # … whose first row was rejected for its phone
    rows[40].update({"身份证号": rows[4]["身份证号"], "姓名": "张", "工龄": "x"})  # … with errors around it
    rows[41]["开户银行"] = "中国工商银行\\石家庄分行"  # a backslash, escaped for COPY
    rows[50]["留岗开始日期"] = "2020-01-01"
    rows[51]["人员类别"] = "其他"
    return rows


@pytest.fixture
def fixed_nonces(monkeypatch):
    """Every nonce zero, in this process and in the forked ones (they inherit the patch),
    so that equal values give equal ciphertexts and the two paths can be compared byte
    for byte. Only here: a real nonce is never reused."""
    monkeypatch.setattr(crypto, "os", types.SimpleNamespace(**{**vars(os), "urandom": bytes}))


def _phase_a(path, workdir, *, settings, processes: int):
    settings.IMPORT_PROCESSES = processes
    table = open_table(path, score=header_scorer(WORKER_COLUMNS))
    positions = map_headers(WORKER_COLUMNS, table.headers)
    result = ImportResult.of_table(
        table, kind="workers", dry_run=True, valid_only=False, workdir=workdir, engine="copy"
    )
    result.outcomes = outcomes = Outcomes(workdir)
    out = io.BytesIO()
    with validation.checking_pool(table, positions, programme=PROGRAMME, parallel=True) as pool:
        validation.validate(table, pool, outcomes=outcomes, out=out, progress=NoProgress(), result=result)
    outcomes.close()
    return result, out.getvalue()


def _write(kind: str, path, rows):
    """A plain CSV (its lines parsed by the worker processes), a CSV with every cell
    quoted, or an .xlsx (both parsed here, their cells sent)."""
    if kind == "xlsx":
        return write_xlsx(path.with_suffix(".xlsx"), rows)
    if kind == "quoted":
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, quoting=csv.QUOTE_ALL)
            w.writerow(WORKER_HEADERS)
            w.writerows([r[h] for h in WORKER_HEADERS] for r in rows)
        return path
    return write_csv(path, rows)


@pytest.mark.parametrize("kind", ["csv", "quoted", "xlsx"])
def test_worker_processes_give_the_single_process_bytes(tmp_path, settings, monkeypatch, fixed_nonces, kind):
    monkeypatch.setattr(validation, "PARALLEL_MIN_ROWS", 10)
    monkeypatch.setattr(validation, "PII_BATCH", 7)  # 9 chunks of 7 rows
    path = _write(kind, tmp_path / "w.csv", _messy_rows(60))
    runs = {}
    for processes in (1, 2):
        result, clean = _phase_a(path, tmp_path / f"work{processes}", settings=settings, processes=processes)
        runs[processes] = (result, clean)
    (single, single_clean), (forked, forked_clean) = runs[1], runs[2]
    assert single.processes == 0 and forked.processes == 2  # the pool was used, by both children
    assert forked_clean == single_clean
    assert forked.outcomes.path.read_bytes() == single.outcomes.path.read_bytes()
    assert forked.sample == single.sample and len(single.sample) == 20
    assert forked.outcomes.first_errors == single.outcomes.first_errors
    assert (forked.outcomes.total, forked.outcomes.rejected) == (single.outcomes.total, single.outcomes.rejected)

    # What both say, as the row-by-row check always said it.
    assert (single.outcomes.total, single.outcomes.rejected) == (60, 7)
    errors = {e["row"]: [(x["column"], x["message"]) for x in e["errors"]] for e in single.outcomes.first_errors}
    assert errors[7] == [("身份证号", "与第3行的身份证号重复：同一人只需登记一次，请删除本行")]
    assert errors[32] == [("身份证号", "与第5行的身份证号重复：同一人只需登记一次，请删除本行")]
    assert errors[33] == [("身份证号", "与第4行的身份证号重复：同一人只需登记一次，请删除本行")]
    assert [c for c, _ in errors[42]] == ["姓名", "身份证号", "工龄"]
    assert errors[42][1][1] == "与第6行的身份证号重复：同一人只需登记一次，请删除本行"
    lines = single_clean.decode().splitlines()
    assert len(lines) == 53 and [
        int(line.split("\t")[0]) for line in lines if "中国工商银行\\\\石家庄分行" in line
    ] == [43]
    assert not {7, 32, 33, 42} & {int(line.split("\t")[0]) for line in lines}


def test_a_file_of_parallel_min_rows_is_checked_by_the_worker_processes(tmp_path, settings):
    """At the real threshold: below it the importing process checks the rows itself."""
    n = validation.PARALLEL_MIN_ROWS
    big = write_csv(tmp_path / "big.csv", [worker_row(i) for i in range(n)])
    result, clean = _phase_a(big, tmp_path / "big", settings=settings, processes=2)
    assert result.processes == 2 and clean.count(b"\n") == n and result.outcomes.rejected == 0
    small = write_csv(tmp_path / "small.csv", [worker_row(i) for i in range(n // 2)])
    assert _phase_a(small, tmp_path / "small", settings=settings, processes=2)[0].processes == 0


def _state():
    return sorted(
        Registration.objects.values_list(
            "person__id_hash", "person__name", "person__phone_tail", "status", "duty_days", "bank_name"
        )
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker processes serve the COPY path")
@pytest.mark.django_db
@pytest.mark.parametrize("valid_only", [True, False])
def test_an_import_by_worker_processes_writes_what_one_process_writes(tmp_path, settings, monkeypatch, valid_only):
    from tests.factories import make_employer, make_programme

    monkeypatch.setattr(validation, "PARALLEL_MIN_ROWS", 10)
    monkeypatch.setattr(validation, "PII_BATCH", 7)
    employer, programme = make_employer("甲公司", "130110"), make_programme()
    path = write_csv(tmp_path / "w.csv", _messy_rows(60))
    seen = {}
    for processes in (2, 1):
        Registration.objects.all().delete()
        Person.objects.all().delete()
        settings.IMPORT_PROCESSES = processes
        result = workers_import(
            path=path, employer=employer, programme=programme, valid_only=valid_only, workdir=tmp_path / f"{processes}"
        )
        report = tmp_path / f"report{processes}.csv"
        reports.write_rejected_csv(report, source=path, filename="w.csv", kind="workers", outcomes=result.outcomes)
        seen[processes] = (
            result.processes > 0,
            result.written,
            (result.total, result.accepted, result.rejected, result.created, result.persons_created),
            result.errors,
            report.read_bytes(),
            _state(),
        )
        result.cleanup()
    assert seen[2][0] and not seen[1][0]
    assert seen[2][1:] == seen[1][1:]
    written, counts, *_ = seen[1][1:]
    assert written == valid_only and counts[:3] == (60, 53, 7)
    assert counts[3] == (53 if valid_only else 0) and len(seen[1][-1]) == counts[3]
    if valid_only:
        assert Person.objects.filter(id_hash=pii.blind_index(worker_row(43)["身份证号"])).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("engine", ["copy", "orm"])
def test_a_backslash_in_a_name_or_a_bank_is_stored_as_typed(tmp_path, engine):
    """COPY's text format would read "\\B" as "B" and "\\t" as a tab: the free-text
    columns are escaped for it, and the ORM path (which reads the same clean lines)
    takes the escape off again."""
    from tests.factories import make_employer, make_programme

    if engine == "copy" and connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    rows = [worker_row(i) for i in range(3)]
    rows[0]["姓名"] = "Anna\\Berg"
    rows[1]["姓名"] = "Tom\\tLee"
    rows[2]["开户银行"] = "中国工商银行\\石家庄分行"
    path = write_csv(tmp_path / "w.csv", rows)
    result = workers_import(
        path=path,
        employer=make_employer("甲公司", "130110"),
        programme=make_programme(),
        valid_only=False,
        workdir=tmp_path / "work",
        engine=engine,
    )
    assert result.written and result.created == 3
    names = dict(Person.objects.values_list("id_hash", "name"))
    assert names[pii.blind_index(rows[0]["身份证号"])] == "Anna\\Berg"
    assert names[pii.blind_index(rows[1]["身份证号"])] == "Tom\\tLee"
    banks = set(Registration.objects.values_list("bank_name", flat=True))
    assert "中国工商银行\\石家庄分行" in banks
