import pytest


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
