"""An employer agent imports a list in headless Chromium: upload → preview with errors
→ "仅导入无误的行" → confirm → progress → done with counts and the report link."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from accounts.choices import Role
from tests.browser import browser, click, login, screenshot  # noqa: F401 (fixture)
from tests.factories import make_user
from tests.import_files import worker_row, write_xlsx


@pytest.fixture
def regions_back_after_flush(django_db_blocker):
    """A transactional test ends with a flush that empties every table, regions too;
    put them back for the tests that follow (this teardown runs after the flush)."""
    yield
    from regions.services import regions_load

    with django_db_blocker.unblock():
        regions_load()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_agent_imports_a_list_with_errors(browser, live_server, tmp_path, regions_back_after_flush):  # noqa: F811
    from beneficiaries.models import Registration
    from regions.models import Region
    from regions.services import regions_load
    from tests.factories import make_employer, make_programme

    if not Region.objects.filter(code="130110").exists():  # an earlier transactional test flushed the tree
        regions_load()
    agent = make_user("qiye_gree", Role.EMPLOYER, first_name="格力经办人")
    employer = make_employer("石家庄格力电器有限公司", "130110", agents=[agent])
    programme = make_programme()
    rows = [worker_row(i) for i in range(8)]
    rows[2]["手机号"] = "1380013"
    rows[5]["身份证号"] = rows[4]["身份证号"]
    rows[6]["姓名"] = "<img src=x onerror=alert(1)>"
    path = write_xlsx(tmp_path / "格力留岗名单.xlsx", rows, before=[["石家庄格力电器 2021年春节留岗人员名单"]])

    login(browser, live_server, "qiye_gree")
    browser.get(live_server.url + "/registry/imports/workers/")
    assert "批量导入留岗人员" in browser.find_element(By.TAG_NAME, "h1").text
    assert browser.find_element(By.CSS_SELECTOR, "[data-testid=template-link]").get_attribute("href").endswith(".xlsx")
    Select(browser.find_element(By.NAME, "employer")).select_by_value(str(employer.pk))
    Select(browser.find_element(By.NAME, "programme")).select_by_value(str(programme.pk))
    browser.find_element(By.NAME, "file").send_keys(str(path))
    click(browser, browser.find_element(By.CSS_SELECTOR, "[data-testid=upload-submit]"))

    table = WebDriverWait(browser, 30).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "[data-testid=errors-table]"))
    )
    text = table.text
    assert "第 5 行" in text and "手机号" in text  # title row 1, header row 2: rows[2] is sheet row 5
    assert "第 8 行" in text and "与第7行的身份证号重复" in text
    assert browser.find_element(By.CSS_SELECTOR, "[data-testid=rejected]").text == "2"
    sample = browser.find_element(By.CSS_SELECTOR, "[data-testid=sample-table]").text
    assert "<img src=x onerror=alert(1)>" in sample  # shown as text, not as an element
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid=sample-table] img")
    screenshot(browser, "import_preview_with_errors")
    assert Registration.objects.count() == 0

    click(browser, browser.find_element(By.ID, "valid_only"))
    click(browser, browser.find_element(By.CSS_SELECTOR, "[data-testid=confirm]"))
    done = WebDriverWait(browser, 60).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "[data-testid=import-done]"))
    )
    bar = browser.find_element(By.CSS_SELECTOR, "[data-job-bar]")
    assert bar.text == "100%"
    assert browser.find_element(By.CSS_SELECTOR, "[data-testid=done-created]").text == "6"
    assert browser.find_element(By.CSS_SELECTOR, "[data-testid=done-rejected]").text == "2"
    assert "导入完成" in done.text
    report = browser.find_element(By.CSS_SELECTOR, "[data-testid=done-report]").get_attribute("href")
    assert "/report/import.xlsx" in report
    screenshot(browser, "import_done")
    assert Registration.objects.filter(employer=employer).count() == 6


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_import_errors_in_english(browser, live_server, tmp_path, regions_back_after_flush):  # noqa: F811
    """The stored Chinese messages of a preview are shown in English after the footer's
    language switch."""
    from regions.models import Region
    from regions.services import regions_load
    from tests.factories import make_employer, make_programme

    if not Region.objects.filter(code="130110").exists():
        regions_load()
    agent = make_user("qiye_en", Role.EMPLOYER, first_name="Agent")
    employer = make_employer("石家庄格力电器有限公司", "130110", agents=[agent])
    programme = make_programme()
    rows = [worker_row(1), worker_row(2, 开户银行="火星银行"), worker_row(3, 春节在岗天数="-1")]
    path = write_xlsx(tmp_path / "list.xlsx", rows)

    login(browser, live_server, "qiye_en")
    browser.get(live_server.url + "/registry/imports/workers/")
    click(browser, browser.find_element(By.CSS_SELECTOR, "footer button[name=language]"))
    WebDriverWait(browser, 10).until(lambda b: b.execute_script("return document.documentElement.lang") == "en")
    Select(browser.find_element(By.NAME, "employer")).select_by_value(str(employer.pk))
    Select(browser.find_element(By.NAME, "programme")).select_by_value(str(programme.pk))
    browser.find_element(By.NAME, "file").send_keys(str(path))
    click(browser, browser.find_element(By.CSS_SELECTOR, "[data-testid=upload-submit]"))
    table = WebDriverWait(browser, 30).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "[data-testid=errors-table]"))
    )
    text = table.text
    assert "The bank “火星银行” is not a recognised bank" in text
    assert "Days on duty over the Spring Festival should be between 0 and 7, but is -1" in text
    assert "不是可识别的银行" not in text
    summary = browser.find_element(By.CSS_SELECTOR, ".alert-warning").text
    assert summary.startswith("3 rows: 1 valid, 2 with errors. By default nothing is imported"), summary
    screenshot(browser, "import_preview_errors_english")
