"""Tracking pushes: Track Alert webhooks with UPS's credential, signed DHL and fleet callbacks."""

from __future__ import annotations

import hashlib
import hmac
import json
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from simulator import driver, push
from tests.unit.simulator.sim_payloads import dhl_ship, ups_ship_body


class Recorder:
    """Stands in for requests.post and remembers what would have gone over the wire."""

    def __init__(self, status: int = 200) -> None:
        self.calls: list[dict[str, Any]] = []
        self.status = status

    def __call__(self, url: str, **kwargs: Any) -> SimpleNamespace:
        self.calls.append({"url": url, **kwargs})
        if kwargs.get("auth"):
            return SimpleNamespace(
                status_code=200,
                raise_for_status=lambda: None,
                json=lambda: {"access_token": "customer-token", "expires_in": 3600},
            )
        if self.status == 0:
            raise requests.ConnectionError("refused")
        return SimpleNamespace(status_code=self.status)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(call["data"]) for call in self.calls if isinstance(call.get("data"), bytes)]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def push_app(make_app, recorder):
    """An app whose pusher posts into the recorder instead of the network."""

    def build(**overrides: Any):
        app = make_app(**overrides)
        sim = app.extensions["handoff_simulator"]
        app.extensions["handoff_simulator_pusher"] = push.Pusher(
            sim, post=recorder, wall=lambda: 1_700_000_000.0
        )
        return app

    return build


def _buy_and_subscribe(client, headers, version="v2", destination=None):
    reply = client.post("/api/shipments/v2409/ship", json=ups_ship_body(), headers=headers)
    number = reply.json["ShipmentResponse"]["ShipmentResults"]["ShipmentIdentificationNumber"]
    body: dict[str, Any] = {"locale": "en_US", "countryCode": "US", "trackingNumberList": [number]}
    if version == "v1":
        body["destination"] = destination
        client.post("/api/track/v1/subscription/standard/package", json=body, headers=headers)
    else:
        client.post("/api/track/v2/subscription/standard/package", json=body, headers=headers)
    return number


def _headers(client):
    from tests.unit.simulator.sim_support import basic

    token = client.post(
        "/security/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic("sim-ups-client", "sim-ups-secret")},
    ).json["access_token"]
    return {"Authorization": f"Bearer {token}", "transId": "t", "transactionSrc": "tests"}


def test_subscribed_ups_packages_get_every_new_event_once_with_the_credential_header(push_app, recorder):
    app = push_app(callback_url="http://gw/webhooks/{carrier}", ups_webhook_credential="opaque-123")
    client = app.test_client()
    number = _buy_and_subscribe(client, _headers(client))
    client.post("/_sim/clock", json={"advance_hours": 30})
    sent = client.post("/_sim/push/tick").json["sent"]
    assert client.post("/_sim/push/tick").json["sent"] == 0  # nothing is pushed twice
    bodies = recorder.bodies()
    assert sent == len(bodies) == 8
    assert [b["activityStatus"]["code"] for b in bodies] == ["MP", "OR", "DP", "AR", "DP", "YP", "OT", "FS"]
    assert {call["url"] for call in recorder.calls} == {"http://gw/webhooks/ups"}
    headers = recorder.calls[0]["headers"]
    assert headers["credential"] == "opaque-123"
    assert headers["User-Agent"] == "UPSPubSubTrackingService"
    assert all(b["trackingNumber"] == number for b in bodies)
    delivered = bodies[-1]
    assert delivered["activityStatus"]["type"] == "D" and delivered["actualDeliveryDate"]


def test_unsubscribed_packages_are_not_pushed_unless_configured(push_app, recorder):
    app = push_app(callback_url="http://gw/hook")
    client = app.test_client()
    client.post("/api/shipments/v2409/ship", json=ups_ship_body(), headers=_headers(client))
    client.post("/_sim/clock", json={"advance_hours": 30})
    assert client.post("/_sim/push/tick").json["sent"] == 0
    app.extensions["handoff_simulator"].config = app.extensions["handoff_simulator"].config.replace(
        ups_push_unsubscribed=True
    )
    assert client.post("/_sim/push/tick").json["sent"] == 8


def test_track_alert_sends_no_history_from_before_the_subscription(push_app, recorder):
    app = push_app(callback_url="http://gw/hook")
    client = app.test_client()
    headers = _headers(client)
    reply = client.post("/api/shipments/v2409/ship", json=ups_ship_body(), headers=headers)
    number = reply.json["ShipmentResponse"]["ShipmentResults"]["ShipmentIdentificationNumber"]
    client.post("/_sim/clock", json={"advance_hours": 10})
    client.post(
        "/api/track/v2/subscription/standard/package",
        json={"locale": "en_US", "trackingNumberList": [number]},
        headers=headers,
    )
    client.post("/_sim/clock", json={"advance_hours": 20})
    client.post("/_sim/push/tick")
    assert [b["activityStatus"]["code"] for b in recorder.bodies()] == ["DP", "YP", "OT", "FS"]


