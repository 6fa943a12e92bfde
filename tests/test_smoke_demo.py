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
