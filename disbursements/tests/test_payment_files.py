"""Bank files: exact bytes (golden files), determinism, formula safety, encodings,
and the bank's result files (paid, failed, idempotent, refused when wrong)."""

import csv
import io
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from accounts.models import AuditEntry
from core.errors import ConflictError, DomainError, PermissionDenied
from core.spreadsheets import safe_cell
from disbursements.choices import BatchStatus, LineStatus
from disbursements.models import PaymentLine
from disbursements.services.bank_results import batch_import_results, example_result_csv
from disbursements.services.batches import batches_build
from disbursements.services.payment_files import bank_leftovers_purge, batch_export, part_owner, write_csv
from tests.factories import approve, make_employer, make_entitlement, make_programme, make_rule

pytestmark = pytest.mark.django_db
GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def approved(officer_luquan, city_shijiazhuang, province_staff):
    programme = make_programme("HB-GOLD")
    rule = make_rule(programme, "luquan_cash", amount="500.00", name="鹿泉区留岗职工补贴")
    employer = make_employer(district="130110")
    names = ["王小明", '=HYPERLINK("http://x")', "李四", "+张三", "-赵六", "@周七", "钱𠀀八"]
    for i, name in enumerate(names):
        make_entitlement(programme, rule, employer=employer, n=9000 + i, amount="500.00" if i % 3 else "800.50")
        PaymentLine
    from beneficiaries.models import Person

    for i, person in enumerate(Person.objects.filter(registrations__programme=programme).order_by("id")):
        person.name = names[i]
        person.save(update_fields=["name"])
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    return approve(batch, officer_luquan, city_shijiazhuang, province_staff)


def _golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") or not path.exists():
        path.write_bytes(data)
    assert data == path.read_bytes(), (
        f"{name} differs from the golden file (UPDATE_GOLDEN=1 to accept a deliberate change)"
    )


def test_csv_utf8_matches_golden_and_is_deterministic(approved, officer_luquan):
    first = batch_export(batch=approved, fmt="csv", acting_user=officer_luquan)
    data = Path(first.path).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    _golden("bank_file_utf8.csv", data)
    second = batch_export(batch=approved, fmt="csv", acting_user=officer_luquan)
    assert Path(second.path).read_bytes() == data and second.checksum == first.checksum
    approved.refresh_from_db()
    assert approved.status == BatchStatus.EXPORTED and approved.file_checksum == first.checksum
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["序号", "姓名", "证件号码", "银行账号", "开户行", "金额", "用途", "备注"]
    assert rows[1][2].startswith("410102") and len(rows[1][2]) == 18  # decrypted into the file
    assert rows[1][3] == f"6222{9000:015d}"
    assert rows[2][1] == '\'=HYPERLINK("http://x")' and rows[4][1] == "'+张三" and rows[5][1] == "'-赵六"
    assert rows[-1] == ["合计", "", "", "", "", "4401.50", "", "共 7 笔"]
    assert sum(Decimal(r[5]) for r in rows[1:-1]) == approved.total == Decimal("4401.50")
    assert rows[1][7] == f"{approved.number}-0000001"
    assert AuditEntry.objects.filter(action="batch_export", object_id=str(approved.pk)).count() == 2


def test_gb18030_and_xlsx_match_golden(approved, officer_luquan):
    gb = batch_export(batch=approved, fmt="csv", encoding="gb18030", acting_user=officer_luquan)
    data = Path(gb.path).read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert "钱𠀀八" in data.decode("gb18030")
    _golden("bank_file_gb18030.csv", data)
    x1 = batch_export(batch=approved, fmt="xlsx", acting_user=officer_luquan)
    x2 = batch_export(batch=approved, fmt="xlsx", acting_user=officer_luquan)
    assert x1.checksum == x2.checksum
    _golden("bank_file.xlsx", Path(x1.path).read_bytes())
    sheet = CalamineWorkbook.from_path(x1.path).get_sheet_by_index(0).to_python()
    assert sheet[0][:3] == ["序号", "姓名", "证件号码"]
    assert sheet[2][1] == '\'=HYPERLINK("http://x")'
    assert sheet[-1][0] == "合计" and sheet[-1][5] == "4401.50"
    # No formula anywhere in the sheet XML.
    import zipfile

    xml = zipfile.ZipFile(x1.path).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml


def test_portable_path_writes_the_same_bytes(approved):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the COPY path exists on PostgreSQL only")
    fast, slow = io.BytesIO(), io.BytesIO()
    write_csv(approved, fast, fast=True, parallel=False)
    write_csv(approved, slow, fast=False)
    assert fast.getvalue() == slow.getvalue()
    # (the two-process path needs committed rows: see test_batch_worker.py)


