import json
from decimal import Decimal

import pytest
import requests
import responses

from adapters import base, registry
from adapters import http as carrier_http
from schemas import carrier, money
from tests.plugins.handoff_example_adapter.handoff_example_adapter import ExampleAdapter
from tests.unit.adapters import ups_fixtures as fx

EXAMPLE_CONFIG = {"api_key": "example-api-key-42", "price_per_parcel": "4.50", "currency": "EUR"}
# The out-of-tree example plugin (tests/plugins/handoff_example_adapter), imported from the source tree;
# tests/integration/test_example_adapter_plugin.py installs it for real.
EXAMPLE_TARGET = f"{ExampleAdapter.__module__}:ExampleAdapter"


@pytest.fixture
def example_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registry lookups see the example plugin's ``handoff.adapters`` entry point (and no other)."""
    monkeypatch.setattr(registry, "_entry_points", lambda: (("example", EXAMPLE_TARGET),))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- base ---------------------------------------------------------------------------------------------------


def test_calling_an_undeclared_capability_raises_capability_not_supported():
    adapter = ExampleAdapter(EXAMPLE_CONFIG)
    with pytest.raises(base.CapabilityNotSupported, match="'example' does not support 'void'"):
        adapter.void(carrier.VoidRequest("acct", "X1"))


def test_masked_config_hides_secret_fields_but_keeps_the_rest():
    masked = ExampleAdapter(EXAMPLE_CONFIG).masked_config()
    assert masked == {"api_key": base.MASK, "price_per_parcel": "4.50", "currency": "EUR"}


def test_invalid_config_is_refused_without_echoing_the_secret():
    with pytest.raises(base.ConfigurationError) as caught:
        ExampleAdapter({**EXAMPLE_CONFIG, "api_key": 12345678901})
    assert "api_key" in str(caught.value)
    assert "12345678901" not in str(caught.value)


def test_redact_masks_sensitive_keys_bearer_tokens_and_known_secret_values():
    adapter = ExampleAdapter(EXAMPLE_CONFIG)
    redacted = adapter.redact(
        {
            "headers": {"Authorization": "Bearer abc.def", "Accept": "application/json"},
            "body": "grant_type=client_credentials&client_secret=s3cr3t",
            "log": "called with example-api-key-42 and Bearer zzz",
            "nested": [{"password": "hunter22"}],
        }
    )
    assert redacted == {
        "headers": {"Authorization": base.MASK, "Accept": "application/json"},
        "body": f"grant_type=client_credentials&client_secret={base.MASK}",
        "log": f"called with {base.MASK} and Bearer {base.MASK}",
        "nested": [{"password": base.MASK}],
    }


def test_a_label_format_the_adapter_does_not_offer_is_rejected_before_any_call():
    request = carrier.LabelRequest(fx.SPEC, "acct", "flat", "shp_9", carrier.LabelFormat.PDF)
    with pytest.raises(base.CarrierRejected) as caught:
        ExampleAdapter(EXAMPLE_CONFIG).label(request)
    assert caught.value.code == "unsupported_label_format"


def test_an_exhausted_deadline_is_unavailable_at_once():
    with pytest.raises(base.CarrierUnavailable):
        ExampleAdapter(EXAMPLE_CONFIG).rate(fx.RATE_REQUEST, timeout=0)


def test_tracking_events_must_be_in_utc():
    from datetime import datetime, timedelta, timezone

    with pytest.raises(ValueError, match="UTC"):
        carrier.RawTrackingEvent(
            "ups", "1Z", "I", "OT", "x", datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2)))
        )


# -- registry -----------------------------------------------------------------------------------------------


def test_registry_loads_the_example_adapter_through_its_entry_point(example_entry_point):
    assert registry.available()["example"] == EXAMPLE_TARGET
    loaded = registry.load([{"adapter": "example", "id": "example-eu", "config": EXAMPLE_CONFIG}])
    adapter = loaded.get("example-eu")
    (rate,) = adapter.rate(fx.RATE_REQUEST)
    assert rate.total == money.Money(Decimal("4.50"), "EUR")
    assert loaded.describe()[0]["config"]["api_key"] == base.MASK


def test_registry_skips_disabled_entries_and_names_unknown_adapters(example_entry_point):
    loaded = registry.load([{"adapter": "example", "enabled": False, "config": {}}])
    assert len(loaded) == 0
    with pytest.raises(registry.RegistryError, match="no adapter named 'canada_post'"):
        registry.load([{"adapter": "canada_post", "config": {}}])


def test_registry_reports_a_misconfigured_adapter_by_id():
    with pytest.raises(registry.RegistryError, match="'ups-us'"):
        registry.load([{"adapter": "ups", "id": "ups-us", "config": {"client_id": "x"}}])


