"""The public tracking page as a recipient's phone shows it: headless Chromium reads what it says.

The gateway app is served over real HTTP on 127.0.0.1 (werkzeug in a thread); a shipment is booked
through the API, a DHL Express push reports pickup, courier and a failed attempt, the worker
ingests them, and Chromium opens the link with a 375 px wide viewport.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from rq import SimpleWorker
from werkzeug import serving

from gateway.jobs import worker
from gateway.kernel import models
from gateway.tracking import callbacks
from tests.helpers import shipment_body

CHROMIUM = "/usr/bin/chromium"
SECRET = "e2e-dhl-hmac-key"

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip .[dev])")
if not os.path.exists(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(app: Any) -> Iterator[str]:
    app.config["CALLBACK_SECRETS"] = json.dumps({"dhl_express": SECRET})
    httpd = serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


def push(base: str, awb: str, code: str, day: str, clock: str) -> None:
    payload = {
        "carrier": "dhl_express",
        "awb": awb,
        "reference": "ORDER-1001",
        "event": {
            "date": day,
            "time": clock,
            "code": code,
            "description": "checkpoint",
            "service_area": {"code": "NYC", "description": "NEW YORK - US"},
        },
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Handoff-Timestamp": stamp,
        "X-Handoff-Signature": callbacks.sign(SECRET, stamp, body),
    }
    response = requests.post(f"{base}/v1/callbacks/dhl_express", data=body, headers=headers, timeout=10)
    assert response.status_code == 202, response.text


def test_a_recipient_reads_status_history_and_what_to_do_on_a_phone(app, server, make_tenant):
    tenant = make_tenant(("platform",))
    headers = tenant.headers
    branded = requests.put(
        f"{server}/v1/branding",
        json={"display_name": "Acme Shoes", "colour": "#FFD700"},
        headers=headers,
        timeout=10,
    )
    assert branded.status_code == 200, branded.text
    booked = requests.post(f"{server}/v1/shipments", json=shipment_body(), headers=headers, timeout=10)
    assert booked.status_code == 201, booked.text
    shipment_id, url = booked.json()["id"], booked.json()["tracking_url"]
    assert urlsplit(url).hostname == "127.0.0.1"
    awb = f"DHL{time.time_ns() % 10**10}"
    with app.extensions["handoff"].sessions() as session:
        shipment = session.get(models.Shipment, shipment_id)
        shipment.carrier, shipment.tracking_number, shipment.status = "dhl_express", awb, "purchased"
        session.commit()
    for code, clock in (("PU", "08:00:00"), ("WC", "10:00:00"), ("NH", "13:00:00")):
        push(server, awb, code, "2026-11-20", clock)
    worker.run(app, burst=True, worker_class=SimpleWorker)

    requested: list[str] = []
    csp_errors: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 375, "height": 812}, device_scale_factor=2)
            page.on("request", lambda r: requested.append(r.url))
            page.on(
                "console",
                lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
            )
            response = page.goto(url, wait_until="networkidle")
            assert response is not None and response.status == 200

            headline = page.locator("h1").inner_text()
            steps = page.locator(".step-title").all_inner_texts()
            happened = page.locator("#problem .happened").inner_text()
            you_can = page.locator("#problem .you-can").inner_text()
            expected = page.locator("#expected").inner_text()
            brand = page.locator(".brand-name").inner_text()
            header_colours = page.eval_on_selector(
                ".brand", "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]"
            )
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            client_width = page.evaluate("document.documentElement.clientWidth")
        finally:
            browser.close()

    assert headline == "We tried to deliver your parcel"
    assert steps == ["Delivery attempted", "Out for delivery", "In transit"]
    assert happened == "Nobody was available to receive the parcel."
    assert you_can.startswith("What you can do: Be available for the next attempt")
    assert expected  # a date, or "Not known yet", never empty
    assert brand == "Acme Shoes"
    # The brand rule is inline, allowed by its hash in the CSP: it applied, and nothing was blocked.
    assert header_colours == ["rgb(255, 215, 0)", "rgb(0, 0, 0)"]
    assert csp_errors == []
    assert requested and all(urlsplit(u).hostname == "127.0.0.1" for u in requested), requested
    assert scroll_width <= client_width == 375
