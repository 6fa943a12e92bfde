"""The demo, as `make run` serves it, on SQLite with in-process tasks.

`make test` runs this file in a second pytest session with DATABASE_URL=sqlite://…
(marker `smoke`); in the PostgreSQL session it is deselected.
"""

import pytest
from django.core.management import call_command
from django.test import Client

from portal.demo import demo_logins
from tests.test_amount_format import ungrouped_amounts


@pytest.mark.smoke
@pytest.mark.django_db(transaction=True)
def test_demo_loads_twice_and_every_login_reaches_its_home(settings):
    call_command("load_demo", verbosity=0)
    from accounts.models import AuditEntry, User

    counts = (User.objects.count(), AuditEntry.objects.count())
    call_command("load_demo", verbosity=0)  # idempotent: nothing changes
    assert (User.objects.count(), AuditEntry.objects.count()) == counts

    for username, password, _who in demo_logins():
        client = Client()
        response = client.post("/accounts/login/", {"username": username, "password": password}, follow=True)
        assert response.status_code == 200, username
        assert "退出登录" in response.content.decode(), username
        # Every page in the user's menu opens, and shows amounts only in the common format.
        for item in response.context["nav_items"]:
            page = client.get(item["url"])
            assert page.status_code == 200, (username, item["url"])
            assert not ungrouped_amounts(page.content.decode()), (username, item["url"])

    # Public trust (docs/transparency.md): an open notice with an objection that blocks
    # 鹿泉's second batch, signals of every kind, two appeals of which one is resolved.
    from disbursements.models import Appeal, FraudSignal, Notice
    from disbursements.services.publicity import batch_submission_block

    notice = Notice.objects.get()
    assert notice.is_open() and notice.objections.count() == 1 and "正在公示" in batch_submission_block(notice.batch)
    assert Client().get(f"/gongshi/{notice.pk}/").status_code == 200
    kinds = set(FraudSignal.objects.values_list("kind", flat=True))
    assert kinds == {k for k, _label in FraudSignal._meta.get_field("kind").choices}
    shared = FraudSignal.objects.get(kind="shared_account")
    assert shared.member_count == 4 and shared.holds
    assert not notice.batch.lines.filter(entitlement__registration__in=shared.members.values("registration")).exists()
    assert sorted(Appeal.objects.values_list("status", flat=True)) == ["open", "resolved"]


@pytest.mark.smoke
@pytest.mark.django_db(transaction=True)
def test_every_page_of_the_demo_shows_amounts_in_the_common_format():
    """The pages each role works on, with the demo's figures: no "302500.00" anywhere."""
    from accounts.models import User
    from beneficiaries.models import Registration
    from disbursements.models import Batch

    call_command("load_demo", verbosity=0)
    # 鹿泉 has two first batches (the second waits under its open 公示): take the paid one.
    batch = Batch.objects.filter(district_id="130110", channel="bank_card", parent__isnull=True).order_by("pk").first()
    registration = Registration.objects.filter(entitlements__lines__batch=batch).first()
    pages = {
        "luquan": [
            "/",
            "/payments/",
            f"/payments/batches/{batch.pk}/",
            f"/payments/batches/{batch.pk}/?lines=failed",
            "/payments/reconciliation/",
            "/registry/registrations/",
            f"/registry/registrations/{registration.pk}/",
            f"/payments/registrations/{registration.pk}/",
            "/dashboard/",
            "/audit/",
            "/programmes/rules/",
            "/notifications/",
            "/notifications/?box=sms",
        ],
        "sheng": ["/", "/dashboard/", "/payments/reconciliation/", "/programmes/rules/", "/audit/"],
        "qiye_luquan": ["/", "/payments/employer/", "/registry/registrations/", "/notifications/"],
    }
    for username, urls in pages.items():
        client = Client()
        client.force_login(User.objects.get(username=username))
        for url in urls:
            for language in ("zh-hans", "en"):
                client.cookies["django_language"] = language
                page = client.get(url)
                assert page.status_code == 200, (username, url, language)
                assert not ungrouped_amounts(page.content.decode()), (username, url, language)
    # The demo's events told their people (docs/notifications.md): the agent reads the failed payment.
    client = Client()
    client.force_login(User.objects.get(username="qiye_luquan"))
    client.cookies["django_language"] = "zh-hans"
    inbox = client.get("/notifications/").content.decode()
    assert "孙*娟" in inbox and "发放失败（户名不符）" in inbox and "孙丽娟" not in inbox


