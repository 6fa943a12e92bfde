"""Schemathesis against our own OpenAPI schema, in-process on the WSGI app.

Every operation of /api/v1/ is called with generated input, as a provincial user and as
an employer agent, and every answer must be no server error (5xx) and match the schema
the API publishes. Bounded (fixed seed, a fixed number of examples per operation, about
a minute and a half per user on this machine) so that it runs in every `make test`.

The world it runs in is small but real: a programme, a rule, employers and
registrations, a survey report, a batch; for operations on one object half the examples
use an id that exists, so that the happy paths are checked too, not only the 404s.
"""

import datetime as dt
import time

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from knox.models import AuthToken
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from disbursements.services.batches import batches_build
from programs.surveys.services import survey_create
from tests.factories import make_employer, make_entitlements, make_programme, make_rule, register

# Examples per operation and user: about 60 operations × 2 users × this many calls.
EXAMPLES = 15
SEED = 14


SURVEY_FIGURES = {
    "enterprises_surveyed": 120,
    "outside_workers": 900,
    "outside_other_province": 300,
    "outside_other_city": 400,
    "outside_other_county": 200,
    "staying": 500,
    "staying_on_duty": 100,
    "staying_local": 200,
    "staying_nonlocal": 300,
    "poverty_staying": 5,
    "enterprises_with_benefits": 10,
    "benefits_amount": "12000.50",
}


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture
def world(province_staff, officer_luquan, city_shijiazhuang, province_reviewer, agent_gree):
    programme = make_programme("HB-T")
    rule = make_rule(programme)
    employer = make_employer()
    employer.agents.add(agent_gree)
    registration = register(agent_gree, employer, programme)
    make_entitlements(programme, rule, 3)
    batch = batches_build(programme=programme, district=officer_luquan.region, acting_user=officer_luquan)[0]
    survey = survey_create(
        programme=programme,
        district=officer_luquan.region,
        as_of=dt.date(2021, 1, 29),
        data=SURVEY_FIGURES,
        acting_user=officer_luquan,
    )
    return {
        "employers": employer.pk,
        "workers": registration.pk,
        "rules": rule.pk,
        "batches": batch.pk,
        "surveys": survey.pk,
        "programmes": programme.code,
    }


def _known_path_parameters(path: str, world: dict) -> dict | None:
    """For /api/v1/<collection>/{id}/…: the id of a real object of that collection."""
    parts = path.strip("/").split("/")
    if len(parts) < 4 or not parts[3].startswith("{"):
        return None
    value = world.get(parts[2])
    return None if value is None else {parts[3].strip("{}"): value}


@pytest.fixture
def keep_connection():
    """The WSGI handler closes the database connection after each request; in a test that
    would close the test's own transaction. Django's test client disconnects the same
    signal handlers for the same reason."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _fuzz(user, world) -> list[str]:
    token = AuthToken.objects.create(user=user)[1]
    schema = schemathesis.openapi.from_dict(_schema())
    app = get_wsgi_application()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        # Valid input and input that breaks the schema (wrong types, bad ids, missing fields).
        strategy = st.one_of(operation.as_strategy(), operation.as_strategy(GenerationMode.NEGATIVE))
        known = _known_path_parameters(operation.path, world)
        if known:
            strategy = st.one_of(strategy, operation.as_strategy(path_parameters=known))

        @seed(SEED)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=False,
            suppress_health_check=list(HealthCheck),
            phases=["generate"],
        )
        @given(case=strategy)
        def run(case):
            response = case.call(app=app, headers={"Authorization": f"Token {token}"})
            try:
                case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
            except (AssertionError, BaseExceptionGroup) as exc:  # collected, reported all at once below
                failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")

        run()
    return failures


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["province_staff", "agent_gree"])
def test_api_has_no_server_errors_and_keeps_to_its_schema(who, world, keep_connection, request):
    user = request.getfixturevalue(who)
    started = time.monotonic()
    failures = _fuzz(user, world)
    assert not failures, "\n\n".join(failures[:20]) + f"\n\n({len(failures)} failures)"
    assert time.monotonic() - started < 240, "the bounded run took too long"
