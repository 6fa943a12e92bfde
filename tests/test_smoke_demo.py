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
    from disbursements.publicity import batch_submission_block

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
