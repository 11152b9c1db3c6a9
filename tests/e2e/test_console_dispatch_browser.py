"""The console's dispatch pages in Debian's Chromium over real HTTP: the day's vans, a route sheet, its PDF.

A plan is run and applied through the API; ops sign in, open Dispatch, choose the plan's day, open the
van's stops (a planted ``<script>`` in an address shows as text), assign the van's driver (a planted
name shows as text) and download its printable PDF, which names the driver, with the browser's cookies. Each page is screenshotted into var/screenshots/console/dispatch-*.png and checked
with axe-core; no page may report a Content-Security-Policy violation and every request stays on the
gateway.
"""

from __future__ import annotations

import pytest

from gateway.kernel import models
from tests.e2e import console_browser
from tests.e2e.console_browser import SCREENSHOTS
from tests.e2e.test_console_browser import playwright_api, server  # noqa: F401 - server is a fixture
from tests.integration.test_allocation_plans import (  # noqa: F401 - partners_sell_labels is autouse
    MIDTOWN,
    local_day,
    partners_sell_labels,
    plan_day,
    setup_fleet,
)
from tests.integration.test_console_dispatch import PLANTED, TINY, book_at, pdf_text
from tests.integration.test_console_web import PASSWORD, make_user

pytestmark = pytest.mark.e2e


def test_ops_open_the_days_vans_a_route_sheet_and_its_pdf(app, server, make_tenant):  # noqa: F811
    api = app.test_client()
    tenant = make_tenant(("platform", "ops"))
    shipments = [book_at(api, tenant, i, w) for i, w in enumerate(MIDTOWN[:3])]
    with app.extensions["handoff"].sessions() as session:
        session.get(models.Shipment, shipments[0]["id"]).destination.street2 = f"Floor 2 {PLANTED}"
        session.commit()
    _depot_id, van_id = setup_fleet(api, tenant)
    day = local_day(shipments[0])
    plan = plan_day(api, app, tenant, day, **TINY)
    applied = api.post(f"/v1/allocation/plans/{plan['id']}/apply", json={}, headers=tenant.headers)
    assert applied.status_code == 200, applied.get_json()
    email = make_user(app, tenant.tenant_id, ("ops",))
    for old in SCREENSHOTS.glob("dispatch-*.png"):
        old.unlink()
    with console_browser.Browser("dispatch-") as browser:
        page = browser.page
        browser.sign_in(server, email, PASSWORD)

        page.get_by_role("link", name="Dispatch", exact=True).click()
        page.wait_for_url(f"{server}/console/dispatch")
        page.get_by_label("Day").fill(day.isoformat())
        page.get_by_role("button", name="Show").click()
        page.wait_for_url(f"{server}/console/dispatch?day={day.isoformat()}")
        row = page.locator(f"#van-{plan['id']}-{van_id}")
        assert row.locator("td").first.inner_text() == "3"
        assert "not assigned" in row.inner_text()
        browser.shot("1-day")

        row.get_by_role("link", name="Stops of Van 1").click()
        page.wait_for_url(f"{server}/console/dispatch/plans/{plan['id']}/vans/{van_id}")
        assert page.locator("#stops tbody tr").count() == 3
        assert PLANTED in page.locator("#stops").inner_text()  # shown as text, not run
        browser.shot("2-route-sheet")

        page.get_by_label("Driver id (as in the driver app)").fill("drv-17")
        page.get_by_label("Name", exact=True).fill(f"Ana {PLANTED}")
        page.get_by_role("button", name="Assign driver").click()
        page.wait_for_url(f"{server}/console/dispatch/plans/{plan['id']}/vans/{van_id}?driver=saved#driver")
        assert page.locator("#driver-shown").inner_text() == f"Ana {PLANTED} (drv-17)"  # text, not run
        assert page.get_by_role("button", name="Change driver").is_visible()
        browser.shot("3-driver")

        href = page.locator("#pdf-link").get_attribute("href")
        assert href and href.endswith("/route-sheet.pdf")
        pdf = page.request.get(f"{server}{href}")  # the browser context's cookies
        assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.body().startswith(b"%PDF-")
        assert f"Driver Ana {PLANTED} (drv-17)" in pdf_text(pdf.body())

    browser.check()
    assert sorted(f.name for f in SCREENSHOTS.glob("dispatch-*.png")) == [
        "dispatch-1-day.png",
        "dispatch-2-route-sheet.png",
        "dispatch-3-driver.png",
    ]
