"""The console's fleet pages in Debian's Chromium over real HTTP: the depots and vans, a refused van, an added one.

A depot and a van are set up through the API; ops sign in, open Fleet, open the depot, try to add a van
whose shift ends before it starts (refused beside the field, nothing stored), correct it and add it,
and find it on the Fleet page. Each page is screenshotted into var/screenshots/console/fleet-*.png and
checked with axe-core; no page may report a Content-Security-Policy violation and every request stays
on the gateway.
"""

from __future__ import annotations

import pytest

from tests.e2e import console_browser
from tests.e2e.console_browser import SCREENSHOTS
from tests.e2e.test_console_browser import playwright_api, server  # noqa: F401 - server is a fixture
from tests.integration.test_allocation_plans import setup_fleet
from tests.integration.test_console_web import PASSWORD, make_user

pytestmark = pytest.mark.e2e


def test_ops_see_the_fleet_and_add_a_van(app, server, make_tenant):  # noqa: F811
    api = app.test_client()
    tenant = make_tenant(("platform", "ops"))
    depot_id, van_id = setup_fleet(api, tenant)
    email = make_user(app, tenant.tenant_id, ("ops",))
    for old in SCREENSHOTS.glob("fleet-*.png"):
        old.unlink()
    with console_browser.Browser("fleet-") as browser:
        page = browser.page
        browser.sign_in(server, email, PASSWORD)

        page.get_by_role("link", name="Fleet", exact=True).click()
        page.wait_for_url(f"{server}/console/fleet")
        assert "Van 1" in page.locator(f"#van-{van_id}").inner_text()
        assert page.locator("#depot-map .depot").count() == 1
        browser.shot("1-overview")

        page.get_by_role("link", name="Secaucus", exact=True).click()
        page.wait_for_url(f"{server}/console/fleet/depots/{depot_id}")
        browser.shot("2-depot")

        page.get_by_role("link", name="Add a van to Secaucus").first.click()
        page.wait_for_url(f"{server}/console/fleet/depots/{depot_id}/vans/new")
        page.get_by_label("Name", exact=True).fill("Van <b>2</b>")
        page.get_by_label("Weight (kg)").fill("650")
        page.get_by_label("Volume (m³)").fill("8")
        page.get_by_label("Starts").fill("17:00")
        page.get_by_label("Ends").fill("09:00")
        page.get_by_label("Per km (USD)").fill("0.75")
        page.get_by_label("Per hour (USD)").fill("22.50")
        page.get_by_label("Fixed, per day used (USD)").fill("15")
        page.get_by_role("button", name="Add the van").click()
        page.wait_for_load_state("networkidle")
        assert "shift_end: must be after shift_start" in page.locator("#e-shift_end").inner_text()
        browser.shot("3-refused")

        page.get_by_label("Starts").fill("07:30")
        page.get_by_label("Ends").fill("16:00")
        page.get_by_role("button", name="Add the van").click()
        page.wait_for_url(f"{server}/console/fleet/vans/*?saved=created")
        assert page.locator("h1").inner_text() == "Van Van <b>2</b>"  # shown as text
        browser.shot("4-van")

        page.get_by_role("link", name="Fleet", exact=True).first.click()
        page.wait_for_url(f"{server}/console/fleet")
        assert "Van <b>2</b>" in page.locator("main").inner_text()

    browser.check()
    served = api.get("/v1/allocation/vehicles", headers=tenant.headers).get_json()["data"]
    assert sorted(v["name"] for v in served) == ["Van 1", "Van <b>2</b>"]
    assert sorted(f.name for f in SCREENSHOTS.glob("fleet-*.png")) == [
        "fleet-1-overview.png",
        "fleet-2-depot.png",
        "fleet-3-refused.png",
        "fleet-4-van.png",
    ]
