from types import SimpleNamespace

from django.db.models import Q

from regions.selectors import NOTHING, regions_q


def _user(path, authenticated=True):
    return SimpleNamespace(is_authenticated=authenticated, region_scope_path=path)


def test_regions_q_reads_the_users_scope_path():
    assert regions_q(None) == NOTHING
    assert regions_q(_user("", authenticated=False)) == NOTHING
    assert regions_q(_user(None)) == NOTHING
    assert regions_q(_user("")) == Q()
    assert regions_q(_user("130000/130100/")) == Q(path__startswith="130000/130100/")
    assert regions_q(_user("130000/"), region="district") == Q(district__path__startswith="130000/")
