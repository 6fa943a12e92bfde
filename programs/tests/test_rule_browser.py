"""A city officer, in headless Chromium: the rule list, a rule, its preview by district,
then the compute page — the job's progress bar runs to 100 % and the totals appear."""

import pytest
from selenium.webdriver.common.by import By

from accounts.choices import Role
from programs.demo import demo_programme as programme
from tests.browser import browser, login, screenshot, wait_text  # noqa: F401  (browser is a fixture)
from tests.factories import make_user, reg


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_city_officer_previews_a_rule_and_computes(browser, live_server):  # noqa: F811
    from regions.models import Region
    from regions.services import regions_load

    if not Region.objects.exists():
        regions_load()
    p = programme()
    reg(p, "130110", "410102")
    reg(p, "130110", "130102")  # hukou in 石家庄: not eligible
    reg(p, "130172", "130602")
    make_user("city_sjz", Role.CITY, "130100", first_name="石家庄市级")
    login(browser, live_server, "city_sjz")

    browser.get(live_server.url + "/programmes/rules/?programme=HEBEI-2021")
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "鹿泉区留鹿过年补贴" in body and "循环化工园区外市留园人员红包" in body
    assert "沧州市暖心红包" not in body  # another city's rule
    browser.find_element(By.LINK_TEXT, "鹿泉区留鹿过年补贴").click()
    browser.find_element(By.LINK_TEXT, "预览受益人数与金额").click()
    assert browser.find_element(By.CSS_SELECTOR, "[data-preview-count]").text == "1"
    assert browser.find_element(By.CSS_SELECTOR, "[data-preview-amount]").text == "500.00"
    screenshot(browser, "rule_preview_city")

    browser.get(live_server.url + "/payments/compute/HEBEI-2021/")
    browser.find_element(By.CSS_SELECTOR, "[data-compute-start]").click()
    wait_text(browser, "[data-job-bar]", "100%", timeout=20)
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "鹿泉区留鹿过年补贴" in body and "1,300.00" in body  # 500 + 800, in the common amount format
    screenshot(browser, "rule_compute_done")
