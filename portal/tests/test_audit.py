"""The audit trail as people read it, at /audit/ and on the batch page: Chinese labels for
actions, fields and values, the person's name and role, a bank result's line rows as one
row, filters, XLSX export (audited), and scope."""

import datetime as dt
import io

import pytest
from django.urls import reverse
from python_calamine import CalamineWorkbook

from accounts.audit_display import audit_rows_grouped, changes_text
from accounts.models import AuditEntry
from portal.audit import audit_for_user
from tests.day_data import build_day

pytestmark = pytest.mark.django_db


@pytest.fixture
def day(officer_luquan, city_shijiazhuang, province_staff, agent_gree, tmp_path):
    return build_day(
        officer=officer_luquan, city=city_shijiazhuang, province=province_staff, agent=agent_gree, tmp_path=tmp_path
    )


def test_labels_values_names_and_roles(day, officer_luquan):
    submit = AuditEntry.objects.get(action="batch_submit", object_id=str(day.batch.pk))
    assert changes_text(submit.object_type, submit.action, submit.changes) == "状态：草稿 → 区县已提交"
    rows, _more = audit_rows_grouped(AuditEntry.objects.filter(pk=submit.pk))
    (row,) = rows
    assert row.label == "提交批次" and row.who == "鹿泉专员" and row.role == "区县人社专员 · 鹿泉区"
    assert row.object_label == "发放批次"
    results = AuditEntry.objects.get(action="batch_results", object_id=str(day.batch.pk))
    assert changes_text(results.object_type, results.action, results.changes) == "5 笔，成功 3，失败 2"
    correct = AuditEntry.objects.get(action="line_correct")
    assert "银行账号：" in changes_text(correct.object_type, correct.action, correct.changes)


def test_a_bank_result_is_one_row_not_one_per_line(day):
    lines = AuditEntry.objects.filter(action="line_result")
    assert lines.count() == day.batch.line_count == 5
    rows, more = audit_rows_grouped(AuditEntry.objects.all(), limit=100)
    grouped = [r for r in rows if r.action == "line_result"]
    assert len(grouped) == 1 and grouped[0].count == 5 and not more
    assert "5 笔" in grouped[0].text and "已发放 3" in grouped[0].text and "发放失败 2" in grouped[0].text


def test_scope_city_sees_its_districts_other_city_nothing_agent_403(
    client, day, city_shijiazhuang, city_cangzhou, agent_gree, province_staff
):
    batch_entries = AuditEntry.objects.filter(object_type="disbursements.batch", object_id=str(day.batch.pk))
    assert set(audit_for_user(city_shijiazhuang).filter(pk__in=batch_entries)) == set(batch_entries)
    assert not audit_for_user(city_cangzhou).filter(pk__in=batch_entries).exists()
    assert audit_for_user(province_staff).count() == AuditEntry.objects.count()
    client.force_login(agent_gree)
    assert client.get(reverse("audit_list")).status_code == 403
    assert client.get(reverse("audit_export")).status_code == 403


def test_page_filters_by_who_what_object_and_date(client, day, officer_luquan):
    client.force_login(officer_luquan)
    page = client.get(reverse("audit_list"), {"action": "batch_approve"})
    assert page.status_code == 200
    assert [r.action for r in page.context["rows"]] == ["batch_approve"]
    assert "省级审批通过" in page.content.decode() and "省级审批" in page.content.decode()
    by_who = client.get(reverse("audit_list"), {"who": "市级"}).context["rows"]
    assert by_who and {r.who for r in by_who} == {"石家庄市级"}
    by_object = client.get(
        reverse("audit_list"), {"object_type": "disbursements.batch", "object_id": str(day.batch.pk)}
    ).context["rows"]
    assert by_object and {r.object_id for r in by_object} == {str(day.batch.pk)}
    today = dt.date.today()
    assert client.get(reverse("audit_list"), {"since": str(today + dt.timedelta(days=2))}).context["rows"] == []


def test_export_is_readable_and_audited(client, day, officer_luquan):
    client.force_login(officer_luquan)
    response = client.get(reverse("audit_export"), {"action": "batch_submit"})
    assert response.status_code == 200
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()
    assert sheet[0][:5] == ["时间", "人员", "登录名", "角色", "操作"]
    assert any(row[4] == "提交批次" and row[7] == "状态：草稿 → 区县已提交" for row in sheet[1:])
    assert AuditEntry.objects.filter(action="audit_export", user=officer_luquan).exists()


def test_batch_page_shows_the_bank_result_as_one_row(client, day, officer_luquan):
    client.force_login(officer_luquan)
    html = client.get(reverse("disbursements:batch_detail", args=[day.batch.pk])).content.decode()
    assert html.count('data-audit-action="line_result"') == 1
    assert "银行结果" in html and "导入银行结果" in html


def test_pages_walk_every_entry_once_newest_first(day, client, province_staff, monkeypatch):
    """Keyset pages (before=…): every single entry once, each bulk group once, in time order."""
    from accounts.audit_display import cursor_parse, cursor_text

    seen, cursor, pages = [], None, 0
    while True:
        rows, cursor = audit_rows_grouped(AuditEntry.objects.all(), before=cursor, limit=3)
        seen += rows
        pages += 1
        if cursor is None:
            break
        cursor = cursor_parse(cursor_text(cursor))  # through the URL form
    singles = AuditEntry.objects.exclude(action="line_result").count()  # each written on its own
    assert len([r for r in seen if r.action != "line_result"]) == singles
    assert len([r for r in seen if r.action == "line_result"]) == 1
    assert [r.at for r in seen] == sorted((r.at for r in seen), reverse=True)
    assert pages > 3
    monkeypatch.setattr("portal.audit_views.PAGE_SIZE", 3)
    client.force_login(province_staff)
    first = client.get(reverse("audit_list"))
    assert "data-next" in first.content.decode()
    second = client.get(reverse("audit_list"), {"before": first.context["next_cursor"], "n": 2})
    assert second.status_code == 200 and second.context["number"] == 2
    assert {r.at for r in second.context["rows"]}.isdisjoint({r.at for r in first.context["rows"]})
