"""Bank files (whole ID and account numbers), their .part files, the scratch files of
an XLSX export and uploaded bank results: 0600 files in 0700 folders (a parallel CSV
export writes none of its own)."""

import io
import os
import stat
from pathlib import Path

import pytest

from disbursements.services.payment_files import bank_files_dir, batch_export, write_csv
from disbursements.tests.test_payment_files import approved  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def permissive_umask():
    old = os.umask(0o022)  # would give 0644 / 0755: the modes must not come from it
    yield
    os.umask(old)


@pytest.fixture
def bank_dir(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media-private" / "bankfiles"


def _mode(path) -> int:
    return stat.S_IMODE(Path(path).stat().st_mode)


def test_exported_bank_files_are_private(approved, officer_luquan, bank_dir):  # noqa: F811
    csv_file = batch_export(batch=approved, fmt="csv", acting_user=officer_luquan)
    xlsx_file = batch_export(batch=approved, fmt="xlsx", acting_user=officer_luquan)
    assert Path(csv_file.path).parent == bank_dir == bank_files_dir()
    assert _mode(bank_dir) == 0o700 and _mode(bank_dir.parent) == 0o700
    assert _mode(csv_file.path) == 0o600 and _mode(xlsx_file.path) == 0o600


def test_a_parallel_export_writes_no_scratch_file(approved, bank_dir, monkeypatch):  # noqa: F811
    """The worker processes of a parallel export send their lines back over pipes: nothing
    decrypted is written anywhere but the file (no part, no temporary file)."""
    import tempfile

    from disbursements.services import file_stream

    def no_temp_file(*args, **kwargs):
        raise AssertionError("a temporary file was made")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_temp_file)
    monkeypatch.setattr(tempfile, "mkdtemp", no_temp_file)
    monkeypatch.setattr(file_stream, "RANGE_LINES", 2)  # several ranges: the workers take some
    bank_dir.mkdir(parents=True, exist_ok=True)
    before = set(bank_dir.iterdir())
    out = io.BytesIO()
    write_csv(approved, out, parallel=True)
    assert out.getvalue().count(b"\r\n") == approved.line_count + 2
    assert set(bank_dir.iterdir()) == before


def test_uploaded_bank_results_are_private(approved, officer_luquan, bank_dir, django_capture_on_commit_callbacks):  # noqa: F811
    from django.core.files.uploadedfile import SimpleUploadedFile

    from disbursements.tasks import results_job_start

    batch_export(batch=approved, fmt="csv", acting_user=officer_luquan)
    upload = SimpleUploadedFile("result.csv", "序号,状态\n".encode(), content_type="text/csv")
    job = results_job_start(batch=approved, uploaded=upload, acting_user=officer_luquan)
    path = Path(job.params["path"])
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
