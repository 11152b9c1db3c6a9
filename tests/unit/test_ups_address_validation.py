"""UPS Address Validation (adapters/ups/address.py): the request, and the reply read into the canonical type."""

from __future__ import annotations

import pytest

from adapters import base
from adapters.ups import address
from schemas import carrier, types

GIVEN = types.Address(
    "US", "92656-1521", "Aliso Viejo", ("26601 Aliso Creek Road", "Ste D"), state="ca", company="Ritz Camera"
)


def test_the_request_asks_for_validation_and_classification_with_the_zip_split():
    call = address.request(GIVEN)
    assert (call.method, call.path) == ("POST", "/api/addressvalidation/v2/3")
    assert call.params == {"maximumcandidatelistsize": "5"}
    node = call.json["XAVRequest"]["AddressKeyFormat"]
    assert node["AddressLine"] == ["26601 Aliso Creek Road", "Ste D"]
    assert (node["PostcodePrimaryLow"], node["PostcodeExtendedLow"]) == ("92656", "1521")
    assert (node["PoliticalDivision1"], node["PoliticalDivision2"]) == ("CA", "Aliso Viejo")
    assert node["ConsigneeName"] == "Ritz Camera" and node["CountryCode"] == "US"


def test_ups_is_not_asked_about_an_address_outside_the_us_and_puerto_rico():
    with pytest.raises(base.CarrierRejected, match="US and Puerto Rico"):
        address.request(types.Address("DE", "10115", "Berlin", ("Invalidenstr. 1",)))


def test_no_candidates_is_an_invalid_address_kept_as_asked():
    reply = {
        "XAVResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
            "NoCandidatesIndicator": "",
        }
    }
    found = address.parse(reply, GIVEN)
    assert found.valid is False and found.address == GIVEN and found.candidates == ()
    assert found.classification is carrier.AddressClass.UNKNOWN


def test_a_commercial_match_becomes_the_normalised_address():
    reply = {
        "XAVResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
            "ValidAddressIndicator": "",
            "AddressClassification": {"Code": "1", "Description": "Commercial"},
            "Candidate": [
                {
                    "AddressClassification": {"Code": "1", "Description": "Commercial"},
                    "AddressKeyFormat": {
                        "AddressLine": "26601 ALISO CREEK RD STE D",  # v1 style: one value, not a list
                        "PoliticalDivision2": "ALISO VIEJO",
                        "PoliticalDivision1": "CA",
                        "PostcodePrimaryLow": "92656",
                        "CountryCode": "US",
                    },
                }
            ],
        }
    }
    found = address.parse(reply, GIVEN)
    assert found.valid is True and found.classification is carrier.AddressClass.COMMERCIAL
    assert found.address.street_lines == ("26601 ALISO CREEK RD STE D",)
    assert (found.address.postal_code, found.address.residential) == ("92656", False)
    assert found.address.company == "Ritz Camera"  # what UPS does not return is kept


def test_a_reply_without_its_envelope_is_a_carrier_fault():
    with pytest.raises(base.CarrierUnavailable, match="XAVResponse"):
        address.parse({"response": {}}, GIVEN)
