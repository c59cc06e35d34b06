"""The workbench driven in a real headless Chromium (Debian chromium + chromium-driver, through
Selenium): a patient from the real FHIR server, a 97124 order signed without a qualifying reason,
an under-billed claim, suggestions accepted and a card dismissed with an override reason.

Every step leaves a screenshot under the test's temp dir (kept by pytest); a failing step names
its screenshot. WORKBENCH_SCREENSHOTS=DIR also copies the claim card before and after its
suggestion there (docs/images is refreshed that way).
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from cds_hooks.database import connect, feedback_items
from tests.integration.conftest import ServerThread
from tests.integration.support import loaded
from workbench.app import create_app

pytestmark = [pytest.mark.integration, pytest.mark.browser]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage",
         "--window-size=1600,1200")
WAIT_SECONDS = 30
RENDERED = ("return document.readyState === 'complete' && document.documentElement.dataset.render"
            " ? document.documentElement.dataset.render : null")


def bundle(name: str) -> dict:
    return json.loads((FIXTURES / name / "bundle.json").read_text())


def expected(name: str) -> dict:
    return json.loads((FIXTURES / name / "expected.json").read_text())


@pytest.fixture
def browser(tmp_path):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:  # never skipped: .ci/run installs them
        pytest.fail(f"{', '.join(missing)} missing: apt-get install chromium chromium-driver (.ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download a browser
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    yield driver
    driver.quit()


@pytest.fixture
def workbench(service, fhir_base, tmp_path):
    app = create_app(service, fhir_base, FIXTURES, tmp_path / "keys")
    running = ServerThread(make_server("127.0.0.1", 0, app, threaded=True))
    yield running.base
    running.stop()


class Page:
    """The workbench as the test clicks through it; each step ends with a screenshot."""

    def __init__(self, driver, base: str, shots: Path):
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select, WebDriverWait
        self.driver, self.base, self.shots, self.By, self.Select = driver, base, shots, By, Select
        # While the old page goes and the new one comes, the browser may answer with errors.
        self.navigation = WebDriverWait(driver, WAIT_SECONDS, ignored_exceptions=(WebDriverException,))
        self.steps = 0
        shots.mkdir(exist_ok=True)

    def shot(self, name: str) -> Path:
        self.steps += 1
        path = self.shots / f"{self.steps:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def one(self, css: str):
        return self.driver.find_element(self.By.CSS_SELECTOR, css)

    def all(self, css: str):
        return self.driver.find_elements(self.By.CSS_SELECTOR, css)

    def submit(self, css: str) -> None:
        """Click a button that posts a form and wait until the page it redirects to is loaded
        (each rendering of the page carries a fresh data-render value)."""
        before = self.driver.execute_script(RENDERED)
        self.one(css).click()
        self.navigation.until(lambda d: d.execute_script(RENDERED) not in (None, before))

    def codes(self) -> list[str]:
        return [c.get_attribute("data-code") for c in self.all("article.card")]

    def errors(self) -> list[str]:
        return [m.text for m in self.all(".message.error")]

    def open_patient(self, patient_id: str) -> None:
        self.driver.get(self.base + "/")
        self.one("#q").send_keys(patient_id)
        self.submit("#search")
        self.submit(f"button.open-patient[data-id='{patient_id}']")
        assert self.one("#chart").get_attribute("data-patient") == patient_id, self.errors()

    def accept_first_suggestion(self, code: str) -> None:
        self.submit(f"article.card[data-code='{code}'] button.accept")


@pytest.fixture
def page(browser, workbench, tmp_path):
    page = Page(browser, workbench, tmp_path / "screenshots")
    yield page
    # On failure the last screen is there too; pytest keeps tmp_path.
    page.shot("last")


def test_an_integrator_fires_both_hooks_from_the_workbench(page, fhir_base, live_config):
    with loaded(fhir_base, bundle("s25-order-cites-no-qualifying-condition")), \
            loaded(fhir_base, bundle("s06-cms-mixed-remainder-underbilled")):
        try:
            _order_sign(page)
            _claim_prepare(page)
            _dismiss_with_reason(page, live_config)
        except Exception as error:
            raise AssertionError(f"{error}\nscreenshot: {page.shot('failed')}") from error


def _order_sign(page: Page) -> None:
    page.open_patient("s25-patient")
    page.shot("patient-from-fhir")
    # The patient's low back pain (M54.50) is not a qualifying reason for 97124.
    reasons = page.Select(page.one("#reason"))
    reasons.select_by_visible_text(next(o.text for o in reasons.options if o.text.startswith("M54.50")))
    page.one("#body_site").send_keys("Lumbar paraspinal muscles")
    page.one("#note").send_keys("Effleurage and petrissage to the lumbar paraspinals to reduce spasm.")
    page.submit("#sign")
    page.shot("order-signed")
    assert "necessity-unsupported" in page.codes(), (page.codes(), page.errors())
    page.accept_first_suggestion("necessity-unsupported")
    page.shot("order-suggestion-accepted")
    assert "necessity-unsupported" not in page.codes(), page.errors()
    qualifying = expected("s25-order-cites-no-qualifying-condition")["order"]["reasonReference"]
    assert all(ref in page.one("#diff").text for ref in qualifying)  # the spasm Condition is now cited


def _claim_prepare(page: Page) -> None:
    page.open_patient("s06-patient")
    page.Select(page.one("#claim")).select_by_value("Claim/s06-claim")
    page.submit("#prepare")
    before = page.shot("claim-prepared")
    assert page.codes() == ["units"], (page.codes(), page.errors())
    # the panel: the hook call with its request, response and time; prefetch resolved on the FHIR server
    call = page.one("details.exchange[open]")
    assert "claim-prepare → massage-97124-claim-check" in call.text and " ms" in call.text
    assert '"hook": "claim-prepare"' in call.text and '"cards": [' in call.text
    assert '"prefetch": {' in call.text and '"fhirServer":' in call.text
    assert re.fullmatch(r"prefetch from the FHIR server \d+ ms · service \d+ ms", page.one("#timing").text)
    page.accept_first_suggestion("units")
    after = page.shot("claim-suggestion-accepted")
    assert "units" not in page.codes(), page.errors()
    diff = page.one("#diff").text
    assert '-        "value": 1' in diff and '+        "value": 2' in diff, diff
    if os.environ.get("WORKBENCH_SCREENSHOTS"):
        target = Path(os.environ["WORKBENCH_SCREENSHOTS"])
        shutil.copy(before, target / "workbench-claim-card.png")
        shutil.copy(after, target / "workbench-claim-accepted.png")


def _dismiss_with_reason(page: Page, live_config) -> None:
    # This time the EHR sends no prefetch: the service reads everything from the FHIR server.
    page.Select(page.one("#prefetch")).select_by_value("none")
    page.submit("#save-settings")
    # A fresh claim drafted from the visit's Procedures bills one unit per line: units again.
    page.Select(page.one("#claim")).select_by_value("draft")
    page.submit("#prepare")
    assert "units" in page.codes(), (page.codes(), page.errors())
    call = page.one("details.exchange[open]").text
    assert '"fhirServer":' in call and '"prefetch"' not in call
    card = page.one("article.card[data-code='units']")
    card_uuid = card.get_attribute("data-uuid")
    reasons = page.Select(card.find_element(page.By.CSS_SELECTOR, "select.override-reason"))
    reasons.select_by_value("documentation-attached")
    card.find_element(page.By.CSS_SELECTOR, "input.comment").send_keys("minutes on the paper log")
    page.submit(f"article.card[data-uuid='{card_uuid}'] button.dismiss-button")
    page.shot("card-dismissed")
    assert card_uuid not in [c.get_attribute("data-uuid") for c in page.all("article.card")]
    with connect(live_config.database_url).connect() as connection:
        rows = connection.execute(select(feedback_items).where(feedback_items.c.card_uuid == card_uuid)).all()
    assert [(r.outcome, r.override_code, r.user_comment) for r in rows] == \
        [("overridden", "documentation-attached", "minutes on the paper log")]
