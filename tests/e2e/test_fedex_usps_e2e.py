"""FedEx and USPS end to end over real HTTP against the carrier simulator, through the public API only.

For each: rate, label (sold once, on the configured account, in the simulator's ledger), void, and
tracking both ways: a push signed as the carrier signs it (FedEx ``fdx-signature`` over the body, USPS
``X-HMAC`` over timestamp + payload) and a poll, which agree on every event. The stack is conftest's
(gateway HTTP server, worker process, scheduler loop); this module starts its own simulator (seed 1711)
and adds a FedEx and a USPS account to ``CARRIERS``, FedEx's push secret to ``CALLBACK_SECRETS``,
and lets the gateway subscribe the USPS account to its pushes (Subscriptions - Tracking, by MID).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from gateway.tracking import callbacks, push_subscriptions
from gateway.tracking.tables import PushSubscription
from tests.e2e import conftest as e2e
from tests.e2e.conftest import LiveGateway, SimulatorServer
from tests.helpers import shipment_body

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SEED = 1711
FEDEX_CLIENT_ID, FEDEX_CLIENT_SECRET = "e2e-fedex-client", "e2e-fedex-secret-0123"
FEDEX_SECURITY_TOKEN = "e2e-fedex-webhook-security-token-0123"
FEDEX_ACCOUNT = str(random.randrange(10**8, 10**9))
USPS_CLIENT_ID, USPS_CLIENT_SECRET = "e2e-usps-client", "e2e-usps-secret-0123"
USPS_WEBHOOK_SECRET = "e2e-usps-webhook-secret-01234567"  # 32 characters, as USPS's
USPS_ACCOUNT = str(random.randrange(10**9, 10**10))
SECRETS = (FEDEX_CLIENT_SECRET, FEDEX_SECURITY_TOKEN, USPS_CLIENT_SECRET, USPS_WEBHOOK_SECRET)
# Scans each carrier's simulated progression has by the time the test looks (no exceptions).
DELIVERED_SCANS = {"fedex": 8, "usps": 8}


def fedex_usps_carriers(simulator_url: str) -> list[dict[str, Any]]:
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
                "webhook_security_token": FEDEX_SECURITY_TOKEN,
                "timeout_seconds": 5,
            },
        },
        {
            "adapter": "usps",
            "config": {
                "client_id": USPS_CLIENT_ID,
                "client_secret": USPS_CLIENT_SECRET,
                "crid": "56982563",
                "mid": "904128936",
                "account_number": USPS_ACCOUNT,
                "base_url": f"{simulator_url}/usps",
                "webhook_secret": USPS_WEBHOOK_SECRET,
                "admin_emails": ["ops@handoff.example"],
                "allow_http_listener": True,  # the simulator takes the test gateway's plain http
                "timeout_seconds": 5,
            },
        },
    ]


ORIGINAL_CARRIERS_FOR = e2e.carriers_for


@pytest.fixture(scope="module")
def simulator(
    e2e_ports: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimulatorServer]:
    """This module's simulator; while it runs, conftest's gateway is configured with the FedEx account."""
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
            "--fedex-security-token",
            FEDEX_SECURITY_TOKEN,
            "--usps-client-id",
            USPS_CLIENT_ID,
            "--usps-client-secret",
            USPS_CLIENT_SECRET,
            "--usps-webhook-secret",
            USPS_WEBHOOK_SECRET,
            "--day-seconds",
            "86400",  # real speed: the test moves time explicitly
            "--exception-share",
            "0",
            "--push-interval",
            "3600",  # the test pushes explicitly with tick()
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
        patch.setattr(e2e, "carriers_for", fedex_usps_carriers)
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


@pytest.fixture(scope="module")
def live_gateway(live_gateway: LiveGateway) -> LiveGateway:
    """conftest's gateway, accepting FedEx pushes signed with the account's security token. USPS pushes
    need no shared secret: the gateway subscribes the USPS account itself (``PUBLIC_BASE_URL`` is where
    the subscription posts), and the account's own ``webhook_secret`` verifies what it brings."""
    secrets = {**callbacks.secrets_for(live_gateway.container.settings), "fedex": FEDEX_SECURITY_TOKEN}
    secrets.pop("usps", None)
    live_gateway.container.settings["CALLBACK_SECRETS"] = secrets
    live_gateway.app.config["CALLBACK_SECRETS"] = secrets
    live_gateway.container.settings["PUBLIC_BASE_URL"] = live_gateway.base_url
    live_gateway.app.config["PUBLIC_BASE_URL"] = live_gateway.base_url
    return live_gateway


