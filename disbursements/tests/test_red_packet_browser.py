"""The 循环化工园区 officer's red-packet batch in headless Chromium: the approved batch is
exported as the platform's upload, the platform's result comes back with a packet not
claimed, the officer confirms the phone and builds the 补发; reconciliation by channel.
Screenshots go to test-artifacts/."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from disbursements.models import Batch
from disbursements.tests.test_batch_browser import regions_back_after_flush  # noqa: F401 (a fixture)
from tests.browser import browser, click, login, screenshot, wait_text  # noqa: F401  (browser is a fixture)
from tests.factories import approve, make_entitlements, make_programme, make_rule, make_user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_officer_pays_red_packets_and_reissues_an_unclaimed_one(
    regions_back_after_flush,  # noqa: F811
    browser,  # noqa: F811
    live_server,
    tmp_path,
    settings,
):
    from disbursements.services.batches import batches_build
    from disbursements.services.red_packets import example_result_csv
    from regions.models import Region
    from regions.services import regions_load

    if not Region.objects.filter(code="130172").exists():
        regions_load()
    settings.BANK_FILES_DIR = str(tmp_path / "files")
    officer = make_user("xunhuan_b", "district", "130172", first_name="循环化工园区人社专员 陈专员", can_view_pii=True)
    city = make_user("sjz_hb", "city", "130100", first_name="石家庄市人社局 张复核")
    province = make_user("sheng_hb", "province", "130000", first_name="省人社厅 王审批")
    programme = make_programme("HEBEI-HB", name="河北省2021年稳岗留工补贴")
    rule = make_rule(
        programme,
        "xh_red",
        region="130172",
        kind="red_packet",
        channel="red_packet",
        amount="800.00",
        name="循环化工园区外市留园人员红包",
    )
    make_entitlements(programme, rule, 6, district="130172", start=900)
    (batch,) = batches_build(programme=programme, acting_user=officer)
    approve(batch, officer, city, province)

    # 1. The officer exports the platform's upload.
    login(browser, live_server, "xunhuan_b")
    browser.get(live_server.url + f"/payments/batches/{batch.pk}/")
    page = browser.page_source
    assert "电子红包发放文件" in page and "收红包手机号" in page and "138****" in page
    click(browser, "[data-export='csv-utf-8']")
    WebDriverWait(browser, 15).until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-download]")))
    assert "商家明细单号" in browser.find_element(By.CSS_SELECTOR, "[data-red-packet-note]").text
    screenshot(browser, "red_packet_1_exported")

    # 2. The platform's result: one packet not claimed in time.
    batch.refresh_from_db()
    result = tmp_path / "红包结果.csv"
    result.write_text(example_result_csv(batch, {4: "超时未领取已退回"}), encoding="utf-8-sig")
    browser.find_element(By.CSS_SELECTOR, "[data-results-form] input[type=file]").send_keys(str(result))
    click(browser, "[data-results-form] button")
    wait_text(browser, "[data-batch-status]", "已对账")
    assert "超时未领取已退回" in browser.page_source

    # 3. The worker confirms the number: the officer enters it and builds the 补发.
    browser.get(live_server.url + f"/payments/batches/{batch.pk}/?lines=failed")
    click(browser, "[data-lines] details summary")
    browser.find_element(By.CSS_SELECTOR, "[data-correct] input[name=phone]").send_keys("13800000904")
    click(browser, "[data-correct] button")
    WebDriverWait(browser, 15).until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-supplement]")))
    screenshot(browser, "red_packet_2_failed_corrected")
    click(browser, "[data-supplement]")
    wait_text(browser, "h1", "-HB-BF001")
    supplement = Batch.objects.get(parent=batch)
    assert supplement.channel == "red_packet" and supplement.line_count == 1

    # 4. Reconciliation by channel: 800 × 5 paid, 800 on its way again, nothing counted twice.
    browser.get(live_server.url + "/payments/reconciliation/?programme=HEBEI-HB&by=channel")
    table = browser.find_element(By.CSS_SELECTOR, "[data-recon]").text
    assert "石家庄循环化工园区 · 电子红包" in table
    assert "4,000.00" in table and "800.00" in table and "4,800.00" in table
    assert "全部平衡" in browser.page_source
    screenshot(browser, "red_packet_3_reconciliation")
