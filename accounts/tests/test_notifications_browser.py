"""The bell in headless Chromium: a district officer's unread count rises when appeals
arrive (on reload, and by the bell's own refresh without one), the officer opens
/notifications/, marks one read, then all. Screenshots go to test-artifacts/."""

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from accounts.models import Notification
from tests.browser import browser, login, screenshot  # noqa: F401  (browser is a fixture)
from tests.factories import make_entitlements, make_programme, make_rule, make_user


def _wait(driver):
    # A click that reloads the page leaves the old elements stale for a moment.
    return WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException,))


def _badge(driver):
    return driver.find_element(By.CSS_SELECTOR, "[data-notification-bell] [data-unread-count]")


def _badge_shows(driver, text: str) -> bool:
    badge = _badge(driver)
    return badge.is_displayed() and badge.text == text


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_officer_sees_the_bell_rise_opens_and_marks_read(browser, live_server):  # noqa: F811
    from disbursements.services.appeals import appeal_file_worker
    from regions.models import Region
    from regions.services import regions_load

    if not Region.objects.filter(code="130110").exists():
        regions_load()
    officer = make_user("luquan_n", "district", "130110", first_name="鹿泉区人社专员 刘专员")
    make_user("cangzhou_n", "district", "130903", first_name="运河区人社专员")
    programme = make_programme("HEBEI-N", name="河北省2021年稳岗留工补贴")
    ents = make_entitlements(programme, make_rule(programme, "luquan_cash", name="鹿泉区留岗职工补贴"), 2, start=500)

    login(browser, live_server, "luquan_n")
    assert not _badge(browser).is_displayed()  # nothing yet

    # A worker's appeal arrives: written after its commit (live server: real transactions).
    appeal_file_worker(person=ents[0].person, registration_id=None, kind="not_paid", text="春节后仍未收到补贴，请核查")
    browser.get(live_server.url + "/")
    assert _badge_shows(browser, "1")
    screenshot(browser, "notifications_1_bell")

    # A second one: the bell refreshes itself (static/js/notifications.js) without a reload.
    appeal_file_worker(
        person=ents[1].person, registration_id=None, kind="wrong_amount", text="金额与公示不一致，请核对"
    )
    browser.execute_script("document.dispatchEvent(new Event('visibilitychange'))")
    _wait(browser).until(lambda d: _badge_shows(d, "2"))

    _badge(browser).click()
    _wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-notification-table]"))
    rows = browser.find_elements(By.CSS_SELECTOR, "[data-notification-table] tr[data-unread]")
    assert len(rows) == 2
    table = browser.find_element(By.CSS_SELECTOR, "[data-notification-table]").text
    assert "收到申诉" in table and "未收到补贴" in table and "金额不对" in table
    assert ents[0].person.name not in table  # masked name only
    screenshot(browser, "notifications_2_list")

    rows[0].find_element(By.CSS_SELECTOR, "[data-mark-read]").click()
    _wait(browser).until(lambda d: _badge_shows(d, "1"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-notification-table] tr[data-unread]")) == 1
    browser.find_element(By.CSS_SELECTOR, "[data-read-all] button").click()
    _wait(browser).until(lambda d: not _badge(d).is_displayed())
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-notification-table] tr[data-unread]")
    screenshot(browser, "notifications_3_read")
    assert Notification.objects.filter(user=officer, read_at__isnull=True).count() == 0
    assert not Notification.objects.filter(user__username="cangzhou_n").exists()  # another district

    browser.find_element(By.CSS_SELECTOR, "form[action$='/logout/'] button").click()
    _wait(browser).until(lambda d: "/accounts/login/" in d.current_url)