def test_a_v1_subscription_pushes_to_its_own_url_with_its_own_credential(push_app, recorder):
    app = push_app(callback_url="http://gw/default")
    client = app.test_client()
    _buy_and_subscribe(
        client,
        _headers(client),
        version="v1",
        destination={"url": "http://gw/v1hook", "credentialType": "Bearer", "credential": "sub-cred"},
    )
    client.post("/_sim/push/tick")
    assert recorder.calls[0]["url"] == "http://gw/v1hook"
    assert recorder.calls[0]["headers"]["credential"] == "sub-cred"


def test_v2_oauth_pushes_fetch_a_token_from_the_customer_and_send_it_as_bearer(push_app, recorder):
    app = push_app(
        callback_url="http://gw/hook",
        ups_push_auth="oauth",
        ups_webhook_token_url="http://gw/oauth/token",
        ups_webhook_client_id="wh-id",
        ups_webhook_client_secret="wh-secret",
    )
    client = app.test_client()
    _buy_and_subscribe(client, _headers(client))
    client.post("/_sim/clock", json={"advance_hours": 4})
    client.post("/_sim/push/tick")
    token_call, first_push = recorder.calls[0], recorder.calls[1]
    assert token_call["url"] == "http://gw/oauth/token"
    assert token_call["auth"] == ("wh-id", "wh-secret")
    assert token_call["data"] == {"grant_type": "client_credentials"}
    assert first_push["headers"]["Authorization"] == "Bearer customer-token"
    assert first_push["headers"]["x-api-key"] == "wh-id"
    assert sum(1 for call in recorder.calls if call.get("auth")) == 1  # the token is cached


def test_failed_deliveries_are_logged_and_not_retried_like_track_alert(push_app):
    failing = Recorder(status=0)
    app = push_app(callback_url="http://gw/hook")
    sim = app.extensions["handoff_simulator"]
    app.extensions["handoff_simulator_pusher"] = push.Pusher(sim, post=failing)
    client = app.test_client()
    _buy_and_subscribe(client, _headers(client))
    client.post("/_sim/push/tick")
    log = client.get("/_sim/pushes?kind=ups").json["pushes"]
    assert len(log) == 1 and log[0]["status"] is None and "refused" in log[0]["error"]
    assert client.post("/_sim/push/tick").json["sent"] == 0


def test_dhl_pushes_are_hmac_signed_over_timestamp_and_body(push_app, recorder):
    app = push_app(callback_url="http://gw/webhooks/{carrier}", dhl_push_secret="dhl-secret")
    client = app.test_client()
    client.post("/sndpt/expressRateBook", data=dhl_ship(reference="shp_5"), content_type="text/xml")
    client.post("/_sim/clock", json={"advance_hours": 30})
    client.post("/_sim/push/tick")
    codes = [b["event"]["code"] for b in recorder.bodies()]
    assert codes[0] == "PU" and codes[-1] == "OK"
    call = recorder.calls[0]
    assert call["url"] == "http://gw/webhooks/dhl_express"
    timestamp = call["headers"]["X-Sim-Timestamp"]
    expected = hmac.new(b"dhl-secret", timestamp.encode() + b"." + call["data"], hashlib.sha256).hexdigest()
    assert call["headers"]["X-Sim-Signature"] == f"sha256={expected}"
    assert recorder.bodies()[0]["reference"] == "shp_5"


def test_without_a_secret_dhl_is_poll_only(push_app, recorder):
    app = push_app(callback_url="http://gw/hook")
    client = app.test_client()
    client.post("/sndpt/expressRateBook", data=dhl_ship(), content_type="text/xml")
    client.post("/_sim/clock", json={"advance_hours": 30})
    assert client.post("/_sim/push/tick").json["sent"] == 0


def test_the_configured_share_of_shipments_hits_exceptions_with_real_codes(make_app):
    app = make_app(exception_share=1.0)
    client = app.test_client()
    headers = _headers(client)
    for index in range(12):
        client.post("/api/shipments/v2409/ship", json=ups_ship_body(reference=f"u{index}"), headers=headers)
        client.post("/sndpt/expressRateBook", data=dhl_ship(reference=f"d{index}"), content_type="text/xml")
    client.post("/_sim/clock", json={"advance_hours": 30})
    sim = app.extensions["handoff_simulator"]
    ups_codes, dhl_codes = set(), set()
    for label in sim.ledger.all():
        steps = {(step.type, step.code) for _, step in sim.events_so_far(label)}
        assert label.scenario != "normal"
        (ups_codes if label.carrier == "ups" else dhl_codes).update(steps)
    assert ("X", "UR") in ups_codes or ("X", "SR") in ups_codes
    assert {code for _, code in dhl_codes} & {"NH", "CA", "BA", "CD"}


