"""The import as users drive it: the pages, the API, the CLI, and the Celery job."""

import io
import json

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import Job
from beneficiaries.models import Employer, Registration
from beneficiaries.uscc import make_uscc
from tests.factories import make_employer
from tests.import_files import WORKER_HEADERS, worker_row, write_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def employer(agent_gree):
    return make_employer("格力电器（石家庄）有限公司", "130110", agents=[agent_gree])


def _csv_bytes(rows, **kw) -> bytes:
    buf = io.StringIO()
    import csv

    w = csv.writer(buf)
    w.writerow(WORKER_HEADERS)
    for r in rows:
        w.writerow([r.get(h, "") for h in WORKER_HEADERS])
    return buf.getvalue().encode("utf-8-sig")


def _upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="text/csv")


# -- pages ----------------------------------------------------------------------------


def test_template_download_has_instructions_text_columns_and_dropdowns(client, agent_gree):
    client.force_login(agent_gree)
    response = client.get(reverse("beneficiaries:import_template", args=["workers"]))
    assert response.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert wb.sheetnames[0] == "说明"
    data = wb["留岗人员名单"]
    assert [c.value for c in data[1]] == WORKER_HEADERS
    assert data.column_dimensions["B"].number_format == "@"  # 身份证号 as text
    assert data.column_dimensions["J"].number_format == "@"  # 银行账号 as text
    lists = {
        str(dv.sqref).split(":")[0]: dv.formula1 for dv in data.data_validations.dataValidation if dv.type == "list"
    }
    assert "H2" in lists and "I2" in lists  # 人员类别 and 开户银行
    choices = [c.value for c in wb["下拉选项"]["A"] if c.value]
    assert {"外来务工人员", "困难群众", "失业人员", "中国工商银行"} <= set(choices)
    response = client.get(reverse("beneficiaries:import_template", args=["employers"]))
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert [c.value for c in wb["用人单位名单"][1]] == [
        "统一社会信用代码",
        "单位名称",
        "经济类型",
        "所在区县代码",
        "行业",
        "联系人",
        "联系电话",
    ]


def test_upload_preview_confirm_done_through_the_pages(
    client, agent_gree, employer, programme, django_capture_on_commit_callbacks
):
    client.force_login(agent_gree)
    rows = [worker_row(i) for i in range(6)]
    rows[2]["姓名"] = "<b>王</b>"
    rows[3]["银行账号"] = "12"
    rows[4]["手机号"] = "123"
    response = client.post(
        reverse("beneficiaries:import_workers"),
        {"employer": employer.pk, "programme": programme.pk, "file": _upload("名单.csv", _csv_bytes(rows))},
    )
    assert response.status_code == 302
    preview_url = response["Location"]
    page = client.get(preview_url).content.decode()
    assert "第 5 行" in page and "第 6 行" in page and "仅导入无误的行" in page
    assert "&lt;b&gt;王&lt;/b&gt;" in page and "<b>王</b>" not in page  # shown as text
    assert Registration.objects.count() == 0  # the preview writes nothing
    token = preview_url.rstrip("/").split("/")[-1]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("beneficiaries:import_confirm", args=[token]), {"valid_only": "1"})
    assert response.status_code == 302
    job = Job.objects.get(kind="import_workers")
    assert job.state == "done", job.message  # tasks run eagerly in tests: the Celery path ran
    assert Registration.objects.filter(employer=employer).count() == 4
    page = client.get(response["Location"]).content.decode()
    assert "导入完成" in page and "下载错误行报告" in page
    report = client.get(reverse("beneficiaries:import_report", args=[token, "import", "xlsx"]))
    ws = openpyxl.load_workbook(io.BytesIO(b"".join(report.streaming_content))).active
    assert [c.value for c in ws[1]] == [*WORKER_HEADERS, "错误原因"]
    assert [ws.cell(r, 1).value for r in (2, 3)] == [rows[3]["姓名"], rows[4]["姓名"]]
    assert Registration.objects.filter(person__name="<b>王</b>").exists()
    # a second confirm does not start a second job
    client.post(reverse("beneficiaries:import_confirm", args=[token]), {"valid_only": "1"})
    assert Job.objects.filter(kind="import_workers").count() == 1


def test_someone_elses_upload_is_404(client, agent_gree, agent_other, employer, programme):
    client.force_login(agent_gree)
    response = client.post(
        reverse("beneficiaries:import_workers"),
        {"employer": employer.pk, "programme": programme.pk, "file": _upload("w.csv", _csv_bytes([worker_row(1)]))},
    )
    token = response["Location"].rstrip("/").split("/")[-1]
    client.force_login(agent_other)
    assert client.get(reverse("beneficiaries:import_preview", args=[token])).status_code == 404
    assert client.post(reverse("beneficiaries:import_confirm", args=[token])).status_code == 404
    assert client.get(reverse("beneficiaries:import_report", args=[token, "preview", "xlsx"])).status_code == 404
    # and the other agent cannot pick this employer in the form
    response = client.post(
        reverse("beneficiaries:import_workers"),
        {"employer": employer.pk, "programme": programme.pk, "file": _upload("w.csv", _csv_bytes([worker_row(1)]))},
    )
    assert response.status_code == 200 and "employer" in response.context["form"].errors


