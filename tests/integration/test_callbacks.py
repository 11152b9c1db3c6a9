"""Carrier callbacks: each sender authenticated its own way, stored before the 2xx, normalised by a worker."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from gateway.jobs import worker
from gateway.kernel import models
from gateway.tracking import callbacks, tables
from tests.helpers import shipment_body

SECRETS = {"ups": "ups-shared-credential", "dhl_express": "dhl-hmac-key", "fleet": "fleet-hmac-key"}


@pytest.fixture(autouse=True)
def callback_secrets(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "CALLBACK_SECRETS", json.dumps(SECRETS))


def new_number(prefix: str = "1Z") -> str:
    return prefix + uuid.uuid4().hex[:14].upper()


def shipment_with_number(app: Any, client: Any, tenant: Any, carrier: str, number: str) -> str:
    """Book a shipment and give it a label's carrier and tracking number, as the label flow will."""
    created = client.post("/v1/shipments", json=shipment_body(), headers=tenant.headers)
    assert created.status_code == 201
    shipment_id = created.get_json()["id"]
    with app.extensions["handoff"].sessions() as session:
        shipment = session.get(models.Shipment, shipment_id)
        shipment.carrier, shipment.tracking_number, shipment.status = carrier, number, "purchased"
        session.commit()
    return shipment_id


def track_alert(number: str, type_: str = "I", code: str = "OT", when: str = "101500") -> dict[str, Any]:
    """A UPS Track Alert TrackingEventRequest as UPS sends it."""
    return {
        "trackingNumber": number,
        "localActivityDate": "20261120",
        "localActivityTime": when,
        "activityLocation": {"city": "SECAUCUS", "stateProvince": "NJ", "country": "US"},
        "activityStatus": {"type": type_, "code": code, "description": "Out For Delivery Today"},
        "gmtActivityDate": "20261120",
        "gmtActivityTime": when,
        "gmtOffset": "+00.00",
        "scheduledDeliveryDate": "20261121",
    }


def post_ups(client: Any, payload: dict[str, Any], credential: str = SECRETS["ups"]) -> Any:
    headers = {"credential": credential, "User-Agent": "UPSPubSubTrackingService"}
    return client.post(
        "/v1/callbacks/ups", data=json.dumps(payload), headers=headers, content_type="application/json"
    )


def post_signed(
    client: Any, carrier: str, payload: dict[str, Any], *, secret: str | None = None, stamp: int | None = None
) -> Any:
    body = json.dumps(payload, separators=(",", ":")).encode()
    timestamp = str(int(time.time()) if stamp is None else stamp)
    signature = callbacks.sign(secret or SECRETS[carrier], timestamp, body)
    headers = {"X-Handoff-Timestamp": timestamp, "X-Handoff-Signature": signature}
    return client.post(
        f"/v1/callbacks/{carrier}", data=body, headers=headers, content_type="application/json"
    )


def dhl_checkpoint(awb: str, code: str = "WC", clock: str = "08:30:00") -> dict[str, Any]:
    return {
        "carrier": "dhl_express",
        "awb": awb,
        "reference": "ORDER-1001",
        "event": {
            "date": "2026-11-20",
            "time": clock,
            "code": code,
            "description": "With delivery courier",
            "service_area": {"code": "NYC", "description": "NEW YORK - US"},
        },
    }


def inbox_rows(app: Any, needle: str) -> list[tables.CallbackInbox]:
    with app.extensions["handoff"].sessions() as session:
        rows = session.execute(sa.select(tables.CallbackInbox)).scalars().all()
        return [r for r in rows if needle.encode() in r.body]


def event_count(app: Any, number: str) -> int:
    with app.extensions["handoff"].sessions() as session:
        return session.execute(
            sa.select(sa.func.count()).where(tables.TrackingEvent.tracking_number == number)
        ).scalar_one()


def run_worker(app: Any) -> None:
    worker.run(app, burst=True, worker_class=SimpleWorker)


def test_a_valid_ups_push_is_in_the_inbox_before_the_answer_and_in_the_timeline_after_the_worker(
    app, client, platform
):
    number = new_number()
    shipment_id = shipment_with_number(app, client, platform, "ups", number)

    response = post_ups(client, track_alert(number))

    assert response.status_code == 202
    rows = inbox_rows(app, number)
    assert len(rows) == 1
    assert rows[0].state == "pending" and rows[0].carrier == "ups"
    assert json.loads(rows[0].body)["trackingNumber"] == number
    assert "credential" not in {h.lower() for h in rows[0].headers}
    assert event_count(app, number) == 0

    run_worker(app)

    timeline = client.get(f"/v1/shipments/{shipment_id}/events", headers=platform.headers).get_json()
    assert timeline["milestone"] == "out_for_delivery"
    assert timeline["estimated_delivery"] == "2026-11-21"
    [event] = timeline["events"]
    assert event["raw"] == {"code": "I", "subcode": "OT", "message": "Out For Delivery Today"}
    assert event["canonical"]["milestone"] == "out_for_delivery"
    assert inbox_rows(app, number)[0].state == "done"


