"""Each role's main day in headless Chromium: log in, do the work, see the result, log out.

- employer agent: the home flags the failed payment; the payments page lists each worker
  with the reason and what to do; the XLSX link; a staff page answers the friendly 403.
- district officer: finds a person by name and by full ID number, opens the registration
  (entitlement with the "why", payment lines, audit), the batch page with the bank result
  as one audit row, and the audit trail with a filter.
- anonymous worker: looks up their own payment and reads the date it was paid.
- city staff: creates a district officer of its city (one-time password), disables it,
  and finds both changes in the audit trail.
- provincial staff: reads the reconciliation and the whole audit trail (bank results as
  one row, the export link) and every user of the province.

Screenshots go to test-artifacts/day_*.png. The browser's console must stay free of errors.
"""

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from accounts.choices import Role
from beneficiaries import pii
from tests.browser import click, login, screenshot
from tests.day_data import build_day
from tests.factories import make_user
from tests.test_amount_format import ungrouped_amounts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _people(tmp_path):
    from regions.models import Region

    if not Region.objects.filter(code="130000").exists():
        from regions.services import regions_load

        regions_load()
    people = {
        "officer": make_user("officer_luquan", Role.DISTRICT, "130110", first_name="鹿泉专员", can_view_pii=True),
        "city": make_user("city_shijiazhuang", Role.CITY, "130100", first_name="石家庄市级"),
        "province": make_user("province_staff", Role.PROVINCE, "130000", first_name="省级审批"),
        "agent": make_user("employer_agent", Role.EMPLOYER, first_name="企业经办人"),
    }
    day = build_day(
        officer=people["officer"],
        city=people["city"],
        province=people["province"],
        agent=people["agent"],
        tmp_path=tmp_path,
    )
    return people, day


def _text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def _no_console_errors(driver):
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]
    assert not errors, errors


def _logout(driver):
    click(driver, driver.find_element(By.CSS_SELECTOR, "form[action$='/logout/'] button"))
    WebDriverWait(driver, 10).until(EC.presence_of_element_located((By.NAME, "username")))


def test_employer_agent_sees_what_was_paid_and_what_to_do(browser, live_server, tmp_path):
    _people(tmp_path)
    login(browser, live_server, "employer_agent")
    flag = browser.find_element(By.CSS_SELECTOR, "a[href$='/payments/employer/?state=failed']")
    card = flag.find_element(By.XPATH, "..")
    assert "发放失败，需更正账号" in card.text and "1" in card.text
    screenshot(browser, "day_employer_1_home")
    browser.execute_script("arguments[0].click();", flag)
    WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-payments]")))
    rows = browser.find_elements(By.CSS_SELECTOR, "[data-payments] tbody tr[data-state]")
    assert [r.get_attribute("data-state") for r in rows] == ["failed"]
    assert "户名不符" in rows[0].text and "报所在区县人社专员更正" in rows[0].text
    click(browser, browser.find_element(By.LINK_TEXT, "全部"))
    WebDriverWait(browser, 10).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "tr[data-state]")) == 5)
    states = sorted(r.get_attribute("data-state") for r in browser.find_elements(By.CSS_SELECTOR, "tr[data-state]"))
    assert states == ["failed", "paid", "paid", "pending", "unbatched"]
    assert "2,500.00" in browser.find_element(By.CSS_SELECTOR, "[data-summary]").text
    assert browser.find_element(By.CSS_SELECTOR, "a[data-export]").get_attribute("href").endswith("export.xlsx")
    assert not ungrouped_amounts(browser.page_source)
    screenshot(browser, "day_employer_2_payments")
    _no_console_errors(browser)
    browser.get(live_server.url + "/payments/")
    assert "供人社部门工作人员使用" in _text(browser) and "返回首页" in _text(browser)
    screenshot(browser, "day_employer_3_forbidden")
    _logout(browser)


