"""Carriers and developer settings in Debian's Chromium over real HTTP.

An admin signs in, creates an API key (shown once), revokes it, creates a webhook endpoint (its
secret shown once) and pauses it, looks at the people and their own sessions, then opens the
carriers' health, an unmapped code, the raw exchanges and one exchange. Each page is screenshotted
into var/screenshots/console/ (carriers-*.png, developers-*.png, people-*.png) and checked with
axe-core: no serious or critical violation, and no Content-Security-Policy complaint.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e import console_browser
from tests.e2e.console_browser import CHROMIUM, SCREENSHOTS
from tests.integration.test_console_carriers_developers import add_exchange, add_unmapped_event
from tests.integration.test_console_web import PASSWORD, make_user, seed

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip .[dev])")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(app: Any) -> Iterator[str]:
    yield from console_browser.live_server(app)


def test_admin_creates_and_revokes_a_key_then_opens_the_carriers_health(app, server, make_tenant):
    seeded = seed(app, make_tenant)
    add_unmapped_event(app, seeded.tracking_number, "ZQ9")
    exchange_id = add_exchange(app, seeded.tenant_id)
    add_exchange(app, seeded.tenant_id, http_status=503, duration_ms=900)
    email = make_user(app, seeded.tenant_id, ("admin",))
    with console_browser.Browser("") as browser:
        page = browser.page
        page.goto(f"{server}/console/developers", wait_until="networkidle")
        assert urlsplit(page.url).path == "/console/login"
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server}/console/developers")
        assert page.locator("h1").inner_text() == "Developer settings"
        browser.shot("developers-1-settings")

        page.get_by_label("Name", exact=True).fill("Shop front")
        page.get_by_role("button", name="Create the key").click()
        page.wait_for_load_state("networkidle")
        key = page.locator("#secret").inner_text()
        assert re.fullmatch(r"hk_live_[0-9a-f]{16}_[A-Za-z0-9_-]+", key), key
        browser.shot("developers-2-key-created")

        page.get_by_role("link", name="Back to developer settings").click()
        page.wait_for_url(f"{server}/console/developers")
        assert key not in page.content()
        row = page.locator("#keys tbody tr", has_text="Shop front")
        row.get_by_role("button", name="Revoke").click()
        page.wait_for_load_state("networkidle")
        assert page.locator("#done").inner_text().startswith("Done: revoked key_")
        assert "revoked" in page.locator("#keys tbody tr", has_text="Shop front").inner_text()
        browser.shot("developers-3-key-revoked")

        page.get_by_label("URL (https, on a public address)").fill("https://hooks.example/shop")
        page.get_by_label("tracking.updated").check()
        page.get_by_label("Description").fill("Shop front hook")
        page.get_by_role("button", name="Create the endpoint").click()
        page.wait_for_load_state("networkidle")
        assert page.locator("#secret").inner_text().startswith("whsec_")
        browser.shot("developers-4-endpoint-created")
        page.get_by_role("link", name="Back to developer settings").click()
        page.wait_for_load_state("networkidle")
        page.get_by_label("State").select_option("false")
        page.get_by_role("button", name="Save the endpoint").click()
        page.wait_for_load_state("networkidle")
        assert page.locator("#done").inner_text() == "Done: saved the endpoint."
        assert "disabled" in page.locator("#endpoint").inner_text()
        browser.shot("developers-5-endpoint-paused")

        page.get_by_role("link", name="People", exact=True).click()
        page.wait_for_url(f"{server}/console/people")
        assert email in page.locator("#users").inner_text()
        browser.shot("people-1-users")
        page.get_by_role("link", name="Your sessions", exact=True).first.click()
        page.wait_for_url(f"{server}/console/people/sessions")
        assert "(this one)" in page.locator("#sessions").inner_text()
        browser.shot("people-2-sessions")

        page.get_by_role("link", name="Carriers", exact=True).click()
        page.wait_for_url(f"{server}/console/carriers")
        ups = page.locator("#health-ups")
        assert "50.0 %" in ups.inner_text()
        assert "ZQ9" in page.locator("#unmapped").inner_text()
        assert "<script>" in page.locator("#unmapped").inner_text()  # shown as text, not run
        browser.shot("carriers-1-health")

        page.get_by_role("link", name="Raw carrier exchanges").click()
        page.wait_for_url(f"{server}/console/carriers/exchanges")
        browser.shot("carriers-2-exchanges")
        page.locator(f"#exchange-{exchange_id} a").first.click()
        page.wait_for_url(f"{server}/console/carriers/exchanges/{exchange_id}")
        assert "<script>" in page.locator("#response").inner_text()
        browser.shot("carriers-3-exchange")

        # The admin invites a finance person, who chooses a password and signs in as themselves.
        page.goto(f"{server}/console/people", wait_until="networkidle")
        page.get_by_role("link", name="Invite a person").click()
        page.wait_for_url(f"{server}/console/users/invite")
        invitee = f"invitee-{uuid.uuid4().hex[:6]}@example.com"
        page.get_by_label("Their email").fill(invitee)
        page.get_by_label("finance").check()
        page.get_by_role("button", name="Create the invitation link").click()
        page.wait_for_load_state("networkidle")
        link = page.locator("#invite-link").inner_text()
        assert link.startswith(f"{server}/console/invitations/"), link
        browser.shot("people-3-invited")
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r".*/console/login.*"))
        page.goto(link, wait_until="networkidle")
        assert invitee in page.locator("h1").inner_text()
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("The same password again").fill(PASSWORD)
        browser.shot("people-4-invitation")
        page.get_by_role("button", name="Create my account").click()
        page.wait_for_url(f"{server}/console/login?m=account-ready")
        browser.sign_in(server, invitee, PASSWORD)
        assert page.get_by_role("link", name="Finance", exact=True).is_visible()
        assert page.get_by_role("link", name="People", exact=True).count() == 0  # not an admin
        browser.shot("people-5-first-sign-in")

    api = app.test_client()
    assert api.get("/v1/shipments", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    browser.check()
    names = {f.name for f in SCREENSHOTS.glob("*.png")}
    assert {
        "developers-1-settings.png",
        "developers-2-key-created.png",
        "developers-3-key-revoked.png",
        "developers-4-endpoint-created.png",
        "developers-5-endpoint-paused.png",
        "people-1-users.png",
        "people-2-sessions.png",
        "people-3-invited.png",
        "people-4-invitation.png",
        "people-5-first-sign-in.png",
        "carriers-1-health.png",
        "carriers-2-exchanges.png",
        "carriers-3-exchange.png",
    } <= names
