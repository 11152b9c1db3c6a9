"""Polling carriers without push, at a rate that depends on the shipment's derived state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses

from adapters import base
from gateway import wiring
from gateway.jobs import registry, scheduler
from gateway.tracking import polling, tables
from schemas import carrier
from tests.helpers import shipment_body
from tests.integration.test_callbacks import new_number, run_worker, shipment_with_number

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


class PollOnlyCarrier:
    """A DHL-like adapter that can be polled and does not push; its script is what the carrier knows."""

    name = "dhl_express"

    def __init__(self, number: str) -> None:
        self.number = number  # other tests' shipments get an outage, so their timelines stay untouched
        self.script: list[tuple[str, datetime]] = []
        self.calls: list[str] = []
        self.down = False

    def supports(self, capability: base.Capability) -> bool:
        return capability is base.Capability.TRACK_POLL

    def track(self, request: carrier.TrackRequest, *, timeout: float | None = None) -> carrier.TrackResult:
        self.calls.append(request.tracking_number)
        if self.down or request.tracking_number != self.number:
            raise base.CarrierUnavailable("dhl_express", "tracking endpoint timed out")
        events = tuple(
            carrier.RawTrackingEvent(
                carrier="dhl_express",
                tracking_number=request.tracking_number,
                code=code,
                subcode=None,
                description=code,
                occurred_at=when,
                source_event_id=f"{request.tracking_number}:{code}:{when.isoformat()}",
            )
            for code, when in self.script
        )
        return carrier.TrackResult("dhl_express", request.tracking_number, events)


class Registry:
    def __init__(self, *adapters: Any) -> None:
        self._adapters = {a.name: a for a in adapters}

    def __iter__(self) -> Any:
        return iter(self._adapters)

    def get(self, key: str) -> Any:
        return self._adapters[key]


def poll(app: Any, registry: Registry, now: datetime) -> None:
    with app.extensions["handoff"].sessions() as session:
        polling.poll_due(session, registry, now=now, limit=100_000)
        session.commit()


def status(app: Any, shipment_id: str) -> tables.ShipmentTracking:
    with app.extensions["handoff"].sessions() as session:
        return session.get(tables.ShipmentTracking, shipment_id)


def test_a_shipment_is_polled_faster_when_out_for_delivery_and_never_after_delivery(app, client, platform):
    awb = new_number("DHL")
    shipment_id = shipment_with_number(app, client, platform, "dhl_express", awb)
    dhl = PollOnlyCarrier(awb)
    registry = Registry(dhl)

    dhl.script = [("PU", T0)]
    poll(app, registry, T0 + timedelta(minutes=5))
    row = status(app, shipment_id)
    assert row.milestone == "in_transit"
    assert row.next_poll_at == T0 + timedelta(minutes=5) + timedelta(hours=2)

    dhl.calls.clear()
    poll(app, registry, T0 + timedelta(hours=1))
    assert awb not in dhl.calls  # not due yet

    dhl.script.append(("WC", T0 + timedelta(hours=2)))
    poll(app, registry, T0 + timedelta(hours=3))
    row = status(app, shipment_id)
    assert row.milestone == "out_for_delivery"
    assert row.next_poll_at == T0 + timedelta(hours=3, minutes=30)

    dhl.script.append(("OK", T0 + timedelta(hours=3, minutes=10)))
    poll(app, registry, T0 + timedelta(hours=4))
    row = status(app, shipment_id)
    assert row.milestone == "delivered" and row.next_poll_at is None

    dhl.calls.clear()
    poll(app, registry, T0 + timedelta(days=3))
    assert awb not in dhl.calls


def test_a_carrier_outage_retries_that_shipment_soon_without_failing_the_round(app, client, platform):
    awb = new_number("DHL")
    shipment_id = shipment_with_number(app, client, platform, "dhl_express", awb)
    dhl = PollOnlyCarrier(awb)
    dhl.down = True
    poll(app, Registry(dhl), T0)
    row = status(app, shipment_id)
    assert row.milestone == "pending"
    assert row.next_poll_at == T0 + timedelta(minutes=15)


@pytest.mark.parametrize(
    "target",
    [
        "gateway.tracking.jobs.poll_carriers",
        "gateway.tracking.jobs.sweep_inbox",
        "gateway.exchanges.jobs.purge_expired",
    ],
)
def test_the_scheduler_runs_polling_the_inbox_sweep_and_exchange_retention(app, target):
    task = next(t for t in wiring.TASKS if registry.name_of(t.target) == target)
    assert task.seconds <= 3600
    job = scheduler.run_once(app.extensions["handoff"], task)
    run_worker(app)
    assert job.get_status(refresh=True) == "finished", job.exc_info


class PushCarrier(PollOnlyCarrier):
    """A UPS-like adapter: it pushes once subscribed (Track Alert, 14 days) and can also be polled."""

    name = "ups"

    def __init__(self, number: str) -> None:
        super().__init__(number)
        self.subscribed: list[str] = []

    def supports(self, capability: base.Capability) -> bool:
        return capability in (base.Capability.TRACK_POLL, base.Capability.TRACK_PUSH)

    def subscribe_tracking(
        self, numbers: Any, *, timeout: float | None = None
    ) -> tuple[list[str], list[str]]:
        self.subscribed.extend(numbers)
        return [n for n in numbers if n == self.number], [n for n in numbers if n != self.number]

    def track(self, request: carrier.TrackRequest, *, timeout: float | None = None) -> carrier.TrackResult:
        self.calls.append(request.tracking_number)
        events = tuple(
            carrier.RawTrackingEvent(
                carrier="ups",
                tracking_number=request.tracking_number,
                code=code.split("/")[0],
                subcode=code.split("/")[1],
                description=code,
                occurred_at=when,
            )
            for code, when in self.script
        )
        return carrier.TrackResult("ups", request.tracking_number, events)


def test_a_pushing_carrier_is_subscribed_with_its_history_fetched_once_and_renewed_before_it_lapses(
    app, client, platform
):
    number = new_number()
    shipment_id = shipment_with_number(app, client, platform, "ups", number)
    ups = PushCarrier(number)
    ups.script = [("M/MP", T0)]
    registry = Registry(ups)

    poll(app, registry, T0 + timedelta(minutes=5))

    assert ups.subscribed.count(number) == 1
    assert ups.calls.count(number) == 1  # Track Alert sends no history: it is fetched once
    row = status(app, shipment_id)
    assert row.milestone == "info_received"
    assert row.next_poll_at == T0 + timedelta(minutes=5) + timedelta(days=13)

    poll(app, registry, T0 + timedelta(days=1))
    assert ups.subscribed.count(number) == 1

    poll(app, registry, T0 + timedelta(days=13, minutes=5))
    assert ups.subscribed.count(number) == 2  # renewed a day before the 14-day subscription lapses
    assert ups.calls.count(number) == 1


def test_tracking_starts_once_when_the_label_is_bought(app, client, platform):
    number = new_number()
    shipment_id = shipment_with_number(app, client, platform, "ups", number)
    ups = PushCarrier(number)
    ups.script = [("M/MP", T0), ("I/OR", T0 + timedelta(hours=2))]
    with app.extensions["handoff"].sessions() as session:
        assert polling.start(session, Registry(ups), shipment_id) is True
        session.commit()
    with app.extensions["handoff"].sessions() as session:
        assert polling.start(session, Registry(ups), shipment_id) is False  # a re-driven job asks nothing
        session.commit()

    assert ups.subscribed == [number]
    body = client.get(f"/v1/shipments/{shipment_id}/events", headers=platform.headers).get_json()
    assert body["milestone"] == "in_transit"
    assert [e["raw"]["subcode"] for e in body["events"]] == ["MP", "OR"]


def test_ops_refresh_a_shipments_tracking_now(app, client, make_tenant, monkeypatch):
    tenant = make_tenant(("platform", "ops"))
    awb = new_number("DHL")
    shipment_id = shipment_with_number(app, client, tenant, "dhl_express", awb)
    dhl = PollOnlyCarrier(awb)
    draft = client.post("/v1/shipments", json=shipment_body(), headers=tenant.headers).get_json()["id"]
    dhl.script = [("PU", T0), ("WC", T0 + timedelta(hours=5))]
    monkeypatch.setattr(app.extensions["handoff"], "_carriers", Registry(dhl))

    refreshed = client.post(f"/v1/shipments/{shipment_id}/tracking/refresh", json={}, headers=tenant.headers)

    assert refreshed.status_code == 200, refreshed.get_json()
    assert refreshed.get_json()["milestone"] == "out_for_delivery"
    assert status(app, shipment_id).next_poll_at is not None
    dhl.down = True
    down = client.post(f"/v1/shipments/{shipment_id}/tracking/refresh", json={}, headers=tenant.headers)
    assert down.status_code == 503
    assert down.get_json()["type"].endswith("/carrier-unavailable")
    assert (
        client.post(f"/v1/shipments/{draft}/tracking/refresh", json={}, headers=tenant.headers).status_code
        == 409
    )
    other = make_tenant(("ops",))
    assert (
        client.post(
            f"/v1/shipments/{shipment_id}/tracking/refresh", json={}, headers=other.headers
        ).status_code
        == 404
    )


@responses.activate
def test_what_ups_warns_about_a_number_is_shown_on_the_timeline_until_it_knows_the_number(
    app, client, make_tenant, monkeypatch
):
    from adapters import http as carrier_http
    from adapters.ups import client as ups_client
    from adapters.ups import mapping as ups_mapping
    from tests.unit.adapters import ups_fixtures as fx

    tenant = make_tenant(("platform", "ops"))
    number = new_number("1Z")
    shipment_id = shipment_with_number(app, client, tenant, "ups", number)
    ups = ups_client.UpsAdapter(
        fx.CONFIG,
        breaker=carrier_http.CircuitBreaker(failure_threshold=3, reset_after=30),
        retry=carrier_http.RetryPolicy(attempts=1, sleep=lambda s: None),
    )
    monkeypatch.setattr(app.extensions["handoff"], "_carriers", Registry(ups))
    responses.post("http://ups.test/security/v1/oauth/token", json=fx.TOKEN_REPLY)
    responses.post(
        "http://ups.test" + ups_mapping.SUBSCRIBE_PATH,
        json={"validTrackingNumbers": [number], "invalidTrackingNumbers": []},
    )
    track_url = "http://ups.test" + ups_mapping.TRACK_PATH.format(tracking_number=number)
    # UPS's answer for a number it has not seen yet: a warning and no package (Tracking API, 200).
    not_yet = {
        "trackResponse": {
            "shipment": [
                {
                    "inquiryNumber": number,
                    "warnings": [{"code": "TW0001", "message": "Tracking Information Not Found"}],
                }
            ]
        }
    }
    responses.get(track_url, json=not_yet)

    first = client.post(f"/v1/shipments/{shipment_id}/tracking/refresh", json={}, headers=tenant.headers)

    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["events"] == [] and body["milestone"] == "pending"
    assert body["carrier_warnings"]["warnings"] == ["TW0001: Tracking Information Not Found"]
    since = body["carrier_warnings"]["since"]
    read = client.get(f"/v1/shipments/{shipment_id}/events", headers=tenant.headers).get_json()
    assert read["carrier_warnings"] == body["carrier_warnings"]

    # Asked again with the same warning: still shown, since the first time it was said.
    again = client.post(f"/v1/shipments/{shipment_id}/tracking/refresh", json={}, headers=tenant.headers)
    assert again.get_json()["carrier_warnings"]["since"] == since

    # Once UPS knows the number, the warning goes.
    responses.replace(
        responses.GET,
        track_url,
        json={
            "trackResponse": {
                "shipment": [
                    {
                        "inquiryNumber": number,
                        "package": [
                            {
                                "trackingNumber": number,
                                "activity": [
                                    {
                                        "status": {
                                            "type": "M",
                                            "code": "MP",
                                            "description": "Shipper created a label",
                                        },
                                        "date": "20261120",
                                        "time": "080000",
                                        "gmtOffset": "-05:00",
                                    }
                                ],
                            }
                        ],
                    }
                ]
            }
        },
    )
    known = client.post(f"/v1/shipments/{shipment_id}/tracking/refresh", json={}, headers=tenant.headers)
    assert known.status_code == 200, known.get_json()
    assert known.get_json()["carrier_warnings"] is None
    assert [e["raw"]["code"] for e in known.get_json()["events"]] == ["M"]