def test_no_exceptions_when_the_share_is_zero(make_app):
    app = make_app(exception_share=0.0)
    client = app.test_client()
    headers = _headers(client)
    for index in range(10):
        client.post("/api/shipments/v2409/ship", json=ups_ship_body(reference=f"u{index}"), headers=headers)
    assert {label.scenario for label in app.extensions["handoff_simulator"].ledger.all()} == {"normal"}


def _driver_schema():
    import jsonschema

    from tests.unit.simulator.sim_support import REPO_ROOT

    path = REPO_ROOT / "schemas" / "json" / "driver_event.schema.json"
    return jsonschema.Draft202012Validator(
        json.loads(path.read_text()), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


ROUTE = {
    "route_id": "r1",
    "driver_id": "d1",
    "vehicle_id": "v1",
    "depot": {"latitude": 52.5, "longitude": 13.4},
    "stops": [
        {"tracking_number": "FLT0001", "latitude": 52.51, "longitude": 13.41, "one_time_code": "482913"},
        {"tracking_number": "FLT0002", "latitude": 52.52, "longitude": 13.42, "outcome": "attempt"},
    ],
}


def test_a_fleet_route_pushes_signed_driver_batches_through_the_day(push_app, recorder):
    app = push_app(fleet_callback_url="http://gw/fleet", exception_share=0.0)
    client = app.test_client()
    assert client.post("/_sim/fleet/routes", json=ROUTE).status_code == 201
    client.post("/_sim/clock", json={"advance_hours": 1.2})
    client.post("/_sim/push/tick")
    client.post("/_sim/clock", json={"advance_hours": 3})
    client.post("/_sim/push/tick")
    assert client.post("/_sim/push/tick").json["sent"] == 0
    batches = recorder.bodies()
    assert len(batches) == 2  # what happened before each sync, once
    events = [event for batch in batches for event in batch["events"]]
    assert [(e["type"], e["tracking_number"]) for e in events] == [
        ("loaded", "FLT0001"),
        ("loaded", "FLT0002"),
        ("out_for_delivery", "FLT0001"),
        ("out_for_delivery", "FLT0002"),
        ("arrived", "FLT0001"),
        ("delivered", "FLT0001"),
        ("arrived", "FLT0002"),
        ("attempt", "FLT0002"),
        ("returned_to_depot", "FLT0002"),
    ]
    delivered = events[5]
    assert delivered["delivery"]["one_time_code"] == "482913"
    assert delivered["position"] == {"lat": 52.51, "lon": 13.41, "accuracy_m": 8.0}
    assert events[7]["attempt"]["reason"] in driver.ATTEMPT_REASONS
    assert len({e["event_id"] for e in events}) == len(events)
    call = recorder.calls[0]
    assert call["headers"]["X-Sim-Signature"] == push.sign(
        "sim-fleet-secret", call["headers"]["X-Sim-Timestamp"], call["data"]
    )


def test_driver_batches_conform_to_the_driver_event_schema(make_app):
    validator = _driver_schema()
    app = make_app(exception_share=0.5)
    client = app.test_client()
    route = dict(
        ROUTE,
        stops=[
            {"tracking_number": f"FLT{i:04d}", "latitude": 52.5 + i / 100, "longitude": 13.4}
            for i in range(12)
        ],
    )
    events = client.post("/_sim/fleet/routes", json=route).json["events"]
    assert {"attempt", "delivered"} <= {e["type"] for e in events}
    errors = list(validator.iter_errors(driver.build_batch(events, device_id="sim-d1")))
    assert not errors, [e.message for e in errors[:5]]


@pytest.mark.parametrize(
    "route",
    [
        {"driver_id": "d", "stops": [{"tracking_number": "FLT1", "latitude": 1, "longitude": 2}]},
        {"route_id": "r", "driver_id": "d", "stops": []},
        {"route_id": "r", "driver_id": "d", "stops": [{"tracking_number": "FLT1"}]},
        {
            "route_id": "r",
            "driver_id": "d",
            "stops": [{"tracking_number": "FLT1", "latitude": 1, "longitude": 2, "outcome": "lost"}],
        },
        {
            "route_id": "r",
            "driver_id": "d",
            "stops": [{"tracking_number": "FLT1", "latitude": 1, "longitude": 2, "reason": "dog"}],
        },
    ],
)
def test_bad_fleet_routes_are_refused(client, route):
    assert client.post("/_sim/fleet/routes", json=route).status_code == 400


def test_unknown_driver_event_types_and_missing_positions_are_refused():
    from datetime import UTC, datetime

    common = {
        "route_id": "r",
        "driver_id": "d",
        "vehicle_id": None,
        "tracking_number": "FLT1",
        "occurred_at": datetime(2026, 11, 20, tzinfo=UTC),
        "stop_sequence": 1,
        "event_number": 1,
        "seed": 0,
    }
    with pytest.raises(ValueError, match="unknown driver event type"):
        driver.build_driver_event(event_type="teleported", **common)
    with pytest.raises(ValueError, match="needs a position"):
        driver.build_driver_event(event_type="delivered", **common)
