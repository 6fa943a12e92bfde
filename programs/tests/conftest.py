import datetime as dt

import pytest

from programs.models import Programme


@pytest.fixture
def programme(db):
    """The survey tests' programme (the rule tests build their own)."""
    return Programme.objects.create(
        code="T-2021",
        name="测试项目",
        region_id="130000",
        start_date=dt.date(2021, 1, 21),
        end_date=dt.date(2021, 3, 31),
        holiday_start=dt.date(2021, 2, 11),
        holiday_end=dt.date(2021, 2, 17),
        registration_deadline=dt.date(2021, 2, 28),
    )