def _api(client, method: str, url: str, body: dict | None = None):
    import json

    if method == "get":
        response = client.get(url)
    else:
        response = getattr(client, method)(url, data=json.dumps(body or {}), content_type="application/json")
    assert response.status_code in (200, 201, 202), (url, response.status_code, response.content[:300])
    return response.json()


def _lookup(entitlement) -> str:
    """The public worker lookup of the entitlement's person, as the worker fills it in."""
    from beneficiaries import pii

    person = entitlement.person
    answer = Client().post(
        "/payments/lookup/",
        {"id_number": pii.decrypt(person.id_cipher), "name": person.name, "phone_tail": pii.decrypt(person.phone_cipher)[-4:]},
    )  # fmt: skip
    assert answer.status_code == 200
    return answer.content.decode()


@pytest.mark.smoke
@pytest.mark.django_db(transaction=True)
def test_the_rule_raise_and_the_capped_people_replayed_on_the_demo_end_balanced():
    """Issue #10's scenarios on the demo, through the API and the pages: the province raises
    鹿泉's ¥500 to ¥600 after paying; 康保's cap turns 18 later registrations away; a frozen
    batch tampered with in the database raises the one alarm on every page that shows it."""
    from decimal import Decimal

    from django.db.models import Sum

    from accounts.models import User
    from beneficiaries.models import Employer
    from disbursements.choices import EntitlementStatus, LineStatus
    from disbursements.models import CapRefusal, Entitlement, PaymentLine
    from disbursements.services.reconciliation import reconcile
    from programs.models import SubsidyRule
    from tests.factories import make_id

    call_command("load_demo", verbosity=0)
    province = Client(HTTP_HOST="127.0.0.1")
    province.force_login(User.objects.get(username="sheng"))

    def dashboard_paid(region: str) -> dict:
        return _api(province, "get", f"/api/v1/dashboard/?programme=HEBEI-2021&region={region}")["paid"]

    paid_lines = PaymentLine.objects.filter(status=LineStatus.PAID, entitlement__rule__rule_key="LUQUAN-CASH")
    paid_people = set(paid_lines.values_list("entitlement__person_id", flat=True))
    paid_before = paid_lines.aggregate(s=Sum("amount"))["s"]
    dashboard_before = dashboard_paid("130110")
    assert len(paid_people) > 500 and Decimal(dashboard_before["amount"]) == paid_before

    # The raise: a new version (201), its preview counts the top-ups, activate, compute.
    v1 = SubsidyRule.objects.get(rule_key="LUQUAN-CASH", status="active")
    v2 = _api(province, "patch", f"/api/v1/rules/{v1.pk}/", {"amount": "600.00"})
    preview = _api(province, "get", f"/api/v1/rules/{v2['id']}/preview/")
    assert (preview["topups"], Decimal(preview["topup_amount"])) == (len(paid_people), 100 * len(paid_people))
    _api(province, "post", f"/api/v1/rules/{v2['id']}/activate/")
    _api(province, "post", "/api/v1/programmes/HEBEI-2021/compute/")  # in-process here: done on return

    topups = Entitlement.objects.filter(rule_id=v2["id"], kind="topup", status=EntitlementStatus.GRANTED)
    assert set(topups.values_list("person_id", flat=True)) == paid_people  # one top-up per paid person
    assert set(topups.values_list("amount", flat=True)) == {Decimal("100.00")}
    assert paid_lines.aggregate(s=Sum("amount"))["s"] == paid_before  # paid money untouched
    assert dashboard_paid("130110") == dashboard_before
    from regions.models import Region

    total, _rows = reconcile(programme=v1.programme, district=Region.objects.get(code="130110"))
    assert total.balanced, total
    page = _lookup(topups.first())
    assert "已发放" in page and "500.00" in page and "补差" in page and "100.00" in page and "待发放" in page

    # 康保: the cap is used up by the demo's 6,608; 18 more eligible people registered later.
    kangbao = Client(HTTP_HOST="127.0.0.1")
    kangbao.force_login(User.objects.get(username="kangbao"))
    employer = Employer.objects.get(district_id="130723", status="verified")
    for seq in range(18):
        _api(kangbao, "post", "/api/v1/workers/", {
            "programme": "HEBEI-2021", "employer": employer.pk, "id_number": make_id("130723", "19700101", 700 + seq),
            "name": f"后登记{seq}", "phone": f"1390313{seq:04d}", "start_date": "2021-01-25", "end_date": "2021-02-28",
            "category": "hardship", "bank_name": "中国农业银行", "account": f"62284800{seq:011d}",
        })  # fmt: skip
    import io
    import json

    out = io.StringIO()
    call_command("compute_entitlements", "--programme", "HEBEI-2021", "--district", "130723", "--json", stdout=out)
    rule = json.loads(out.getvalue())["rules"][0]
    assert (rule["count"], rule["refused"], rule["refused_amount"]) == (6608, 18, "5400.00")
    refused = CapRefusal.objects.filter(registration__person__name__startswith="后登记")
    assert refused.count() == 18
    assert "预算已用完" in _lookup(refused.first())
    # The officer's registration page, the rule page and the dashboard say so too.
    page = kangbao.get(f"/registry/registrations/{refused.first().registration_id}/").content.decode()
    assert "data-cap-refusal" in page and "预算已用完" in page
    rule_page = province.get(f"/programmes/rules/{refused.first().rule_id}/").content.decode()
    assert "data-rule-refused" in rule_page and "18 人符合条件，但预算已用完" in rule_page
    assert _api(province, "get", "/api/v1/dashboard/?programme=HEBEI-2021&region=130723")["refused"] == {
        "count": 18, "amount": "5400.00",
    }  # fmt: skip
    dashboard = kangbao.get("/dashboard/?programme=HEBEI-2021").content.decode()
    assert 'data-kpi="refused"' in dashboard and "预算已用完：18 人" in dashboard

    # A frozen batch changed in the database behind the services: one alarm, everywhere.
    batch = paid_lines.order_by("pk").first().batch
    line = batch.lines.order_by("seq").first()
    PaymentLine.objects.filter(pk=line.pk).update(amount=line.amount + 1)
    out = io.StringIO()
    call_command("reconcile", "--programme", "HEBEI-2021", "--json", stdout=out)
    alarms = json.loads(out.getvalue())["alarms"]
    assert {"hash", "batch_total", "unbalanced"} <= {a["kind"] for a in alarms}
    assert any(a["kind"] == "hash" and batch.number in a["message"] for a in alarms)
    reconciliation = province.get("/payments/reconciliation/?programme=HEBEI-2021").content.decode()
    assert 'data-alarm-kind="hash"' in reconciliation and batch.number in reconciliation
    dashboard = province.get("/dashboard/?programme=HEBEI-2021").content.decode()
    assert "数据可能被篡改" in dashboard and batch.number in dashboard


