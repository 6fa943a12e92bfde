"""The region tree's admin import and export (django-import-export)."""

import pytest

from regions.models import Region
from regions.resources import RegionResource
from tests.admin_import import confirm, dry_run, row_errors

HEAD = ["区划代码", "名称", "层级", "类别", "上级代码", "法定上级代码", "省直管"]
MODEL = "regions_region"


@pytest.mark.django_db
def test_import_adds_a_zone_under_its_city_after_a_dry_run(client, superuser):
    assert not Region.objects.filter(code="130198").exists()
    client.force_login(superuser)
    response = dry_run(client, MODEL, [HEAD, ["130198", "测试功能区", "区县", "功能区", "130100", "", "0"]])
    assert response.status_code == 200 and row_errors(response) == []
    assert not Region.objects.filter(code="130198").exists()  # the dry run writes nothing

    confirm(client, MODEL, response)
    zone = Region.objects.get(code="130198")
    assert (zone.level, zone.kind, zone.parent_id) == ("district", "zone", "130100")
    assert zone.path == "130000/130100/130198/"
    assert Region.objects.within(Region.objects.get(code="130100")).filter(code="130198").exists()


@pytest.mark.django_db
def test_a_refused_row_writes_nothing_of_the_file(client, superuser):
    client.force_login(superuser)
    response = dry_run(
        client,
        MODEL,
        [
            HEAD,
            ["130197", "某新区", "区县", "功能区", "130100", "", "0"],
            ["130110", "鹿泉区", "区县", "法定行政区划", "130900", "", "0"],  # a move to 沧州
            ["13011", "五位代码", "区县", "功能区", "130100", "", "0"],
        ],
    )
    errors = row_errors(response)
    assert any("上级区划" in e for e in errors) and any("6位数字" in e for e in errors)
    assert response.context.get("confirm_form") is None
    assert not Region.objects.filter(code="130197").exists()
    assert Region.objects.get(code="130110").parent_id == "130100"


@pytest.mark.django_db
def test_export_has_chinese_headers_and_codes():
    dataset = RegionResource().export(Region.objects.filter(code__in=["130100", "130110"]))
    assert dataset.headers == HEAD
    assert dataset.dict[1]["区划代码"] == "130110" and dataset.dict[1]["上级代码"] == "130100"
    assert dataset.dict[1]["层级"] == "区县"