def usps_subscription(gateway: LiveGateway) -> PushSubscription:
    """The row of this gateway's USPS account (the operator's, from CARRIERS)."""
    carriers = gateway.container.carriers
    key = next(k for k in carriers if carriers.get(k).name == "usps")
    with gateway.container.sessions() as session:
        row = session.execute(
            sa.select(PushSubscription).where(
                PushSubscription.carrier == "usps", PushSubscription.account_key == key
            )
        ).scalar_one()
        session.expunge(row)
        return row


def subscribe_accounts(gateway: LiveGateway) -> dict[str, int]:
    """Run the scheduled ``keep_push_subscriptions`` job's body now, in this process."""
    container = gateway.container
    with container.sessions() as session:
        counts = push_subscriptions.run(session, container)
        session.commit()
        assert counts is not None, "PUBLIC_BASE_URL is set"
        return counts


def call(method: str, url: str, headers: dict[str, str], **kwargs: Any) -> requests.Response:
    return requests.request(method, url, headers=headers, timeout=60, **kwargs)


def booking(reference: str) -> dict[str, Any]:
    body = shipment_body(reference=reference)
    body["origin"]["phone"] = "+1 201-555-0100"
    body["destination"]["phone"] = "+1 212-555-0199"
    return body


def buy_label(gateway: LiveGateway, headers: dict[str, str], carrier: str) -> dict[str, Any]:
    """Book a shipment, choose the carrier's live rate, buy the label; return the purchased shipment."""
    created = call(
        "POST", gateway.url("/v1/shipments"), headers, json=booking(f"E2E-{carrier}-{uuid.uuid4().hex[:6]}")
    )
    assert created.status_code == 201, created.text
    shipment = created.json()
    live = [r for r in shipment["rates"]["rates"] if r["carrier"] == carrier and r["source"] == "live"]
    assert live, f"no live {carrier} rate: {shipment['rates']}"
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


def timeline(gateway: LiveGateway, headers: dict[str, str], shipment_id: str) -> dict[str, Any]:
    response = call("GET", gateway.url(f"/v1/shipments/{shipment_id}/events"), headers)
    assert response.status_code == 200, response.text
    return response.json()


def sold_for(simulator: SimulatorServer, shipment_id: str) -> list[dict[str, Any]]:
    return [label for label in simulator.ledger()["labels"] if label["reference"] == shipment_id]


def pushed_number(carrier: str, payload: dict[str, Any]) -> str:
    """The tracking number a push is about (FedEx: a track result; USPS: a detail inside ``payload``)."""
    if carrier == "fedex":
        return str(payload["trackingNumberInfo"]["trackingNumber"])
    return str(json.loads(payload["payload"])["trackingNumber"])


CASES = {
    # carrier: (account, services that must be offered, the delivered code)
    "fedex": (FEDEX_ACCOUNT, {"FEDEX_GROUND", "PRIORITY_OVERNIGHT"}, "DL"),
    "usps": (USPS_ACCOUNT, {"USPS_GROUND_ADVANTAGE", "PRIORITY_MAIL"}, "01"),
}


