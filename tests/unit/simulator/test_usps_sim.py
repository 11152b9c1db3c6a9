"""The USPS v3 subset answers what the USPS adapter sends, in USPS's shapes, and pushes X-HMAC-signed events.

The tests drive the real ``adapters.usps`` client against the simulator app in-process (no sockets).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from decimal import Decimal
from typing import Any

import pytest
import requests

from adapters import base
from adapters import http as carrier_http
from adapters.usps import mapping
from adapters.usps.client import UspsAdapter
from schemas import carrier, events
from simulator import app as sim_app
from simulator import numbers
from tests.unit.adapters_usps import usps_fixtures as ux
from tests.unit.simulator.sim_support import FlaskAdapter, ManualTime, shared_or_skip

SECRET = "0123456789abcdef0123456789abcdef"
CONFIG: dict[str, Any] = {
    "client_id": "sim-usps-client",
    "client_secret": "sim-usps-secret",
    "crid": "56982563",
    "mid": "904128936",
    "account_number": "1000405525",
    "base_url": "http://sim/usps",
    "timeout_seconds": 5,
    "webhook_secret": SECRET,
}


def adapter_on(session: requests.Session, **config: Any) -> UspsAdapter:
    """A USPS adapter on the in-process simulator, with its own circuit breaker and no retry pauses."""
    return UspsAdapter(
        {**CONFIG, **config},
        session=session,
        breaker=carrier_http.CircuitBreaker(),
        retry=carrier_http.RetryPolicy(attempts=1),
    )


@pytest.fixture
def usps(session: requests.Session) -> UspsAdapter:
    return adapter_on(session)


def _buy(usps: UspsAdapter, reference: str = "shp_0001", service: str = "PRIORITY_MAIL", spec=ux.SPEC):
    return usps.label(
        carrier.LabelRequest(
            spec=spec,
            account=CONFIG["account_number"],
            service_code=service,
            reference=reference,
            label_format=carrier.LabelFormat.PDF,
        )
    )


def _token(client: Any) -> dict[str, str]:
    reply = client.post(
        "/usps/oauth2/v3/token",
        json={
            "grant_type": "client_credentials",
            "client_id": CONFIG["client_id"],
            "client_secret": CONFIG["client_secret"],
        },
    )
    assert reply.status_code == 200
    return {"Authorization": f"Bearer {reply.json['access_token']}"}


def test_token_needs_the_configured_credentials(client):
    assert _token(client)
    wrong = client.post(
        "/usps/oauth2/v3/token",
        json={"grant_type": "client_credentials", "client_id": "sim-usps-client", "client_secret": "x"},
    )
    assert wrong.status_code == 401 and wrong.json["error"] == "invalid_client"


def test_calls_without_a_token_get_401_in_the_usps_envelope(client):
    reply = client.post("/usps/prices/v3/total-rates/search", json={})
    assert reply.status_code == 401
    assert reply.json["apiVersion"] == "/prices/v3"
    assert reply.json["error"]["errors"][0]["code"] == "SIM401"


def test_total_rates_price_every_mail_class_with_delivery_estimates(usps):
    rates = usps.rate(carrier.RateRequest(spec=ux.SPEC, account=CONFIG["account_number"]))
    by_class = {r.service_code: r for r in rates}
    assert set(by_class) == {"USPS_GROUND_ADVANTAGE", "PRIORITY_MAIL", "PRIORITY_MAIL_EXPRESS"}
    assert all(r.total.currency == "USD" and r.total.amount > 0 for r in rates)
    assert by_class["PRIORITY_MAIL"].transit_days == 2
    assert by_class["PRIORITY_MAIL"].estimated_delivery is not None
    assert by_class["PRIORITY_MAIL_EXPRESS"].guaranteed
    assert [r.total.amount for r in rates] == sorted(r.total.amount for r in rates)


def test_base_rates_price_one_class_and_extras_add_up(usps):
    one = usps.rate(
        carrier.RateRequest(spec=ux.SPEC, account=CONFIG["account_number"], services=("PRIORITY_MAIL",))
    )
    assert [r.service_code for r in one] == ["PRIORITY_MAIL"]
    valued = usps.rate(carrier.RateRequest(spec=ux.VALUED, account=CONFIG["account_number"]))
    priority = {r.service_code: r for r in valued}["PRIORITY_MAIL"]
    assert {line.code for line in priority.charges} >= {"921", "930"}
    assert sum((line.amount.amount for line in priority.charges), Decimal(0)) == priority.total.amount


def test_a_label_is_sold_once_on_the_paying_account_with_a_valid_impb(usps, sim):
    quoted = {
        r.service_code: r
        for r in usps.rate(carrier.RateRequest(spec=ux.SPEC, account=CONFIG["account_number"]))
    }
    label = _buy(usps)
    [number] = label.tracking_numbers
    assert numbers.usps_number_is_valid(number) and number.startswith("92055904128936")
    assert label.label.startswith(b"%PDF")
    assert label.charges == quoted["PRIORITY_MAIL"].total
    [sold] = sim.ledger.all()
    assert (sold.carrier, sold.account, sold.reference, sold.tracking_number) == (
        "usps",
        "1000405525",
        "shp_0001",
        number,
    )


def test_labels_need_a_payment_authorization_token(client):
    reply = client.post("/usps/labels/v3/label", json={}, headers=_token(client))
    assert reply.status_code == 401
    assert reply.json["error"]["errors"][0]["code"] == "SIM401P"


def test_the_default_label_reply_is_multipart_and_the_adapter_reads_it(client, sim):
    headers = _token(client)
    payment = client.post(
        "/usps/payments/v3/payment-authorization",
        json={
            "roles": [
                {"roleName": n, "CRID": "1", "MID": "904128936", "accountType": "EPS", "accountNumber": "77"}
                for n in ("PAYER", "LABEL_OWNER")
            ]
        },
        headers=headers,
    ).json["paymentAuthorizationToken"]
    call = mapping.label_request(
        carrier.LabelRequest(
            spec=ux.SPEC, account="77", service_code="USPS_GROUND_ADVANTAGE", reference="r1"
        ),
        mapping.Service("USPS_GROUND_ADVANTAGE", "SP", "MACHINABLE"),
        sim.clock.now().date(),
        CONFIG,
    )
    reply = client.post(
        "/usps/labels/v3/label", json=call.json, headers={**headers, "X-Payment-Authorization-Token": payment}
    )
    assert reply.status_code == 200 and reply.mimetype.startswith("multipart/")
    result = mapping.parse_label_multipart(reply.data, reply.headers["Content-Type"], carrier.LabelFormat.PDF)
    assert result.tracking_numbers[0].startswith("92001")
    assert sim.ledger.get(result.tracking_numbers[0]).account == "77"


def test_cancel_before_acceptance_is_canceled_and_after_it_a_refund_request(usps, client, sim):
    first = _buy(usps, "shp_void")
    voided = usps.void(
        carrier.VoidRequest(CONFIG["account_number"], first.carrier_shipment_id, first.tracking_numbers)
    )
    assert voided.voided and "postage not charged" in (voided.message or "")
    assert sim.ledger.get(first.carrier_shipment_id).voided
    with pytest.raises(base.CarrierRejected):
        usps.void(
            carrier.VoidRequest(CONFIG["account_number"], first.carrier_shipment_id, first.tracking_numbers)
        )

    second = _buy(usps, "shp_moved")
    client.post("/_sim/clock", json={"advance_hours": 3})
    refund = usps.void(
        carrier.VoidRequest(CONFIG["account_number"], second.carrier_shipment_id, second.tracking_numbers)
    )
    assert refund.voided and "refund requested" in (refund.message or "")


def test_tracking_plays_the_progression_with_usps_codes_that_all_map(usps, client):
    number = _buy(usps, "shp_track").tracking_numbers[0]
    assert [e.code for e in usps.track(carrier.TrackRequest(number)).events] == ["GX"]
    client.post("/_sim/clock", json={"advance_hours": 30})
    result = usps.track(carrier.TrackRequest(number))
    assert [e.code for e in result.events] == ["GX", "03", "10", "10", "EF", "07", "OF", "01"]
    table = UspsAdapter.code_table()
    assert all(table.lookup(e.code, e.subcode) is not None for e in result.events)
    delivered = UspsAdapter.canonical(result.events[-1], events.EventSource.POLL)
    assert delivered.milestone.value == "delivered"
    assert result.events[-1].attributes["signatory"]


def test_tracking_an_unknown_number_is_a_207_item_the_adapter_keeps_as_a_warning(usps):
    number = _buy(usps, "shp_known").tracking_numbers[0]
    found = usps.track_many([number, ux.OTHER])
    assert found[number].events and not found[ux.OTHER].events
    assert any("150002" in w for w in found[ux.OTHER].warnings)


def test_exception_scenarios_use_usps_codes(make_app):
    app = make_app(exception_share=1.0, seed=5)
    http = requests.Session()
    http.mount("http://sim/", FlaskAdapter(app))
    adapter = adapter_on(http)
    for n in range(12):
        _buy(adapter, f"shp_x{n}")
    app.test_client().post("/_sim/clock", json={"advance_hours": 30})
    sim = app.extensions["handoff_simulator"]
    assert {label.scenario for label in sim.ledger.all()} == {"failed_attempt", "missent", "returned"}
    table = UspsAdapter.code_table()
    for label in sim.ledger.all():
        found = adapter.track(carrier.TrackRequest(label.tracking_number)).events
        assert all(table.lookup(e.code, None) is not None for e in found)
        codes = [e.code for e in found]
        expected_end = {
            "returned": ["05", "09"],
            "failed_attempt": ["02", "OF", "01"],
            "missent": ["OF", "01"],
        }
        assert codes[-len(expected_end[label.scenario]) :] == expected_end[label.scenario]


LISTENER = "http://gw/v1/callbacks/usps"


def _pushing_sim(statuses: list[int] | None = None, **config: Any):
    """A simulator whose pushes land in a list; each answers the next of ``statuses`` (202 after)."""
    posted: list[tuple[str, bytes, dict[str, str]]] = []
    answers = list(statuses or [])

    def post(url: str, data: bytes, headers: dict[str, str], timeout: float) -> requests.Response:
        posted.append((url, data, headers))
        response = requests.Response()
        response.status_code = answers.pop(0) if answers else 202
        return response

    app = sim_app.create_app(
        {"seed": 7, "day_seconds": 86_400.0, "exception_share": 0.0, **config},
        real_time=ManualTime(),
        sleep=lambda _s: None,
        post=post,
    )
    http = requests.Session()
    http.mount("http://sim/", FlaskAdapter(app))
    return app, http, posted


def test_pushes_go_only_to_a_subscription_signed_with_its_secret_and_match_the_polled_events():
    app, http, posted = _pushing_sim()
    adapter = adapter_on(http, admin_emails=["ops@example.com"], allow_http_listener=True)
    number = _buy(adapter, "shp_push").tracking_numbers[0]
    client = app.test_client()
    client.post("/_sim/clock", json={"advance_hours": 30})
    # No subscription yet: USPS pushes nothing.
    assert client.post("/_sim/push/tick").json["sent"] == 0

    subscription = adapter.subscribe_account_pushes(LISTENER)
    assert subscription.active and subscription.listener_url == LISTENER

    assert client.post("/_sim/push/tick").json["sent"] == 8
    assert client.post("/_sim/push/tick").json["sent"] == 0
    pushed = []
    for url, body, headers in posted:
        assert url == LISTENER
        envelope = json.loads(body)
        assert envelope["subscriptionId"] == subscription.id
        expected = hmac.new(
            SECRET.encode(), (envelope["timestamp"] + envelope["payload"]).encode(), hashlib.sha256
        )
        assert headers["X-HMAC"] == base64.b64encode(expected.digest()).decode()
        adapter.verify_push(headers, body)
        pushed += adapter.parse_push(headers, body)
    polled = adapter.track(carrier.TrackRequest(number)).events
    assert [e.source_event_id for e in pushed] == [e.source_event_id for e in polled]
    assert {e.tracking_number for e in pushed} == {number}


def test_a_subscription_for_another_mid_gets_nothing_and_a_deleted_one_stops():
    app, http, posted = _pushing_sim()
    ours = adapter_on(http, admin_emails=["ops@example.com"], allow_http_listener=True)
    theirs = adapter_on(http, admin_emails=["ops@example.com"], allow_http_listener=True, mid="904128937")
    other = theirs.subscribe_account_pushes("http://other/v1/callbacks/usps")
    mine = ours.subscribe_account_pushes(LISTENER)
    _buy(ours, "shp_first")
    client = app.test_client()
    client.post("/_sim/clock", json={"advance_hours": 2})
    assert client.post("/_sim/push/tick").json["sent"] > 0
    assert {url for url, _b, _h in posted} == {LISTENER}

    ours.cancel_account_pushes(mine.id)
    assert ours.account_push_subscription(mine.id) is None
    client.post("/_sim/clock", json={"advance_hours": 30})
    assert client.post("/_sim/push/tick").json["sent"] == 0
    assert theirs.account_push_subscription(other.id) is not None


def test_a_listener_that_keeps_failing_gets_its_subscription_suspended_with_a_reason():
    app, http, posted = _pushing_sim(statuses=[500] * 5, usps_suspend_after_failures=5)
    adapter = adapter_on(http, admin_emails=["ops@example.com"], allow_http_listener=True)
    subscription = adapter.subscribe_account_pushes(LISTENER)
    _buy(adapter, "shp_failing")
    client = app.test_client()
    client.post("/_sim/clock", json={"advance_hours": 30})

    client.post("/_sim/push/tick")

    assert len(posted) == 5  # then USPS stops posting
    found = adapter.account_push_subscription(subscription.id)
    assert found is not None and (found.status, found.active) == ("suspended", False)
    assert found.reason


@pytest.mark.parametrize(
    "body",
    [
        {"secret": "short"},
        {"listenerURL": "ftp://gw/usps"},
        {"adminNotification": []},
        {"filterProperties": {"trackingEventTypes": ["ALL_UPDATES"]}},
        {"filterProperties": {"MID": "12", "trackingEventTypes": ["ALL_UPDATES"]}},
        {"filterProperties": {"MID": "904128936", "trackingEventTypes": ["EVERYTHING"]}},
    ],
)
def test_a_subscription_usps_would_refuse_gets_400_in_the_usps_envelope(client, body):
    valid = {
        "listenerURL": LISTENER,
        "secret": SECRET,
        "adminNotification": [{"email": "ops@example.com"}],
        "filterProperties": {"MID": "904128936", "trackingEventTypes": ["ALL_UPDATES"]},
    }
    reply = client.post(
        "/usps/subscriptions-tracking/v3r2/subscriptions", json={**valid, **body}, headers=_token(client)
    )
    assert reply.status_code == 400
    assert reply.json["error"]["errors"][0]["detail"].startswith("Invalid subscription")
    assert client.get("/usps/subscriptions-tracking/v3r2/subscriptions", headers=_token(client)).json == []


def test_pushes_without_a_subscription_only_when_asked_for():
    app, http, posted = _pushing_sim(
        callback_url="http://gw/v1/callbacks/{carrier}",
        usps_webhook_secret=SECRET,
        usps_push_unsubscribed=True,
    )
    adapter = adapter_on(http)
    _buy(adapter, "shp_unsubscribed")
    client = app.test_client()
    client.post("/_sim/clock", json={"advance_hours": 30})
    assert client.post("/_sim/push/tick").json["sent"] == 8
    for _url, body, headers in posted:
        UspsAdapter.verify_callback(SECRET, headers, body)


@pytest.mark.parametrize(("kind", "status"), [("error_5xx", 503), ("timeout", 504)])
def test_faults_apply_to_usps_calls(client, manual_time, kind, status):
    headers = _token(client)
    client.post("/_sim/faults", json={"carriers": {"usps": {kind: 1.0, "operations": ["rate"]}}})
    reply = client.post("/usps/prices/v3/total-rates/search", json={}, headers=headers)
    assert reply.status_code == status
    assert manual_time.slept == ([35.0] if kind == "timeout" else [])
    assert client.get("/_sim/faults").json["injected"] == {"usps": {kind: 1}}


def test_a_charged_timeout_sells_the_label_but_loses_the_answer(usps, client, sim):
    client.post(
        "/_sim/faults", json={"carriers": {"usps": {"charged_timeout": 1.0, "operations": ["label"]}}}
    )
    label = _buy(usps, "shp_lost")
    [sold] = sim.ledger.all()
    assert sold.response_lost and sold.tracking_number == label.tracking_numbers[0]


def test_unavailable_estimates_leave_the_prices_standing(usps, client):
    client.post("/_sim/faults", json={"carriers": {"usps": {"error_5xx": 1.0, "operations": ["estimates"]}}})
    rates = usps.rate(carrier.RateRequest(spec=ux.SPEC, account=CONFIG["account_number"]))
    assert rates and all(r.transit_days is None for r in rates)


# -- the published contract (skips when ../shared/carriers is absent) ------------------------------------
_SPECS: dict[str, Any] = {}


def _relaxed(spec: dict[str, Any]) -> dict[str, Any]:
    """Waive ``additionalProperties: false`` on the parts of an ``allOf``.

    USPS composes replies with allOf and closes every part, which in JSON Schema no object can satisfy
    (each part refuses the other parts' fields); every other rule (types, enums, required) still holds.
    """
    schemas = spec.get("components", {}).get("schemas", {})

    def open_up(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("allOf"), list):
                node.pop("additionalProperties", None)
                for part in node["allOf"]:
                    ref = part.get("$ref", "") if isinstance(part, dict) else ""
                    target = (
                        schemas.get(ref.rsplit("/", 1)[-1])
                        if ref.startswith("#/components/schemas/")
                        else part
                    )
                    if isinstance(target, dict):
                        target.pop("additionalProperties", None)
            for value in node.values():
                open_up(value)
        elif isinstance(node, list):
            for value in node:
                open_up(value)

    open_up(spec)
    return spec


def _validate(
    spec_file: str,
    path: str,
    method: str,
    status: str,
    instance: Any,
    content: str = "application/json",
    schema: dict[str, Any] | None = None,
) -> None:
    """Validate a reply against the response schema of an operation in USPS's OpenAPI file."""
    jsonschema = pytest.importorskip("jsonschema")
    yaml = pytest.importorskip("yaml")
    if spec_file not in _SPECS:
        text = shared_or_skip("carriers", "usps", spec_file).read_text(encoding="utf-8")
        _SPECS[spec_file] = _relaxed(yaml.safe_load(re.sub(r"[ \t]+(\r?\n)", r"\1", text)))
    spec = _SPECS[spec_file]
    if schema is None:
        schema = spec["paths"][path][method]["responses"][status]["content"][content]["schema"]
    document = {**schema, "components": spec["components"]}
    # Formats are checked: the tracking spec tells a date-time from a date only by its format.
    validator = jsonschema.Draft7Validator(document, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def _validate_component(spec_file: str, name: str, instance: Any) -> None:
    _validate(spec_file, "", "", "", instance, schema={"$ref": f"#/components/schemas/{name}"})


def test_replies_match_uspss_published_response_schemas(client, sim):
    token = client.post(
        "/usps/oauth2/v3/token",
        json={
            "grant_type": "client_credentials",
            "client_id": "sim-usps-client",
            "client_secret": "sim-usps-secret",
        },
    ).json
    # The spec's ProviderAccessTokenResponse sets additionalProperties false on both halves of an allOf,
    # which no reply can satisfy; its fields are checked against the two halves one by one instead.
    _validate_component("oauth2_3_update.yaml", "AccessTokenResponse", token)
    assert isinstance(token["issued_at"], int) and token["status"] == "approved"
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    payment_call = mapping.payment_authorization_request(CONFIG)
    payment = client.post("/usps" + payment_call.path, json=payment_call.json, headers=headers).json
    _validate("payments_2.yaml", "/payment-authorization", "post", "200", payment)
    today = sim.clock.now().date()
    request = carrier.RateRequest(spec=ux.VALUED, account=CONFIG["account_number"])
    total = mapping.total_rates_request(request, CONFIG, today)
    _validate(
        "domestic-prices_10.yaml",
        "/total-rates/search",
        "post",
        "200",
        client.post("/usps" + total.path, json=total.json, headers=headers).json,
    )
    one = mapping.base_rates_request(
        request, mapping.Service("PRIORITY_MAIL", "SP", "MACHINABLE"), CONFIG, today
    )
    _validate(
        "domestic-prices_10.yaml",
        "/base-rates/search",
        "post",
        "200",
        client.post("/usps" + one.path, json=one.json, headers=headers).json,
    )
    estimates = mapping.estimates_request(ux.SPEC, ["PRIORITY_MAIL", "USPS_GROUND_ADVANTAGE"], today)
    reply = client.get("/usps" + estimates.path, query_string=dict(estimates.params), headers=headers).json
    _validate("service-standards_2_0.yaml", "/estimates", "get", "200", reply)
    paid = {**headers, "X-Payment-Authorization-Token": payment["paymentAuthorizationToken"]}
    label_call = mapping.label_request(
        ux.LABEL_REQUEST, mapping.Service("PRIORITY_MAIL", "SP", "MACHINABLE"), today, CONFIG
    )
    label = client.post(
        "/usps" + label_call.path, json=label_call.json, headers={**paid, **label_call.headers}
    ).json
    _validate("labels_update_1.yaml", "/label", "post", "200", label, "application/vnd.usps.labels+json")
    client.post("/_sim/clock", json={"advance_hours": 30})
    track = mapping.track_request([label["trackingNumber"]])
    _validate(
        "tracking-v3r2_4.yaml",
        "/tracking",
        "post",
        "200",
        client.post("/usps" + track.path, json=track.json, headers=headers).json,
    )
    both = mapping.track_request([label["trackingNumber"], ux.OTHER])
    multi = client.post("/usps" + both.path, json=both.json, headers=headers)
    assert multi.status_code == 207
    # The 207 items are oneOf two open schemas: told apart by statusCode, as their descriptions say.
    [found, missing] = multi.json
    _validate_component("tracking-v3r2_4.yaml", "SuccessResponse", found)
    _validate_component("tracking-v3r2_4.yaml", "FailureResponse", missing)
    assert (found["statusCode"], missing["statusCode"]) == ("200", "404")
    second = client.post(
        "/usps" + label_call.path, json=label_call.json, headers={**paid, **label_call.headers}
    ).json
    cancel = mapping.cancel_request(second["trackingNumber"])
    canceled = client.delete("/usps" + cancel.path, headers=paid).json
    _validate("labels_update_1.yaml", "/label/{trackingNumber}", "delete", "200", canceled)


def test_the_launchers_usps_account_is_valid_and_matches_the_simulators_defaults():
    from adapters import registry
    from gateway.launcher.simulator import simulator_callback_secrets, simulator_carriers
    from simulator import config as sim_config

    entries = simulator_carriers("http://127.0.0.1:8099")
    loaded = registry.load(entries)
    try:
        [usps_entry] = [e for e in entries if e["adapter"] == "usps"]
        defaults = sim_config.SimConfig()
        config = usps_entry["config"]
        assert (config["client_id"], config["client_secret"]) == (
            defaults.usps_client_id,
            defaults.usps_client_secret,
        )
        assert config["base_url"] == "http://127.0.0.1:8099/usps"
        # The launcher's gateway subscribes the account itself: its own secret verifies the pushes.
        assert config["webhook_secret"] == defaults.usps_webhook_secret
        assert "usps" not in simulator_callback_secrets()
        assert config["allow_http_listener"] and config["admin_emails"]
        assert any(loaded.get(key).name == "usps" for key in loaded)
    finally:
        loaded.close()
