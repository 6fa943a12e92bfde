"""Import uploads, their working files and rejected-row reports carry ID and account
numbers: created 0600 in 0700 folders, whatever the process umask."""

import os
import stat
from pathlib import Path

import pytest
from django.urls import reverse

from beneficiaries.importer.outcomes import Outcomes
from beneficiaries.importer.uploads import import_root
from beneficiaries.tests.test_import_flow import _csv_bytes, _upload
from tests.factories import make_employer, make_programme
from tests.import_files import worker_row

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def permissive_umask():
    """A umask that would give 0644 files and 0755 folders: the modes must not come from it."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_upload_meta_preview_and_reports_are_private(
    client, agent_gree, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.IMPORT_ROOT = str(tmp_path / "imports")
    employer = make_employer("格力电器（石家庄）有限公司", "130110", agents=[agent_gree])
    programme = make_programme()
    client.force_login(agent_gree)
    rows = [worker_row(i) for i in range(4)]
    rows[1]["银行账号"] = "12"  # one rejected row: reports are written
    response = client.post(
        reverse("beneficiaries:import_workers"),
        {"employer": employer.pk, "programme": programme.pk, "file": _upload("名单.csv", _csv_bytes(rows))},
    )
    assert response.status_code == 302
    token = response["Location"].rstrip("/").split("/")[-1]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("beneficiaries:import_confirm", args=[token]), {"valid_only": "1"})
    root = import_root()
    directory = root / token
    files = sorted(p.name for p in directory.iterdir() if p.is_file())
    assert {"meta.json", "preview.json", "source.csv", "report-preview.csv", "report-import.xlsx"} <= set(files)
    assert _mode(root) == 0o700 and _mode(directory) == 0o700
    assert {name: _mode(directory / name) for name in files} == dict.fromkeys(files, 0o600)


def test_working_files_of_an_import_are_private(tmp_path):
    outcomes = Outcomes(tmp_path / "work")
    outcomes.accept(1)
    outcomes.reject_late(2, [("姓名", "不符")])
    outcomes.close()
    assert _mode(tmp_path / "work") == 0o700
    assert _mode(outcomes.path) == 0o600 and _mode(outcomes.late_path) == 0o600
