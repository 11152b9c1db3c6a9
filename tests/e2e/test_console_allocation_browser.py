"""The console's allocation pages in Debian's Chromium over real HTTP: edit a rule set, run a plan, apply it, what-if.

Ops sign in, open Allocation, save an invalid rule document (the validation report names its JSON
path), then a valid one (a new version and its diff), run a plan with the smallest budget, watch
its progress page refresh itself until done, view its map and routes, and apply it; then run a
what-if with one more van and see both configurations side by side. Each page is
screenshotted into var/screenshots/console/allocation-*.png and checked with axe-core; no page
may report a Content-Security-Policy violation and every request stays on the gateway.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e import console_browser
from tests.e2e.console_browser import SCREENSHOTS
from tests.e2e.test_console_browser import playwright_api, server  # noqa: F401 - server is a fixture
from tests.integration.test_allocation_plans import (  # noqa: F401 - partners_sell_labels is autouse
    MIDTOWN,
    PHILADELPHIA,
    book,
    local_day,
    partners_sell_labels,
    run_jobs,
    setup_fleet,
)
from tests.integration.test_console_web import PASSWORD, make_user

pytestmark = pytest.mark.e2e

RULE = {
    "id": "no-vans-191",
    "when": {"postal_prefix": ["191"]},
    "action": {"type": "forbid", "target": "fleet"},
}


def test_ops_edit_a_rule_set_run_a_plan_view_its_map_and_apply_it(app, server, make_tenant):  # noqa: F811
    api = app.test_client()
    tenant = make_tenant(("platform", "ops"))
    shipments = [book(api, tenant, w, f"MID-{i}") for i, w in enumerate(MIDTOWN[:3])]
    shipments.append(book(api, tenant, PHILADELPHIA[0], "PHL-0"))
    day = local_day(shipments[0])
    setup_fleet(api, tenant)
    created = api.post(
        "/v1/allocation/rule-sets", json={"name": "city", "rules": [RULE]}, headers=tenant.headers
    )
    assert created.status_code == 201, created.get_json()
    email = make_user(app, tenant.tenant_id, ("ops",))
    for old in SCREENSHOTS.glob("allocation-*.png"):
        old.unlink()
    with console_browser.Browser("allocation-") as browser:
        page = browser.page
        browser.sign_in(server, email, PASSWORD)

        page.get_by_role("link", name="Allocation", exact=True).click()
        page.wait_for_url(f"{server}/console/allocation")
        assert page.locator("#rule-sets tbody tr").count() == 1
        browser.shot("1-overview")

        page.get_by_role("link", name="city", exact=True).click()
        page.wait_for_load_state("networkidle")
        editor = page.get_by_label("The rule set as JSON", exact=False)
        broken = {"name": "city", "rules": [{**RULE, "action": {"type": "forbid"}}]}
        editor.fill(json.dumps(broken, indent=2))
        page.get_by_role("button", name="Save as version 2").click()
        page.wait_for_load_state("networkidle")
        report = page.locator("#rule-errors")
        assert "rules.0.action" in report.inner_text()
        assert '"type": "forbid"' in editor.input_value()  # kept as typed
        browser.shot("2-rule-invalid")

        changed = {**RULE, "when": {"postal_prefix": ["191", "190"]}}
        editor.fill(json.dumps({"name": "city", "rules": [changed]}, indent=2))
        page.get_by_role("button", name="Save as version 2").click()
        page.wait_for_load_state("networkidle")
        assert page.locator("#saved").inner_text() == "Saved as version 2."
        assert page.locator("#current-version").inner_text() == "2"
        assert any('"190"' in t for t in page.locator("#diff .add").all_inner_texts())
        browser.shot("3-rule-saved")

        page.get_by_role("link", name="Allocation", exact=True).first.click()
        page.wait_for_url(f"{server}/console/allocation")
        page.get_by_label("Day").fill(day.isoformat())
        page.get_by_label("Time limit (seconds)").fill("1")
        page.get_by_label("Seed").fill("1")
        page.get_by_label("Max iterations").fill("50")
        page.get_by_role("button", name="Run plan").click()
        page.wait_for_url(f"{server}/console/allocation/plans/*")
        plan_url = page.url
        assert page.locator("#plan-state").inner_text() == "queued"
        assert page.locator("progress").count() == 1
        # The static script updates the bar in place (a <noscript> meta refresh does without it).
        assert page.get_by_role("button", name="Pause updates").count() == 1
        browser.shot("4-plan-progress")

        run_jobs(app)  # the RQ worker, in burst: the page refreshes itself until the plan is done
        page.wait_for_selector("#plan-map", timeout=30_000)
        page.wait_for_load_state("networkidle")
        assert page.url == plan_url
        assert page.locator("#plan-state").inner_text() == "done"
        assert page.locator("#plan-map polyline").count() >= 1
        assert page.locator("#plan-map g.partner").count() >= 1  # PHL-0: vans may not go there
        assert "PHL-0" in page.locator("#handovers").inner_text()
        browser.shot("5-plan")

        page.get_by_role("button", name="Apply this plan").click()
        page.wait_for_load_state("networkidle")
        assert page.locator("#plan-state").inner_text() == "applied"
        assert page.locator("#applied").inner_text().startswith("Applied: 4 shipment(s)")
        browser.shot("6-plan-applied")

        # A what-if: the same day with one more van like Van 1, side by side with the active configuration.
        page.get_by_role("link", name="Allocation", exact=True).first.click()
        page.wait_for_url(f"{server}/console/allocation")
        page.get_by_role("link", name="Run a what-if").click()
        page.wait_for_url(f"{server}/console/allocation/simulations")
        page.get_by_label("Day").fill(day.isoformat())
        page.get_by_label("Time limit (seconds, for both)").fill("1")
        page.get_by_label("Seed").fill("1")
        page.get_by_label("Max iterations").fill("50")
        page.get_by_label("Extra vans").fill("1")
        page.get_by_role("button", name="Run the what-if").click()
        page.wait_for_url(f"{server}/console/allocation/simulations/*")
        assert page.locator("#sim-state").inner_text() == "queued"
        run_jobs(app)
        page.wait_for_selector("#compare", timeout=30_000)
        page.wait_for_load_state("networkidle")
        assert page.locator("#sim-state").inner_text() == "done"
        assert page.locator("#row-vans td").nth(1).inner_text().endswith("of 2")
        assert page.locator("#shares tbody tr").count() >= 1
        browser.shot("whatif")

    browser.check()
    assert sorted(f.name for f in SCREENSHOTS.glob("allocation-*.png")) == [
        "allocation-1-overview.png",
        "allocation-2-rule-invalid.png",
        "allocation-3-rule-saved.png",
        "allocation-4-plan-progress.png",
        "allocation-5-plan.png",
        "allocation-6-plan-applied.png",
        "allocation-whatif.png",
    ]
