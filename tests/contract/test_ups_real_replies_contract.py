"""The UPS replies written for issue 17's unit tests are valid per UPS's published OpenAPI specs."""

import pytest

from tests.contract import test_ups_contract as contract
from tests.unit.adapters import test_ups_real_replies as real

pytestmark = pytest.mark.contract


def test_rate_replies_with_transit_twins_and_negotiated_breakdowns_validate():
    body = real.reply(
        real.rated("03", "14.50", TimeInTransit=real.transit("3", "20240509")),
        real.rated(
            "03",
            "21.50",
            TransportationCharges=real.usd("14.50"),
            ServiceOptionsCharges=real.usd("7.00"),
            TimeInTransit=real.transit("3", "20240509"),
        ),
        real.rated(
            "01",
            "61.12",
            BaseServiceCharge=real.usd("59.12"),
            ItemizedCharges=[{"Code": "375", "Description": "FUEL SURCHARGE", **real.usd("2.00")}],
            GuaranteedDelivery={"BusinessDaysInTransit": "1"},
            TimeInTransit=real.transit("1", "20240507", guaranteed=True),
            NegotiatedRateCharges={
                "BaseServiceCharge": [real.usd("50.00")],
                "ItemizedCharges": [{"Code": "375", "Description": "FUEL SURCHARGE", **real.usd("1.80")}],
                "TotalCharge": real.usd("51.80"),
            },
        ),
    )
    contract._assert_valid("Rating.yaml", "RATEResponseWrapper", body)


def test_international_rate_request_with_transit_validates():
    spec = contract.INTERNATIONAL
    parcel = contract.fx.PARCEL.__class__(
        weight_kg=contract.fx.PARCEL.weight_kg,
        length_cm=contract.fx.PARCEL.length_cm,
        width_cm=contract.fx.PARCEL.width_cm,
        height_cm=contract.fx.PARCEL.height_cm,
        declared_value=real.money.Money(real.Decimal("80"), "EUR"),
    )
    spec = spec.__class__(origin=spec.origin, destination=spec.destination, parcels=(parcel, parcel))
    call = contract.mapping.rate_request(contract.carrier.RateRequest(spec, contract.fx.ACCOUNT))
    assert call.json["RateRequest"]["Request"]["RequestOption"] == "Shoptimeintransit"
    contract._assert_valid("Rating.yaml", "RATERequestWrapper", call.json)


def test_a_track_reply_with_a_not_found_warning_validates():
    body = {
        "trackResponse": {
            "shipment": [
                {
                    "inquiryNumber": "1Z12345E0205271688",
                    "warnings": [{"code": "TW0001", "message": "Tracking Information Not Found"}],
                }
            ]
        }
    }
    contract._assert_valid("Tracking.yaml", "TrackApiResponse", body)


def test_the_track_alert_push_the_variants_start_from_validates():
    # The variants (time without its leading zero, "HH:MM:SS", no offset) are what UPS sends although
    # its spec forbids them; the push they are made from is valid.
    contract._assert_valid("UPSTrackAlert.yaml", "TrackingEventRequest", real.push())