def test_district_officer_finds_a_person_and_reads_their_money_and_its_audit(browser, live_server, tmp_path):
    _staff, day = _people(tmp_path)
    failed = day.ents[0]
    login(browser, live_server, "officer_luquan")
    browser.get(live_server.url + "/registry/registrations/")
    box = browser.find_element(By.NAME, "q")
    box.send_keys(failed.person.name)
    box.submit()
    WebDriverWait(browser, 10).until(EC.url_contains("q="))
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "table tbody td:first-child a")]
    assert names == [failed.person.name]
    assert "第 1–1 条" in browser.find_element(By.CSS_SELECTOR, "[data-pager-range]").text
    # By full ID number (the blind index): the same person, nobody else.
    box = browser.find_element(By.NAME, "q")
    box.clear()
    box.send_keys(day.id_numbers[failed.pk])
    box.submit()
    WebDriverWait(browser, 10).until(EC.url_contains(day.id_numbers[failed.pk][:6]))
    link = browser.find_element(By.CSS_SELECTOR, "table tbody td:first-child a")
    assert link.text == failed.person.name
    screenshot(browser, "day_officer_1_search")
    click(browser, link)
    WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-registration-payments]")))
    money = browser.find_element(By.CSS_SELECTOR, "[data-registration-payments]").text
    assert "鹿泉区留鹿过年补贴" in money and "规则第 1 版" in money
    assert "户籍地 保定市，非石家庄市；单位性质 私营/非公 → 鹿泉区 ¥500.00" in money and "户名不符" in money
    audit = browser.find_element(By.CSS_SELECTOR, "[data-registration-audit]").text
    assert "银行结果" in audit and "鹿泉专员" in audit and "区县人社专员" in audit
    screenshot(browser, "day_officer_2_registration")

    browser.get(live_server.url + f"/payments/batches/{day.batch.pk}/")
    results = browser.find_elements(By.CSS_SELECTOR, "[data-audit] tr[data-audit-action='line_result']")
    assert len(results) == 1 and "已发放 3" in results[0].text and "发放失败 2" in results[0].text
    assert not ungrouped_amounts(browser.page_source)
    screenshot(browser, "day_officer_3_batch")

    browser.get(live_server.url + "/audit/?action=batch_approve")
    rows = browser.find_elements(By.CSS_SELECTOR, "[data-audit] tbody tr[data-audit-action]")
    assert rows and all("省级审批通过" in r.text for r in rows)
    assert "省级审批" in rows[0].text and "省级人员" in rows[0].text
    screenshot(browser, "day_officer_4_audit")
    _no_console_errors(browser)
    _logout(browser)


def test_anonymous_worker_reads_the_day_they_were_paid(browser, live_server, tmp_path):
    _staff, day = _people(tmp_path)
    paid = day.ents[2]
    browser.get(live_server.url + "/payments/lookup/")
    browser.find_element(By.NAME, "id_number").send_keys(day.id_numbers[paid.pk])
    browser.find_element(By.NAME, "name").send_keys(paid.person.name)
    browser.find_element(By.NAME, "phone_tail").send_keys(pii.decrypt(paid.person.phone_cipher)[-4:])
    click(browser, browser.find_element(By.CSS_SELECTOR, "form[data-lookup-form] button[type=submit]"))
    result = WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-lookup-result]")))
    assert "已发放（" in result.text and "500.00" in result.text
    assert paid.person.name not in result.text  # masked
    screenshot(browser, "day_worker_lookup")
    _no_console_errors(browser)