@pytest.mark.parametrize("carrier", sorted(CASES))
def test_rate_label_void_and_tracking_by_push_and_poll_over_real_http(
    live_gateway: LiveGateway, simulator: SimulatorServer, carrier: str
) -> None:
    gateway = live_gateway
    headers = gateway.tenant(("platform", "ops")).headers
    account, services, delivered_code = CASES[carrier]

    # Rate shopping asks the carrier live, beside the other carriers.
    body = booking(f"E2E-{carrier}-RATES")
    shopped = call(
        "POST",
        gateway.url("/v1/rates"),
        headers,
        json={k: body[k] for k in ("origin", "destination", "parcels")},
    )
    assert shopped.status_code == 200, shopped.text
    live = [r for r in shopped.json()["rates"] if r["carrier"] == carrier and r["source"] == "live"]
    assert {r["service_code"] for r in live} >= services, shopped.json()
    assert not [e for e in shopped.json()["errors"] if e["carrier"] == carrier]

    if carrier == "usps":
        # The USPS account's standing subscription (by MID) is made once; a second run only checks it.
        # (Rows of earlier modules' accounts may be dropped or fail beside it: the counts are of all.)
        assert subscribe_accounts(gateway)["created"] >= 1
        made = usps_subscription(gateway)
        assert made.status == "enabled" and made.listener_url == gateway.url("/v1/callbacks/usps")
        assert subscribe_accounts(gateway)["created"] == 0
        assert usps_subscription(gateway).subscription_id == made.subscription_id

    # Labels: each sold exactly once, on our account, under the shipment's id.
    pushed_one, polled_one, voided_one = (buy_label(gateway, headers, carrier) for _ in range(3))
    for shipment in (pushed_one, polled_one, voided_one):
        sold = sold_for(simulator, shipment["id"])
        assert [(s["carrier"], s["account"], s["tracking_number"]) for s in sold] == [
            (carrier, account, shipment["tracking_number"])
        ]
        document = call("GET", gateway.url(f"/v1/shipments/{shipment['id']}/label"), headers)
        assert document.status_code == 200 and document.content
    assert simulator.ledger()["duplicate_references"] == {}

    # Void before the carrier has the parcel: cancelled there, recorded in the simulator's ledger.
    voided = call("POST", gateway.url(f"/v1/shipments/{voided_one['id']}/void"), headers, json={})
    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "voided"
    assert [s["voided"] for s in sold_for(simulator, voided_one["id"])] == [True]

    # A simulated day and more later: one shipment is polled, then every event is pushed, signed.
    simulator.advance(hours=30)
    refreshed = call(
        "POST", gateway.url(f"/v1/shipments/{polled_one['id']}/tracking/refresh"), headers, json={}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["milestone"] == "delivered"
    polled_events = timeline(gateway, headers, polled_one["id"])["events"]

    simulator.tick()

    def pushes_for(shipment: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            p
            for p in simulator.pushes(carrier)
            if pushed_number(carrier, p["payload"]) == shipment["tracking_number"]
        ]

    mine = pushes_for(pushed_one)
    assert len(mine) == DELIVERED_SCANS[carrier], mine
    assert all(200 <= (p["status"] or 0) < 300 for p in mine), mine
    if carrier == "usps":  # each one through the subscription the gateway made
        assert {p["payload"]["subscriptionId"] for p in mine} != {"sim-subscription"}
        assert len({p["payload"]["subscriptionId"] for p in mine}) == 1
    gateway.wait_for(
        lambda: timeline(gateway, headers, pushed_one["id"])["milestone"] == "delivered",
        120,
        f"{carrier} delivered by push; timeline now {timeline(gateway, headers, pushed_one['id'])}",
    )
    pushed_events = timeline(gateway, headers, pushed_one["id"])["events"]
    assert "webhook" in {e["source"] for e in pushed_events}
    assert pushed_events[-1]["raw"]["code"] == delivered_code

    # The polled shipment's events were pushed too: they are the same events, not new ones.
    polled_pushes = pushes_for(polled_one)
    assert len(polled_pushes) == DELIVERED_SCANS[carrier]
    assert all(200 <= (p["status"] or 0) < 300 for p in polled_pushes), polled_pushes
    again = timeline(gateway, headers, polled_one["id"])["events"]
    assert len(again) == len(polled_events)
    for events in (pushed_events, again):
        assert events[-1]["milestone"] == "delivered"
        assert all(e["carrier"] == carrier for e in events)
        assert not [e for e in events if e["unmapped"]], "every simulator code is mapped"

    # No credential in the kept exchanges or the worker's log.
    kept = call("GET", gateway.url(f"/v1/shipments/{pushed_one['id']}/carrier-exchanges"), headers).json()[
        "data"
    ]
    assert "label" in {x["operation"] for x in kept}
    dumped = json.dumps(kept)
    assert not any(secret in dumped for secret in SECRETS)
    gateway.container.exchange_recorder.flush()
    assert not any(secret in gateway.worker_log.read_text(errors="replace") for secret in SECRETS)


@pytest.mark.parametrize("carrier", sorted(CASES))
def test_a_failing_carrier_is_a_per_carrier_rate_error_and_the_others_still_answer(
    live_gateway: LiveGateway, simulator: SimulatorServer, carrier: str
) -> None:
    headers = live_gateway.tenant(("platform",)).headers
    body = booking(f"E2E-{carrier}-DOWN")
    body["parcels"][0]["weight"]["value"] = "3.3" if carrier == "fedex" else "3.9"  # not asked before
    simulator.faults({carrier: {"error_5xx": 1.0}}, seed=SEED)
    try:
        shopped = call(
            "POST",
            live_gateway.url("/v1/rates"),
            headers,
            json={k: body[k] for k in ("origin", "destination", "parcels")},
        )
    finally:
        simulator.clear_faults()
    assert shopped.status_code == 200, shopped.text
    answer = shopped.json()
    assert [e["carrier"] for e in answer["errors"]] == [carrier]
    assert answer["errors"][0]["code"] in {"unavailable", "timeout"}
    others = {r["carrier"] for r in answer["rates"] if r["source"] == "live"}
    assert carrier not in others and {"fedex", "usps", "ups"} - {carrier} <= others
