import datetime as dt

import pytest

from beneficiaries.services.registrations import registration_create
from beneficiaries.tests.factories import make_employer, make_id, make_programme


@pytest.fixture(scope="module")
def regions_reloaded(django_db_blocker):
    """A transactional test ends by flushing every table, the region tree included; put
    it back (module teardown runs after the flush) for the tests that run after this one."""
    from regions.models import Region
    from regions.services import regions_load

    def ensure():
        if not Region.objects.filter(code="130110").exists():
            regions_load()

    yield ensure
    with django_db_blocker.unblock():
        ensure()


@pytest.fixture
def programme(db):
    return make_programme()


@pytest.fixture
def employer_luquan(agent_other):
    return make_employer("石家庄冀通建材有限公司", "130110", agents=[agent_other])


@pytest.fixture
def employer_gree(agent_gree):
    return make_employer("石家庄格力电器（空调）有限公司", "130171", agents=[agent_gree], ownership="state")


@pytest.fixture
def employer_cangzhou(db):
    return make_employer("沧州运河某制衣厂", "130903")


def register(agent, employer, programme, id_number=None, **extra):
    fields = dict(
        acting_user=agent,
        employer=employer,
        programme=programme,
        id_number=id_number or make_id("130223", "19850314", 271),
        name=extra.pop("name", "赵建国"),
        phone="13931500011",
        start_date=dt.date(2021, 1, 25),
        end_date=dt.date(2021, 3, 1),
        duty_days=7,
        seniority_years=3,
        category="migrant",
        bank_name="农业银行",
        account="6228480012345678901",
    )
    fields.update(extra)
    return registration_create(**fields)
