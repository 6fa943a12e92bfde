"""公示 and appeals in headless Chromium, as a member of the public, a worker and the
district officer would use them. Screenshots go to test-artifacts/."""

import uuid

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from disbursements.models import Appeal, Objection, PublicityRequirement
from disbursements.services.batches import batches_build
from disbursements.services.publicity import notice_create
from tests.browser import browser, click, login, screenshot  # noqa: F401  (browser is a fixture)
from tests.factories import make_entitlement, make_entitlements, make_person, make_programme, make_rule, make_user

XSS = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


@pytest.fixture
def own_limits(monkeypatch):
    """Counters of this test only (the real Redis is shared; never flush it)."""
    monkeypatch.setattr("disbursements.services.publicity.KEY_PREFIX", f"gongshi-b-{uuid.uuid4().hex}")
    monkeypatch.setattr("disbursements.services.appeals.KEY_PREFIX", f"appeal-b-{uuid.uuid4().hex}")
    monkeypatch.setattr("disbursements.services.selfservice.KEY_PREFIX", f"lookup-b-{uuid.uuid4().hex}")


def _regions():
    from regions.models import Region
    from regions.services import regions_load

    if not Region.objects.filter(code="130110").exists():
        regions_load()


def _wait(driver, css, timeout=15):
    return WebDriverWait(driver, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_public_notice_objection_and_the_officer_resolving_it(own_limits, browser, live_server):  # noqa: F811
    _regions()
    officer = make_user("luquan_g", "district", "130110", first_name="鹿泉区人社专员 刘专员")
    programme = make_programme("HEBEI-G", name="河北省2021年稳岗留工补贴")
    PublicityRequirement.objects.create(programme=programme, region_id="130110")
    make_entitlements(programme, make_rule(programme, "luquan_cash", name="鹿泉区留鹿过年补贴"), 6, start=900)
    batch = batches_build(programme=programme, acting_user=officer)[0]
    notice = notice_create(batch=batch, acting_user=officer, contact_phone="0311-82015678", title="鹿泉区第二批公示")

    # 1. A member of the public finds 鹿泉's notice and reads it: masked, with totals.
    browser.get(live_server.url + "/gongshi/")
    browser.find_element(By.LINK_TEXT, "鹿泉区第二批公示").click()
    _wait(browser, "[data-notice-lines]")
    text = browser.find_element(By.CSS_SELECTOR, "[data-notice]").text
    assert "合计 6 人，3,000.00 元" in text and "鹿泉区留鹿过年补贴" in text
    person = batch.lines.get(seq=1).entitlement.person
    assert person.name not in browser.page_source and person.id_masked not in browser.page_source
    assert browser.find_element(By.CSS_SELECTOR, "[data-download-pdf]").get_attribute("href").endswith("gongshi.pdf")
    screenshot(browser, "gongshi_1_public_notice")

    # 2. … and files an objection, with markup in it that must stay text.
    browser.find_element(By.ID, "line").send_keys("2")
    browser.find_element(By.ID, "reason").send_keys("此人春节前已回老家。" + XSS)
    click(browser, "[data-objection-form] button[type=submit]")
    _wait(browser, ".alert-success")
    assert "异议已提交" in browser.page_source and browser.title != "pwned"
    screenshot(browser, "gongshi_2_objection_filed")
    objection = Objection.objects.get()
    assert objection.line.seq == 2

    # 3. The officer cannot submit the batch, sees the objection as text, and resolves it.
    login(browser, live_server, "luquan_g")
    browser.get(live_server.url + f"/payments/batches/{batch.pk}/")
    block = browser.find_element(By.CSS_SELECTOR, "[data-submit-block]").text
    assert "公示期满后" in block
    click(browser, "[data-action=submit] button")
    _wait(browser, ".alert-danger")
    assert "公示期满后" in browser.find_element(By.CSS_SELECTOR, ".alert-danger").text
    screenshot(browser, "gongshi_3_submit_refused")
    browser.get(live_server.url + f"/gongshi/manage/{notice.pk}/")
    reason = browser.find_element(By.CSS_SELECTOR, "[data-objection-reason]").text
    assert "<script>" in reason and browser.title != "pwned"
    form_css = "[data-resolve-form]"
    form = browser.find_element(By.CSS_SELECTOR, form_css)
    form.find_element(By.NAME, "resolution").send_keys("经核实考勤记录，该人员春节期间在岗")
    click(browser, f"{form_css} button[type=submit]")
    _wait(browser, ".alert-success")
    screenshot(browser, "gongshi_4_objection_resolved")
    objection.refresh_from_db()
    assert objection.status == "dismissed" and objection.resolved_by == officer


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_worker_files_an_appeal_on_the_lookup_and_reads_the_answer(own_limits, browser, live_server):  # noqa: F811
    _regions()
    officer = make_user("luquan_a", "district", "130110", first_name="鹿泉区人社专员 刘专员")
    programme = make_programme("HEBEI-A", name="河北省2021年稳岗留工补贴")
    person, number = make_person(9321, name="赵小红", phone="13912349321")
    make_entitlement(programme, make_rule(programme, "luquan_cash"), person=person, n=9321)

    def lookup():
        browser.get(live_server.url + "/payments/lookup/")
        browser.find_element(By.ID, "id_number").send_keys(number)
        browser.find_element(By.ID, "name").send_keys("赵小红")
        browser.find_element(By.ID, "phone_tail").send_keys("9321")
        click(browser, "[data-lookup-form] button[type=submit]")
        _wait(browser, "[data-lookup-result]")

    lookup()
    browser.find_element(By.ID, "appeal-text").send_keys("春节后一直没有收到补贴。" + XSS)
    click(browser, "[data-appeal-form] button[type=submit]")
    _wait(browser, "[data-appeal-filed]")
    screenshot(browser, "appeal_1_filed")
    appeal = Appeal.objects.get()
    assert appeal.filed_by_worker and appeal.person == person

    login(browser, live_server, "luquan_a")
    browser.get(live_server.url + "/registry/appeals/")
    browser.find_element(By.LINK_TEXT, f"#{appeal.pk}").click()
    assert "<script>" in browser.find_element(By.CSS_SELECTOR, "[data-appeal-text]").text
    assert browser.title != "pwned"
    form_css = "[data-appeal-resolve]"
    form = browser.find_element(By.CSS_SELECTOR, form_css)
    Select(form.find_element(By.NAME, "outcome")).select_by_value("explained")
    form.find_element(By.NAME, "resolution").send_keys("补贴将随第二批发放，预计 3 月上旬到账")
    click(browser, f"{form_css} button[type=submit]")
    _wait(browser, "[data-appeal-resolution]")
    screenshot(browser, "appeal_2_resolved")

    browser.delete_all_cookies()
    lookup()
    outcome = browser.find_element(By.CSS_SELECTOR, "[data-appeal-outcome]").text
    assert "不予支持（已说明理由）" in outcome and "3 月上旬到账" in outcome
    assert "刘专员" not in browser.page_source and number not in browser.page_source
    screenshot(browser, "appeal_3_outcome_on_lookup")
    assert officer.pk
