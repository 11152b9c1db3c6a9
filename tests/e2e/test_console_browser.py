"""The console in Debian's Chromium over real HTTP: sign in, find a shipment, open it, resolve its exception.

Each page is screenshotted into var/screenshots/console/ and checked with axe-core (through
axe-playwright-python, which bundles it): no serious or critical accessibility violation, and no
Content-Security-Policy complaint in the console.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from werkzeug import serving

from tests.integration.test_console_web import PASSWORD, make_user, seed

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "console"

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip .[dev])")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(app: Any) -> Iterator[str]:
    httpd = serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


def _axe_serious(page: Any) -> list[str]:
    """Serious and critical axe-core violations on the page (empty when axe-playwright-python is absent)."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        return []
    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def test_ops_signs_in_finds_a_shipment_opens_it_and_resolves_its_exception(app, server, make_tenant):
    seeded = seed(app, make_tenant)
    email = make_user(app, seeded.tenant_id, ("ops",))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    requested: list[str] = []
    csp_errors: list[str] = []
    violations: dict[str, list[str]] = {}

    def shot(page: Any, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        found = _axe_serious(page)
        if found:
            violations[name] = found

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requested.append(r.url))
            page.on(
                "console",
                lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
            )
            page.goto(f"{server}/console/", wait_until="networkidle")
            assert urlsplit(page.url).path == "/console/login"
            shot(page, "1-login")
            page.get_by_label("Email", exact=True).fill(email)
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{server}/console/")
            assert page.locator("h1").inner_text() == "Control tower"
            assert page.locator("figure.chart svg a").count() == 3 + 3 + 4 + 4
            shot(page, "2-control-tower")

            page.get_by_role("link", name="Shipments", exact=True).click()
            page.get_by_label("Reference or tracking number").fill(seeded.reference)
            page.get_by_role("button", name="Search").click()
            page.wait_for_load_state("networkidle")
            shot(page, "3-shipments")
            page.get_by_role("link", name=seeded.reference).click()
            page.wait_for_url(f"{server}/console/shipments/{seeded.shipment_id}")
            assert page.locator("#reference").inner_text() == seeded.reference
            assert "<script>" in page.locator("#destination").inner_text()  # shown as text, not run
            assert page.locator("#timeline tbody tr").count() == 1
            shot(page, "4-shipment")

            page.get_by_role("link", name="Act on them in the queue").click()
            page.wait_for_url(f"{server}/console/exceptions")
            shot(page, "5-exceptions")
            row = page.locator(f"#exc-{seeded.exception_id}")
            row.get_by_label("Note", exact=True).fill("Rebooked the delivery with the recipient")
            row.get_by_role("button", name="Resolve").click()
            page.wait_for_load_state("networkidle")
            assert page.locator("#done").inner_text() == "Done: resolved 1."
            assert page.locator(f"#exc-{seeded.exception_id}").count() == 0
            shot(page, "6-exceptions-after")
        finally:
            browser.close()

    assert csp_errors == []
    assert requested and all(urlsplit(u).hostname == "127.0.0.1" for u in requested), requested
    assert violations == {}, violations
    assert sorted(f.name for f in SCREENSHOTS.glob("*.png")) >= [
        "1-login.png",
        "2-control-tower.png",
        "3-shipments.png",
        "4-shipment.png",
        "5-exceptions.png",
        "6-exceptions-after.png",
    ]
