"""Pickups, end-of-day closes and address checks: the real adapters against the simulator, in-process.

FedEx Pickup / Address Validation / Ground close, USPS Carrier Pickup / SCAN form / Addresses and UPS
XAV answer what the adapters send, in the carriers' published shapes, and the simulator's book
(``GET /_sim/warehouse``) records what was booked and closed.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from adapters import base
from adapters import http as carrier_http
from adapters.fedex import services as fedex_services
from adapters.fedex.client import FedexAdapter
from adapters.ups import address as ups_address
from adapters.ups.client import UpsAdapter
from adapters.usps import mapping as usps_mapping
from adapters.usps.client import UspsAdapter
from schemas import carrier, types
from tests.unit.adapters_fedex import fedex_fixtures as fx
from tests.unit.adapters_usps import usps_fixtures as ux
from tests.unit.simulator.sim_support import shared_or_skip

FEDEX_ACCOUNT = "740561073"
USPS_ACCOUNT = "1000405525"

RESIDENTIAL = types.Address("US", "63118", "St. Louis", ("1100 Wyoming St",), state="MO", name="Joe Doe")
COMMERCIAL = types.Address(
    "US", "38017", "Collierville", ("10 FedEx Parkway", "Suite 302"), state="TN", company="Acme Widgets"
)
NOWHERE = types.Address("US", "63118", "St. Louis", ("Nowhere Lane",), state="MO", name="Joe Doe")


def _quiet() -> dict[str, Any]:
    return {"breaker": carrier_http.CircuitBreaker(), "retry": carrier_http.RetryPolicy(attempts=1)}


@pytest.fixture
def fedex(session: requests.Session) -> FedexAdapter:
    config = {
        "client_id": "sim-fedex-client",
        "client_secret": "sim-fedex-secret",
        "account_number": FEDEX_ACCOUNT,
        "base_url": "http://sim/fedex",
        "timeout_seconds": 5,
    }
    return FedexAdapter(config, session=session, **_quiet())


@pytest.fixture
def usps(session: requests.Session) -> UspsAdapter:
    config = {
        "client_id": "sim-usps-client",
        "client_secret": "sim-usps-secret",
        "crid": "56982563",
        "mid": "904128936",
        "account_number": USPS_ACCOUNT,
        "base_url": "http://sim/usps",
        "timeout_seconds": 5,
    }
    return UspsAdapter(config, session=session, **_quiet())


@pytest.fixture
def ups(session: requests.Session) -> UpsAdapter:
    config = {
        "client_id": "sim-ups-client",
        "client_secret": "sim-ups-secret",
        "account_number": "A1B2C3",
        "base_url": "http://sim",
        "timeout_seconds": 5,
    }
    return UpsAdapter(config, session=session, **_quiet())


def _pickup_request(sim: Any, account: str, address: types.Address, days: int = 1) -> carrier.PickupRequest:
    day = sim.clock.now().date() + timedelta(days=days)
    if day.weekday() == 6:  # USPS picks up Monday to Saturday
        day += timedelta(days=1)
    ready = datetime(day.year, day.month, day.day, 13, 0, tzinfo=UTC)
    return carrier.PickupRequest(account, address, ready, ready + timedelta(hours=4), parcel_count=3)


def _fedex_label(fedex: FedexAdapter, service: str, reference: str) -> str:
    request = carrier.LabelRequest(
        spec=fx.SPEC, account=FEDEX_ACCOUNT, service_code=service, reference=reference
    )
    return fedex.label(request).tracking_numbers[0]


def _usps_label(usps: UspsAdapter, reference: str) -> str:
    request = carrier.LabelRequest(
        spec=ux.SPEC, account=USPS_ACCOUNT, service_code="PRIORITY_MAIL", reference=reference
    )
    return usps.label(request).tracking_numbers[0]


# -- FedEx -------------------------------------------------------------------------------------------------


def test_a_fedex_pickup_is_booked_with_a_confirmation_and_cancelled_by_it(fedex, client, sim):
    booked = fedex.pickup(_pickup_request(sim, FEDEX_ACCOUNT, fx.ORIGIN))
    assert booked.carrier == "fedex" and booked.confirmation.isdigit()
    [pickup] = client.get("/_sim/warehouse?carrier=fedex").json["pickups"]
    assert (pickup["confirmation"], pickup["account"], pickup["package_count"]) == (
        booked.confirmation,
        FEDEX_ACCOUNT,
        3,
    )
    assert pickup["location"] == "COLA" and pickup["cancelled"] is False
    token = client.post(
        "/fedex/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "sim-fedex-client",
            "client_secret": "sim-fedex-secret",
        },
    ).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = {
        "associatedAccountNumber": {"value": FEDEX_ACCOUNT},
        "pickupConfirmationCode": booked.confirmation,
        "scheduledDate": pickup["date"],
        "carrierCode": "FDXE",
    }
    cancelled = client.put("/fedex/pickup/v1/pickups/cancel", json=body, headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.json["output"]["pickupConfirmationCode"] == booked.confirmation
    assert client.get("/_sim/warehouse").json["pickups"][0]["cancelled"] is True
    again = client.put("/fedex/pickup/v1/pickups/cancel", json=body, headers=headers)
    assert (again.status_code, again.json["errors"][0]["code"]) == (400, "PICKUP.ALREADY.CANCELLED")
    unknown = client.put(
        "/fedex/pickup/v1/pickups/cancel", json={**body, "pickupConfirmationCode": "999"}, headers=headers
    )
    assert (unknown.status_code, unknown.json["errors"][0]["code"]) == (404, "PICKUP.NOTFOUND")


def test_a_fedex_pickup_in_the_past_is_refused(fedex, sim):
    with pytest.raises(base.CarrierRejected, match="past"):
        fedex.pickup(_pickup_request(sim, FEDEX_ACCOUNT, fx.ORIGIN, days=-2))


def test_fedex_classifies_business_and_residential_addresses_and_misses_the_unknown(fedex):
    home, office, nowhere = fedex.validate_address([RESIDENTIAL, COMMERCIAL, NOWHERE])
    assert (home.classification, home.resolved) == ("RESIDENTIAL", True)
    assert home.address.residential is True and re.fullmatch(r"63118-\d{4}", home.address.postal_code)
    assert (office.classification, office.resolved) == ("BUSINESS", True)
    assert (
        office.address.street_lines == ("10 FEDEX PARKWAY", "SUITE 302")
        and office.address.company == "Acme Widgets"
    )
    assert (nowhere.classification, nowhere.resolved) == ("UNKNOWN", False)
    # The same address is classified the same way every time.
    assert fedex.validate_address([RESIDENTIAL])[0].address == home.address


def test_a_ground_close_takes_the_open_ground_labels_once_and_then_refuses(fedex, client):
    ground = [_fedex_label(fedex, "FEDEX_GROUND", f"g{i}") for i in range(2)]
    voided = _fedex_label(fedex, "FEDEX_GROUND", "g-void")
    fedex.void(carrier.VoidRequest(FEDEX_ACCOUNT, voided))
    express = _fedex_label(fedex, "FEDEX_2_DAY", "x1")
    closed = fedex.close_ground_day()
    [document] = closed.documents
    assert (
        document.type == "OP_950"
        and document.content.startswith(b"%PDF-")
        and document.content.endswith(b"%%EOF\n")
    )
    [close] = client.get("/_sim/warehouse?carrier=fedex").json["closes"]
    assert close["tracking_numbers"] == ground and voided not in close["tracking_numbers"]
    assert express not in close["tracking_numbers"]
    with pytest.raises(base.CarrierRejected) as refused:
        fedex.close_ground_day()
    assert "No open FedEx Ground shipments" in refused.value.message
    later = _fedex_label(fedex, "FEDEX_GROUND", "g-late")
    assert fedex.close_ground_day().documents
    assert client.get("/_sim/warehouse").json["closes"][1]["tracking_numbers"] == [later]


def test_a_ground_close_for_another_account_finds_nothing(fedex, session):
    _fedex_label(fedex, "FEDEX_GROUND", "g0")
    other = FedexAdapter({**fedex._config, "account_number": "510087020"}, session=session, **_quiet())
    with pytest.raises(base.CarrierRejected):
        other.close_ground_day()


# -- USPS --------------------------------------------------------------------------------------------------


def test_a_usps_pickup_is_booked_once_per_address_and_day(usps, client, sim):
    request = _pickup_request(sim, USPS_ACCOUNT, ux.ORIGIN)
    booked = usps.pickup(request)
    assert re.fullmatch(r"WTC\d{8}", booked.confirmation) and booked.ready_at == request.ready_at
    [pickup] = client.get("/_sim/warehouse?carrier=usps").json["pickups"]
    assert (pickup["confirmation"], pickup["postal_code"], pickup["package_count"]) == (
        booked.confirmation,
        "63116",
        3,
    )
    with pytest.raises(base.CarrierRejected, match="already exists"):
        usps.pickup(request)


def test_the_fedex_adapter_cancels_its_pickup_with_the_location_the_booking_answered(fedex, client, sim):
    request = _pickup_request(sim, FEDEX_ACCOUNT, fx.ORIGIN)
    booked = fedex.pickup(request)
    assert booked.details == {"carrier_code": "FDXE", "location": "COLA"}

    fedex.cancel_pickup(request, booked.confirmation, booked.details)

    [pickup] = client.get("/_sim/warehouse?carrier=fedex").json["pickups"]
    assert pickup["cancelled"] is True and pickup["cancelled_at"]
    with pytest.raises(base.CarrierRejected, match="already been cancelled"):
        fedex.cancel_pickup(request, booked.confirmation, booked.details)


def test_a_usps_pickup_is_cancelled_with_the_etag_of_a_get_which_the_cancel_uses_up(usps, client, sim):
    request = _pickup_request(sim, USPS_ACCOUNT, ux.ORIGIN)
    booked = usps.pickup(request)
    token = client.post(
        "/usps/oauth2/v3/token",
        json={
            "grant_type": "client_credentials",
            "client_id": "sim-usps-client",
            "client_secret": "sim-usps-secret",
        },
    ).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/usps/pickup/v3/carrier-pickup/{booked.confirmation}"

    read = client.get(path, headers=headers)
    assert read.status_code == 200 and read.headers["ETag"]
    assert read.json == [
        {"confirmationNumber": booked.confirmation, "pickupDate": request.ready_at.date().isoformat()}
    ]
    stale = client.delete(path, headers={**headers, "If-Match": '"not-it"'})
    assert (stale.status_code, stale.json["error"]["errors"][0]["code"]) == (412, "SIM412P")
    missing = client.delete(path, headers=headers)
    assert missing.status_code == 400
    unknown = client.get("/usps/pickup/v3/carrier-pickup/WTC99999999", headers=headers)
    assert (unknown.status_code, unknown.json["error"]["errors"][0]["code"]) == (404, "SIM404P")
    assert client.get("/_sim/warehouse?carrier=usps").json["pickups"][0]["cancelled"] is False

    usps.cancel_pickup(request, booked.confirmation)  # GET for the ETag, then DELETE with If-Match

    [pickup] = client.get("/_sim/warehouse?carrier=usps").json["pickups"]
    assert pickup["cancelled"] is True and pickup["cancelled_at"]
    spent = client.delete(path, headers={**headers, "If-Match": read.headers["ETag"]})
    assert spent.status_code == 400  # cancelled already; the tag was replaced and used up anyway
    with pytest.raises(base.CarrierRejected, match="already been cancelled"):
        usps.cancel_pickup(request, booked.confirmation)
    # The address and day are free again.
    assert usps.pickup(request).confirmation != booked.confirmation


def test_a_usps_pickup_on_a_sunday_or_in_the_past_is_refused(usps, sim):
    today = sim.clock.now().date()
    sunday = today + timedelta(days=(6 - today.weekday()) % 7 or 7)
    ready = datetime(sunday.year, sunday.month, sunday.day, 10, tzinfo=UTC)
    request = carrier.PickupRequest(USPS_ACCOUNT, ux.ORIGIN, ready, ready + timedelta(hours=2), 1)
    with pytest.raises(base.CarrierRejected, match="cannot be scheduled"):
        usps.pickup(request)
    with pytest.raises(base.CarrierRejected, match="in the past"):
        usps.pickup(_pickup_request(sim, USPS_ACCOUNT, ux.ORIGIN, days=-3))


def test_a_scan_form_lists_sold_labels_once_and_refuses_voided_unknown_and_listed_ones(usps, client):
    first, second, voided = (_usps_label(usps, f"u{i}") for i in range(3))
    usps.void(carrier.VoidRequest(USPS_ACCOUNT, voided))
    form = usps.scan_form(ux.ORIGIN, [first, second])
    assert form.tracking_numbers == (first, second) and form.image.startswith(b"%PDF-")
    assert re.fullmatch(r"94750904128936\d{8}", form.manifest_number)
    [close] = client.get("/_sim/warehouse?carrier=usps").json["closes"]
    assert (close["reference"], close["tracking_numbers"]) == (form.manifest_number, [first, second])
    with pytest.raises(base.CarrierRejected, match="already part of another SCAN Form"):
        usps.scan_form(ux.ORIGIN, [first])
    with pytest.raises(base.CarrierRejected, match="canceled"):
        usps.scan_form(ux.ORIGIN, [voided])
    with pytest.raises(base.CarrierRejected, match="does not exist"):
        usps.scan_form(ux.ORIGIN, ["9205590164917312751089"])


def test_a_scan_form_by_mid_takes_every_open_label_of_the_mid(usps):
    numbers = [_usps_label(usps, f"m{i}") for i in range(2)]
    form = usps.scan_form(ux.ORIGIN)  # no numbers: the adapter names its MID
    assert form.tracking_numbers == tuple(numbers)
    with pytest.raises(base.CarrierRejected, match="no labels met the given criteria"):
        usps.scan_form(ux.ORIGIN)


def test_a_scan_form_without_json_asked_is_multipart_and_still_read(usps, client):
    number = _usps_label(usps, "mp")
    token = client.post(
        "/usps/oauth2/v3/token",
        json={
            "grant_type": "client_credentials",
            "client_id": "sim-usps-client",
            "client_secret": "sim-usps-secret",
        },
    ).json["access_token"]
    call = usps_mapping.scan_form_request(ux.ORIGIN, datetime.now(UTC).date(), [number])
    reply = client.post("/usps" + call.path, json=call.json, headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 201 and reply.mimetype == "multipart/form-data"
    form = usps_mapping.parse_scan_form(
        *usps_mapping.multipart_metadata_and_image(reply.get_data(), reply.headers["Content-Type"])
    )
    assert form.tracking_numbers == (number,) and form.image.startswith(b"%PDF-")


def test_usps_standardises_addresses_with_the_business_flag(usps):
    home = usps.check_address(RESIDENTIAL)
    assert (home.business, home.deliverable, home.dpv_confirmation) == (False, True, "Y")
    assert home.address.residential is True and re.fullmatch(r"63118-\d{4}", home.address.postal_code)
    office = usps.check_address(COMMERCIAL)
    assert office.business is True and office.address.residential is False
    with pytest.raises(base.CarrierRejected) as missing:
        usps.check_address(NOWHERE)
    assert (missing.value.code, missing.value.message) == ("010005", "Not Found: Address Not Found")


# -- UPS ---------------------------------------------------------------------------------------------------


def test_ups_xav_classifies_and_normalises_and_finds_no_candidate_for_the_unknown(ups):
    home = ups_address.validate_address(ups, RESIDENTIAL)
    assert (home.valid, home.classification) == (True, carrier.AddressClass.RESIDENTIAL)
    assert home.address.residential is True and home.address.street_lines == ("1100 WYOMING ST",)
    office = ups_address.validate_address(ups, COMMERCIAL)
    assert (office.valid, office.classification) == (True, carrier.AddressClass.COMMERCIAL)
    nowhere = ups_address.validate_address(ups, NOWHERE)
    assert (nowhere.valid, nowhere.classification, nowhere.candidates) == (
        False,
        carrier.AddressClass.UNKNOWN,
        (),
    )


def test_the_three_carriers_agree_on_every_class(fedex, usps, ups):
    for address, residential in ((RESIDENTIAL, True), (COMMERCIAL, False)):
        assert fedex.validate_address([address])[0].address.residential is residential
        assert usps.check_address(address).address.residential is residential
        assert ups_address.validate_address(ups, address).address.residential is residential


def test_faults_apply_to_the_new_operations(fedex, usps, client, sim):
    client.post(
        "/_sim/faults",
        json={
            "carriers": {
                "fedex": {"error_5xx": 1.0, "operations": ["ground_close", "pickup"]},
                "usps": {"error_5xx": 1.0, "operations": ["scan_form"]},
            }
        },
    )
    with pytest.raises(base.CarrierUnavailable):
        fedex.close_ground_day()
    with pytest.raises(base.CarrierUnavailable):
        fedex.pickup(_pickup_request(sim, FEDEX_ACCOUNT, fx.ORIGIN))
    with pytest.raises(base.CarrierUnavailable):
        usps.scan_form(ux.ORIGIN)
    assert client.get("/_sim/warehouse").json == {"pickups": [], "closes": []}


def test_reset_forgets_pickups_and_closes(fedex, client, sim):
    fedex.pickup(_pickup_request(sim, FEDEX_ACCOUNT, fx.ORIGIN))
    client.post("/_sim/reset")
    assert client.get("/_sim/warehouse").json == {"pickups": [], "closes": []}


# -- the published contracts (skip when ../shared/carriers is absent) --------------------------------------


def _fedex_validate(spec_file: str, path: str, method: str, instance: Any) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    spec = json.loads(shared_or_skip("carriers", "fedex", spec_file).read_text(encoding="utf-8"))
    schema = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft7Validator({**schema, "components": spec["components"]})
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def _usps_validate(spec_file: str, name: str, instance: Any) -> None:
    """Validate against a USPS component schema (allOf parts opened up as ``test_usps_sim._relaxed`` does).

    One contradiction is waived: carrier-pickup_3.yaml's ``NotificationMethod`` is a ``oneOf`` of two
    schemas with no required field, so every contact (``{"email"}`` or ``{"cellNumber"}``) matches both
    and no object can satisfy it; each contact must still match one of them.
    """
    jsonschema = pytest.importorskip("jsonschema")
    yaml = pytest.importorskip("yaml")
    from tests.unit.simulator.test_usps_sim import _relaxed

    text = shared_or_skip("carriers", "usps", spec_file).read_text(encoding="utf-8")
    spec = _relaxed(yaml.safe_load(re.sub(r"[ \t]+(\r?\n)", r"\1", text)))
    document = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    validator = jsonschema.Draft7Validator(document, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = [
        e
        for e in validator.iter_errors(instance)
        if not (
            e.validator == "oneOf" and "contact" in list(e.path) and "is valid under each of" in e.message
        )
    ]
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def test_fedex_replies_match_fedexs_published_response_schemas(fedex, client, sim):
    token = client.post(
        "/fedex/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "sim-fedex-client",
            "client_secret": "sim-fedex-secret",
        },
    ).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    request = _pickup_request(sim, FEDEX_ACCOUNT, fx.ORIGIN)
    call = fedex_services.pickup_request(request, FEDEX_ACCOUNT)
    booked = client.post("/fedex" + call.path, json=call.json, headers=headers)
    _fedex_validate("Pickup-Resource.json", "/pickup/v1/pickups", "post", booked.json)
    cancel = {
        "associatedAccountNumber": {"value": FEDEX_ACCOUNT},
        "pickupConfirmationCode": booked.json["output"]["pickupConfirmationCode"],
        "scheduledDate": request.ready_at.date().isoformat(),
    }
    cancelled = client.put("/fedex/pickup/v1/pickups/cancel", json=cancel, headers=headers)
    _fedex_validate("Pickup-Resource.json", "/pickup/v1/pickups/cancel", "put", cancelled.json)
    call = fedex_services.address_request([RESIDENTIAL, NOWHERE])
    resolved = client.post("/fedex" + call.path, json=call.json, headers=headers)
    _fedex_validate("Addresses-Resource.json", "/address/v1/addresses/resolve", "post", resolved.json)
    _fedex_label(fedex, "FEDEX_GROUND", "c1")
    call = fedex_services.ground_close_request(FEDEX_ACCOUNT, sim.clock.now().date())
    closed = client.put("/fedex" + call.path, json=call.json, headers=headers)
    _fedex_validate("ShipmentCloseAPI-Resource.json", "/ship/v1/endofday/", "put", closed.json)
    parts = sorted(
        closed.json["output"]["closeDocuments"][0]["parts"], key=lambda p: p["documentPartSequenceNumber"]
    )
    assert b"".join(base64.b64decode(p["image"]) for p in parts).startswith(b"%PDF-")


def test_usps_replies_match_uspss_published_response_schemas(usps, client, sim):
    token = client.post(
        "/usps/oauth2/v3/token",
        json={
            "grant_type": "client_credentials",
            "client_id": "sim-usps-client",
            "client_secret": "sim-usps-secret",
        },
    ).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    from decimal import Decimal

    call = usps_mapping.pickup_request(_pickup_request(sim, USPS_ACCOUNT, ux.ORIGIN), Decimal(5))
    booked = client.post("/usps" + call.path, json=call.json, headers=headers)
    assert booked.status_code == 200
    _usps_validate("carrier-pickup_3.yaml", "PickupConfirmation", booked.json)
    number = _usps_label(usps, "s1")
    call = usps_mapping.scan_form_request(ux.ORIGIN, sim.clock.now().date(), [number])
    form = client.post("/usps" + call.path, json=call.json, headers={**headers, **call.headers})
    assert form.status_code == 201
    _usps_validate("scan-form_1.yaml", "SCANFormVendorResponse", form.json)
    refused = client.post("/usps" + call.path, json=call.json, headers={**headers, **call.headers})
    assert refused.status_code == 400 and refused.json["error"]["errors"][0]["code"] == "160040"
    _usps_validate("scan-form_1.yaml", "ErrorMessage", refused.json)
    call = usps_mapping.address_request(COMMERCIAL)
    found = client.get("/usps" + call.path, query_string=dict(call.params), headers=headers)
    _usps_validate("addresses-v3r2_2.yaml", "AddressResponse", found.json)
    call = usps_mapping.address_request(NOWHERE)
    missing = client.get("/usps" + call.path, query_string=dict(call.params), headers=headers)
    assert missing.status_code == 404
    _usps_validate("addresses-v3r2_2.yaml", "ErrorMessage", missing.json)
