"""The finance pages in Debian's Chromium over real HTTP: sign in, upload an invoice, open it, dispute a line.

Each page is screenshotted into var/screenshots/console/finance-*.png and checked with axe-core: no
serious or critical accessibility violation, and no Content-Security-Policy complaint.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip .[dev])")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

from tests.e2e.test_console_browser import SCREENSHOTS, _axe_serious, server  # noqa: E402
from tests.integration.test_console_finance import invoice_rows, run_jobs, stored  # noqa: E402
from tests.integration.test_console_web import PASSWORD, make_user  # noqa: E402
from tests.unit.reconciliation.invoice_files import to_csv  # noqa: E402

__all__ = ["server"]  # the live server fixture, shared with the console's browser test


def test_finance_signs_in_uploads_an_invoice_opens_it_and_disputes_a_line(app, server, make_tenant):
    tenant = make_tenant(("platform",))
    email = make_user(app, tenant.tenant_id, ("finance",))
    number = f"INV-{uuid.uuid4().hex[:8].upper()}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    requested: list[str] = []
    csp_errors: list[str] = []
    violations: dict[str, list[str]] = {}

    def shot(page: Any, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"finance-{name}.png"), full_page=True)
        found = _axe_serious(page)
        if found:
            violations[name] = found

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            page = context.new_page()
            page.on("request", lambda r: requested.append(r.url))
            page.on(
                "console",
                lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
            )
            page.goto(f"{server}/console/finance", wait_until="networkidle")
            assert urlsplit(page.url).path == "/console/login"
            page.get_by_label("Email", exact=True).fill(email)
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{server}/console/finance")
            assert page.locator("h1").inner_text() == "Finance"
            shot(page, "1-empty")

            page.get_by_label("Invoice file").set_input_files(
                files=[{"name": "march.csv", "mimeType": "text/csv", "buffer": to_csv(invoice_rows(number))}]
            )
            page.get_by_role("button", name="Upload").click()
            page.wait_for_url("**/console/finance?done=uploaded*")
            assert page.locator("#done").inner_text() == "Invoice uploaded; its reconciliation is queued."
            invoice = stored(app, tenant.tenant_id, number)
            assert "queued" in page.locator(f"#inv-{invoice.id}").inner_text()
            assert page.locator("#auto-refresh-control").is_visible()  # finance.js ran under the CSP
            shot(page, "2-uploaded")

            run_jobs(app)  # the deployment's worker: relay the outbox, run the reconciliation job
            page.goto(f"{server}/console/finance", wait_until="networkidle")
            assert "reconciled" in page.locator(f"#inv-{invoice.id}").inner_text()
            assert page.locator("#by-class").inner_text().count("unknown tracking") == 1
            assert page.locator("figure.chart svg a").count() == 12  # two charts of six months
            shot(page, "3-results")

            page.get_by_role("link", name=number).click()
            page.wait_for_url(f"{server}/console/finance/invoices/{invoice.id}")
            assert page.locator("#lines tbody tr").count() == 2
            page.locator("#lines details summary").first.click()  # the evidence opens without script
            shot(page, "4-invoice")

            page.get_by_label("Class").select_option("unknown_tracking")
            page.get_by_role("button", name="Filter").click()
            page.wait_for_url("**class=unknown_tracking*")
            row = page.locator("#lines tbody tr").first
            row.get_by_label("Note", exact=True).fill("Not our parcel")
            row.get_by_role("button", name="Dispute row 1").click()
            page.wait_for_load_state("networkidle")
            assert "disputed" in page.locator("#done").inner_text()
            assert "Not our parcel" in page.locator("#lines tbody tr").first.inner_text()
            shot(page, "5-disputed")

            with page.expect_download() as caught:
                page.locator("#export").click()
            download = caught.value
            assert download.suggested_filename.startswith("ups-disputed-")
            claim = Path(download.path()).read_text()
            assert claim.startswith("carrier,") and invoice.id in claim and claim.count("\n") == 2
        finally:
            browser.close()

    assert csp_errors == []
    assert requested and all(urlsplit(u).hostname == "127.0.0.1" for u in requested), requested
    assert violations == {}, violations
    assert {f.name for f in SCREENSHOTS.glob("finance-*.png")} >= {
        "finance-1-empty.png",
        "finance-2-uploaded.png",
        "finance-3-results.png",
        "finance-4-invoice.png",
        "finance-5-disputed.png",
    }
