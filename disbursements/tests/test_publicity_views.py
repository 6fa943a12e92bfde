"""公示 pages: the public list and notice without login, files, objections (rate limits,
markup shown as text), the officer's side in scope, and the batch page's refusal."""

import datetime as dt
import uuid

import pytest
from django.test import Client

from accounts.models import AuditEntry
from beneficiaries import pii
from disbursements.models import Objection, PublicityRequirement
from disbursements.services.batches import batches_build
from disbursements.services.publicity import notice_create
from tests.factories import make_entitlements, make_rule

pytestmark = pytest.mark.django_db
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(autouse=True)
def own_limits(monkeypatch):
    """Counters of this test only (the real Redis is shared; never flush it)."""
    monkeypatch.setattr("disbursements.services.publicity.KEY_PREFIX", f"gongshi-test-{uuid.uuid4().hex}")


@pytest.fixture
def batch(programme, officer_luquan):
    make_entitlements(programme, make_rule(programme, "luquan_cash", name="鹿泉区留岗职工补贴"), 5, start=800)
    return batches_build(programme=programme, acting_user=officer_luquan)[0]


@pytest.fixture
def notice(batch, officer_luquan):
    return notice_create(batch=batch, acting_user=officer_luquan, contact_phone="0311-82015678")


def test_the_public_finds_the_notice_without_login_and_sees_no_pii(client, notice, batch):
    index = client.get("/gongshi/")
    assert index.status_code == 200 and notice.title in index.content.decode()
    page = client.get(f"/gongshi/{notice.pk}/").content.decode()
    line = batch.lines.order_by("seq").first()
    person = line.entitlement.person
    assert "鹿泉区留岗职工补贴" in page and "合计 5 人，2,500.00 元" in page
    assert notice.lines.get(seq=1).name_masked in page
    for secret in (person.name, pii.decrypt(person.phone_cipher), person.id_masked, line.account_masked, "6222"):
        assert secret not in page
    assert "data-print" in page and "<script>" not in page.split("</main>")[0]  # no inline script


def test_a_region_filter_narrows_the_list(client, notice):
    assert notice.title in client.get("/gongshi/?region=130100").content.decode()
    assert notice.title not in client.get("/gongshi/?region=130900").content.decode()


def test_pdf_and_xlsx_download(client, notice):
    pdf = client.get(f"/gongshi/{notice.pk}/gongshi.pdf")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    xlsx = client.get(f"/gongshi/{notice.pk}/gongshi.xlsx")
    assert xlsx.status_code == 200 and b"".join(xlsx.streaming_content).startswith(b"PK")


def test_withdrawn_and_missing_notices_are_404(client, notice, officer_luquan):
    from disbursements.services.publicity import notice_withdraw

    notice_withdraw(notice=notice, acting_user=officer_luquan, reason="名单有误，重新公示")
    assert client.get(f"/gongshi/{notice.pk}/").status_code == 404
    assert client.get("/gongshi/999999/gongshi.pdf").status_code == 404


def test_objection_is_filed_stored_as_text_and_shown_escaped(client, notice, officer_luquan):
    response = client.post(f"/gongshi/{notice.pk}/objection/", {"line": "2", "reason": XSS, "contact": XSS})
    assert response.status_code == 302
    objection = Objection.objects.get()
    assert objection.reason == XSS and objection.line.seq == 2 and objection.source_hash
    assert "127.0.0.1" not in objection.source_hash
    staff = Client()
    staff.force_login(officer_luquan)
    page = staff.get(f"/gongshi/manage/{notice.pk}/").content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and XSS not in page
    assert AuditEntry.objects.filter(action="notice_objections_view").exists()


def test_objections_are_rate_limited_per_address(client, notice, settings):
    statuses = [
        client.post(f"/gongshi/{notice.pk}/objection/", {"reason": f"第{i}次：该人员未在本单位工作"}).status_code
        for i in range(5)
    ]
    assert statuses == [302, 302, 302, 429, 429]  # 3 per notice and day from one address
    assert Objection.objects.count() == 3
    other = Client(REMOTE_ADDR="10.9.9.9")
    assert other.post(f"/gongshi/{notice.pk}/objection/", {"reason": "另一个地址的异议理由"}).status_code == 302


def test_a_bad_objection_says_why_in_chinese(client, notice):
    response = client.post(f"/gongshi/{notice.pk}/objection/", {"line": "abc", "reason": "理由写得很清楚了"})
    assert "序号应为数字" in response.content.decode()
    response = client.post(f"/gongshi/{notice.pk}/objection/", {"line": "77", "reason": "理由写得很清楚了"})
    assert response.status_code == 400 and "没有序号为 77" in response.content.decode()


