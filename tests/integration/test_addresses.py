"""POST /v1/addresses/validate: a carrier validates, normalises and classifies; answers are cached per tenant."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import requests
import responses
import sqlalchemy as sa

from gateway.addresses.tables import AddressValidation
from gateway.app import create_app
from gateway.kernel import auth, models
from gateway.kernel.types import utcnow
from tests.helpers import shipment_body

UPS = "https://ups-addresses.test"
FEDEX = "https://fedex-addresses.test"
USPS = "https://usps-addresses.test"
UPS_XAV = f"{UPS}/api/addressvalidation/v2/3"
FEDEX_RESOLVE = f"{FEDEX}/address/v1/addresses/resolve"
USPS_ADDRESS = f"{USPS}/addresses/v3/address"

ASKED = {
    "street_lines": ["26601  aliso creek road", "ste d"],
    "city": "Aliso Viejo",
    "state": "CA",
    "postal_code": "92656",
    "country_code": "US",
    "name": "Ritz Camera",
}
# Shaped like UPS's published XAVResponse (v2: Candidate and Alert are arrays).
UPS_VALID = {
    "XAVResponse": {
        "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
        "ValidAddressIndicator": "",
        "AddressClassification": {"Code": "2", "Description": "Residential"},
        "Candidate": [
            {
                "AddressClassification": {"Code": "2", "Description": "Residential"},
                "AddressKeyFormat": {
                    "AddressLine": ["26601 ALISO CREEK RD", "STE D"],
                    "PoliticalDivision2": "ALISO VIEJO",
                    "PoliticalDivision1": "CA",
                    "PostcodePrimaryLow": "92656",
                    "PostcodeExtendedLow": "5303",
                    "CountryCode": "US",
                },
            }
        ],
    }
}
UPS_AMBIGUOUS = {
    "XAVResponse": {
        "Response": {
            "ResponseStatus": {"Code": "1", "Description": "Success"},
            "Alert": [{"Code": "120910", "Description": "Address may be incomplete"}],
        },
        "AmbiguousAddressIndicator": "",
        "AddressClassification": {"Code": "0", "Description": "UnClassified"},
        "Candidate": [
            {
                "AddressClassification": {"Code": "1", "Description": "Commercial"},
                "AddressKeyFormat": {
                    "AddressLine": ["26601 ALISO CREEK RD STE D"],
                    "PoliticalDivision2": "ALISO VIEJO",
                    "PoliticalDivision1": "CA",
                    "PostcodePrimaryLow": "92656",
                    "CountryCode": "US",
                },
            },
            {
                "AddressKeyFormat": {
                    "AddressLine": ["26601 ALISO CREEK RD STE E"],
                    "PoliticalDivision2": "ALISO VIEJO",
                    "PoliticalDivision1": "CA",
                    "PostcodePrimaryLow": "92656",
                    "CountryCode": "US",
                },
            },
        ],
    }
}
FEDEX_BUSINESS = {
    "output": {
        "resolvedAddresses": [
            {
                "streetLinesToken": ["26601 ALISO CREEK RD", "STE D"],
                "city": "ALISO VIEJO",
                "stateOrProvinceCode": "CA",
                "countryCode": "US",
                "parsedPostalCode": {"base": "92656", "addOn": "5303"},
                "classification": "BUSINESS",
                "customerMessage": [],
                "attributes": {"Resolved": True, "DPV": True},
            }
        ]
    }
}
USPS_HOME = {
    "address": {
        "streetAddress": "26601 ALISO CREEK RD",
        "secondaryAddress": "STE D",
        "city": "ALISO VIEJO",
        "state": "CA",
        "ZIPCode": "92656",
        "ZIPPlus4": "5303",
    },
    "additionalInfo": {"DPVConfirmation": "Y", "business": "N", "vacant": "N"},
    "corrections": [],
    "matches": [{"code": "31", "text": "Single Response - exact match"}],
}


@pytest.fixture(scope="module")
def addr_app(settings: dict[str, Any]) -> Any:
    carriers = [
        {
            "adapter": "ups",
            "id": "a-ups",
            "config": {
                "client_id": "cid",
                "client_secret": "cs",
                "account_number": "A1B2C3",
                "base_url": UPS,
            },
        },
        {
            "adapter": "fedex",
            "id": "b-fedex",
            "config": {
                "client_id": "fid",
                "client_secret": "fs",
                "account_number": "740561073",
                "base_url": FEDEX,
            },
        },
        {
            "adapter": "usps",
            "id": "c-usps",
            "config": {
                "client_id": "uid",
                "client_secret": "us",
                "crid": "56982563",
                "mid": "904128936",
                "account_type": "EPS",
                "account_number": "1000405525",
                "base_url": USPS,
            },
        },
    ]
    application = create_app({**settings, "CARRIERS": json.dumps(carriers)})
    yield application
    application.extensions["handoff"].dispose()


def tenant(application: Any) -> tuple[str, dict[str, str]]:
    with application.extensions["handoff"].sessions() as session:
        slug = f"t-{uuid.uuid4().hex[:10]}"
        row = models.Tenant(name=slug, slug=slug)
        session.add(row)
        session.flush()
        _key_row, key = auth.create_key(
            session, row.id, ("platform",), pepper=application.config["SECRET_PEPPER"]
        )
        session.commit()
        return row.id, {"Authorization": f"Bearer {key}"}


def tokens() -> None:
    responses.post(f"{UPS}/security/v1/oauth/token", json={"access_token": "ups-t", "expires_in": "14399"})
    responses.post(
        f"{FEDEX}/oauth/token", json={"access_token": "fedex-t", "token_type": "bearer", "expires_in": 3599}
    )
    responses.post(
        f"{USPS}/oauth2/v3/token",
        json={"access_token": "usps-t", "token_type": "Bearer", "expires_in": "28799"},
    )


def calls(url: str) -> int:
    return sum(1 for c in responses.calls if c.request.url and c.request.url.split("?")[0] == url)


def validate(client: Any, headers: dict[str, str], address: dict[str, Any] = ASKED, **extra: Any) -> Any:
    return client.post("/v1/addresses/validate", json={"address": address, **extra}, headers=headers)


@responses.activate
def test_the_first_carrier_that_can_validates_normalises_and_classifies_and_the_answer_is_cached(addr_app):
    tokens()
    responses.post(UPS_XAV, json=UPS_VALID)
    client, (_tid, headers) = addr_app.test_client(), tenant(addr_app)

    first = validate(client, headers)

    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert (body["carrier"], body["adapter"]) == ("a-ups", "ups")
    assert body["classification"] == "residential" and body["valid"] is True
    assert body["address"]["street_lines"] == ["26601 ALISO CREEK RD", "STE D"]
    assert body["address"]["postal_code"] == "92656-5303" and body["address"]["residential"] is True
    assert body["cached"] is False
    # Placed offline at the ZIP's centroid, and said to be approximate.
    assert body["location"]["approximate"] is True and body["location"]["source"] == "zip"
    assert float(body["location"]["latitude"]) == pytest.approx(33.57, abs=0.1)
    sent = json.loads(responses.calls[-1].request.body)["XAVRequest"]["AddressKeyFormat"]
    assert sent["PoliticalDivision1"] == "CA" and sent["PostcodePrimaryLow"] == "92656"

    # The same place typed differently (case, spaces, another name) is answered from the cache.
    again = validate(
        client, headers, {**ASKED, "street_lines": ["26601 ALISO CREEK ROAD", "STE D"], "name": "Someone"}
    )
    assert again.status_code == 200
    assert again.get_json()["cached"] is True
    assert again.get_json()["address"] == body["address"]
    assert calls(UPS_XAV) == 1


@responses.activate
def test_the_cache_is_per_tenant_and_expires(addr_app):
    tokens()
    responses.post(UPS_XAV, json=UPS_VALID)
    client = addr_app.test_client()
    (one, one_headers), (_two, two_headers) = tenant(addr_app), tenant(addr_app)

    assert validate(client, one_headers).get_json()["cached"] is False
    assert validate(client, two_headers).get_json()["cached"] is False  # another tenant asks the carrier
    assert calls(UPS_XAV) == 2

    with addr_app.extensions["handoff"].sessions() as session:
        session.execute(
            sa.update(AddressValidation)
            .where(AddressValidation.tenant_id == one)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    assert validate(client, one_headers).get_json()["cached"] is False
    assert calls(UPS_XAV) == 3
    assert validate(client, one_headers).get_json()["cached"] is True


@responses.activate
def test_an_ambiguous_address_comes_back_with_the_carriers_candidates(addr_app):
    tokens()
    responses.post(UPS_XAV, json=UPS_AMBIGUOUS)
    body = validate(addr_app.test_client(), tenant(addr_app)[1], carrier="ups").get_json()
    assert body["valid"] is None and body["classification"] == "unknown"
    assert [c["street_lines"] for c in body["candidates"]] == [
        ["26601 ALISO CREEK RD STE D"],
        ["26601 ALISO CREEK RD STE E"],
    ]
    assert body["candidates"][0]["residential"] is False  # the first candidate is commercial
    assert "120910: Address may be incomplete" in body["messages"]


@responses.activate
def test_fedex_and_usps_are_asked_when_named(addr_app):
    tokens()
    responses.post(FEDEX_RESOLVE, json=FEDEX_BUSINESS)
    responses.get(USPS_ADDRESS, json=USPS_HOME)
    client, (_tid, headers) = addr_app.test_client(), tenant(addr_app)

    fedex = validate(client, headers, carrier="fedex").get_json()
    assert (fedex["carrier"], fedex["classification"], fedex["valid"]) == ("b-fedex", "commercial", True)
    assert fedex["address"]["postal_code"] == "92656-5303"

    usps = validate(client, headers, carrier="c-usps").get_json()
    assert (usps["carrier"], usps["classification"], usps["valid"]) == ("c-usps", "residential", True)
    assert usps["address"]["street_lines"] == ["26601 ALISO CREEK RD", "STE D"]
    assert calls(FEDEX_RESOLVE) == 1 and calls(USPS_ADDRESS) == 1


@responses.activate
def test_an_address_usps_cannot_find_is_answered_as_not_valid(addr_app):
    tokens()
    responses.get(
        USPS_ADDRESS,
        status=404,
        json={
            "apiVersion": "v1",
            "error": {"code": "404", "message": "There is no match for the address requested."},
        },
    )
    body = validate(addr_app.test_client(), tenant(addr_app)[1], carrier="usps").get_json()
    assert body["valid"] is False and body["classification"] == "unknown"
    assert body["messages"] == ["There is no match for the address requested."]


@responses.activate
def test_a_carrier_that_cannot_answer_is_a_503_problem_and_nothing_is_cached(addr_app):
    tokens()
    responses.post(UPS_XAV, body=requests.ConnectionError("connection refused"))
    client, (_tid, headers) = addr_app.test_client(), tenant(addr_app)

    failed = validate(client, headers)

    assert failed.status_code == 503
    assert failed.headers["Content-Type"].startswith("application/problem+json")
    assert failed.get_json()["type"].endswith("/carrier-unavailable")
    responses.replace(responses.POST, UPS_XAV, json=UPS_VALID)
    assert validate(client, headers).get_json()["cached"] is False


@responses.activate
def test_a_carrier_that_is_not_enabled_or_cannot_validate_is_refused(addr_app):
    response = validate(addr_app.test_client(), tenant(addr_app)[1], carrier="dhl_express")
    assert response.status_code == 404
    problem = response.get_json()
    assert problem["type"].endswith("/not-found") and "a-ups, b-fedex, c-usps" in problem["detail"]
    assert len(responses.calls) == 0


def test_without_a_key_nothing_is_validated(addr_app):
    assert validate(addr_app.test_client(), {}).status_code == 401


def test_without_a_carrier_that_validates_the_answer_says_so(settings):
    application = create_app({**settings, "CARRIERS": "[]"})
    try:
        response = validate(application.test_client(), tenant(application)[1])
        assert response.status_code == 404
        assert response.get_json()["type"].endswith("/not-found")
        assert "No enabled carrier validates addresses" in response.get_json()["detail"]
    finally:
        application.extensions["handoff"].dispose()


@pytest.fixture(scope="module")
def classifying_app(settings: dict[str, Any]) -> Any:
    """UPS alone, with destinations classified at booking."""
    ups = {
        "adapter": "ups",
        "id": "a-ups",
        "config": {"client_id": "cid", "client_secret": "cs", "account_number": "A1B2C3", "base_url": UPS},
    }
    application = create_app({**settings, "CARRIERS": json.dumps([ups]), "ADDRESS_CLASSIFY_AT_BOOKING": True})
    yield application
    application.extensions["handoff"].dispose()


def book(client: Any, headers: dict[str, str], **destination: Any) -> Any:
    body = shipment_body(reference=f"CLASS-{uuid.uuid4().hex[:6]}")
    body["destination"] = {**{k: v for k, v in ASKED.items()}, **destination}
    resp = client.post("/v1/shipments", json=body, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


@responses.activate
def test_a_destination_booked_without_a_class_is_classified_by_the_carrier_once(classifying_app):
    tokens()
    responses.post(UPS_XAV, json=UPS_VALID)
    client, (_tid, headers) = classifying_app.test_client(), tenant(classifying_app)

    first = book(client, headers)
    again = book(client, headers)

    assert first["destination"]["residential"] is True  # UPS: "Residential"
    assert again["destination"]["residential"] is True
    assert calls(UPS_XAV) == 1  # the second booking to the same address reads the tenant's cache


@responses.activate
def test_what_the_shipper_says_about_a_destination_is_not_asked_again(classifying_app):
    tokens()
    responses.post(UPS_XAV, json=UPS_VALID)
    client, (_tid, headers) = classifying_app.test_client(), tenant(classifying_app)

    booked = book(client, headers, residential=False)

    assert booked["destination"]["residential"] is False
    assert calls(UPS_XAV) == 0


@responses.activate
def test_a_carrier_that_cannot_classify_now_never_fails_the_booking(classifying_app):
    tokens()
    responses.post(UPS_XAV, status=503, json={"response": {"errors": [{"code": "9999", "message": "down"}]}})
    client, (_tid, headers) = classifying_app.test_client(), tenant(classifying_app)

    booked = book(client, headers)

    assert booked["destination"]["residential"] is None
    assert calls(UPS_XAV) >= 1
