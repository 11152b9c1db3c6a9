"""Carrier pickups over the API: schedule, list, read and cancel, with the carriers' HTTP mocked.

FedEx (Create Pickup, ``/pickup/v1/pickups``) and USPS (``/pickup/v3/carrier-pickup``) book pickups;
UPS declares none here. Replies are shaped as the carriers' published contracts (the adapters' unit
fixtures). The row is stored before the carrier is called, so a carrier failure loses nothing.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
import responses

from adapters import registry
from tests.unit.adapters_fedex import fedex_fixtures as fx
from tests.unit.adapters_usps import usps_fixtures as usps

pytestmark = pytest.mark.integration

FEDEX_PICKUP_URL = fx.BASE_URL + "/pickup/v1/pickups"
FEDEX_CANCEL_URL = fx.BASE_URL + "/pickup/v1/pickups/cancel"
USPS_ETAG = '"33a64df551425fcc55e4d42a148795d9f25f89d4"'
UPS = {
    "client_id": "cid",
    "client_secret": "csecret",
    "account_number": "A1B2C3",
    "base_url": "https://ups.invalid",
}
DAY = date.today() + timedelta(days=3)


@pytest.fixture(autouse=True)
def carriers(app: Any, monkeypatch: pytest.MonkeyPatch) -> registry.Registry:
    """FedEx, USPS and UPS enabled (fresh adapters: no breaker state carried between tests)."""
    loaded = registry.load(
        [
            {"adapter": "fedex", "id": "fedex", "config": fx.CONFIG},
            {"adapter": "usps", "id": "usps", "config": usps.CONFIG},
            {"adapter": "ups", "id": "ups", "config": UPS},
        ]
    )
    monkeypatch.setattr(app.extensions["handoff"], "_carriers", loaded)
    return loaded


def body(carrier_name: str = "fedex", **change: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "carrier": carrier_name,
        "address": {
            "name": "Ann Sender",
            "company": "Acme Widgets",
            "street_lines": ["10 FedEx Parkway"],
            "city": "Collierville",
            "state": "TN",
            "postal_code": "38017",
            "country_code": "US",
            "phone": "+1 901-555-0100",
        },
        "date": DAY.isoformat(),
        "ready_time": "09:00",
        "close_time": "17:00",
        "time_zone": "America/Chicago",
        "parcel_count": 3,
        "total_weight": {"value": "12.5", "unit": "kg"},
        "instructions": "Ring at the loading dock",
    }
    data.update(change)
    return data


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def mock_fedex(status: int = 200, reply: Any = None) -> None:
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(
        FEDEX_PICKUP_URL,
        status=status,
        json=reply
        if reply is not None
        else {"output": {"pickupConfirmationCode": "3001", "location": "COSA"}},
    )


def pickup_calls() -> list[Any]:
    return [c for c in responses.calls if c.request.url in (FEDEX_PICKUP_URL, usps.PICKUP_URL)]


@responses.activate
def test_a_fedex_pickup_is_booked_and_stored_with_its_confirmation(client, platform):
    mock_fedex()

    made = client.post("/v1/pickups", json=body(), headers={**platform.headers, **key()})

    assert made.status_code == 201, made.get_json()
    pickup = made.get_json()
    assert (pickup["state"], pickup["confirmation"], pickup["carrier"]) == ("scheduled", "3001", "fedex")
    assert (pickup["date"], pickup["ready_time"], pickup["close_time"]) == (DAY.isoformat(), "09:00", "17:00")
    assert pickup["total_weight"] == {"value": "12.5", "unit": "kg"}
    sent = json.loads(pickup_calls()[0].request.body)
    assert sent["packageCount"] == 3
    assert sent["originDetail"]["customerCloseTime"] == "17:00:00"
    assert sent["originDetail"]["readyDateTimestamp"].startswith(f"{DAY.isoformat()}T09:00:00")
    read = client.get(made.headers["Location"], headers=platform.headers)
    assert read.status_code == 200 and read.get_json() == pickup


@responses.activate
def test_a_retry_with_the_same_key_answers_the_booking_without_calling_again(client, platform):
    mock_fedex()
    headers = {**platform.headers, **key()}

    first = client.post("/v1/pickups", json=body(), headers=headers)
    second = client.post("/v1/pickups", json=body(), headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.get_json()["id"] == first.get_json()["id"]
    assert len(pickup_calls()) == 1


@responses.activate
def test_usps_books_the_day_it_can_and_the_pickup_shows_that_day(client, platform):
    moved = DAY + timedelta(days=1)
    responses.post(usps.TOKEN_URL, json=usps.TOKEN_REPLY)
    responses.post(
        usps.PICKUP_URL,
        status=201,
        json={"confirmationNumber": "WTC123456789", "pickupDate": moved.isoformat()},
    )

    made = client.post("/v1/pickups", json=body("usps"), headers=platform.headers)

    assert made.status_code == 201, made.get_json()
    pickup = made.get_json()
    assert (pickup["state"], pickup["confirmation"], pickup["date"]) == (
        "scheduled",
        "WTC123456789",
        moved.isoformat(),
    )
    assert json.loads(pickup_calls()[0].request.body)["pickupDate"] == DAY.isoformat()


def test_a_carrier_without_pickups_is_a_422_naming_it_and_nothing_is_stored(client, platform):
    refused = client.post("/v1/pickups", json=body("ups"), headers=platform.headers)

    assert refused.status_code == 422
    problem = refused.get_json()
    assert "ups" in problem["detail"] and "carrier" in problem["errors"]
    assert client.get("/v1/pickups", headers=platform.headers).get_json()["data"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"close_time": "08:00"}, "close_time"),
        ({"date": (date.today() - timedelta(days=2)).isoformat()}, "date"),
        ({"parcel_count": 0}, "parcel_count"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"carrier": "empire"}, "carrier"),
    ],
)
def test_an_impossible_pickup_is_refused_before_any_carrier_call(client, platform, change, field):
    refused = client.post("/v1/pickups", json=body(**change), headers=platform.headers)

    assert refused.status_code == 422, refused.get_json()
    assert field in json.dumps(refused.get_json()["errors"])


@responses.activate
def test_a_carrier_that_is_down_is_a_503_and_the_pickup_is_kept_failed_then_booked_on_retry(client, platform):
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(
        FEDEX_PICKUP_URL, status=503, json=fx.error_reply("SERVICE.UNAVAILABLE.ERROR", "Try later.")
    )
    headers = {**platform.headers, **key()}

    down = client.post("/v1/pickups", json=body(), headers=headers)

    assert down.status_code == 503, down.get_json()
    assert down.get_json()["type"].endswith("carrier-unavailable") and "fedex" in down.get_json()["detail"]
    (kept,) = client.get("/v1/pickups", headers=platform.headers).get_json()["data"]
    assert kept["state"] == "failed" and kept["carrier_message"]

    responses.replace(responses.POST, FEDEX_PICKUP_URL, json={"output": {"pickupConfirmationCode": "3002"}})
    again = client.post("/v1/pickups", json=body(), headers=headers)

    assert again.status_code == 201, again.get_json()
    assert (again.get_json()["id"], again.get_json()["confirmation"]) == (kept["id"], "3002")
    assert again.get_json()["attempts"] == 2 and again.get_json()["carrier_message"] is None


@responses.activate
def test_a_lost_answer_keeps_the_pickup_pending_and_a_retry_does_not_book_a_second_courier(client, platform):
    responses.post(fx.TOKEN_URL, json=fx.TOKEN_REPLY)
    responses.post(FEDEX_PICKUP_URL, json={"output": {"message": "Courier on the way"}})  # no confirmation
    headers = {**platform.headers, **key()}

    lost = client.post("/v1/pickups", json=body(), headers=headers)
    retried = client.post("/v1/pickups", json=body(), headers=headers)

    assert lost.status_code == 503
    assert retried.status_code == 409 and "may be booked" in retried.get_json()["detail"]
    (kept,) = client.get("/v1/pickups", headers=platform.headers).get_json()["data"]
    assert kept["state"] == "pending" and "pickupConfirmationCode" in kept["carrier_message"]
    assert len(pickup_calls()) == 1


@responses.activate
def test_a_refusal_is_a_422_from_the_carrier_and_the_pickup_is_kept_failed(client, platform):
    mock_fedex(400, fx.error_reply("PICKUP.REQUESTED.PREVIOUS.DAY", "Pickup date cannot be in the past."))

    refused = client.post("/v1/pickups", json=body(), headers=platform.headers)

    assert refused.status_code == 422, refused.get_json()
    assert "Pickup date cannot be in the past" in refused.get_json()["detail"]
    (kept,) = client.get("/v1/pickups?state=failed", headers=platform.headers).get_json()["data"]
    assert kept["carrier_code"] and "past" in kept["carrier_message"]


@responses.activate
def test_pickups_are_listed_newest_first_by_page_and_filtered(client, platform):
    mock_fedex()
    responses.post(usps.TOKEN_URL, json=usps.TOKEN_REPLY)
    responses.post(usps.PICKUP_URL, json={"confirmationNumber": "WTC1", "pickupDate": DAY.isoformat()})
    later = DAY + timedelta(days=1)
    made = [
        client.post("/v1/pickups", json=b, headers=platform.headers).get_json()["id"]
        for b in (body(), body("usps"), body(date=later.isoformat()))
    ]

    first = client.get("/v1/pickups?limit=2", headers=platform.headers).get_json()
    rest = client.get(
        f"/v1/pickups?limit=2&cursor={first['next_cursor']}", headers=platform.headers
    ).get_json()
    by_carrier = client.get("/v1/pickups?carrier=usps", headers=platform.headers).get_json()
    by_day = client.get(f"/v1/pickups?date={later.isoformat()}", headers=platform.headers).get_json()

    assert [p["id"] for p in first["data"] + rest["data"]] == made[::-1]
    assert rest["next_cursor"] is None
    assert [p["id"] for p in by_carrier["data"]] == [made[1]]
    assert [p["id"] for p in by_day["data"]] == [made[2]]
    assert client.get("/v1/pickups?cursor=nope", headers=platform.headers).status_code == 400


@responses.activate
def test_another_tenant_neither_sees_nor_cancels_a_pickup(client, platform, make_tenant):
    mock_fedex()
    mine = client.post("/v1/pickups", json=body(), headers=platform.headers).get_json()["id"]
    other = make_tenant(("platform",))

    assert client.get(f"/v1/pickups/{mine}", headers=other.headers).status_code == 404
    assert client.delete(f"/v1/pickups/{mine}", headers=other.headers).status_code == 404
    assert client.get("/v1/pickups", headers=other.headers).get_json()["data"] == []


@responses.activate
def test_a_fedex_pickup_is_cancelled_at_fedex_with_the_location_its_booking_answered(client, platform):
    mock_fedex()
    responses.put(
        FEDEX_CANCEL_URL,
        json={
            "transactionId": "624deea6-b709-470c-8c39-4b5511281492",
            "output": {
                "pickupConfirmationCode": "3001",
                "cancelConfirmationMessage": "Requested pickup has been cancelled Successfully.",
            },
        },
    )
    mine = client.post("/v1/pickups", json=body(), headers=platform.headers).get_json()["id"]

    cancelled = client.delete(f"/v1/pickups/{mine}", headers={**platform.headers, **key()})
    again = client.delete(f"/v1/pickups/{mine}", headers=platform.headers)

    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["state"] == "cancelled" and cancelled.get_json()["cancelled_at"]
    assert again.status_code == 200 and again.get_json()["state"] == "cancelled"
    (call,) = [c for c in responses.calls if c.request.url == FEDEX_CANCEL_URL]
    assert json.loads(call.request.body) == {
        "associatedAccountNumber": {"value": fx.CONFIG["account_number"]},
        "pickupConfirmationCode": "3001",
        "scheduledDate": DAY.isoformat(),
        "carrierCode": "FDXE",
        "location": "COSA",
    }
    (listed,) = client.get("/v1/pickups?state=cancelled", headers=platform.headers).get_json()["data"]
    assert listed["id"] == mine


@responses.activate
def test_fedex_refusing_the_cancel_is_a_422_and_the_pickup_stays_scheduled(client, platform):
    mock_fedex()
    responses.put(
        FEDEX_CANCEL_URL,
        status=400,
        json=fx.error_reply("PICKUP.ALREADY.CANCELLED", "The pickup has already been cancelled."),
    )
    mine = client.post("/v1/pickups", json=body(), headers=platform.headers).get_json()["id"]

    refused = client.delete(f"/v1/pickups/{mine}", headers=platform.headers)

    assert refused.status_code == 422, refused.get_json()
    assert "already been cancelled" in refused.get_json()["detail"]
    kept = client.get(f"/v1/pickups/{mine}", headers=platform.headers).get_json()
    assert kept["state"] == "scheduled" and "already been cancelled" in kept["carrier_message"]


@responses.activate
def test_a_usps_pickup_is_cancelled_with_the_etag_usps_gives_for_it(client, platform):
    responses.post(usps.TOKEN_URL, json=usps.TOKEN_REPLY)
    responses.post(
        usps.PICKUP_URL,
        status=201,
        json={"confirmationNumber": "WTC123456789", "pickupDate": DAY.isoformat()},
    )
    one = f"{usps.PICKUP_URL}/WTC123456789"
    responses.get(
        one,
        json=[{"confirmationNumber": "WTC123456789", "pickupDate": DAY.isoformat()}],
        headers={"ETag": USPS_ETAG},
    )
    responses.delete(one, status=200)
    mine = client.post("/v1/pickups", json=body("usps"), headers=platform.headers).get_json()["id"]

    cancelled = client.delete(f"/v1/pickups/{mine}", headers=platform.headers)

    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["state"] == "cancelled"
    calls = [(c.request.method, c.request.url) for c in responses.calls if c.request.url == one]
    assert calls == [("GET", one), ("DELETE", one)]
    assert responses.calls[-1].request.headers["If-Match"] == USPS_ETAG


@responses.activate
def test_usps_down_at_cancel_is_a_503_and_the_pickup_stays_scheduled(client, platform):
    responses.post(usps.TOKEN_URL, json=usps.TOKEN_REPLY)
    responses.post(usps.PICKUP_URL, json={"confirmationNumber": "WTC1", "pickupDate": DAY.isoformat()})
    responses.get(
        f"{usps.PICKUP_URL}/WTC1",
        status=503,
        json={"error": {"code": "503", "message": "Service Unavailable", "errors": []}},
    )
    mine = client.post("/v1/pickups", json=body("usps"), headers=platform.headers).get_json()["id"]

    down = client.delete(f"/v1/pickups/{mine}", headers=platform.headers)

    assert down.status_code == 503, down.get_json()
    assert down.get_json()["type"].endswith("carrier-unavailable")
    assert client.get(f"/v1/pickups/{mine}", headers=platform.headers).get_json()["state"] == "scheduled"
    assert not [c for c in responses.calls if c.request.method == "DELETE"]


@responses.activate
def test_a_fedex_express_pickup_without_its_location_is_a_409_that_says_how_to_cancel(client, platform):
    mock_fedex(reply={"output": {"pickupConfirmationCode": "3001"}})  # no location: cannot cancel by API
    mine = client.post("/v1/pickups", json=body(), headers=platform.headers).get_json()["id"]

    refused = client.delete(f"/v1/pickups/{mine}", headers=platform.headers)

    assert refused.status_code == 409
    detail = refused.get_json()["detail"]
    assert "3001" in detail and "fedex.com" in detail
    assert client.get(f"/v1/pickups/{mine}", headers=platform.headers).get_json()["state"] == "scheduled"
    assert not [c for c in responses.calls if c.request.url == FEDEX_CANCEL_URL]


@responses.activate
def test_a_failed_booking_is_withdrawn_without_calling_the_carrier(client, platform):
    mock_fedex(400, fx.error_reply("PICKUP.POSTALCODE.MISSING", "Postal code is missing."))
    client.post("/v1/pickups", json=body(), headers=platform.headers)
    (failed,) = client.get("/v1/pickups", headers=platform.headers).get_json()["data"]

    withdrawn = client.delete(f"/v1/pickups/{failed['id']}", headers=platform.headers)

    assert withdrawn.status_code == 200 and withdrawn.get_json()["state"] == "cancelled"
    assert not [c for c in responses.calls if c.request.url == FEDEX_CANCEL_URL]


@responses.activate
def test_a_carrier_with_several_accounts_needs_the_account_named(app, client, platform, monkeypatch):
    two = registry.load(
        [
            {"adapter": "fedex", "id": "fedex-east", "config": fx.CONFIG},
            {"adapter": "fedex", "id": "fedex-west", "config": fx.CONFIG},
        ]
    )
    monkeypatch.setattr(app.extensions["handoff"], "_carriers", two)
    mock_fedex()

    unnamed = client.post("/v1/pickups", json=body(), headers=platform.headers)
    unknown = client.post("/v1/pickups", json=body(account="fedex-north"), headers=platform.headers)
    named = client.post("/v1/pickups", json=body(account="fedex-west"), headers=platform.headers)

    assert unnamed.status_code == 422 and "fedex-east, fedex-west" in unnamed.get_json()["detail"]
    assert unknown.status_code == 422 and "account" in unknown.get_json()["errors"]
    assert named.status_code == 201 and named.get_json()["account"] == "fedex-west"


def test_finance_reads_pickups_but_does_not_book_them(client, make_tenant):
    finance = make_tenant(("finance",))

    assert client.get("/v1/pickups", headers=finance.headers).status_code == 200
    assert client.post("/v1/pickups", json=body(), headers=finance.headers).status_code == 403
