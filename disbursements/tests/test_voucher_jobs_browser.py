"""Headless Chromium: an officer issues a voucher batch's vouchers and imports the
redemption file; both run as jobs, and the jobs page lists them by their Chinese
names (English on the English page). Screenshots go to test-artifacts/."""

import datetime as dt

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from disbursements.models import Voucher
from disbursements.services.batches import batches_build
from tests.browser import (
    browser,  # noqa: F401  (the fixture)
    click,
    login,
    screenshot,
)
from tests.factories import approve, make_entitlements, make_programme, make_rule, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_issue_and_redeem_as_jobs(browser, live_server, tmp_path):  # noqa: F811
    officer = make_user("hs_browser", "district", "131102")
    city, province = make_user("hs_city_b", "city", "131100"), make_user("hs_prov_b", "province", "130000")
    programme = make_programme("HB-VOU-B", region_id="131100")
    rule = make_rule(
        programme, "hs_voucher", region="131100", kind="voucher", channel="e_voucher", amount="500.00",
        valid_until=dt.date(2021, 3, 8),
    )  # fmt: skip
    make_entitlements(programme, rule, 5, district="131102", start=800)
    batch = approve(batches_build(programme=programme, acting_user=officer)[0], officer, city, province)
    login(browser, live_server, "hs_browser")
    browser.get(f"{live_server.url}/payments/batches/{batch.pk}/")
    click(browser, "form[action$='/vouchers/issue/'] button")
    # The job's page reloads when the job ends: a body read just before that goes stale.
    WebDriverWait(browser, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda b: "已发 5 张" in b.find_element(By.TAG_NAME, "body").text
    )
    assert Voucher.objects.count() == 5
    code = Voucher.objects.first().code
    path = tmp_path / "核销.csv"
    path.write_text(f"券码,核销时间,核销商户\n{code},2021-02-20 10:30:00,衡水超市\n", encoding="utf-8")
    browser.find_element(By.CSS_SELECTOR, "form[action$='/vouchers/redemptions/'] input[type=file]").send_keys(
        str(path)
    )
    click(browser, "form[action$='/vouchers/redemptions/'] button")
    WebDriverWait(browser, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda b: "已核销 1 张" in b.find_element(By.TAG_NAME, "body").text
    )
    screenshot(browser, "voucher-jobs-batch")
    browser.get(f"{live_server.url}/accounts/jobs/")
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "发放消费券" in body and "导入消费券核销" in body and "已导入 1 条核销记录，新核销 1 张" in body
    screenshot(browser, "voucher-jobs-list")
