"""A warehouse day end to end over real HTTP: labels on four carriers, pickups, the day closed, addresses.

Issue 19's "done means" for pickups, manifests and address validation, through the public API only and
the carrier simulator: labels are bought on UPS, DHL Express, FedEx (Ground and Express) and USPS; a
FedEx and a USPS pickup are booked, read back and cancelled at the carriers; the day is closed per carrier (the FedEx Ground close
and the USPS SCAN form at the simulator, gateway manifests for UPS and DHL Express), each manifest
listing exactly its carrier's labels, its PDF (and the carrier's document) downloadable, and a second
close answering 409 ``manifest-empty``; a residential and a commercial address are validated through
UPS, FedEx and USPS. The stack is conftest's (gateway HTTP server, worker process, scheduler loop); this
module starts its own simulator (seed 1907) and adds a FedEx and a USPS account to ``CARRIERS``.
"""

from __future__ import annotations

import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e import conftest as e2e
from tests.e2e.conftest import LiveGateway, SimulatorServer
from tests.helpers import shipment_body

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SEED = 1907
FEDEX_CLIENT_ID, FEDEX_CLIENT_SECRET = "e2e-wh-fedex-client", "e2e-wh-fedex-secret-0123"
FEDEX_ACCOUNT = str(random.randrange(10**8, 10**9))
USPS_CLIENT_ID, USPS_CLIENT_SECRET = "e2e-wh-usps-client", "e2e-wh-usps-secret-0123"
USPS_ACCOUNT = str(random.randrange(10**9, 10**10))
USPS_MID = "904128936"
ORIGINAL_CARRIERS_FOR = e2e.carriers_for

# (carrier, service to buy): FedEx Ground is what the Ground close takes; FedEx Express is listed on the
# gateway's manifest but not closed at FedEx.
LABELS = (
    ("ups", None),
    ("dhl_express", None),
    ("fedex", "FEDEX_GROUND"),
    ("fedex", "PRIORITY_OVERNIGHT"),
    ("usps", "PRIORITY_MAIL"),
    ("usps", "USPS_GROUND_ADVANTAGE"),
)
RESIDENTIAL = {
    "name": "Jane Doe",
    "street_lines": ["1100 Wyoming St"],
    "city": "St. Louis",
    "state": "MO",
    "postal_code": "63118",
    "country_code": "US",
}
COMMERCIAL = {
    "company": "Acme Widgets",
    "street_lines": ["10 FedEx Parkway", "Suite 302"],
    "city": "Collierville",
    "state": "TN",
    "postal_code": "38017",
    "country_code": "US",
}
DOCK = {
    "name": "Dock Manager",
    "company": "Warehouse 1",
    "street_lines": ["500 Industrial Way"],
    "city": "Secaucus",
    "state": "NJ",
    "postal_code": "07094",
    "country_code": "US",
    "phone": "+1 201-555-0100",
    "email": "dock@warehouse.example",
}


def warehouse_carriers(simulator_url: str) -> list[dict[str, Any]]:
    """conftest's UPS and DHL Express accounts, plus a FedEx and a USPS account on the simulator."""
    return [
        *ORIGINAL_CARRIERS_FOR(simulator_url),
        {
            "adapter": "fedex",
            "config": {
                "client_id": FEDEX_CLIENT_ID,
                "client_secret": FEDEX_CLIENT_SECRET,
                "account_number": FEDEX_ACCOUNT,
                "base_url": f"{simulator_url}/fedex",
                "timeout_seconds": 5,
            },
        },
        {
            "adapter": "usps",
            "config": {
                "client_id": USPS_CLIENT_ID,
                "client_secret": USPS_CLIENT_SECRET,
                "crid": "56982563",
                "mid": USPS_MID,
                "account_number": USPS_ACCOUNT,
                "base_url": f"{simulator_url}/usps",
                "timeout_seconds": 5,
            },
        },
    ]


