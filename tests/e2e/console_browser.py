"""What every console browser test shares: the live server, Chromium with its listeners, axe-core, screenshots.

``Browser`` opens Debian's Chromium (never a downloaded one) on one page that records every request
and every Content-Security-Policy complaint; ``shot`` screenshots the page into
var/screenshots/console/ and runs axe-core on it; ``check`` then asserts that no page had a serious or
critical accessibility violation, none complained about the CSP, and every request stayed on the
gateway. The test modules skip themselves when Playwright or Chromium is absent, before importing this.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from werkzeug import serving

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "console"


def live_server(app: Any) -> Iterator[str]:
    """Serve ``app`` over real HTTP on 127.0.0.1 (werkzeug, in a thread) for a module's tests."""
    httpd = serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


def axe_serious(page: Any) -> list[str]:
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


class Browser:
    """Chromium on one 1280x900 page, recording requests and CSP complaints; screenshots named ``prefix+name``."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.requested: list[str] = []
        self.csp_errors: list[str] = []
        self.violations: dict[str, list[str]] = {}
        self.page: Any = None

    def __enter__(self) -> Browser:
        from playwright.sync_api import sync_playwright

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        self.page = self._browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.on("request", lambda r: self.requested.append(r.url))
        self.page.on(
            "console",
            lambda m: self.csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
        )
        return self

    def __exit__(self, *_: object) -> None:
        self._browser.close()
        self._playwright.stop()

    def sign_in(self, server: str, email: str, password: str) -> None:
        """Sign in through the login form, as a person does, and land on the control tower."""
        self.page.goto(f"{server}/console/login", wait_until="networkidle")
        self.page.get_by_label("Email", exact=True).fill(email)
        self.page.get_by_label("Password", exact=True).fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"{server}/console/")

    def shot(self, name: str) -> None:
        """Screenshot the page as ``<prefix><name>.png`` and keep its serious axe-core violations."""
        self.page.screenshot(path=str(SCREENSHOTS / f"{self.prefix}{name}.png"), full_page=True)
        found = axe_serious(self.page)
        if found:
            self.violations[name] = found

    def check(self) -> None:
        assert self.csp_errors == []
        assert self.requested and all(urlsplit(u).hostname == "127.0.0.1" for u in self.requested), (
            self.requested
        )
        assert self.violations == {}, self.violations