def test_registry_finds_adapters_by_capability(example_entry_point):
    loaded = registry.load(
        [{"adapter": "example", "config": EXAMPLE_CONFIG}, {"adapter": "ups", "config": fx.CONFIG}]
    )
    assert [a.name for a in loaded.with_capability(base.Capability.VOID)] == ["ups"]


# -- http: retries, breaker, recorder -----------------------------------------------------------------------


def make_http(attempts=3, threshold=2, clock=None, recorder=None):
    clock = clock or Clock()
    sleeps: list[float] = []
    http = carrier_http.CarrierHttp(
        carrier="ups",
        account="A1B2C3",
        breaker=carrier_http.CircuitBreaker(failure_threshold=threshold, reset_after=30, clock=clock),
        retry=carrier_http.RetryPolicy(
            attempts=attempts, base_delay=0.2, sleep=sleeps.append, rng=lambda: 1.0
        ),
        recorder=recorder,
        clock=clock,
    )
    return http, sleeps


@responses.activate
def test_idempotent_calls_retry_with_exponential_backoff():
    responses.get("http://c.test/x", status=503)
    http, sleeps = make_http(attempts=3)
    with pytest.raises(base.CarrierUnavailable) as caught:
        http.send("GET", "http://c.test/x", operation="track", timeout=5, idempotent=True)
    assert caught.value.http_status == 503
    assert len(responses.calls) == 3
    assert sleeps == [0.2, 0.4]


@responses.activate
def test_non_idempotent_calls_are_sent_exactly_once():
    responses.post("http://c.test/ship", status=503)
    http, sleeps = make_http(attempts=3)
    with pytest.raises(base.CarrierUnavailable):
        http.send("POST", "http://c.test/ship", operation="label", timeout=5, idempotent=False)
    assert len(responses.calls) == 1
    assert sleeps == []


@responses.activate
def test_a_4xx_is_returned_to_the_adapter_and_not_retried():
    responses.get("http://c.test/x", status=400, json={"e": 1})
    http, _ = make_http()
    assert (
        http.send("GET", "http://c.test/x", operation="track", timeout=5, idempotent=True).status_code == 400
    )
    assert len(responses.calls) == 1


@responses.activate
def test_the_circuit_opens_after_failures_and_answers_without_calling():
    responses.get("http://c.test/x", body=requests.ConnectionError("refused"))
    clock = Clock()
    http, _ = make_http(attempts=1, threshold=2, clock=clock)
    for _ in range(2):
        with pytest.raises(base.CarrierUnavailable):
            http.send("GET", "http://c.test/x", operation="rate", timeout=5, idempotent=True)
    with pytest.raises(base.CarrierUnavailable) as caught:
        http.send("GET", "http://c.test/x", operation="rate", timeout=5, idempotent=True)
    assert caught.value.code == "circuit_open"
    assert len(responses.calls) == 2
    clock.now += 31  # after the pause one probe goes through, and success closes the circuit
    responses.replace(responses.GET, "http://c.test/x", json={})
    assert (
        http.send("GET", "http://c.test/x", operation="rate", timeout=5, idempotent=True).status_code == 200
    )
    assert http.breaker.state == "closed"


def test_breakers_are_shared_per_carrier_account():
    book = carrier_http.BreakerBook()
    assert book.get("ups", "A") is book.get("ups", "A")
    assert book.get("ups", "A") is not book.get("ups", "B")


def test_clearing_the_breakers_closes_an_open_circuit():
    book = carrier_http.BreakerBook(failure_threshold=1, reset_after=1e9)
    book.get("ups", "A").record_failure()
    assert book.get("ups", "A").state == "open"
    book.clear()
    assert book.get("ups", "A").state == "closed"


@responses.activate
def test_the_recorder_receives_redacted_exchanges():
    recorded = []
    responses.post("http://c.test/token", json={"access_token": "tok-secret-1", "expires_in": "3600"})
    http, _ = make_http(recorder=recorded.append)
    http.send(
        "POST",
        "http://c.test/token",
        operation="oauth",
        timeout=5,
        idempotent=True,
        data={"grant_type": "client_credentials", "client_secret": "cs-123456"},
        headers={"Authorization": "Bearer old-token-xyz"},
    )
    text = json.dumps(recorded)
    for secret in ("tok-secret-1", "cs-123456", "old-token-xyz"):
        assert secret not in text
    assert recorded[0]["response"]["status"] == 200


def test_the_default_session_always_sets_a_timeout():
    session = carrier_http.make_session(timeout=3.5)
    seen = {}

    def fake_send(request, **kwargs):
        seen.update(kwargs)
        response = requests.Response()
        response.status_code = 204
        return response

    session.send = fake_send
    session.get("http://c.test/x")
    assert seen["timeout"] == 3.5