def test_agents_cannot_open_the_employer_import(client, agent_gree):
    client.force_login(agent_gree)
    assert client.get(reverse("beneficiaries:import_employers")).status_code == 404


def test_a_bad_file_is_reported_on_the_form(client, agent_gree, employer, programme):
    client.force_login(agent_gree)
    response = client.post(
        reverse("beneficiaries:import_workers"),
        {"employer": employer.pk, "programme": programme.pk, "file": _upload("名单.xlsx", b"not a workbook")},
    )
    assert response.status_code == 200
    assert "不是有效的 Excel" in response.content.decode()


def test_employer_import_through_the_pages(client, officer_luquan, django_capture_on_commit_callbacks):
    client.force_login(officer_luquan)
    codes = [make_uscc("91", "130110", f"{n:08d}") for n in (501, 502)]
    lines = [
        "统一社会信用代码,单位名称,经济类型,所在区县代码,行业,联系人,联系电话",
        f"{codes[0]},<script>alert(1)</script>有限公司,私营/非公,130110,制造业,李四,0311-12345678",
        f"{codes[1]},沧州某公司,私营,130903,,,",  # another city: out of the officer's scope
    ]
    response = client.post(
        reverse("beneficiaries:import_employers"), {"file": _upload("units.csv", "\n".join(lines).encode())}
    )
    preview = client.get(response["Location"]).content.decode()
    assert "不在您的管辖范围内" in preview and "&lt;script&gt;" in preview and "<script>alert" not in preview
    token = response["Location"].rstrip("/").split("/")[-1]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("beneficiaries:import_confirm", args=[token]), {"valid_only": "1"})
    employer = Employer.objects.get(credit_code=codes[0])
    assert employer.name == "<script>alert(1)</script>有限公司" and employer.status == "pending"
    assert not Employer.objects.filter(credit_code=codes[1]).exists()


# -- API --------------------------------------------------------------------------------


