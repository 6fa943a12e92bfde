"""Headless Chromium for browser tests (Debian's chromium + chromedriver).

A browser test that cannot find Chromium says so loudly; on CI (CI=true) a skipped
browser test fails the run instead of passing silently.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(path)):
            return f"{path} not found: install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture
def browser():
    problem = _missing()
    if problem:
        message = f"BROWSER TEST NOT RUN: {problem}"
        print("\n" + "!" * 80 + "\n" + message + "\n" + "!" * 80)
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: a skipped browser test fails the run)")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--window-size=1280,900",
        "--lang=zh-CN",
    ):
        options.add_argument(arg)
    # The console, to catch what the Content-Security-Policy refused on any page visited.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    refused = csp_violations(driver)
    driver.quit()
    assert not refused, f"the Content-Security-Policy refused: {refused}"


def csp_violations(driver) -> list[str]:
    """Console messages of the pages visited so far in which the browser refused a
    script, style or other resource under the Content-Security-Policy."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Content-Security-Policy" in entry["message"]
    ]


def click(driver, target) -> None:
    """Click as a user would, on an element or the first match of a CSS selector.

    Scrolled to the middle of the window first, instantly: Selenium scrolls a target only
    to the window's edge, where the sticky footer can take the click, and Bootstrap's smooth
    scrolling would let the click land mid-scroll."""
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.CSS_SELECTOR, target) if isinstance(target, str) else target
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
    element.click()


def wait_text(driver, selector: str, text: str, timeout: float = 15) -> None:
    """Wait until the first match of a CSS selector shows `text`.

    Read in one JavaScript round-trip rather than find-then-read: after a form posts and
    the page navigates, an element found on the old page can vanish before its text is
    read, and Chromium then answers "Node with given id does not belong to the document",
    an error Selenium's own text condition does not retry. A script that runs while the
    next page loads can fail the same way, so any WebDriver error means "not yet"."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def shown(driver):
        try:
            found = driver.execute_script(
                "const el = document.querySelector(arguments[0]); return el ? el.innerText : null;", selector
            )
        except WebDriverException:
            return False
        return found is not None and text in found

    WebDriverWait(driver, timeout).until(shown, message=f"{selector!r} never showed {text!r}")


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def login(driver, live_server, username: str, password: str = "Test-pass-2021") -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(live_server.url + "/accounts/login/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, "form[action$='/logout/']")))
