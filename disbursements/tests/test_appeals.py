"""Appeals: a worker files from the lookup after the identity check, an employer agent in
the portal; the officer's queue with due dates and overdue; resolutions linked to a
fix; the outcome on the lookup; scope; rate limits; markup shown as text."""

import datetime as dt
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEntry
from beneficiaries.services.registrations import registration_update
from core.errors import DomainError, PermissionDenied
from core.workdays import add_workdays
from disbursements.models import Appeal
from disbursements.services.appeals import appeal_file_worker, appeal_resolve, appeal_token, person_from_token
from tests.factories import make_entitlement, make_person, make_programme, make_rule, make_user

pytestmark = pytest.mark.django_db
LOOKUP = "/payments/lookup/"
XSS = "<script>alert('appeal')</script>"


@pytest.fixture(autouse=True)
def own_limits(monkeypatch):
    """Counters of this test only (the real Redis is shared; never flush it)."""
    monkeypatch.setattr("disbursements.services.selfservice.KEY_PREFIX", f"lookup-test-{uuid.uuid4().hex}")
    monkeypatch.setattr("disbursements.services.appeals.KEY_PREFIX", f"appeal-test-{uuid.uuid4().hex}")


@pytest.fixture
def worker():
    programme = make_programme("HB-A")
    rule = make_rule(programme, "luquan_cash", name="鹿泉区留岗补贴")
    person, number = make_person(5321, name="赵小红", phone="13912340000")
    entitlement = make_entitlement(programme, rule, person=person, n=5321)
    return {"person": person, "number": number, "entitlement": entitlement, "registration": entitlement.registration}


def _lookup(client, number, ip="10.1.0.1"):
    return client.post(LOOKUP, {"id_number": number, "name": "赵小红", "phone_tail": "0000"}, REMOTE_ADDR=ip)


def _token(html: str) -> str:
    start = html.index('name="token" value="') + len('name="token" value="')
    return html[start : html.index('"', start)]


def test_worker_files_from_the_lookup_and_later_reads_the_outcome(client, worker, officer_luquan):
    html = _lookup(client, worker["number"]).content.decode()
    assert "data-appeal-form" in html
    response = client.post(
        "/payments/lookup/appeal/",
        {"token": _token(html), "kind": "not_paid", "text": f"春节后一直没收到补贴 {XSS}"},
        REMOTE_ADDR="10.1.0.1",
    )
    assert response.status_code == 200 and "申诉已提交" in response.content.decode()
    appeal = Appeal.objects.get()
    assert appeal.filed_by_worker and appeal.district_id == "130110" and appeal.person == worker["person"]
    assert appeal.due_on == add_workdays(timezone.localdate(), 10)
    assert AuditEntry.objects.filter(action="appeal_file", object_id=str(appeal.pk)).exists()

    # The officer's queue, markup as text.
    staff = Client()
    staff.force_login(officer_luquan)
    assert f"#{appeal.pk}" in staff.get("/registry/appeals/").content.decode()
    page = staff.get(f"/registry/appeals/{appeal.pk}/").content.decode()
    assert "&lt;script&gt;alert(&#x27;appeal&#x27;)&lt;/script&gt;" in page and XSS not in page
    staff.post(
        f"/registry/appeals/{appeal.pk}/resolve/",
        {"outcome": "explained", "resolution": "经核实，您的补贴已于 2 月 20 日发放至尾号 0123 的银行卡"},
    )
    appeal.refresh_from_db()
    assert appeal.status == "resolved" and appeal.resolved_by == officer_luquan

    # The worker looks up again and reads the answer.
    html = _lookup(client, worker["number"]).content.decode()
    assert "不予支持（已说明理由）" in html and "尾号 0123" in html
    assert officer_luquan.first_name not in html


def test_the_token_cannot_be_forged_or_reused_late(worker):
    with pytest.raises(DomainError, match="核验身份"):
        person_from_token("forged:token")
    token = appeal_token(worker["person"].pk)
    assert person_from_token(token) == worker["person"]
    later = timezone.now() + dt.timedelta(minutes=31)
    from unittest import mock

    with mock.patch("django.core.signing.time.time", return_value=later.timestamp()):
        with pytest.raises(DomainError, match="30 分钟"):
            person_from_token(token)


