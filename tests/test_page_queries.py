"""The SQL queries of each page the load bench hits (bench/load.py), for each role, pinned.

On the demo data, which has lists long enough that a query per row would show. A page that
starts to loop over its rows (a lost select_related, a count per row) or a cache that stops
holding fails here with the queries it now makes. Each page is counted twice: cold (the cache
emptied: what the first officer of the morning pays) and warm (every request after). When a
page legitimately needs a query more, raise its number here and say why in the commit.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

# (username, page, path or a placeholder): the load bench's pages by role (bench/load.py).
# Pinned: (cold, warm) queries. Every signed-in page shows the bell's unread messages: counted
# cold, then read from the cache until the notification service writes (accounts.services.notifications).
PAGES = {
    ("luquan", "home", "/"): (9, 8),
    ("luquan", "registrations", "/registry/registrations/"): (5, 3),
    # With the fraud-signal holds; a registration without a conflict reads no other's scope.
    ("luquan", "registration detail", "{registration}"): (6, 5),
    ("luquan", "employers", "/registry/employers/"): (4, 3),
    ("luquan", "surveys", "/programmes/surveys/"): (6, 5),
    ("luquan", "survey edit form", "{survey_edit}"): (5, 4),
    # Warm, the open fraud signals come from the cache (until they change). Every dashboard
    # reads, uncached, whether a change under it waits for the catch-up (one statement).
    ("luquan", "dashboard", "/dashboard/"): (23, 6),
    ("luquan", "rules", "/programmes/rules/"): (5, 4),
    ("sheng", "home", "/"): (3, 2),
    # Cold, the dashboards and the batch list read each frozen batch's lines once for the
    # checksum alarm (then cached): the demo has one more since the red-packet batch.
    ("sheng", "dashboard", "/dashboard/"): (24, 6),
    ("sheng", "registrations", "/registry/registrations/"): (5, 3),
    ("sheng", "surveys", "/programmes/surveys/"): (7, 6),
    ("sheng", "batches", "/payments/"): (16, 6),
    ("shijiazhuang", "home", "/"): (4, 3),
    ("shijiazhuang", "dashboard", "/dashboard/"): (25, 6),
    ("shijiazhuang", "registrations", "/registry/registrations/"): (5, 3),
    ("qiye_luquan", "home", "/"): (6, 5),
    ("qiye_luquan", "registrations", "/registry/registrations/"): (5, 4),
    ("qiye_luquan", "employers", "/registry/employers/"): (3, 2),
    (None, "lookup page", "/payments/lookup/"): (0, 0),
    (None, "login page", "/accounts/login/"): (0, 0),
}


def _survey_draft(officer):
    """A 摸排 draft of the officer's district to open, in the latest period it has not reported (as the
    load bench makes them)."""
    from core.errors import DomainError
    from programs.models import Programme, SurveyReport
    from programs.surveys.fields import DATA_FIELDS
    from programs.surveys.periods import survey_periods
    from programs.surveys.services import survey_create

    programme = Programme.objects.get(code="HEBEI-2021")
    last = SurveyReport.objects.filter(programme=programme, district=officer.region).order_by("-as_of").first()
    data = {f: getattr(last, f) for f in DATA_FIELDS}
    for period in reversed(survey_periods(programme)):
        try:
            return survey_create(
                programme=programme, district=officer.region, as_of=period.end, data=data,
                acting_user=officer, confirm_jump=True,
            )  # fmt: skip
        except DomainError:
            continue
    raise AssertionError("no period left for a draft")


def _queries(client, path) -> tuple[int, int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, secure=True)
    return response.status_code, len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


@pytest.mark.django_db
def test_each_hot_page_makes_its_pinned_number_of_queries(client):
    call_command("load_demo", verbosity=0)
    User = get_user_model()
    luquan = User.objects.get(username="luquan")
    draft = _survey_draft(luquan)
    client.force_login(luquan)
    listed = re.search(
        r"/registry/registrations/\d+/", client.get("/registry/registrations/", secure=True).content.decode()
    )
    found = {
        "{registration}": listed.group() if listed else None,
        "{survey_edit}": f"/programmes/surveys/{draft.pk}/edit/",
    }
    assert all(found.values()), found

    wrong = []
    for (username, page, path), (cold, warm) in PAGES.items():
        client.logout()
        path = found.get(path, path)
        cache.clear()  # cold: nothing cached (the session too, so it is read from the database)
        if username:
            client.force_login(User.objects.get(username=username))
        status, cold_n, _sql = _queries(client, path)
        assert status == 200, f"{username} {page} {path}: {status}"
        status, warm_n, warm_sql = _queries(client, path)
        assert status == 200, f"{username} {page} {path}: {status}"
        if cold_n > cold or warm_n > warm:
            wrong.append(
                f"{username or 'anonymous'} {page}: {cold_n} cold / {warm_n} warm, pinned {cold} / {warm}:\n    "
                + "\n    ".join(warm_sql)
            )
    assert not wrong, "more queries than pinned:\n" + "\n".join(wrong)
