"""A district officer logs in with headless Chromium and sees the Chinese home page."""

import pytest
from selenium.webdriver.common.by import By

from accounts.choices import Role
from tests.browser import login, screenshot
from tests.factories import make_user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_district_officer_logs_in_and_sees_chinese_home(browser, live_server):
    make_user("officer_luquan", Role.DISTRICT, "130110", first_name="鹿泉专员")
    login(browser, live_server, "officer_luquan")
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "工作台" in body
    assert "区县人社专员" in body and "鹿泉区" in body
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-hans"
    # Bootstrap came from our own static files: the navbar is styled (not the browser default).
    navbar = browser.find_element(By.CSS_SELECTOR, "nav.navbar")
    assert navbar.value_of_css_property("display") == "flex"
    path = screenshot(browser, "home_district_officer")
    assert path.stat().st_size > 10_000