def test_officers_see_only_their_notices(notice, officer_cangzhou, officer_luquan):
    other = Client()
    other.force_login(officer_cangzhou)
    assert other.get(f"/gongshi/manage/{notice.pk}/").status_code == 404
    assert notice.title not in other.get("/gongshi/manage/").content.decode()
    objection = Objection.objects.create(notice=notice, reason="测试异议理由五个字")
    response = other.post(
        f"/gongshi/manage/objections/{objection.pk}/resolve/", {"decision": "dismissed", "resolution": "x"}
    )
    assert response.status_code == 404
    objection.refresh_from_db()
    assert objection.status == "open"


def test_the_batch_page_shows_the_rule_and_submission_is_refused_with_the_reason(programme, batch, officer_luquan):
    PublicityRequirement.objects.create(programme=programme, region_id="130110")
    staff = Client()
    staff.force_login(officer_luquan)
    page = staff.get(f"/payments/batches/{batch.pk}/").content.decode()
    assert "本区县须先公示" in page and "data-publish-batch" in page
    response = staff.post(
        "/gongshi/manage/publish/", {"batch": batch.pk, "contact_phone": "0311-82015678", "days": "5"}, follow=True
    )
    assert "公示已发布" in response.content.decode()
    response = staff.post(f"/payments/batches/{batch.pk}/submit/", {"comment": ""}, follow=True)
    batch.refresh_from_db()
    assert batch.status == "draft" and "公示期满后" in response.content.decode()
    assert "data-publish-batch" not in response.content.decode()  # one notice at a time


def test_officer_resolves_an_objection_from_the_page(client, notice, officer_luquan):
    client.post(f"/gongshi/{notice.pk}/objection/", {"reason": "这个人根本不在本单位"})
    objection = Objection.objects.get()
    staff = Client()
    staff.force_login(officer_luquan)
    response = staff.post(
        f"/gongshi/manage/objections/{objection.pk}/resolve/",
        {"decision": "dismissed", "resolution": "经核实劳动合同和考勤，该人员在岗"},
        follow=True,
    )
    assert "异议已处理" in response.content.decode()
    objection.refresh_from_db()
    assert objection.status == "dismissed" and objection.resolved_by == officer_luquan


def test_an_ended_notice_takes_no_objection(client, notice):
    from disbursements.models import Notice

    Notice.objects.filter(pk=notice.pk).update(starts_on=dt.date(2021, 2, 1), ends_on=dt.date(2021, 2, 5))
    page = client.get(f"/gongshi/{notice.pk}/").content.decode()
    assert "公示已结束" in page and "data-objection-form" not in page
    assert client.post(f"/gongshi/{notice.pk}/objection/", {"reason": "公示结束后的异议"}).status_code == 400


def test_the_public_pages_in_english_with_the_language_cookie(client, notice, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    index = client.get("/gongshi/").content.decode()
    assert "Public notices of stay-at-work subsidies to be paid" in index and "Open for review" in index
    page = client.get(f"/gongshi/{notice.pk}/").content.decode()
    assert "Total 5 people, ¥2,500.00" in page and "File an objection" in page and "Download PDF" in page
    chinese = Client()
    assert "稳岗留工补贴拟发放人员公示" in chinese.get("/gongshi/").content.decode()


def test_the_officers_home_counts_objections_signals_and_appeals(client, notice, officer_luquan, officer_cangzhou):
    client.post(f"/gongshi/{notice.pk}/objection/", {"reason": "此人并未留岗过年"})
    staff = Client()
    staff.force_login(officer_luquan)
    todos = {str(t.label): t.count for t in staff.get("/").context["todos"]}
    assert todos["待处理的公示异议"] == 1 and todos["待核查的高风险预警"] == 0 and todos["办理中的申诉"] == 0
    other = Client()
    other.force_login(officer_cangzhou)
    assert {str(t.label): t.count for t in other.get("/").context["todos"]}["待处理的公示异议"] == 0


def test_publishing_out_of_scope_is_404(batch, officer_cangzhou, programme):
    other = Client()
    other.force_login(officer_cangzhou)
    assert other.post("/gongshi/manage/publish/", {"batch": batch.pk, "contact_phone": "1"}).status_code == 404
    response = other.post(
        "/gongshi/manage/publish/", {"programme": programme.code, "district": "130110", "contact_phone": "1"}
    )
    assert response.status_code == 404
    assert not batch.notices.exists()