def test_safe_cell():
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("＝SUM(A1)") == "'＝SUM(A1)"
    assert safe_cell("王五") == "王五"
    assert safe_cell("") == ""


def test_export_needs_approval_and_scope(officer_luquan, officer_cangzhou, city_shijiazhuang):
    programme = make_programme("HB-X")
    rule = make_rule(programme, "luquan_cash")
    make_entitlement(programme, rule)
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    with pytest.raises(ConflictError):
        batch_export(batch=batch, fmt="csv", acting_user=officer_luquan)
    with pytest.raises(PermissionDenied):
        batch_export(batch=batch, fmt="csv", acting_user=city_shijiazhuang)
    with pytest.raises(DomainError):
        batch_export(batch=batch, fmt="pdf", acting_user=officer_luquan)


def _result_file(tmp_path, batch, failures, name="result.csv", encoding="utf-8-sig"):
    path = tmp_path / name
    path.write_bytes(example_result_csv(batch, failures).encode(encoding))
    return path


def test_results_mark_lines_paid_and_failed_idempotently(approved, officer_luquan, tmp_path):
    batch_export(batch=approved, fmt="csv", acting_user=officer_luquan)
    approved.refresh_from_db()
    path = _result_file(tmp_path, approved, {2: "户名不符", 5: "账号不存在"}, encoding="gb18030")
    result = batch_import_results(batch=approved, path=path, acting_user=officer_luquan)
    assert (result["paid"], result["failed"], result["pending"], result["changed"]) == (5, 2, 0, 7)
    assert approved.status == BatchStatus.RECONCILED
    line = approved.lines.get(seq=2)
    assert line.status == LineStatus.FAILED and line.failure_reason == "户名不符" and line.bank_reference
    assert AuditEntry.objects.filter(action="line_result", object_id=str(line.pk)).count() == 1
    again = batch_import_results(batch=approved, path=path, acting_user=officer_luquan)
    assert again["changed"] == 0 and again["paid"] == 5
    assert AuditEntry.objects.filter(action="line_result").count() == 7


def test_results_file_errors_are_all_reported_and_nothing_is_written(approved, officer_luquan, tmp_path):
    batch_export(batch=approved, fmt="csv", acting_user=officer_luquan)
    approved.refresh_from_db()
    path = tmp_path / "bad.csv"
    path.write_text(
        "备注,状态,失败原因\n"
        f"{approved.number}-0000001,成功,\n"
        f"{approved.number}-0000002,失败,\n"
        f"{approved.number}-0000099,成功,\n"
        f"OTHER-0000003,成功,\n"
        f"{approved.number}-0000004,不知道,\n"
        f"{approved.number}-0000001,成功,\n",
        encoding="utf-8",
    )
    with pytest.raises(DomainError) as exc:
        batch_import_results(batch=approved, path=path, acting_user=officer_luquan)
    errors = exc.value.errors
    assert len(errors) == 5
    assert errors[0].startswith("第 3 行“失败原因”列")
    assert "第 99 笔" in errors[1] and "不属于批次" in errors[2] and "无法识别" in errors[3] and "重复" in errors[4]
    assert not approved.lines.exclude(status=LineStatus.PENDING).exists()


def test_a_paid_line_cannot_become_failed(approved, officer_luquan, tmp_path):
    batch_export(batch=approved, fmt="csv", acting_user=officer_luquan)
    approved.refresh_from_db()
    batch_import_results(batch=approved, path=_result_file(tmp_path, approved, {}), acting_user=officer_luquan)
    with pytest.raises(DomainError) as exc:
        batch_import_results(
            batch=approved, path=_result_file(tmp_path, approved, {3: "冻结"}, "r2.csv"), acting_user=officer_luquan
        )
    assert "已登记为“已发放”" in exc.value.errors[0]


def test_results_only_after_export(approved, officer_luquan, tmp_path):
    with pytest.raises(ConflictError):
        batch_import_results(batch=approved, path=_result_file(tmp_path, approved, {}), acting_user=officer_luquan)


# --------------------------------------------------------------------------- leftovers of killed exports


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live_pid():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    time.sleep(0.05)  # it has started before any file named for it below is written
    yield proc.pid
    proc.kill()
    proc.wait()


def _touch(path: Path, *, age: float = 0.0) -> Path:
    path.write_bytes(b"130102199001011234,6222020200001234567\r\n")
    if age:
        past = time.time() - age
        os.utime(path, (past, past))
    return path


