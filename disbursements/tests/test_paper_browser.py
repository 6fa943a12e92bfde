"""Paper in headless Chromium: the district officer opens an approved batch, clicks
打印审批表 and gets the PDF in the browser's viewer; the reconciliation page's 汇总表
link gives the district's sheet. Screenshots go to test-artifacts/."""

import time
import urllib.request
from io import BytesIO

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from disbursements.services.batches import batches_build
from disbursements.tests.test_batch_browser import regions_back_after_flush  # noqa: F401  (a fixture)
from tests.browser import browser, login, screenshot  # noqa: F401  (browser is a fixture)
from tests.factories import approve, make_entitlements, make_programme, make_rule, make_user


def _fetch(driver, url: str) -> tuple[str, bytes]:
    """The PDF as the signed-in browser gets it (the viewer's canvas cannot be read back)."""
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Cookie": cookies})) as response:
        return response.headers["Content-Type"], response.read()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_officer_prints_the_approval_form_and_the_district_summary(
    regions_back_after_flush,  # noqa: F811
    browser,  # noqa: F811
    live_server,
):
    pypdf = pytest.importorskip("pypdf")
    from regions.models import Region
    from regions.services import regions_load

    if not Region.objects.filter(code="130110").exists():
        regions_load()
    officer = make_user("luquan_p", "district", "130110", first_name="鹿泉区人社专员 刘专员")
    city = make_user("sjz_p", "city", "130100", first_name="石家庄市人社局 张复核")
    province = make_user("sheng_p", "province", "130000", first_name="省人社厅 王审批")
    programme = make_programme("HEBEI-P", name="河北省2021年稳岗留工补贴")
    make_entitlements(programme, make_rule(programme, "luquan_cash", name="鹿泉区留岗职工补贴"), 6, start=100)
    batch = approve(batches_build(programme=programme, acting_user=officer)[0], officer, city, province)

    login(browser, live_server, "luquan_p")
    browser.get(live_server.url + f"/payments/batches/{batch.pk}/")
    link = browser.find_element(By.CSS_SELECTOR, "[data-approval-pdf]")
    href = link.get_attribute("href")
    link.click()
    WebDriverWait(browser, 15).until(lambda d: len(d.window_handles) == 2)
    browser.switch_to.window(browser.window_handles[-1])
    WebDriverWait(browser, 15).until(lambda d: d.current_url.endswith("/approval.pdf"))
    # The browser took the response as a PDF (and opens its viewer on it).
    WebDriverWait(browser, 15).until(lambda d: d.execute_script("return document.contentType") == "application/pdf")
    time.sleep(1.5)  # only for the screenshot: the viewer draws the page after the embed appears
    screenshot(browser, "paper_1_approval_form")
    kind, content = _fetch(browser, href)
    text = "".join(page.extract_text() for page in pypdf.PdfReader(BytesIO(content)).pages).replace("\n", "")
    assert kind == "application/pdf"
    assert batch.number in text and "3,000.00" in text and "叁仟元整" in text
    assert "刘专员" in text and "张复核" in text and "王审批" in text and "第 1 页 共 1 页" in text
    browser.close()
    browser.switch_to.window(browser.window_handles[0])

    browser.get(live_server.url + f"/payments/reconciliation/?programme={programme.code}&by=district")
    href = browser.find_element(By.CSS_SELECTOR, "td [data-summary-pdf]").get_attribute("href")
    kind, content = _fetch(browser, href)
    text = "".join(page.extract_text() for page in pypdf.PdfReader(BytesIO(content)).pages).replace("\n", "")
    assert kind == "application/pdf" and "鹿泉区" in text and "补贴发放汇总表" in text and batch.number in text
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
