"""The audit page's CSV export (the XLSX one is in test_audit.py): the page's entries only."""

import csv
import io

import pytest
from django.urls import reverse

from accounts.models import AuditEntry
from accounts.services.audit import audit_record

pytestmark = pytest.mark.django_db


def test_csv_export_is_the_officers_entries_only(client, officer_luquan, officer_cangzhou, employer_luquan):
    audit_record(user=officer_luquan, action="employer_verify", obj=employer_luquan, changes={"status": "verified"})
    audit_record(user=officer_cangzhou, action="user_update", object_type="accounts.user", object_id="1", changes={})
    client.force_login(officer_luquan)
    response = client.get(reverse("audit_export_csv"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["时间", "人员", "登录名", "角色", "操作", "对象", "对象编号", "变更", "备注"]
    assert [(r[2], r[4]) for r in rows[1:]] == [("officer_luquan", "审核通过用人单位")]
    assert AuditEntry.objects.filter(action="audit_export", user=officer_luquan).exists()
    html = client.get(reverse("audit_list")).content.decode()
    assert reverse("audit_export_csv") in html