def test_filing_without_the_check_or_too_often_is_refused(client, worker):
    assert (
        client.post("/payments/lookup/appeal/", {"token": "x", "kind": "not_paid", "text": "没有收到钱啊"}).status_code
        == 400
    )
    token = appeal_token(worker["person"].pk)
    codes = [
        client.post(
            "/payments/lookup/appeal/", {"token": token, "kind": "not_paid", "text": f"第 {i} 次申诉内容"}
        ).status_code
        for i in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]  # 3 a day for one person
    assert Appeal.objects.count() == 3


def test_resolutions_link_to_the_fix(worker, officer_luquan):
    appeal = appeal_file_worker(
        person=worker["person"], registration_id=None, kind="wrong_amount", text="金额不对应为 800"
    )
    with pytest.raises(DomainError, match="先在留岗登记页面更正"):
        appeal_resolve(appeal=appeal, acting_user=officer_luquan, outcome="corrected", resolution="已更正")
    with pytest.raises(DomainError, match="还没有补发明细"):
        appeal_resolve(appeal=appeal, acting_user=officer_luquan, outcome="reissued", resolution="已补发")
    registration_update(registration=worker["registration"], acting_user=officer_luquan, duty_days=7)
    appeal = appeal_resolve(appeal=appeal, acting_user=officer_luquan, outcome="corrected", resolution="已更正在岗天数")
    assert appeal.fix_reference == f"registration:{worker['registration'].pk}"
    entry = AuditEntry.objects.get(action="appeal_resolve")
    assert entry.changes["fix"] == appeal.fix_reference and entry.changes["status"] == ["open", "resolved"]


def test_only_the_districts_officer_resolves_and_others_get_404(worker, officer_cangzhou, city_shijiazhuang):
    appeal = appeal_file_worker(person=worker["person"], registration_id=None, kind="not_paid", text="没收到补贴啊")
    with pytest.raises(PermissionDenied):
        appeal_resolve(appeal=appeal, acting_user=city_shijiazhuang, outcome="explained", resolution="x")
    other = Client()
    other.force_login(officer_cangzhou)
    assert other.get(f"/registry/appeals/{appeal.pk}/").status_code == 404
    assert (
        other.post(f"/registry/appeals/{appeal.pk}/resolve/", {"outcome": "explained", "resolution": "x"}).status_code
        == 404
    )
    assert other.get(f"/api/v1/appeals/{appeal.pk}/").status_code == 404
    assert other.get("/api/v1/appeals/").json()["count"] == 0
    city = Client()
    city.force_login(city_shijiazhuang)
    assert city.get(f"/registry/appeals/{appeal.pk}/").status_code == 200  # the city reads its districts'


def test_overdue_list(worker, officer_luquan):
    late = appeal_file_worker(person=worker["person"], registration_id=None, kind="not_paid", text="等了很久了还没有")
    Appeal.objects.filter(pk=late.pk).update(due_on=dt.date(2021, 3, 1))
    appeal_file_worker(person=worker["person"], registration_id=None, kind="other", text="另一件事情需要反映")
    staff = Client()
    staff.force_login(officer_luquan)
    page = staff.get("/registry/appeals/?view=overdue").content.decode()
    assert f"#{late.pk}" in page and "超期" in page
    api = staff.get("/api/v1/appeals/?overdue=1").json()
    assert [row["id"] for row in api["results"]] == [late.pk] and api["results"][0]["overdue"]


def test_employer_agent_files_about_its_own_registration_only(worker, officer_luquan):
    agent = make_user("agent_a", "employer")
    employer = worker["registration"].employer
    employer.agents.add(agent)
    stranger_agent = make_user("agent_b", "employer")
    client = Client()
    client.force_login(agent)
    response = client.post(
        "/registry/appeals/new/",
        {"registration": worker["registration"].pk, "kind": "rejected", "text": "该职工确在我单位工作，请复核"},
    )
    assert response.status_code == 302
    appeal = Appeal.objects.get()
    assert appeal.filed_by == agent and not appeal.filed_by_worker and appeal.employer == employer
    api = client.post(
        "/api/v1/appeals/",
        {"registration": worker["registration"].pk, "kind": "payment_failed", "text": "账号已更正，请补发"},
        content_type="application/json",
    )
    assert api.status_code == 201
    other = Client()
    other.force_login(stranger_agent)
    assert (
        other.post(
            "/api/v1/appeals/",
            {"registration": worker["registration"].pk, "kind": "rejected", "text": "不是我的单位的人"},
            content_type="application/json",
        ).status_code
        == 404
    )
    assert other.get(f"/registry/appeals/{appeal.pk}/").status_code == 404
    assert client.get(f"/registry/appeals/{appeal.pk}/").status_code == 200