def test_api_upload_preview_confirm_and_job_status(
    client, agent_gree, employer, programme, django_capture_on_commit_callbacks
):
    client.force_login(agent_gree)
    rows = [worker_row(i) for i in range(5)]
    rows[1]["人员类别"] = "临时工"
    response = client.post(
        "/api/v1/imports/",
        {
            "file": _upload("w.csv", _csv_bytes(rows)),
            "kind": "workers",
            "employer": employer.credit_code,
            "programme": programme.code,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["preview"]["accepted"] == 4 and body["preview"]["rejected"] == 1
    assert body["preview"]["errors"] == [
        {"row": 3, "errors": [{"column": "人员类别", "message": body["preview"]["errors"][0]["errors"][0]["message"]}]}
    ]
    preview = client.get(body["preview_url"]).json()
    assert preview["errors"][0]["row"] == 3
    with django_capture_on_commit_callbacks(execute=True):
        confirm = client.post(body["confirm_url"], {"valid_only": True}, content_type="application/json")
    assert confirm.status_code == 202
    status = client.get(confirm.json()["status_url"]).json()
    assert status["state"] == "done" and status["result"]["created"] == 4 and status["result"]["rejected"] == 1
    report = client.get(f"/api/v1/imports/{body['id']}/report/?stage=import&type=csv")
    assert report.status_code == 200


def test_api_default_mode_writes_nothing_when_a_row_is_rejected(
    client, agent_gree, employer, programme, django_capture_on_commit_callbacks
):
    client.force_login(agent_gree)
    rows = [worker_row(i) for i in range(3)]
    rows[0]["留岗开始日期"] = "明天"
    body = client.post(
        "/api/v1/imports/",
        {
            "file": _upload("w.csv", _csv_bytes(rows)),
            "kind": "workers",
            "employer": employer.pk,
            "programme": programme.code,
        },
    ).json()
    with django_capture_on_commit_callbacks(execute=True):
        confirm = client.post(body["confirm_url"], {}, content_type="application/json")
    status = client.get(confirm.json()["status_url"]).json()
    assert status["state"] == "done" and status["result"]["written"] is False
    assert Registration.objects.count() == 0


def test_api_scope_agent_of_another_employer_gets_404(client, agent_other, employer, programme):
    client.force_login(agent_other)
    response = client.post(
        "/api/v1/imports/",
        {
            "file": _upload("w.csv", _csv_bytes([worker_row(1)])),
            "kind": "workers",
            "employer": employer.pk,
            "programme": programme.code,
        },
    )
    assert response.status_code == 404


def test_api_officer_scope_is_the_subtree(client, officer_cangzhou, officer_luquan, employer, programme):
    def data():
        return {
            "file": _upload("w.csv", _csv_bytes([worker_row(1)])),
            "kind": "workers",
            "employer": employer.pk,
            "programme": programme.code,
        }

    client.force_login(officer_cangzhou)
    assert client.post("/api/v1/imports/", data()).status_code == 404
    client.force_login(officer_luquan)
    response = client.post("/api/v1/imports/", data())
    assert response.status_code == 201
    token = response.json()["id"]
    client.force_login(officer_cangzhou)
    assert client.get(f"/api/v1/imports/{token}/").status_code == 404


def test_api_bad_file_is_400_with_a_chinese_message(client, agent_gree, employer, programme):
    client.force_login(agent_gree)
    response = client.post(
        "/api/v1/imports/",
        {
            "file": _upload("w.xlsx", b"<html></html>"),
            "kind": "workers",
            "employer": employer.pk,
            "programme": programme.code,
        },
    )
    assert response.status_code == 400 and "不是有效的 Excel" in response.json()["detail"]


# -- CLI ----------------------------------------------------------------------------------


def test_cli_json_report_shape(tmp_path, employer, programme):
    rows = [worker_row(i) for i in range(3)]
    rows[1]["手机号"] = "12"
    path = write_csv(tmp_path / "w.csv", rows)
    report = tmp_path / "report.json"
    call_command(
        "import_workers",
        str(path),
        employer=employer.credit_code,
        programme=programme.code,
        valid_only=True,
        report=str(report),
    )
    data = json.loads(report.read_text(encoding="utf-8"))
    assert set(data) == {"accepted", "rejected", "rows"}
    assert (data["accepted"], data["rejected"]) == (2, 1)
    assert data["rows"][0] == {"row": 2, "status": "accepted", "errors": []}
    assert data["rows"][1]["row"] == 3 and data["rows"][1]["status"] == "rejected"
    assert data["rows"][1]["errors"][0]["column"] == "手机号" and "手机号" in data["rows"][1]["errors"][0]["message"]
    assert Registration.objects.count() == 2


def test_cli_dry_run_and_unreadable_file(tmp_path, employer, programme):
    path = write_csv(tmp_path / "w.csv", [worker_row(1)])
    call_command("import_workers", str(path), employer=employer.credit_code, programme=programme.code, dry_run=True)
    assert Registration.objects.count() == 0
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"nope")
    with pytest.raises(CommandError, match="不是有效的 Excel"):
        call_command("import_workers", str(bad), employer=employer.credit_code, programme=programme.code)
    with pytest.raises(CommandError):
        call_command(
            "import_workers", str(tmp_path / "missing.csv"), employer=employer.credit_code, programme=programme.code
        )


def test_cli_import_employers(tmp_path):
    code = make_uscc("91", "130110", "00000777")
    path = tmp_path / "e.csv"
    path.write_text(
        "统一社会信用代码,单位名称,经济类型,所在区县代码\n"
        f"{code},鹿泉某厂,私营/非公,130110\n"
        "911301100000000000,坏代码公司,私营,130110\n",
        encoding="gbk",
    )
    report = tmp_path / "r.json"
    call_command("import_employers", str(path), valid_only=True, report=str(report))
    data = json.loads(report.read_text(encoding="utf-8"))
    assert (data["accepted"], data["rejected"]) == (1, 1) and data["rows"][1]["errors"][0][
        "column"
    ] == "统一社会信用代码"
    assert Employer.objects.get(credit_code=code).district_id == "130110"
    call_command("import_employers", str(path), valid_only=True)  # again: nothing changes
    assert Employer.objects.filter(credit_code=code).count() == 1


def test_import_messages_follow_the_page_language(client, agent_gree, employer, programme, settings):
    """Stored in Chinese, the preview's row errors and the form's file error are shown in
    English with the language cookie."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(agent_gree)
    rows = [worker_row(1), worker_row(2, 开户银行="火星银行"), worker_row(3, 春节在岗天数="-1")]
    response = client.post(
        reverse("beneficiaries:import_workers"),
        {"employer": employer.pk, "programme": programme.pk, "file": _upload("名单.csv", _csv_bytes(rows))},
    )
    page = client.get(response["Location"]).content.decode()
    assert "The bank “火星银行” is not a recognised bank" in page
    assert "Days on duty over the Spring Festival should be between 0 and 7, but is -1" in page
    assert "不是可识别的银行" not in page and "应在0至7之间" not in page
    assert "3 rows: 1 valid, 2 with errors." in page and "Importing the valid rows will add 1 registration(s)" in page
    response = client.post(
        reverse("beneficiaries:import_workers"),
        {"employer": employer.pk, "programme": programme.pk, "file": _upload("名单.xlsx", b"not a workbook")},
    )
    assert "The file is not a valid Excel (.xlsx) file" in response.content.decode()
