import pytest

from regions.choices import Kind, Level
from regions.models import DivisionCode, Region

pytestmark = pytest.mark.django_db


def test_hebei_tree_has_province_cities_and_every_county():
    assert Region.objects.get(code="130000").level == Level.PROVINCE
    cities = Region.objects.filter(level=Level.CITY, kind=Kind.OFFICIAL)
    assert cities.count() == 11
    official_districts = Region.objects.filter(level=Level.DISTRICT, kind=Kind.OFFICIAL)
    assert official_districts.count() == 167


def test_functional_zones_sit_under_their_city():
    zone = Region.objects.get(code="130172")
    assert zone.kind == Kind.FUNCTIONAL_ZONE
    assert zone.parent_id == "130100"
    assert Region.objects.get(code="130773").parent_id == "130700"  # 塞北管理区
    assert Region.objects.within(Region.objects.get(code="130100")).filter(code="130171").exists()


def test_dingzhou_xinji_and_xiongan_report_to_the_province():
    province = Region.objects.get(code="130000")
    for code in ("130682", "130181", "133100"):
        region = Region.objects.get(code=code)
        assert region.parent == province
        assert region.direct_report
    assert Region.objects.get(code="130682").official_parent_code == "130600"
    # 雄安's counties are under 雄安, not 保定, in the reporting tree.
    assert Region.objects.get(code="130629").parent_id == "133100"
    assert not Region.objects.within(Region.objects.get(code="130600")).filter(code="130629").exists()
    # A direct-report district is its own city.
    assert Region.objects.get(code="130682").city.code == "130682"
    assert Region.objects.get(code="130110").city.code == "130100"


def test_national_codes_keep_abolished_ones_with_their_successor():
    luanxian = DivisionCode.objects.get(code="130223")  # 滦县, abolished 2018
    assert not luanxian.active
    assert luanxian.current_code == "130284"
    assert DivisionCode.objects.get(code="130185").current_code == "130110"  # 鹿泉市 → 鹿泉区
    assert DivisionCode.objects.get(code="110101").active
    assert DivisionCode.objects.filter(code__in=["810000", "820000", "830000"]).count() == 3
    assert DivisionCode.objects.count() > 6000


def test_loading_twice_changes_nothing():
    from regions.services import regions_load

    before = list(Region.objects.values_list("code", "path", "parent_id").order_by("code"))
    regions_load()
    assert list(Region.objects.values_list("code", "path", "parent_id").order_by("code")) == before


def test_codes_only_stdnum_knows_are_loaded_with_their_current_code_and_name():
    youyi = DivisionCode.objects.get(code="230824")  # 友谊县 under 佳木斯, 1984–1991
    assert (youyi.name, youyi.active, youyi.current_code) == ("友谊县", False, "230522")
    assert DivisionCode.objects.get(code=youyi.current_code).name == "友谊县"
    lishui = DivisionCode.objects.get(code="332801")  # stdnum's 3328xx 丽水地区 edition
    assert lishui.current_code == "331100"
    assert DivisionCode.objects.get(code="130101").current_code == "130100"  # 市辖区 placeholder
    # A renamed code shows its current name (130123: 栾城县 1986–1993, 正定县 since).
    assert DivisionCode.objects.get(code="130123").name == "正定县"


def test_a_code_dropped_from_the_lists_is_removed_on_load():
    from regions.services import regions_load

    DivisionCode.objects.create(
        code="230834", name="友谊县", province="黑龙江省", level="county", current_code="230522"
    )
    regions_load()
    assert not DivisionCode.objects.filter(code="230834").exists()


def test_the_committed_supplement_is_what_the_generator_makes_from_stdnum():
    """regions/data/cn_division_codes_stdnum.csv is generated (manage.py
    division_codes_from_stdnum); an upgraded python-stdnum with other codes fails here
    until the file is regenerated and reviewed."""
    from regions.division_history import read_supplement, supplement_rows

    assert read_supplement() == [{k: str(v) for k, v in row.items()} for row in supplement_rows()]