@pytest.fixture(scope="module")
def simulator(
    e2e_ports: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimulatorServer]:
    """This module's simulator; while it runs, conftest's gateway also has the FedEx and USPS accounts."""
    gateway = f"http://127.0.0.1:{e2e_ports['gateway']}"
    log = open(tmp_path_factory.mktemp("simulator") / "simulator.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "--port",
            str(e2e_ports["simulator"]),
            "--seed",
            str(SEED),
            "--callback-url",
            gateway + "/v1/callbacks/{carrier}",
            "--fedex-client-id",
            FEDEX_CLIENT_ID,
            "--fedex-client-secret",
            FEDEX_CLIENT_SECRET,
            "--usps-client-id",
            USPS_CLIENT_ID,
            "--usps-client-secret",
            USPS_CLIENT_SECRET,
            "--day-seconds",
            "86400",  # real speed: nothing here moves time
            "--exception-share",
            "0",
            "--push-interval",
            "3600",
            "--timeout-sleep",
            "3",
            "--data-dir",
            e2e.numbers_dir(tmp_path_factory),
        ],
        cwd=e2e.REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{e2e_ports['simulator']}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(e2e, "carriers_for", warehouse_carriers)
        try:
            e2e.wait_until(
                lambda: e2e._up(f"{url}/_sim/health") or process.poll() is not None, 30, "the simulator"
            )
            if process.poll() is not None:
                raise RuntimeError(f"the simulator exited with {process.returncode}")
            yield SimulatorServer(url, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


def call(method: str, url: str, headers: dict[str, str], **kwargs: Any) -> requests.Response:
    return requests.request(method, url, headers=headers, timeout=60, **kwargs)


def buy_label(
    gateway: LiveGateway, headers: dict[str, str], carrier: str, service: str | None
) -> dict[str, Any]:
    """Book a shipment, choose the carrier's live rate (for the service, if named), buy the label."""
    body = shipment_body(reference=f"E2E-WH-{carrier}-{uuid.uuid4().hex[:6]}")
    body["origin"].update(company="Warehouse 1", phone="+1 201-555-0100")
    body["destination"]["phone"] = "+1 212-555-0199"
    created = call("POST", gateway.url("/v1/shipments"), headers, json=body)
    assert created.status_code == 201, created.text
    shipment = created.json()
    live = [
        r
        for r in shipment["rates"]["rates"]
        if r["carrier"] == carrier and r["source"] == "live" and service in (None, r["service_code"])
    ]
    assert live, f"no live {carrier} {service or ''} rate: {shipment['rates']}"
    chosen = call(
        "POST", gateway.url(f"/v1/shipments/{shipment['id']}/rate"), headers, json={"rate_id": live[0]["id"]}
    )
    assert chosen.status_code == 200, chosen.text
    bought = call(
        "POST",
        gateway.url(f"/v1/shipments/{shipment['id']}/label"),
        {**headers, "Idempotency-Key": f"label-{shipment['id']}"},
        json={},
    )
    assert bought.status_code == 202, bought.text

    def purchased() -> dict[str, Any] | None:
        current = call("GET", gateway.url(f"/v1/shipments/{shipment['id']}"), headers).json()
        assert current["status"] not in ("failed", "needs_review"), current
        return current if current["status"] == "purchased" else None

    try:
        return gateway.wait_for(purchased, 90, f"the {carrier} label")
    except AssertionError as exc:
        job = call("GET", gateway.url(f"/v1/jobs/{bought.json()['id']}"), headers).text
        raise AssertionError(f"{exc}\n--- label job ---\n{job}") from None


def pickup_day() -> str:
    """Tomorrow, or Monday when tomorrow is a Sunday (USPS picks up Monday to Saturday)."""
    day = datetime.now(UTC).date() + timedelta(days=1)
    return (day + timedelta(days=1) if day.weekday() == 6 else day).isoformat()


def book_pickup(gateway: LiveGateway, headers: dict[str, str], carrier: str) -> dict[str, Any]:
    body = {
        "carrier": carrier,
        "address": DOCK,
        "date": pickup_day(),
        "ready_time": "13:00",
        "close_time": "17:00",
        "time_zone": "UTC",
        "parcel_count": 3,
    }
    key = {"Idempotency-Key": f"pickup-{carrier}-{uuid.uuid4().hex[:8]}"}
    booked = call("POST", gateway.url("/v1/pickups"), {**headers, **key}, json=body)
    assert booked.status_code == 201, booked.text
    return booked.json()


def close_day(gateway: LiveGateway, headers: dict[str, str], carrier: str) -> requests.Response:
    key = {"Idempotency-Key": f"close-{carrier}-{uuid.uuid4().hex[:8]}"}
    return call("POST", gateway.url("/v1/manifests"), {**headers, **key}, json={"carrier": carrier})


def test_a_warehouse_day_pickups_manifests_and_addresses_over_real_http(
    live_gateway: LiveGateway, simulator: SimulatorServer
) -> None:
    gateway = live_gateway
    headers = gateway.tenant(("platform", "ops")).headers

    # The day's labels, on four carriers; each sold once by the simulator.
    bought: dict[str, list[dict[str, Any]]] = {}
    for carrier, service in LABELS:
        bought.setdefault(carrier, []).append(buy_label(gateway, headers, carrier, service))
    sold = {label["tracking_number"]: label for label in simulator.ledger()["labels"]}
    for carrier, shipments in bought.items():
        for shipment in shipments:
            assert sold[shipment["tracking_number"]]["carrier"] == carrier
    assert simulator.ledger()["duplicate_references"] == {}
    fedex_ground = bought["fedex"][0]["tracking_number"]

    # Pickups: FedEx and USPS book one each, readable back; the simulator's book has them.
    pickups: dict[str, dict[str, Any]] = {}
    for carrier in ("fedex", "usps"):
        pickup = pickups[carrier] = book_pickup(gateway, headers, carrier)
        assert (pickup["carrier"], pickup["state"], pickup["date"]) == (carrier, "scheduled", pickup_day())
        assert pickup["confirmation"]
        read = call("GET", gateway.url(f"/v1/pickups/{pickup['id']}"), headers)
        assert read.status_code == 200, read.text
        assert (read.json()["id"], read.json()["confirmation"], read.json()["state"]) == (
            pickup["id"],
            pickup["confirmation"],
            "scheduled",
        )
        booked = simulator._call("GET", "/_sim/warehouse", params={"carrier": carrier})["pickups"]
        assert [(p["confirmation"], p["date"], p["package_count"]) for p in booked] == [
            (pickup["confirmation"], pickup_day(), 3)
        ]
    listed = call("GET", gateway.url("/v1/pickups"), headers)
    assert listed.status_code == 200, listed.text

    # Both are cancelled at the carrier (FedEx with the location its booking answered, USPS with the
    # ETag of a GET in If-Match); the simulator records them cancelled.
    for carrier, pickup in pickups.items():
        key = {"Idempotency-Key": f"cancel-{carrier}-{uuid.uuid4().hex[:8]}"}
        cancelled = call("DELETE", gateway.url(f"/v1/pickups/{pickup['id']}"), {**headers, **key})
        assert cancelled.status_code == 200, cancelled.text
        assert (cancelled.json()["state"], cancelled.json()["confirmation"]) == (
            "cancelled",
            pickup["confirmation"],
        )
        assert cancelled.json()["cancelled_at"]
        [booked_at_carrier] = simulator._call("GET", "/_sim/warehouse", params={"carrier": carrier})[
            "pickups"
        ]
        assert (booked_at_carrier["confirmation"], booked_at_carrier["cancelled"]) == (
            pickup["confirmation"],
            True,
        )
        assert booked_at_carrier["cancelled_at"]
    states = call("GET", gateway.url("/v1/pickups"), headers, params={"state": "cancelled"}).json()["data"]
    assert sorted(p["id"] for p in states) == sorted(p["id"] for p in pickups.values())

    # Close the day, carrier by carrier: each manifest lists exactly that carrier's labels.
    for carrier in ("ups", "dhl_express", "fedex", "usps"):
        closed = close_day(gateway, headers, carrier)
        assert closed.status_code == 201, closed.text
        [manifest] = closed.json()["data"]
        expected = sorted(s["tracking_number"] for s in bought[carrier])
        assert manifest["state"] == "closed" and manifest["carrier"] == carrier
        assert sorted(s["tracking_number"] for s in manifest["shipments"]) == expected
        assert manifest["shipment_count"] == len(expected)
        assert sorted(s["shipment_id"] for s in manifest["shipments"]) == sorted(
            s["id"] for s in bought[carrier]
        )
        again = call("GET", gateway.url(f"/v1/manifests/{manifest['id']}"), headers)
        assert again.status_code == 200 and len(again.json()["shipments"]) == len(expected)
        pdf = call("GET", gateway.url(f"/v1/manifests/{manifest['id']}/document"), headers)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-"), pdf.text[:200]
        carrier_doc = call(
            "GET",
            gateway.url(f"/v1/manifests/{manifest['id']}/document"),
            headers,
            params={"source": "carrier"},
        )
        if carrier in ("fedex", "usps"):
            assert manifest["kind"] == "carrier" and manifest["carrier_document"], manifest
            assert carrier_doc.status_code == 200 and carrier_doc.content.startswith(b"%PDF-"), (
                carrier_doc.text[:200]
            )
        else:
            assert manifest["kind"] == "gateway" and manifest["carrier_document"] is None
            assert carrier_doc.status_code == 404
            assert carrier_doc.json()["type"].endswith("manifest-document-unavailable")
        # Nothing new since: a second close of the day is refused.
        empty = close_day(gateway, headers, carrier)
        assert empty.status_code == 409, empty.text
        assert empty.json()["type"].endswith("manifest-empty")

    # At the carriers: FedEx closed the Ground label only; USPS put both labels on one SCAN form.
    closes = simulator._call("GET", "/_sim/warehouse")["closes"]
    fedex_closes = [c for c in closes if c["carrier"] == "fedex" and c["account"] == FEDEX_ACCOUNT]
    assert [c["tracking_numbers"] for c in fedex_closes] == [[fedex_ground]]
    usps_closes = [c for c in closes if c["carrier"] == "usps"]
    usps_numbers = sorted(s["tracking_number"] for s in bought["usps"])
    [form] = [c for c in usps_closes if sorted(c["tracking_numbers"]) == usps_numbers]
    manifests = call("GET", gateway.url("/v1/manifests"), headers, params={"carrier": "usps"}).json()["data"]
    assert [m["carrier_reference"] for m in manifests] == [form["reference"]]

    # Addresses: a residential and a commercial address, through each carrier that validates.
    for carrier in ("ups", "fedex", "usps"):
        for address, expected in ((RESIDENTIAL, "residential"), (COMMERCIAL, "commercial")):
            answer = call(
                "POST",
                gateway.url("/v1/addresses/validate"),
                headers,
                json={"carrier": carrier, "address": address},
            )
            assert answer.status_code == 200, answer.text
            result = answer.json()
            assert (result["adapter"], result["classification"], result["valid"]) == (carrier, expected, True)
            assert result["address"]["residential"] is (expected == "residential")
            assert result["address"]["postal_code"].startswith(address["postal_code"] + "-")