def test_a_ups_push_with_a_wrong_credential_is_refused_and_nothing_is_stored(app, client):
    number = new_number()
    response = post_ups(client, track_alert(number), credential="guess")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("/callback-unauthenticated")
    assert inbox_rows(app, number) == []
    assert event_count(app, number) == 0


def test_a_signed_push_with_a_bad_signature_is_refused(app, client):
    awb = new_number("DHL")
    response = post_signed(client, "dhl_express", dhl_checkpoint(awb), secret="not-the-key")
    assert response.status_code == 401
    assert inbox_rows(app, awb) == []


def test_a_signed_push_with_a_stale_timestamp_is_refused(app, client):
    awb = new_number("DHL")
    response = post_signed(client, "dhl_express", dhl_checkpoint(awb), stamp=int(time.time()) - 3600)
    assert response.status_code == 401
    assert "seconds" in response.get_json()["detail"]
    assert inbox_rows(app, awb) == []


def test_a_replayed_signed_push_is_refused_and_stored_once(app, client, platform):
    awb = new_number("DHL")
    shipment_with_number(app, client, platform, "dhl_express", awb)
    payload = dhl_checkpoint(awb)
    body = json.dumps(payload, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    headers = {
        "X-Handoff-Timestamp": stamp,
        "X-Handoff-Signature": callbacks.sign(SECRETS["dhl_express"], stamp, body),
    }

    first = client.post(
        "/v1/callbacks/dhl_express", data=body, headers=headers, content_type="application/json"
    )
    again = client.post(
        "/v1/callbacks/dhl_express", data=body, headers=headers, content_type="application/json"
    )

    assert first.status_code == 202
    assert again.status_code == 401
    assert "replay" in again.get_json()["detail"]
    assert len(inbox_rows(app, awb)) == 1
    run_worker(app)
    assert event_count(app, awb) == 1


def test_the_same_carrier_event_delivered_twice_is_one_canonical_event(app, client, platform):
    number = new_number()
    shipment_id = shipment_with_number(app, client, platform, "ups", number)
    assert post_ups(client, track_alert(number)).status_code == 202
    assert post_ups(client, track_alert(number)).status_code == 202
    run_worker(app)
    assert post_ups(client, track_alert(number)).status_code == 202
    run_worker(app)

    assert len(inbox_rows(app, number)) == 3
    assert event_count(app, number) == 1
    timeline = client.get(f"/v1/shipments/{shipment_id}/events", headers=platform.headers).get_json()
    assert len(timeline["events"]) == 1


def test_an_unknown_carrier_has_no_callback_endpoint(client):
    response = client.post("/v1/callbacks/nowhere", json={"a": 1})
    assert response.status_code == 404


def test_a_signed_body_that_is_not_json_is_a_clear_400(app, client):
    stamp = str(int(time.time()))
    body = b"not json"
    headers = {
        "X-Handoff-Timestamp": stamp,
        "X-Handoff-Signature": callbacks.sign(SECRETS["fleet"], stamp, body),
    }
    response = client.post("/v1/callbacks/fleet", data=body, headers=headers, content_type="application/json")
    assert response.status_code == 400


def test_a_push_whose_drain_job_was_lost_is_picked_up_by_the_sweep(app, platform, client):
    from datetime import timedelta

    from gateway.kernel.types import utcnow
    from gateway.tracking import jobs as jobs_tracking

    number = new_number()
    shipment_id = shipment_with_number(app, client, platform, "ups", number)
    container = app.extensions["handoff"]
    with container.sessions() as session:
        session.add(
            tables.CallbackInbox(
                carrier="ups",
                headers={},
                body=json.dumps(track_alert(number)).encode(),
                state="pending",
                attempts=0,
                received_at=utcnow() - timedelta(minutes=5),
            )
        )
        session.commit()
    container.redis.set(callbacks.DRAIN_FLAG, "1", ex=60)  # as if a job had been queued, then lost

    worker.set_app(app)
    assert jobs_tracking.sweep_inbox() >= 1
    run_worker(app)

    timeline = client.get(f"/v1/shipments/{shipment_id}/events", headers=platform.headers).get_json()
    assert timeline["milestone"] == "out_for_delivery"
