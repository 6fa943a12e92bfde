"""The approval chain in headless Chromium, by three users: the district officer builds
and submits, the city reviews, the province approves; the officer exports the bank file.
Screenshots go to test-artifacts/."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from disbursements.models import Batch, BatchExport
from tests.browser import browser, login, screenshot, wait_text  # noqa: F401  (browser is a fixture)
from tests.factories import make_entitlements, make_programme, make_rule, make_user


@pytest.fixture
def regions_back_after_flush(django_db_blocker):
    """The live server's transactional test ends with a flush that empties the region
    tree too; put it back for the tests that follow (this teardown runs after the flush)."""
    yield
    from regions.services import regions_load

    with django_db_blocker.unblock():
        regions_load()


def _switch(driver, live_server, username):
    driver.delete_all_cookies()
    login(driver, live_server, username)


def _click_and_wait(driver, css, status_text):
    driver.find_element(By.CSS_SELECTOR, css).click()
    wait_text(driver, "[data-batch-status]", status_text)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_three_users_take_a_batch_through_the_chain(regions_back_after_flush, browser, live_server):  # noqa: F811
    from regions.models import Region
    from regions.services import regions_load

    if not Region.objects.filter(code="130110").exists():
        regions_load()
    make_user("luquan_b", "district", "130110", first_name="鹿泉区人社专员 刘专员", can_view_pii=True)
    make_user("sjz_b", "city", "130100", first_name="石家庄市人社局 张复核")
    make_user("sheng_b", "province", "130000", first_name="省人社厅 王审批")
    programme = make_programme("HEBEI-B", name="河北省2021年稳岗留工补贴")
    make_entitlements(programme, make_rule(programme, "luquan_cash", name="鹿泉区留岗职工补贴"), 12, start=100)

    # 1. The district officer builds the batch (a job: eager in tests) and submits it.
    login(browser, live_server, "luquan_b")
    browser.get(live_server.url + "/payments/")
    browser.find_element(By.CSS_SELECTOR, "[data-build-form] button[type=submit]").click()
    WebDriverWait(browser, 15).until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-batch-table] tbody a")))
    screenshot(browser, "batch_1_built_district")
    batch = Batch.objects.get(programme=programme)
    browser.find_element(By.LINK_TEXT, batch.number).click()
    assert "410102********" in browser.page_source and "6222 **** ****" in browser.page_source
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-action=approve]")
    browser.find_element(By.CSS_SELECTOR, "[data-action=submit] input[name=comment]").send_keys("鹿泉区第一批，请复核")
    _click_and_wait(browser, "[data-action=submit] button", "区县已提交")
    screenshot(browser, "batch_2_submitted_district")

    # 2. The city reviewer.
    _switch(browser, live_server, "sjz_b")
    browser.get(live_server.url + f"/payments/batches/{batch.pk}/")
    assert browser.find_elements(By.CSS_SELECTOR, "[data-action=return]")
    browser.find_element(By.CSS_SELECTOR, "[data-action=review] input[name=comment]").send_keys("抽查无误")
    _click_and_wait(browser, "[data-action=review] button", "市级已复核")
    screenshot(browser, "batch_3_reviewed_city")

    # 3. The province approves: the batch is frozen with its hash.
    _switch(browser, live_server, "sheng_b")
    browser.get(live_server.url + f"/payments/batches/{batch.pk}/")
    _click_and_wait(browser, "[data-action=approve] button", "省级已审批")
    steps = browser.find_element(By.CSS_SELECTOR, "[data-steps]").text
    assert "鹿泉区人社专员" in steps and "石家庄市人社局" in steps and "省人社厅" in steps and "抽查无误" in steps
    assert "校验通过" in browser.page_source
    screenshot(browser, "batch_4_approved_province")

    # 4. The officer exports the bank file; the city could not.
    _switch(browser, live_server, "luquan_b")
    browser.get(live_server.url + f"/payments/batches/{batch.pk}/")
    browser.find_element(By.CSS_SELECTOR, "[data-export='csv-utf-8']").click()
    WebDriverWait(browser, 15).until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-download]")))
    assert BatchExport.objects.filter(batch=batch).count() == 1
    screenshot(browser, "batch_5_exported_district")
    batch.refresh_from_db()
    assert batch.status == "exported"
