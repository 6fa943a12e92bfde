"""The portal's front doors: favicon, the /api/ index, the /api/v1/ list of every API,
and `make run` printing the demo logins once."""

import re
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.urls import reverse

from accounts.choices import Role
from portal.api.root import v1_endpoints
from tests.factories import make_user

ROOT = Path(__file__).resolve().parent.parent.parent


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert b"<svg" in b"".join(icon.streaming_content if icon.streaming else [icon.content])


def test_every_page_links_the_favicon(client, officer_luquan):
    client.force_login(officer_luquan)
    assert 'rel="icon"' in client.get("/").content.decode()


def test_api_index_links_the_docs_the_schema_and_v1(client, db):
    response = client.get("/api/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    body = response.json()
    assert body["docs"].endswith("/api/docs/")
    assert body["schema"].endswith("/api/schema/")
    assert body["versions"]["v1"].endswith("/api/v1/")
    # The docs map every endpoint: for signed-in users unless API_DOCS_PUBLIC (docs/api.md).
    assert client.get("/api/docs/").status_code == 302
    client.force_login(make_user("api_reader", Role.PROVINCE, "130000"))
    assert client.get("/api/docs/").status_code == 200


def test_api_v1_lists_every_api_of_every_app(client, db):
    response = client.get("/api/v1/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    listed = response.json()
    # One from each app's api/urls.py, and the portal's own.
    for name in ("regions", "programmes", "rules", "surveys", "employers", "workers", "imports", "entitlements"):
        assert name in listed, name
    for name in ("batches", "dashboard"):
        assert name in listed, name
    # Every listed address answers (401/403 for an anonymous caller, never 404).
    for url in listed.values():
        path = url.split("testserver", 1)[1]
        assert client.get(path, HTTP_ACCEPT="application/json").status_code in (200, 401, 403, 405), path


def test_v1_endpoints_are_found_by_walking_the_urls_not_by_a_list():
    routes = dict(v1_endpoints())
    assert routes["regions/"] == "region-list"
    assert reverse(routes["batches/"]) == "/api/v1/batches/"
    assert not any("<" in route or "(" in route for route in routes)


def test_make_run_prints_the_demo_logins_once(officer_luquan):
    """`make run` calls `load_demo --if-empty` alone; with data present it still prints the logins."""
    out = StringIO()
    call_command("load_demo", "--if-empty", stdout=out)
    text = out.getvalue()
    assert text.count("演示账号") == 1 and "qiye_luquan" in text
    recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert len(re.findall(r"manage\.py load_demo", recipe)) == 1
