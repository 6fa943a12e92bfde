"""Fixtures shared by every app's tests: the region tree and named personas (users, the
test programme, employers), built by tests/factories.py.

The region tree (about 200 rows and the national code list) is loaded once per test
database, in `django_db_setup`, so that each test starts with it in place.
"""

import threading

import pytest

from accounts.choices import Role
from accounts.models import User
from regions.models import Region
from tests.factories import make_employer, make_programme, make_user

LIVE_SERVER_THREAD = "test-live-server"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from regions.services import regions_load

    with django_db_blocker.unblock():
        regions_load()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A transactional test (transaction=True, live_server) ends by flushing every table,
    the region tree included: put it back, after the flush, for the tests that follow.
    (pytest-django runs transactional tests last, so only they can meet a flushed tree.)"""
    yield
    marker = item.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or {
        "transactional_db",
        "live_server",
    } & set(item.fixturenames)
    if not transactional or nextitem is None:  # after the last test the test database is gone
        return
    from pytest_django.plugin import blocking_manager_key

    from regions.services import regions_load

    with item.config.stash[blocking_manager_key].unblock():
        if not Region.objects.filter(code="130000").exists():
            regions_load()


@pytest.fixture(autouse=True)
def _live_server_no_obstacle_to_forking():
    """pytest-django's live server, once a browser test has started it, stays for the whole
    session as a thread; the importer's worker pool (core.forkpool) forks only a process
    without other threads, so every later test would quietly take the single-process path.
    Between a browser test's requests that thread waits in select(), and no request runs
    while a non-browser test forks: declared idle, as the pool asks of such threads."""
    from django.test.testcases import LiveServerThread

    from core.forkpool import fork_safe_thread

    for thread in threading.enumerate():
        if isinstance(thread, LiveServerThread) and not thread.name.startswith(LIVE_SERVER_THREAD):
            thread.name = LIVE_SERVER_THREAD
            fork_safe_thread(LIVE_SERVER_THREAD)


@pytest.fixture
def province_staff(db):
    return make_user("province_staff", Role.PROVINCE, "130000", first_name="省级审批")


@pytest.fixture
def province_reviewer(db):
    return make_user("province_reviewer", Role.PROVINCE, "130000", first_name="省级复核")


@pytest.fixture
def city_shijiazhuang(db):
    return make_user("city_shijiazhuang", Role.CITY, "130100", first_name="石家庄市级")


@pytest.fixture
def city_cangzhou(db):
    return make_user("city_cangzhou", Role.CITY, "130900", first_name="沧州市级")


@pytest.fixture
def officer_luquan(db):
    return make_user("officer_luquan", Role.DISTRICT, "130110", first_name="鹿泉专员", can_view_pii=True)


@pytest.fixture
def officer_cangzhou(db):
    # 沧州运河区: a district officer in another city.
    return make_user("officer_cangzhou", Role.DISTRICT, "130903", first_name="沧州运河专员", can_view_pii=True)


@pytest.fixture
def agent_gree(db):
    return make_user("employer_gree", Role.EMPLOYER, first_name="格力经办人")


@pytest.fixture
def agent_other(db):
    return make_user("employer_other", Role.EMPLOYER, first_name="他企经办人")


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", "root@example.invalid", "Test-pass-2021", role=Role.ADMIN)


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
