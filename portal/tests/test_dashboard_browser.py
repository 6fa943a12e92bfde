"""Headless Chromium opens the province dashboard, drills into a city and a district,
and sees the charts drawn (a canvas with painted pixels). Screenshots go to test-artifacts/."""

import datetime as dt
from decimal import Decimal

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from accounts.choices import Role
from disbursements.services.rollups import rollups_refresh
from portal.tests.test_dashboard import approved, kangbao_relief
from regions.models import Region
from tests.browser import (
    browser,  # noqa: F401  (the fixture)
    click,
    login,
    screenshot,
    wait_text,
)
from tests.factories import make_programme, make_user

D = dt.date

PAINTED = """
const canvas = document.querySelector(arguments[0] + ' canvas');
if (!canvas) { return -1; }
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let painted = 0;
for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) { painted++; } }
return painted;
"""


def painted(driver, selector: str) -> int:
    return driver.execute_script(PAINTED, selector)


# A click that loads a new page can leave the wait holding an element of the old one:
# keep polling instead of failing on it.
STALE = (StaleElementReferenceException,)


def wait_drawn(driver, *selectors: str) -> None:
    WebDriverWait(driver, 15, ignored_exceptions=STALE).until(
        lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-charts-ready")
    )
    for selector in selectors:
        # ECharts animates in: wait for its "finished" event, then look at the pixels.
        WebDriverWait(driver, 15, ignored_exceptions=STALE).until(
            lambda b, s=selector: b.find_element(By.CSS_SELECTOR, s).get_attribute("data-finished"),
            message=f"{selector} never finished drawing",
        )
        assert painted(driver, selector) > 2000, f"{selector} is blank"


def full_page_screenshot(driver, name: str):
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1280, min(max(height, 900), 4000))
    path = screenshot(driver, name)
    driver.set_window_size(1280, 900)
    return path


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_province_drills_into_city_and_district_and_sees_charts(browser, live_server):  # noqa: F811
    if not Region.objects.exists():  # an earlier transactional test flushed the tree
        from regions.services import regions_load

        regions_load()
    programme = make_programme("DASH-2021", name="看板测试项目", budget=Decimal("100000000.00"))
    kangbao_relief(programme, people=500)
    for as_of, ratio in ((D(2021, 1, 29), 6), (D(2021, 2, 26), 9), (D(2021, 3, 31), 10)):
        approved(
            programme,
            "130723",
            as_of,
            enterprises_surveyed=100 * ratio,
            staying=4000 * ratio,
            staying_local=3000 * ratio,
        )
        approved(
            programme,
            "130702",
            as_of,
            enterprises_surveyed=80 * ratio,
            staying=3000 * ratio,
            staying_nonlocal=900 * ratio,
        )
        approved(
            programme,
            "130802",
            as_of,
            enterprises_surveyed=300 * ratio,
            outside_workers=900 * ratio,
            staying=400 * ratio,
        )
    rollups_refresh(programme=programme)
    make_user("sheng_browser", Role.PROVINCE, "130000", first_name="省级")

    login(browser, live_server, "sheng_browser")
    browser.get(live_server.url + "/dashboard/?programme=DASH-2021")
    wait_drawn(browser, "#chart-children", "#chart-rules", "#chart-trend")
    assert "数据看板 · 河北省" in browser.find_element(By.TAG_NAME, "h1").text
    assert "数据更新于" in browser.find_element(By.ID, "dash-freshness").text
    full_page_screenshot(browser, "dashboard_1_province")

    click(browser, "#table-children a[data-region='130700']")
    wait_text(browser, "#dash-region-name", "张家口市", timeout=10)
    wait_drawn(browser, "#chart-children", "#chart-rules", "#chart-trend")
    assert browser.find_element(By.CSS_SELECTOR, "[data-kpi=staying]").text == "70,000"
    full_page_screenshot(browser, "dashboard_2_city_zhangjiakou")

    click(browser, "#table-children a[data-region='130723']")
    wait_text(browser, "#dash-region-name", "康保县", timeout=10)
    wait_drawn(browser, "#chart-rules", "#chart-trend")
    assert browser.find_element(By.CSS_SELECTOR, "[data-kpi=entitled]").text == "¥150,000.00"
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-children") == []  # a district has no children
    path = full_page_screenshot(browser, "dashboard_3_district_kangbao")
    assert path.stat().st_size > 20_000
    # The district's two charts fill its row: nothing is left empty beside them.
    row = browser.find_element(By.CSS_SELECTOR, "#chart-rules").find_element(
        By.XPATH, "ancestor::div[contains(@class,'row')][1]"
    )
    columns = row.find_elements(By.CSS_SELECTOR, "[data-chart-col]")
    assert len(columns) == 2
    used = sum(c.size["width"] for c in columns)
    assert used >= row.size["width"] * 0.95, (used, row.size["width"])

    # In English the trend legend sits above the plot, clear of the axis labels below it.
    click(browser, "footer button[name=language]")
    WebDriverWait(browser, 10).until(lambda b: b.execute_script("return document.documentElement.lang") == "en")
    wait_drawn(browser, "#chart-rules", "#chart-trend")
    legend_bottom = browser.execute_script(
        "const c = echarts.getInstanceByDom(document.getElementById('chart-trend'));"
        "const m = c.getModel().getComponent('legend'); return m && m.get('top');"
    )
    assert legend_bottom == 0
    full_page_screenshot(browser, "dashboard_4_district_kangbao_english")
