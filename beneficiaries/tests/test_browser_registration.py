"""An employer agent registers a worker on a phone-sized screen (headless Chromium)."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from accounts.choices import Role
from beneficiaries.models import Registration
from tests.browser import browser, click, login, screenshot  # noqa: F401  (browser is a fixture)
from tests.factories import make_employer, make_id, make_programme, make_user


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_agent_registers_a_worker_on_a_phone(browser, live_server, regions_reloaded):  # noqa: F811
    regions_reloaded()  # an earlier transactional test may have flushed the region tree
    agent = make_user("qiye_mobile", Role.EMPLOYER, first_name="手机经办人")
    employer = make_employer("石家庄冀通建材有限公司", "130110", agents=[agent])
    make_programme()
    number = make_id("130223", "19850314", 271)

    browser.set_window_size(390, 844)
    login(browser, live_server, "qiye_mobile")
    browser.get(live_server.url + "/registry/registrations/new/")
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    Select(browser.find_element(By.NAME, "employer")).select_by_value(str(employer.pk))
    fields = {
        "id_number": number.lower()[:6] + " " + number.lower()[6:],
        "name": "赵建国",
        "phone": "+86 139-3150-0011",
        "account": "6228 4800 1234 5678 901",
        "bank_name": "农业银行",
    }
    for name, value in fields.items():
        browser.find_element(By.NAME, name).send_keys(value)
    for name, value in (("start_date", "2021-01-25"), ("end_date", "2021-03-01")):
        browser.execute_script("arguments[0].value = arguments[1]", browser.find_element(By.NAME, name), value)
    duty = browser.find_element(By.NAME, "duty_days")
    duty.clear()
    duty.send_keys("7")
    submit = browser.find_element(By.XPATH, "//main//button[normalize-space()='提交登记']")
    click(browser, submit)
    WebDriverWait(browser, 10).until(EC.presence_of_element_located((By.ID, "id-number")))
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "已登记：赵建国" in body
    assert browser.find_element(By.ID, "id-number").text == number[:6] + "********" + number[-4:]
    assert number not in browser.page_source
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(browser, "registration_detail_mobile")
    reg = Registration.objects.get()
    assert reg.employer == employer and reg.status == "active" and reg.duty_days == 7