@pytest.mark.smoke
@pytest.mark.django_db(transaction=True)
def test_clearing_the_demo_shared_account_signal_releases_its_lines_into_the_next_build():
    """Issue #13 on the demo: four workers behind one bank account are held out of
    batches; the district's officer clears the signal with a note (API), and the next
    build puts their entitlements into a batch."""
    from accounts.models import AuditEntry, User
    from disbursements.models import Entitlement, FraudSignal, PaymentLine

    call_command("load_demo", verbosity=0)
    signal = FraudSignal.objects.get(kind="shared_account")
    members = list(signal.members.values_list("registration_id", flat=True))
    held = Entitlement.objects.filter(registration_id__in=members, status="granted")
    assert len(members) == 4 and held.exists()
    assert not PaymentLine.objects.filter(entitlement__in=held).exists()  # held out of every batch
    officer = User.objects.get(
        role="district", region_id=signal.district_id, username__in=[u for u, *_ in demo_logins()]
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(officer)
    import json

    cleared = client.post(
        f"/api/v1/signals/{signal.pk}/clear/", data=json.dumps({"note": "已电话核实：同一家庭共用账户"}),
        content_type="application/json",
    )  # fmt: skip
    assert cleared.status_code == 200 and cleared.json()["status"] == "cleared"
    assert AuditEntry.objects.filter(action="signal_clear", object_id=str(signal.pk)).exists()
    built = client.post(
        "/api/v1/batches/build/", data=json.dumps({"programme": signal.programme.code, "district": signal.district_id}),
        content_type="application/json",
    )  # fmt: skip
    assert built.status_code == 202
    lines = PaymentLine.objects.filter(entitlement__in=held)
    assert lines.count() == held.count() and {line.batch.status for line in lines} == {"draft"}
