"""Bank files (whole ID and account numbers), their .part files, the scratch parts of
a parallel or XLSX export and uploaded bank results: 0600 files in 0700 folders."""

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


def test_parts_of_a_parallel_export_are_private(approved, bank_dir, monkeypatch, tmp_path, transactional_db):  # noqa: F811
    """The parts are written by forked processes into a scratch folder: each reports
    the modes it saw to a log file (a child's memory is its own)."""
    from disbursements.services import payment_files

    log = tmp_path / "seen.log"
    real = payment_files.open_private

    def spy(path, mode="wb", **kwargs):
        fh = real(path, mode, **kwargs)
        with open(log, "a") as out:
            out.write(f"{Path(path).name} {_mode(path):o} {_mode(Path(path).parent):o}\n")
        return fh

    monkeypatch.setattr(payment_files, "open_private", spy)
    write_csv(approved, io.BytesIO(), parallel=True)
    seen = log.read_text().split("\n")[:-1] if log.exists() else []
    assert seen, "the parallel path wrote no part"
    assert {tuple(line.split()[1:]) for line in seen} == {("600", "700")}


def test_uploaded_bank_results_are_private(approved, officer_luquan, bank_dir, django_capture_on_commit_callbacks):  # noqa: F811
    from django.core.files.uploadedfile import SimpleUploadedFile

    from disbursements.tasks import results_job_start

    batch_export(batch=approved, fmt="csv", acting_user=officer_luquan)
    upload = SimpleUploadedFile("result.csv", "序号,状态\n".encode(), content_type="text/csv")
    job = results_job_start(batch=approved, uploaded=upload, acting_user=officer_luquan)
    path = Path(job.params["path"])
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
