"""Abuse of the public trust features: markup in every free-text field is shown as text
wherever it appears (public notice, its files, officer pages, the worker's lookup), a
formula cannot ride into the XLSX, and anonymous filing is rate limited."""

import uuid
from io import BytesIO

import pytest
from django.test import Client

from disbursements.models import FraudSignal, Objection
from disbursements.services.appeals import appeal_file_worker, appeal_resolve
from disbursements.services.batches import batches_build
from disbursements.services.fraud import signal_clear, signals_compute
from disbursements.services.publicity import notice_create, objection_file, objection_resolve
from disbursements.services.publicity_files import notice_pdf, notice_xlsx
from tests.factories import make_entitlement, make_entitlements, make_person, make_programme, make_rule

pytestmark = pytest.mark.django_db
XSS = "<script>alert(1)</script><b onmouseover=alert(2)>x</b>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b onmouseover=alert(2)&gt;x&lt;/b&gt;"


@pytest.fixture(autouse=True)
def own_limits(monkeypatch):
    """Counters of this test only (the real Redis is shared; never flush it)."""
    monkeypatch.setattr("disbursements.services.publicity.KEY_PREFIX", f"gongshi-x-{uuid.uuid4().hex}")
    monkeypatch.setattr("disbursements.services.appeals.KEY_PREFIX", f"appeal-x-{uuid.uuid4().hex}")
    monkeypatch.setattr("disbursements.services.selfservice.KEY_PREFIX", f"lookup-x-{uuid.uuid4().hex}")


def test_markup_in_every_free_text_field_is_shown_as_text(client, officer_luquan):
    programme = make_programme()
    rule = make_rule(programme, "luquan_cash", name="鹿泉补贴" + XSS)
    make_entitlements(programme, rule, 2, start=6000)
    person, number = make_person(6100, name="李四", phone="13900006100")
    make_entitlement(programme, rule, person=person, n=6100)
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    notice = notice_create(batch=batch, acting_user=officer_luquan, contact_phone="0311" + XSS, title="公示" + XSS)
    objection = objection_file(notice=notice, line_seq=1, reason="理由" + XSS, contact=XSS, ip="10.0.0.9")
    objection_resolve(objection=objection, acting_user=officer_luquan, decision="dismissed", resolution="意见" + XSS)
    appeal = appeal_file_worker(person=person, registration_id=None, kind="other", text="申诉" + XSS)
    appeal_resolve(appeal=appeal, acting_user=officer_luquan, outcome="explained", resolution="答复" + XSS)
    for i in range(3):
        make_entitlement(programme, rule, n=6200 + i, account="6222000000000000999")
    signals_compute(programme=programme)
    signal_clear(signal=FraudSignal.objects.get(kind="shared_account"), acting_user=officer_luquan, note="核查" + XSS)

    staff = Client()
    staff.force_login(officer_luquan)
    pages = {
        "index": client.get("/gongshi/"),
        "notice": client.get(f"/gongshi/{notice.pk}/"),
        "manage": staff.get(f"/gongshi/manage/{notice.pk}/"),
        "appeal": staff.get(f"/registry/appeals/{appeal.pk}/"),
        "signal": staff.get(f"/registry/signals/{FraudSignal.objects.get(kind='shared_account').pk}/"),
        "lookup": client.post(
            "/payments/lookup/", {"id_number": number, "name": "李四", "phone_tail": "6100"}, REMOTE_ADDR="10.0.0.8"
        ),
    }
    for name, response in pages.items():
        html = response.content.decode()
        assert response.status_code == 200, name
        assert XSS not in html, name
        assert ESCAPED in html, name
    # The PDF's mini-markup is escaped too (ReportLab would otherwise parse <b>), and a
    # cell cannot start a formula in the XLSX.
    assert notice_pdf(notice).startswith(b"%PDF")
    Objection.objects.all().delete()
    from disbursements.models import NoticeLine

    NoticeLine.objects.filter(notice=notice, seq=1).update(employer_name='=HYPERLINK("http://x","y")')
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_filelike(BytesIO(notice_xlsx(notice))).get_sheet_by_index(0).to_python()
    cells = [str(c) for r in rows for c in r]
    assert not any(c.startswith("=") for c in cells)


def test_anonymous_filing_is_limited_per_address_for_objections_and_appeals(client, officer_luquan, settings):
    programme = make_programme()
    rule = make_rule(programme, "luquan_cash")
    make_entitlements(programme, rule, 2, start=6300)
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    notices = [
        notice_create(batch=batch, acting_user=officer_luquan, contact_phone="1"),
    ]
    from regions.models import Region

    make_entitlements(programme, rule, 2, start=6400)
    notices.append(
        notice_create(
            programme=programme,
            district=Region.objects.get(code="130110"),
            acting_user=officer_luquan,
            contact_phone="1",
        )
    )
    codes = []
    for i in range(7):  # 5 an hour from one address, whatever the notice
        notice = notices[i % 2]
        codes.append(
            client.post(
                f"/gongshi/{notice.pk}/objection/", {"reason": f"第 {i} 条异议的理由"}, REMOTE_ADDR="10.7.7.7"
            ).status_code
        )
    assert codes == [302, 302, 302, 302, 302, 429, 429]
    assert Objection.objects.count() == 5

    from disbursements.services.appeals import appeal_token

    person, _ = make_person(6500)
    make_entitlement(programme, rule, person=person, n=6500)
    others = []
    for i in range(6):
        p, _ = make_person(6600 + i)
        make_entitlement(programme, rule, person=p, n=6600 + i)
        others.append(p)
    codes = [
        client.post(
            "/payments/lookup/appeal/",
            {"token": appeal_token(p.pk), "kind": "not_paid", "text": "没有收到补贴款项"},
            REMOTE_ADDR="10.8.8.8",
        ).status_code
        for p in others
    ]
    assert codes == [200, 200, 200, 200, 200, 429]  # 5 an hour from one address
