"""The finance pages in Debian's Chromium over real HTTP: sign in, upload an invoice, open it, dispute a line.

Each page is screenshotted into var/screenshots/console/finance-*.png and checked with axe-core: no
serious or critical accessibility violation, and no Content-Security-Policy complaint.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"  # console_browser.CHROMIUM, checked before importing it

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip .[dev])")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

from tests.e2e import console_browser  # noqa: E402
from tests.e2e.console_browser import SCREENSHOTS  # noqa: E402
from tests.e2e.test_console_browser import server  # noqa: E402
from tests.integration.test_console_finance import invoice_rows, run_jobs, stored  # noqa: E402
from tests.integration.test_console_web import PASSWORD, make_user  # noqa: E402
from tests.unit.reconciliation.invoice_files import to_csv  # noqa: E402

__all__ = ["server"]  # the live server fixture, shared with the console's browser test


def test_finance_signs_in_uploads_an_invoice_opens_it_and_disputes_a_line(app, server, make_tenant):
    tenant = make_tenant(("platform",))
    email = make_user(app, tenant.tenant_id, ("finance",))
    number = f"INV-{uuid.uuid4().hex[:8].upper()}"
    with console_browser.Browser("finance-") as browser:
        page = browser.page
        page.goto(f"{server}/console/finance", wait_until="networkidle")
        assert urlsplit(page.url).path == "/console/login"
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server}/console/finance")
        assert page.locator("h1").inner_text() == "Finance"
        browser.shot("1-empty")

        page.get_by_label("Invoice file").set_input_files(
            files=[{"name": "march.csv", "mimeType": "text/csv", "buffer": to_csv(invoice_rows(number))}]
        )
        page.get_by_role("button", name="Upload").click()
        page.wait_for_url("**/console/finance?done=uploaded*")
        assert page.locator("#done").inner_text() == "Invoice uploaded; its reconciliation is queued."
        invoice = stored(app, tenant.tenant_id, number)
        assert "queued" in page.locator(f"#inv-{invoice.id}").inner_text()
        assert page.locator("#auto-refresh-control").is_visible()  # finance.js ran under the CSP
        browser.shot("2-uploaded")

        run_jobs(app)  # the deployment's worker: relay the outbox, run the reconciliation job
        page.goto(f"{server}/console/finance", wait_until="networkidle")
        assert "reconciled" in page.locator(f"#inv-{invoice.id}").inner_text()
        assert page.locator("#by-class").inner_text().count("unknown tracking") == 1
        assert page.locator("figure.chart svg a").count() == 12  # two charts of six months
        browser.shot("3-results")

        page.get_by_role("link", name=number).click()
        page.wait_for_url(f"{server}/console/finance/invoices/{invoice.id}")
        assert page.locator("#lines tbody tr").count() == 2
        page.locator("#lines details summary").first.click()  # the evidence opens without script
        browser.shot("4-invoice")

        page.get_by_label("Class").select_option("unknown_tracking")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url("**class=unknown_tracking*")
        row = page.locator("#lines tbody tr").first
        row.get_by_label("Note", exact=True).fill("Not our parcel")
        row.get_by_role("button", name="Dispute row 1").click()
        page.wait_for_load_state("networkidle")
        assert "disputed" in page.locator("#done").inner_text()
        assert "Not our parcel" in page.locator("#lines tbody tr").first.inner_text()
        browser.shot("5-disputed")

        with page.expect_download() as caught:
            page.locator("#export").click()
        download = caught.value
        assert download.suggested_filename.startswith("ups-disputed-")
        claim = Path(download.path()).read_text()
        assert claim.startswith("carrier,") and invoice.id in claim and claim.count("\n") == 2

    browser.check()
    assert {f.name for f in SCREENSHOTS.glob("finance-*.png")} >= {
        "finance-1-empty.png",
        "finance-2-uploaded.png",
        "finance-3-results.png",
        "finance-4-invoice.png",
        "finance-5-disputed.png",
    }
