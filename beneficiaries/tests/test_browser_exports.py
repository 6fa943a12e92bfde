"""A district officer takes the employer list's CSV from its button (headless Chromium)."""

import pytest
from selenium.webdriver.common.by import By

from accounts.choices import Role
from tests.browser import browser, login, screenshot  # noqa: F401  (browser is a fixture)
from tests.factories import make_employer, make_user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_officer_exports_the_employer_list_from_its_button(browser, live_server, regions_reloaded):  # noqa: F811
    regions_reloaded()  # an earlier transactional test may have flushed the region tree
    make_user("luquan_export", Role.DISTRICT, "130110", first_name="鹿泉专员")
    make_employer("石家庄冀通建材有限公司", "130110")
    make_employer("沧州运河某制衣厂", "130903")

    login(browser, live_server, "luquan_export")
    browser.get(live_server.url + "/registry/employers/")
    link = browser.find_element(By.CSS_SELECTOR, "a[data-export='csv']")
    assert link.text == "导出 CSV"
    screenshot(browser, "employer_list_export_buttons")
    # The file the button gives, fetched with the officer's session as the click would.
    body = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];fetch(arguments[0]).then(r => r.text()).then(done);",
        link.get_attribute("href"),
    )
    lines = body.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("统一社会信用代码,单位名称,经济类型,区县代码,区县")
    assert len(lines) == 2 and "石家庄冀通建材有限公司" in lines[1] and "鹿泉区" in lines[1]
