"""The demo, as `make run` serves it, on SQLite with in-process tasks.

`make test` runs this file in a second pytest session with DATABASE_URL=sqlite://…
(marker `smoke`); in the PostgreSQL session it is deselected.
"""

import pytest
from django.core.management import call_command
from django.test import Client

from portal.demo import demo_logins


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
        # Every page in the user's menu opens.
        for item in response.context["nav_items"]:
            page = client.get(item["url"])
            assert page.status_code == 200, (username, item["url"])

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