def test_city_staff_creates_and_disables_a_district_officer(browser, live_server, tmp_path):
    _people(tmp_path)
    login(browser, live_server, "city_shijiazhuang")
    browser.get(live_server.url + "/accounts/users/")
    assert [r.get_attribute("data-user") for r in browser.find_elements(By.CSS_SELECTOR, "tr[data-user]")] == [
        "officer_luquan"
    ]
    click(browser, browser.find_element(By.CSS_SELECTOR, "a[data-user-create]"))
    browser.find_element(By.NAME, "username").send_keys("gaocheng")
    browser.find_element(By.NAME, "full_name").send_keys("藁城专员")
    Select(browser.find_element(By.NAME, "region")).select_by_value("130109")
    click(browser, browser.find_element(By.CSS_SELECTOR, "form[data-user-form] button[type=submit]"))
    password = WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-password]")))
    assert len(password.text) == 12
    screenshot(browser, "day_city_1_user_created")
    click(browser, browser.find_element(By.LINK_TEXT, "返回用户列表"))
    row = WebDriverWait(browser, 10).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "tr[data-user='gaocheng']"))
    )
    click(browser, row.find_element(By.CSS_SELECTOR, "button[data-toggle-active]"))
    # The list comes back after the POST: the row is found again on the new page (the old
    # page's row may still be there for a moment, then goes stale).
    WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda b: "已停用" in b.find_element(By.CSS_SELECTOR, "tr[data-user='gaocheng']").text
    )
    browser.get(live_server.url + "/audit/?object_type=accounts.user")
    actions = {
        r.get_attribute("data-audit-action") for r in browser.find_elements(By.CSS_SELECTOR, "tr[data-audit-action]")
    }
    assert {"user_create", "user_disable"} <= actions
    screenshot(browser, "day_city_2_audit")
    _no_console_errors(browser)
    _logout(browser)


def test_province_staff_reads_reconciliation_and_the_audit_and_exports_it(browser, live_server, tmp_path):
    _people(tmp_path)
    login(browser, live_server, "province_staff")
    browser.get(live_server.url + "/payments/reconciliation/?programme=HB-DAY")
    recon = browser.find_element(By.CSS_SELECTOR, "[data-recon]").text
    assert "3,000.00" in recon  # 6 granted × 500
    assert not ungrouped_amounts(browser.page_source)
    browser.get(live_server.url + "/audit/")
    rows = browser.find_elements(By.CSS_SELECTOR, "[data-audit] tbody tr[data-audit-action]")
    assert rows and "line_result" in {r.get_attribute("data-audit-action") for r in rows}
    assert browser.find_element(By.CSS_SELECTOR, "a[data-export]").get_attribute("href").endswith("/audit/export.xlsx")
    browser.get(live_server.url + "/accounts/users/")
    assert {"officer_luquan", "city_shijiazhuang", "employer_agent"} <= {
        r.get_attribute("data-user") for r in browser.find_elements(By.CSS_SELECTOR, "tr[data-user]")
    }
    screenshot(browser, "day_province_users")
    _no_console_errors(browser)
    _logout(browser)


# Beyond each walk's own pages: every page of each role's menu, and the pages a role
# reaches from the header or types in (the bell, the API's front door, a 摸排 form, a
# page that does not exist, a staff page for the employer agent).
EXTRA_PAGES = {
    "officer_luquan": [
        "/notifications/",
        "/registry/workers/",
        "/programmes/surveys/new/",
        "/api/",
        "/api/v1/",
        "/no-such-page/",
    ],
    "city_shijiazhuang": ["/notifications/", "/dashboard/?region=130110"],
    "province_staff": ["/notifications/", "/dashboard/?region=130100"],
    "employer_agent": ["/notifications/", "/payments/"],
}


def test_every_page_a_role_reaches_opens_without_a_console_error(browser, live_server, tmp_path):
    _people(tmp_path)
    problems = []
    visited = 0
    for username, extra in EXTRA_PAGES.items():
        login(browser, live_server, username)
        menu = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#mainnav .nav-link")]
        assert menu, username
        for url in menu + [live_server.url + path for path in extra]:
            browser.get(url)
            WebDriverWait(browser, 10).until(lambda b: b.execute_script("return document.readyState") == "complete")
            visited += 1
            errors = [
                e["message"]
                for e in browser.get_log("browser")
                if e["level"] == "SEVERE"
                and "favicon" not in e["message"]
                # The page's own 403/404 status, which the browser reports as a failed load.
                and not (e["message"].startswith(url) and "the server responded with a status of 40" in e["message"])
            ]
            if errors:
                problems.append((username, url, errors))
            if ungrouped_amounts(browser.page_source):
                problems.append((username, url, ungrouped_amounts(browser.page_source)))
        if username == "officer_luquan":
            browser.get(live_server.url + "/no-such-page/")
            assert "页面不存在" in _text(browser) and "返回首页" in _text(browser)  # the friendly 404
            screenshot(browser, "day_pages_404")
        _logout(browser)
    assert visited >= 25 and not problems, problems
