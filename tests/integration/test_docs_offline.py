"""The API docs page works with no internet: everything it loads comes from the gateway."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from html.parser import HTMLParser

import pytest
from werkzeug import serving

pytestmark = pytest.mark.integration


class _Refs(HTMLParser):
    """Collect what the page loads: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.refs.append(value)


def test_the_docs_page_and_everything_it_loads_are_served_by_the_gateway(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # No other host anywhere in the page: no CDN, no validator, nothing that needs the internet.
    assert re.findall(r"https?://", html) == []
    assert re.findall(r"(?<![:\w])//[\w.-]+", html) == []  # nor a protocol-relative URL

    parser = _Refs()
    parser.feed(html)
    scripts = [r for r in parser.refs if r.endswith(".js")]
    styles = [r for r in parser.refs if r.endswith(".css")]
    assert any(r.endswith("swagger-ui-bundle.js") for r in scripts)
    assert styles
    for ref in parser.refs:
        assert ref.startswith("/"), ref
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.data) > 100, ref
        if ref.endswith(".js"):
            assert asset.mimetype in {"text/javascript", "application/javascript"}, ref
        if ref.endswith(".css"):
            assert asset.mimetype == "text/css", ref

    # The page tells Swagger UI where the OpenAPI document is, and the gateway serves it.
    spec_url = re.search(r'data-spec-url="([^"]+)"', html).group(1)
    assert client.get(spec_url).status_code == 200


def test_the_docs_page_runs_no_inline_script_and_its_policy_allows_only_the_gateway(client):
    page = client.get("/docs")
    html = page.get_data(as_text=True)
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    policy = page.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["default-src"] == "'self'"
    for name, sources in directives.items():
        assert "unsafe" not in sources, name
        assert not re.search(r"https?:|\*", sources), name
    assert "script-src" not in directives  # scripts fall back to default-src 'self'


def test_the_docs_assets_route_serves_nothing_but_the_docs_files(client):
    assert client.get("/docs/assets/oauth2-redirect.html").status_code == 404
    assert client.get("/docs/assets/../../pyproject.toml").status_code == 404
    assert client.get("/docs/assets/nope.js").status_code == 404


def _chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = name if os.path.isabs(name) and os.access(name, os.X_OK) else shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.e2e
def test_the_docs_page_renders_every_operation_in_a_browser_with_no_internet(app):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium on this machine (.ci/run installs Debian's chromium package)")
    server = serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/docs"
        result = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                # No internet: anything not on this machine goes to a proxy that is not there.
                "--proxy-server=http://127.0.0.1:9",
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=20000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr[-2000:]
    paths = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', result.stdout))
    assert {"/v1/shipments", "/healthz"} <= paths, result.stdout[-2000:]
    # The browser reports nothing the page's Content-Security-Policy blocked, and no failed load.
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
