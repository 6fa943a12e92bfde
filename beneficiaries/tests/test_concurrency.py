"""Two employers register the same person at the same moment: exactly one registration
is active, the other is a conflict (the Person row lock and the partial unique index)."""

import threading

import pytest
from django.db import connection

from accounts.choices import Role
from beneficiaries.models import Person, Registration
from tests.factories import make_employer, make_id, make_programme, make_user, register


@pytest.mark.django_db(transaction=True)
def test_simultaneous_registrations_never_make_two_active(regions_reloaded):
    regions_reloaded()
    agents = [make_user(f"race_agent_{i}", Role.EMPLOYER) for i in range(4)]
    employers = [make_employer(f"并发测试厂{i}", "130110", agents=[a]) for i, a in enumerate(agents)]
    programme = make_programme()
    number = make_id("410102", "19900708", 555)
    barrier = threading.Barrier(len(agents))
    errors = []

    def work(agent, employer):
        try:
            barrier.wait()
            register(agent, employer, programme, number)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=pair) for pair in zip(agents, employers, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Person.objects.count() == 1
    statuses = sorted(Registration.objects.values_list("status", flat=True))
    assert statuses == ["active", "conflict", "conflict", "conflict"]