def test_purge_removes_dead_writers_and_old_files_and_keeps_live_ones(tmp_path, live_pid):
    host = part_owner().split("@", 1)[1]
    dead = _dead_pid()
    day = 24 * 3600
    keep = [
        _touch(tmp_path / "PB-1.csv"),  # finished files and anything else are never looked at
        _touch(tmp_path / "PB-1.csv.sum"),
        _touch(tmp_path / "PB-1.csv.part-12x"),
        _touch(tmp_path / f"PB-2.csv.part-{part_owner()}"),  # this process: an export running here
        _touch(tmp_path / f"PB-3.xlsx.part-{live_pid}@{host}"),  # another live process on this host
        _touch(tmp_path / f"PB-4.csv.part-{dead}@other-host"),  # another host's pids mean nothing here …
        _touch(tmp_path / f"PB-5.csv.part-{dead}"),  # … nor do those of a name without a host
    ]
    (tmp_path / "results").mkdir()
    keep.append(_touch(tmp_path / "results" / f"PB-6.csv.part-{dead}@{host}"))  # only the top level
    gone = [
        _touch(tmp_path / f"PB-7.csv.part-{dead}@{host}"),  # its writer was killed
        _touch(tmp_path / f"PB-8.csv.part-{dead}@other-host", age=2 * day),  # too old to be written still
        _touch(tmp_path / f"PB-9.csv.part-{dead}", age=2 * day),
    ]
    scratch = tmp_path / f"xlsx-k2j4.part-{dead}@{host}"  # XLSX scratch of a killed export, with its rows
    scratch.mkdir()
    _touch(scratch / "tmpabc123")
    gone.append(scratch)
    if Path("/proc/self/stat").exists():
        # The pid of a process that started after the file was last written: reused, not its writer.
        gone.append(_touch(tmp_path / f"PB-10.csv.part-{live_pid}@{host}", age=600))

    removed = bank_leftovers_purge(directory=tmp_path)

    assert sorted(removed) == sorted(p.name for p in gone)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in gone)
    assert bank_leftovers_purge(directory=tmp_path) == []


def test_a_killed_writer_s_file_is_kept_while_it_runs_and_purged_after(tmp_path):
    """A real process writes under the name an export gives its file, and is killed."""
    ready = tmp_path / "ready"
    pid = os.fork()
    if pid == 0:  # the child: write like an export, then hang until killed
        try:
            with open(tmp_path / f"PB-1.csv.part-{part_owner()}", "wb") as fh:
                fh.write(b"\xef\xbb\xbf\xe5\xba\x8f\xe5\x8f\xb7\r\n")
                fh.flush()
                ready.touch()
                time.sleep(120)
        finally:
            os._exit(0)
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ready.exists()
        part = next(tmp_path.glob("PB-1.csv.part-*"))
        assert part.name.endswith(f".part-{pid}@{part_owner().split('@', 1)[1]}")
        assert bank_leftovers_purge(directory=tmp_path) == []  # being written: untouched
        os.kill(pid, signal.SIGKILL)
        # Killed (a zombie until its parent reaps it, which it writes nothing as): purged.
        deadline = time.monotonic() + 10
        while not (removed := bank_leftovers_purge(directory=tmp_path)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert removed == [part.name]
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    assert not part.exists()


def test_an_export_purges_leftovers_and_leaves_none_of_its_own(approved, officer_luquan, tmp_path, settings, live_pid):
    settings.BANK_FILES_DIR = str(tmp_path)
    host = part_owner().split("@", 1)[1]
    killed = _touch(tmp_path / f"{approved.number}.csv.part-{_dead_pid()}@{host}")
    running = _touch(tmp_path / f"{approved.number}.csv.part-{live_pid}@{host}")

    csv_export = batch_export(batch=approved, fmt="csv", acting_user=officer_luquan)
    xlsx_export = batch_export(batch=approved, fmt="xlsx", acting_user=officer_luquan)

    assert not killed.exists() and running.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [Path(csv_export.path).name, Path(xlsx_export.path).name, running.name]
    )


def test_beat_purges_leftovers_hourly(tmp_path, settings):
    from disbursements.tasks import bank_leftovers_purge_task

    entry = settings.CELERY_BEAT_SCHEDULE["bank-files-purge-leftovers"]
    assert entry["task"] == bank_leftovers_purge_task.name == "disbursements.bank_leftovers_purge"
    assert entry["schedule"] <= 3600
    settings.BANK_FILES_DIR = str(tmp_path)
    killed = _touch(tmp_path / f"PB-1.csv.part-{_dead_pid()}@{part_owner().split('@', 1)[1]}")
    assert bank_leftovers_purge_task.apply().get() == [killed.name]
    assert not killed.exists()
