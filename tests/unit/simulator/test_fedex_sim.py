"""The FedEx REST subset answers what the FedEx adapter sends, in FedEx's shapes, and pushes signed scans.

Most tests drive the real ``adapters.fedex`` client against the simulator app in-process (no sockets), so
a reply the adapter could not read fails here, not first in an end-to-end run.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

import pytest
import requests

from adapters import base
from adapters import http as carrier_http
from adapters.fedex import callback as fedex_callback
from adapters.fedex.client import FedexAdapter
from schemas import carrier, events, money
from simulator import app as sim_app
from simulator import numbers
from tests.customs_fixtures import DECLARATION
from tests.unit.adapters_fedex import fedex_fixtures as fx
from tests.unit.simulator.sim_support import FlaskAdapter, ManualTime, shared_or_skip

ACCOUNT = "740561073"
CONFIG: dict[str, Any] = {
    "client_id": "sim-fedex-client",
    "client_secret": "sim-fedex-secret",
    "account_number": ACCOUNT,
    "base_url": "http://sim/fedex",
    "timeout_seconds": 5,
}


@pytest.fixture
def fedex(session: requests.Session) -> FedexAdapter:
    return adapter_on(session)


def adapter_on(session: requests.Session, **config: Any) -> FedexAdapter:
    """A FedEx adapter on the in-process simulator, with its own circuit breaker and no retry pauses."""
    return FedexAdapter(
        {**CONFIG, **config},
        session=session,
        breaker=carrier_http.CircuitBreaker(),
        retry=carrier_http.RetryPolicy(attempts=1),
    )


def _token(client: Any) -> dict[str, str]:
    reply = client.post(
        "/fedex/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CONFIG["client_id"],
            "client_secret": CONFIG["client_secret"],
        },
    )
    assert reply.status_code == 200
    return {"Authorization": f"Bearer {reply.json['access_token']}"}


def _buy(fedex: FedexAdapter, reference: str = "shp_0001", **changes: Any) -> carrier.LabelResult:
    request = carrier.LabelRequest(
        spec=fx.SPEC,
        account=ACCOUNT,
        service_code=changes.pop("service_code", "FEDEX_GROUND"),
        reference=reference,
        label_format=changes.pop("label_format", carrier.LabelFormat.ZPL),
    )
    return fedex.label(request)


def test_token_needs_the_configured_key_and_secret_in_the_form(client):
    assert _token(client)["Authorization"].startswith("Bearer ")
    wrong = client.post(
        "/fedex/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "sim-fedex-client", "client_secret": "nope"},
    )
    assert wrong.status_code == 401
    assert wrong.json["errors"][0]["code"] == "NOT.AUTHORIZED.ERROR"


def test_calls_without_a_valid_token_get_401_in_the_fedex_envelope(client):
    reply = client.post("/fedex/rate/v1/rates/quotes", json={}, headers={"Authorization": "Bearer nope"})
    assert reply.status_code == 401
    assert reply.json["errors"] == [
        {
            "code": "NOT.AUTHORIZED.ERROR",
            "message": "Access token expired. Please modify your request and try again.",
        }
    ]


def test_the_adapter_refreshes_an_expired_token_and_carries_on(fedex, client):
    fedex.rate(fx.RATE_REQUEST)
    assert client.post("/_sim/expire-tokens").json["expired"] == 1
    assert fedex.rate(fx.RATE_REQUEST)


def test_a_token_from_another_carrier_is_not_a_fedex_token(client, ups_headers):
    reply = client.post(
        "/fedex/rate/v1/rates/quotes", json={}, headers={"Authorization": ups_headers["Authorization"]}
    )
    assert reply.status_code == 401


def test_rates_every_domestic_service_with_account_prices_and_transit(fedex):
    rates = fedex.rate(fx.RATE_REQUEST)
    by_code = {r.service_code: r for r in rates}
    assert set(by_code) == {
        "FEDEX_GROUND",
        "FEDEX_EXPRESS_SAVER",
        "FEDEX_2_DAY",
        "STANDARD_OVERNIGHT",
        "PRIORITY_OVERNIGHT",
    }
    ground = by_code["FEDEX_GROUND"]
    assert ground.total.currency == "USD" and ground.negotiated
    assert ground.transit_days == 4
    assert sum((line.amount.amount for line in ground.charges), Decimal(0)) == ground.total.amount
    assert by_code["PRIORITY_OVERNIGHT"].estimated_delivery is not None
    assert [r.total.amount for r in rates] == sorted(r.total.amount for r in rates)


def test_rating_one_service_and_an_unknown_service(fedex):
    one = carrier.RateRequest(spec=fx.SPEC, account=ACCOUNT, services=("FEDEX_2_DAY",))
    assert [r.service_code for r in fedex.rate(one)] == ["FEDEX_2_DAY"]
    unknown = carrier.RateRequest(spec=fx.SPEC, account=ACCOUNT, services=("INTERNATIONAL_ECONOMY",))
    with pytest.raises(base.CarrierRejected) as refused:
        fedex.rate(unknown)
    assert refused.value.code == "SERVICE.TYPE.INVALID"


def test_international_rates_are_international_services_in_the_origin_currency(fedex):
    rates = fedex.rate(carrier.RateRequest(spec=fx.INTERNATIONAL, account=ACCOUNT))
    assert {r.service_code for r in rates} == {
        "FEDEX_INTERNATIONAL_CONNECT_PLUS",
        "INTERNATIONAL_ECONOMY",
        "FEDEX_INTERNATIONAL_PRIORITY",
    }
    assert {r.total.currency for r in rates} == {"EUR"}


def test_a_label_is_sold_once_on_the_account_with_a_valid_fedex_number(fedex, sim):
    quoted = {r.service_code: r for r in fedex.rate(fx.RATE_REQUEST)}["FEDEX_GROUND"]
    label = _buy(fedex)
    number = label.tracking_numbers[0]
    assert numbers.fedex_number_is_valid(number)
    assert label.carrier_shipment_id == number
    assert label.label_format is carrier.LabelFormat.ZPL and label.label.startswith(b"^XA")
    assert label.charges == quoted.total
    [sold] = sim.ledger.all()
    assert (sold.carrier, sold.account, sold.reference, sold.tracking_number) == (
        "fedex",
        ACCOUNT,
        "shp_0001",
        number,
    )
    assert sold.charge_amount == str(quoted.total.amount)


def test_multi_piece_labels_get_one_number_and_label_each(fedex):
    spec = fx.INTERNATIONAL
    label = fedex.label(
        carrier.LabelRequest(
            spec=spec,
            account=ACCOUNT,
            service_code="INTERNATIONAL_ECONOMY",
            reference="shp_multi",
            label_format=carrier.LabelFormat.PNG,
        )
    )
    assert len(label.tracking_numbers) == 2 == len(set(label.tracking_numbers))
    assert all(numbers.fedex_number_is_valid(n) for n in label.tracking_numbers)
    assert len(label.labels) == 2 and all(image.startswith(b"\x89PNG") for image in label.labels)


def test_fedex_check_digit_matches_a_published_number():
    # 12-digit FedEx Express numbers: weights 1, 3, 7 from the right, sum mod 11 mod 10.
    assert numbers.fedex_check_digit("79495353500") == "0"
    assert numbers.fedex_number_is_valid(numbers.fedex_tracking_number(79_000_000_123))


def test_cancel_before_pickup_voids_and_after_pickup_is_refused(fedex, client, sim):
    first = _buy(fedex, "shp_void")
    voided = fedex.void(carrier.VoidRequest(ACCOUNT, first.carrier_shipment_id, first.tracking_numbers))
    assert voided.voided and voided.voided_tracking_numbers == first.tracking_numbers
    assert sim.ledger.get(first.carrier_shipment_id).voided

    second = _buy(fedex, "shp_moved")
    client.post("/_sim/clock", json={"advance_hours": 3})  # picked up at +2h
    refused = fedex.void(carrier.VoidRequest(ACCOUNT, second.carrier_shipment_id, second.tracking_numbers))
    assert not refused.voided and "SHIPMENT.CANCEL.FAILED" in (refused.message or "")
    assert not sim.ledger.get(second.carrier_shipment_id).voided


def test_cancel_of_an_unknown_number_is_refused(fedex):
    with pytest.raises(base.CarrierRejected) as refused:
        fedex.void(carrier.VoidRequest(ACCOUNT, "794953535000"))
    assert refused.value.code == "TRACKING.TRACKINGNUMBER.NOTFOUND"


def test_tracking_plays_the_progression_with_fedex_codes_that_all_map(fedex, client):
    label = _buy(fedex, "shp_track")
    number = label.tracking_numbers[0]
    early = fedex.track(carrier.TrackRequest(number))
    assert [e.code for e in early.events] == ["OC"]
    client.post("/_sim/clock", json={"advance_hours": 30})
    result = fedex.track(carrier.TrackRequest(number))
    assert [e.code for e in result.events] == ["OC", "PU", "DP", "AR", "DP", "AR", "OD", "DL"]
    table = FedexAdapter.code_table()
    canonical = [table.lookup(e.code, e.subcode) for e in result.events]
    assert all(entry is not None for entry in canonical)
    delivered = result.events[-1]
    assert delivered.attributes["signatory"]
    assert FedexAdapter.canonical(delivered, events.EventSource.POLL).milestone.value == "delivered"


def test_tracking_an_unknown_number_is_a_warning_not_an_error(fedex):
    result = fedex.track(carrier.TrackRequest("794953535000"))
    assert result.events == ()
    assert any("TRACKING.TRACKINGNUMBER.NOTFOUND" in w for w in result.warnings)


def test_exception_scenarios_carry_fedex_exception_codes(make_app, manual_time):
    app = make_app(exception_share=1.0, seed=3)
    http = requests.Session()
    http.mount("http://sim/", FlaskAdapter(app))
    adapter = adapter_on(http)
    seen: set[str] = set()
    for n in range(12):
        number = _buy(adapter, f"shp_x{n}").tracking_numbers[0]
        seen.add(app.extensions["handoff_simulator"].ledger.get(number).scenario)
    app.test_client().post("/_sim/clock", json={"advance_hours": 30})
    sim = app.extensions["handoff_simulator"]
    for label in sim.ledger.all():
        codes = [e.code for e in adapter.track(carrier.TrackRequest(label.tracking_number)).events]
        if label.scenario == "returned":
            assert codes[-2:] == ["DE", "RS"]
        elif label.scenario == "customs":
            assert "CD" in codes and codes[-1] == "DL"
        elif label.scenario == "failed_attempt":
            assert "DE" in codes and codes[-1] == "DL"
    assert seen == {"returned", "customs", "failed_attempt"}


def test_pushes_are_signed_with_fdx_signature_and_read_by_the_adapter(make_app):
    posted: list[tuple[str, bytes, dict[str, str]]] = []

    def post(url: str, data: bytes, headers: dict[str, str], timeout: float) -> requests.Response:
        posted.append((url, data, headers))
        response = requests.Response()
        response.status_code = 202
        return response

    token = "fedex-webhook-security-token-0123"
    app = sim_app.create_app(
        {
            "seed": 7,
            "day_seconds": 86_400.0,
            "exception_share": 0.0,
            "callback_url": "http://gw/v1/callbacks/{carrier}",
            "fedex_security_token": token,
        },
        real_time=ManualTime(),
        sleep=lambda _s: None,
        post=post,
    )
    http = requests.Session()
    http.mount("http://sim/", FlaskAdapter(app))
    adapter = adapter_on(http, webhook_security_token=token)
    number = _buy(adapter, "shp_push").tracking_numbers[0]
    client = app.test_client()
    assert client.post("/_sim/push/tick").json["sent"] == 1  # OC, at once
    client.post("/_sim/clock", json={"advance_hours": 30})
    client.post("/_sim/push/tick")
    assert client.post("/_sim/push/tick").json["sent"] == 0  # each scan once
    codes = []
    for url, body, headers in posted:
        assert url == "http://gw/v1/callbacks/fedex"
        expected = base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()
        assert headers["fdx-signature"] == expected
        adapter.verify_push(headers, body)
        events = fedex_callback.parse_raw(json.loads(body))[0]
        assert [e.tracking_number for e in events] == [number]
        codes += [e.code for e in events]
    assert codes == ["OC", "PU", "DP", "AR", "DP", "AR", "OD", "DL"]
    polled = adapter.track(carrier.TrackRequest(number)).events
    pushed_ids = [fedex_callback.parse_raw(json.loads(body))[0][0].source_event_id for _, body, _ in posted]
    assert pushed_ids == [
        e.source_event_id for e in polled
    ]  # a pushed scan and its polled copy are one event


@pytest.mark.parametrize(("kind", "status"), [("error_5xx", 503), ("timeout", 504)])
def test_faults_apply_to_fedex_calls(client, manual_time, kind, status):
    headers = _token(client)
    client.post("/_sim/faults", json={"carriers": {"fedex": {kind: 1.0, "operations": ["rate"]}}})
    reply = client.post("/fedex/rate/v1/rates/quotes", json={}, headers=headers)
    assert reply.status_code == status
    if kind == "timeout":
        assert manual_time.slept == [35.0]
    else:
        assert reply.json["errors"][0]["code"] == "SERVICE.UNAVAILABLE.ERROR"
    assert client.get("/_sim/faults").json["injected"] == {"fedex": {kind: 1}}


def test_a_charged_timeout_sells_the_label_and_the_adapter_sees_a_failure(fedex, client, sim):
    client.post(
        "/_sim/faults", json={"carriers": {"fedex": {"charged_timeout": 1.0, "operations": ["ship"]}}}
    )
    label = _buy(fedex, "shp_lost")  # the in-process transport has no timeout: the answer arrives late
    [sold] = sim.ledger.all()
    assert sold.response_lost and sold.tracking_number == label.tracking_numbers[0]
    assert client.get("/_sim/ledger", query_string={"account": ACCOUNT}).json["count"] == 1
    assert client.get("/_sim/ledger", query_string={"account": "000000000"}).json["count"] == 0


def test_malformed_answers_are_unreadable_for_the_adapter(fedex, client):
    client.post("/_sim/faults", json={"carriers": {"fedex": {"malformed": 1.0, "operations": ["rate"]}}})
    with pytest.raises(base.CarrierUnavailable):
        fedex.rate(fx.RATE_REQUEST)


# -- the published contract (skips when ../shared/carriers is absent) ------------------------------------
def _validate(spec_file: str, path: str, method: str, status: str, instance: Any) -> None:
    """Validate a reply against the response schema of an operation in FedEx's OpenAPI file."""
    jsonschema = pytest.importorskip("jsonschema")
    spec = json.loads(shared_or_skip("carriers", "fedex", spec_file).read_text(encoding="utf-8"))
    schema = spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    document = {**schema, "components": spec["components"]}
    validator = jsonschema.Draft7Validator(document, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def _call(client: Any, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    reply = client.open(path, method=method, json=body, headers=headers)
    assert reply.status_code == 200, reply.json
    return reply.json


def test_replies_match_fedexs_published_response_schemas(fedex, client, session):
    from adapters.fedex import mapping

    token = client.post(
        "/fedex/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "sim-fedex-client",
            "client_secret": "sim-fedex-secret",
        },
    ).json
    _validate("APIAuthorization-Resource.json", "/oauth/token", "post", "200", token)
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    rate = mapping.rate_request(fx.RATE_REQUEST, ACCOUNT)
    _validate(
        "RateQuotes-Resource.json",
        rate.path,
        "post",
        "200",
        _call(client, "POST", "/fedex" + rate.path, rate.json, headers),
    )
    ship = mapping.ship_request(
        carrier.LabelRequest(spec=fx.SPEC, account=ACCOUNT, service_code="FEDEX_2_DAY", reference="shp_c"),
        ACCOUNT,
    )
    shipped = _call(client, "POST", "/fedex" + ship.path, ship.json, headers)
    _validate("Shipment-Resource.json", ship.path, "post", "200", shipped)
    number = shipped["output"]["transactionShipments"][0]["masterTrackingNumber"]
    client.post("/_sim/clock", json={"advance_hours": 30})
    track = mapping.track_request([number, "794953535000"])
    _validate(
        "TrackingNumbers-Resource.json",
        track.path,
        "post",
        "200",
        _call(client, "POST", "/fedex" + track.path, track.json, headers),
    )
    cancel = mapping.cancel_request(carrier.VoidRequest(ACCOUNT, number), ACCOUNT)
    _validate(
        "Shipment-Resource.json",
        cancel.path,
        "put",
        "200",
        _call(client, "PUT", "/fedex" + cancel.path, cancel.json, headers),
    )


def test_the_launchers_fedex_account_is_valid_and_matches_the_simulators_defaults():
    from adapters import registry
    from gateway.launcher.simulator import simulator_callback_secrets, simulator_carriers
    from simulator import config as sim_config

    entries = simulator_carriers("http://127.0.0.1:8099")
    loaded = registry.load(entries)
    try:
        [fedex_entry] = [e for e in entries if e["adapter"] == "fedex"]
        defaults = sim_config.SimConfig()
        config = fedex_entry["config"]
        assert (config["client_id"], config["client_secret"]) == (
            defaults.fedex_client_id,
            defaults.fedex_client_secret,
        )
        assert config["base_url"] == "http://127.0.0.1:8099/fedex"
        assert (
            config["webhook_security_token"]
            == defaults.fedex_security_token
            == simulator_callback_secrets()["fedex"]
        )
        assert any(loaded.get(key).name == "fedex" for key in loaded)
    finally:
        loaded.close()


def test_url_only_labels_are_served_from_the_document_url(client):
    from adapters.fedex import mapping

    headers = _token(client)
    ship = mapping.ship_request(
        carrier.LabelRequest(
            spec=fx.SPEC,
            account=ACCOUNT,
            service_code="FEDEX_GROUND",
            reference="shp_url",
            label_format=carrier.LabelFormat.PDF,
        ),
        ACCOUNT,
    )
    body = {**ship.json, "labelResponseOptions": "URL_ONLY"}
    reply = client.post("/fedex/ship/v1/shipments", json=body, headers=headers)
    [piece] = reply.json["output"]["transactionShipments"][0]["pieceResponses"]
    [document] = piece["packageDocuments"]
    assert "encodedLabel" not in document
    fetched = client.get(document["url"].replace("http://localhost", ""))
    assert fetched.status_code == 200 and fetched.data.startswith(b"%PDF")
    assert client.get("/fedex/document/000000000000").status_code == 404


def test_a_declaration_gets_duties_on_the_rates_and_fedexs_commercial_invoice_with_the_label(fedex):
    abroad = dataclasses.replace(
        fx.SPEC,
        destination=dataclasses.replace(fx.INTERNATIONAL.destination, country_code="DE", postal_code="04109"),
        customs=DECLARATION,
    )
    rates = fedex.rate(carrier.RateRequest(abroad, ACCOUNT))
    assert rates and {r.duties_and_taxes for r in rates} == {money.Money(Decimal("6.27"), "USD")}
    request = carrier.LabelRequest(
        abroad, ACCOUNT, "FEDEX_INTERNATIONAL_PRIORITY", "shp_customs", carrier.LabelFormat.PDF
    )
    result = fedex.label(request)
    [invoice] = result.documents
    assert invoice.kind == "commercial_invoice" and invoice.data.startswith(b"%PDF")
    assert b"COMMERCIAL INVOICE" in invoice.data
