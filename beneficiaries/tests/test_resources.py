"""Employers and registrations as spreadsheets (django-import-export): the admin's employer
import goes through the services (audited, old and new values), and the list pages'
exports carry exactly the page's rows, masked as the page masks them."""

import csv
import io

import pytest
from django.urls import reverse
from python_calamine import CalamineWorkbook

from accounts.models import AuditEntry
from beneficiaries.models import Employer
from beneficiaries.uscc import make_uscc
from tests.admin_import import confirm, dry_run, row_errors
from tests.factories import make_employer, make_id, register

EMPLOYER_HEAD = ["统一社会信用代码", "单位名称", "经济类型", "区县代码", "行业", "联系人", "联系电话", "地址"]
MODEL = "beneficiaries_employer"


def _csv(response) -> list[list[str]]:
    assert response.content.startswith("\ufeff".encode())  # Excel reads the Chinese only with the BOM
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _xlsx(response) -> list[list[str]]:
    return CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()


@pytest.mark.django_db
def test_employer_import_registers_and_corrects_through_the_services(client, superuser, employer_luquan):
    new_code = make_uscc("91", "130110", "77770001")
    rows = [
        EMPLOYER_HEAD,
        [new_code, "鹿泉区新登记建材厂", "私营/非公", "130110", "制造业", "王经理", "0311-82015678", ""],
        [employer_luquan.credit_code, "石家庄冀通建材集团", "private", "130110", "", "", "", ""],
    ]
    client.force_login(superuser)
    response = dry_run(client, MODEL, rows)
    assert row_errors(response) == []
    assert not Employer.objects.filter(credit_code=new_code).exists()
    confirm(client, MODEL, response)

    new = Employer.objects.get(credit_code=new_code)
    assert (new.status, new.ownership, new.district_id) == ("pending", "private", "130110")
    assert AuditEntry.objects.filter(action="employer_register", object_id=str(new.pk), user=superuser).exists()
    employer_luquan.refresh_from_db()
    assert employer_luquan.name == "石家庄冀通建材集团"
    update = AuditEntry.objects.get(action="employer_update", object_id=str(employer_luquan.pk))
    assert update.changes == {"name": ["石家庄冀通建材有限公司", "石家庄冀通建材集团"]}


@pytest.mark.django_db
def test_a_refused_employer_row_writes_nothing(client, superuser, employer_luquan):
    rows = [
        EMPLOYER_HEAD,
        [make_uscc("91", "130110", "77770002"), "好单位", "私营/非公", "130110", "", "", "", ""],
        ["91130110MA0BADCODE", "坏代码", "私营/非公", "130110", "", "", "", ""],
        [employer_luquan.credit_code, "石家庄冀通建材有限公司", "私营/非公", "130100", "", "", "", ""],  # a city
    ]
    client.force_login(superuser)
    response = dry_run(client, MODEL, rows)
    errors = row_errors(response)
    assert len(errors) >= 2 and any("不是区县级" in e for e in errors)
    assert response.context.get("confirm_form") is None
    assert Employer.objects.count() == 1 and not AuditEntry.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_employer_export_is_the_officers_list(client, officer_luquan, employer_luquan, employer_cangzhou, fmt):
    client.force_login(officer_luquan)
    name = "beneficiaries:employer_export" + ("_csv" if fmt == "csv" else "")
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="employers.{fmt}"'
    rows = _csv(response) if fmt == "csv" else _xlsx(response)
    assert rows[0][:5] == ["统一社会信用代码", "单位名称", "经济类型", "区县代码", "区县"]
    assert [r[0] for r in rows[1:]] == [employer_luquan.credit_code]  # never 沧州's
    assert rows[1][2] == "私营/非公" and rows[1][4] == "鹿泉区"
    logged = AuditEntry.objects.get(action="employer_list_export", user=officer_luquan)
    assert logged.changes == {"rows": 1}


@pytest.mark.django_db
def test_employer_export_follows_the_page_filters_and_is_for_staff(
    client, officer_cangzhou, agent_other, employer_luquan, employer_cangzhou
):
    client.force_login(officer_cangzhou)
    rows = _csv(client.get(reverse("beneficiaries:employer_export_csv"), {"q": "制衣"}))
    assert [r[1] for r in rows[1:]] == ["沧州运河某制衣厂"]
    assert _csv(client.get(reverse("beneficiaries:employer_export_csv"), {"q": "冀通"}))[1:] == []
    client.force_login(agent_other)
    assert client.get(reverse("beneficiaries:employer_export")).status_code == 403


@pytest.fixture
def registrations(agent_other, agent_gree, employer_luquan, programme, officer_cangzhou):
    luquan = register(agent_other, employer_luquan, programme, id_number=make_id("130223", "19850314", 271))
    cangzhou_employer = make_employer("沧州运河某制衣厂", "130903", agents=[agent_gree])
    cangzhou = register(agent_gree, cangzhou_employer, programme, id_number=make_id("130223", "19900101", 55))
    return luquan, cangzhou


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_registration_export_is_the_districts_rows_masked(client, officer_luquan, registrations, fmt):
    luquan, _cangzhou = registrations
    client.force_login(officer_luquan)
    response = client.get(reverse("beneficiaries:registration_export" + ("_csv" if fmt == "csv" else "")))
    assert response.status_code == 200
    rows = _csv(response) if fmt == "csv" else _xlsx(response)
    assert rows[0][:3] == ["姓名", "身份证号", "手机号"] and "留岗开始" in rows[0]
    assert len(rows) == 2  # the officer's district only
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["身份证号"] == luquan.person.id_masked and "*" in row["身份证号"]
    assert row["手机号"] == "139****0011"
    assert row["留岗开始"] == "2021-01-25" and row["区县"] == "鹿泉区" and row["类别"] == "外来务工人员"
    whole_number = make_id("130223", "19850314", 271)
    assert whole_number not in response.content.decode("utf-8-sig" if fmt == "csv" else "latin-1")
    assert AuditEntry.objects.get(action="registration_list_export").changes == {"rows": 1}


@pytest.mark.django_db
def test_registration_export_asks_for_one_district(client, province_staff, registrations):
    client.force_login(province_staff)
    response = client.get(reverse("beneficiaries:registration_export_csv"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("beneficiaries:registration_list"))
    assert not AuditEntry.objects.filter(action="registration_list_export").exists()
    rows = _csv(client.get(reverse("beneficiaries:registration_export_csv"), {"district": "130903"}))
    assert [r[3] for r in rows[1:]] == ["沧州运河某制衣厂"]


@pytest.mark.django_db
def test_list_pages_link_their_exports_with_their_filters(client, officer_luquan, agent_other, registrations):
    client.force_login(officer_luquan)
    html = client.get(reverse("beneficiaries:employer_list"), {"status": "verified"}).content.decode()
    assert f"{reverse('beneficiaries:employer_export_csv')}?status=verified" in html
    html = client.get(reverse("beneficiaries:registration_list")).content.decode()
    assert reverse("beneficiaries:registration_export") in html
    client.force_login(agent_other)
    assert (
        reverse("beneficiaries:registration_export")
        not in client.get(reverse("beneficiaries:registration_list")).content.decode()
    )
