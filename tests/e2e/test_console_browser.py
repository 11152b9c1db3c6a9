"""The console in Debian's Chromium over real HTTP: sign in, find a shipment, open it, resolve its exception.

Each page is screenshotted into var/screenshots/console/ and checked with axe-core (through
axe-playwright-python, which bundles it): no serious or critical accessibility violation, and no
Content-Security-Policy complaint in the console.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e import console_browser
from tests.e2e.console_browser import CHROMIUM, SCREENSHOTS
from tests.integration.test_console_web import PASSWORD, make_user, seed

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip .[dev])")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(app: Any) -> Iterator[str]:
    yield from console_browser.live_server(app)


def test_ops_signs_in_finds_a_shipment_opens_it_and_resolves_its_exception(app, server, make_tenant):
    seeded = seed(app, make_tenant)
    email = make_user(app, seeded.tenant_id, ("ops",))
    with console_browser.Browser("") as browser:
        page = browser.page
        page.goto(f"{server}/console/", wait_until="networkidle")
        assert urlsplit(page.url).path == "/console/login"
        browser.shot("1-login")
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server}/console/")
        assert page.locator("h1").inner_text() == "Control tower"
        # Bars: on time and first attempt (3 periods each), exceptions by owner and by age (4 each);
        # columns: on time, ETA error and at-risk alerts for each of the last 7 days.
        assert page.locator("figure.chart svg a").count() == 3 + 3 + 4 + 4 + 3 * 7
        browser.shot("2-control-tower")

        page.get_by_role("link", name="Shipments", exact=True).click()
        page.get_by_label("Reference or tracking number").fill(seeded.reference)
        page.get_by_role("button", name="Search").click()
        page.wait_for_load_state("networkidle")
        browser.shot("3-shipments")
        page.get_by_role("link", name=seeded.reference).click()
        page.wait_for_url(f"{server}/console/shipments/{seeded.shipment_id}")
        assert page.locator("#reference").inner_text() == seeded.reference
        assert "<script>" in page.locator("#destination").inner_text()  # shown as text, not run
        assert page.locator("#timeline tbody tr").count() == 1
        browser.shot("4-shipment")

        page.get_by_role("link", name="Act on them in the queue").click()
        page.wait_for_url(f"{server}/console/exceptions")
        browser.shot("5-exceptions")
        row = page.locator(f"#exc-{seeded.exception_id}")
        row.get_by_label("Note", exact=True).fill("Rebooked the delivery with the recipient")
        row.get_by_role("button", name="Resolve").click()
        page.wait_for_load_state("networkidle")
        assert page.locator("#done").inner_text() == "Done: resolved 1."
        assert page.locator(f"#exc-{seeded.exception_id}").count() == 0
        browser.shot("6-exceptions-after")

    browser.check()
    assert sorted(f.name for f in SCREENSHOTS.glob("*.png")) >= [
        "1-login.png",
        "2-control-tower.png",
        "3-shipments.png",
        "4-shipment.png",
        "5-exceptions.png",
        "6-exceptions-after.png",
    ]
