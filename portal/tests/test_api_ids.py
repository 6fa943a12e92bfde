"""Every id in every API route is typed: a malformed id is a plain 404, never a 500
(DEBUG is off in the tests, as in production), and out of scope is 404 before the body
is even read."""

import pytest
from django.urls import get_resolver
from rest_framework.test import APIClient

from tests.factories import make_employer, make_programme, register

BAD_IDS = ["abc", "1.5", "-1", "1e3", "%20", "99999999999999999999999"]

ID_ROUTES = [
    ("get", "/api/v1/employers/{}/"),
    ("put", "/api/v1/employers/{}/"),
    ("patch", "/api/v1/employers/{}/"),
    ("post", "/api/v1/employers/{}/verify/"),
    ("post", "/api/v1/employers/{}/return/"),
    ("get", "/api/v1/workers/{}/"),
    ("put", "/api/v1/workers/{}/"),
    ("patch", "/api/v1/workers/{}/"),
    ("post", "/api/v1/workers/{}/resolve/"),
    ("post", "/api/v1/workers/{}/withdraw/"),
    ("get", "/api/v1/rules/{}/"),
    ("patch", "/api/v1/rules/{}/"),
    ("get", "/api/v1/rules/{}/preview/"),
    ("post", "/api/v1/rules/{}/activate/"),
    ("post", "/api/v1/rules/{}/retire/"),
    ("get", "/api/v1/surveys/{}/"),
    ("post", "/api/v1/surveys/{}/submit/"),
    ("get", "/api/v1/batches/{}/"),
    ("get", "/api/v1/jobs/{}/"),
    ("get", "/api/v1/bank-files/{}/"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["province_staff", "officer_luquan", "agent_gree"])
def test_a_malformed_id_is_404_on_every_route(who, request):
    client = APIClient()
    client.force_authenticate(request.getfixturevalue(who))
    for method, route in ID_ROUTES:
        for bad in BAD_IDS:
            response = getattr(client, method)(route.format(bad), {"reason": "x", "note": "x"}, format="json")
            assert response.status_code == 404, (method, route, bad, response.status_code)


def test_every_api_route_with_an_id_types_it():
    """No `<pk>` or `(?P<pk>[^/.]+)` left in /api/v1/: each id is an int converter."""
    untyped = []

    def walk(patterns, prefix=""):
        for p in patterns:
            route = prefix + str(p.pattern)
            if hasattr(p, "url_patterns"):
                walk(p.url_patterns, route)
            elif route.startswith("api/v1/") and ("pk>" in route or "<pk" in route):
                if "<int:pk>" not in route:
                    untyped.append(route)

    walk(get_resolver().url_patterns)
    assert not untyped, untyped


@pytest.mark.django_db
def test_resolve_out_of_scope_is_404_whatever_the_body(agent_gree, agent_other):
    programme = make_programme("HB-T")
    employer = make_employer()
    employer.agents.add(agent_gree)
    registration = register(agent_gree, employer, programme)
    client = APIClient()
    client.force_authenticate(agent_other)
    for body in ({}, {"note": ""}, {"note": "x" * 600}, {"note": "保留"}):
        response = client.post(f"/api/v1/workers/{registration.pk}/resolve/", body, format="json")
        assert response.status_code == 404, (body, response.status_code)
    for body in ({}, {"reason": ""}):
        response = client.post(f"/api/v1/employers/{employer.pk}/return/", body, format="json")
        assert response.status_code == 404, (body, response.status_code)
