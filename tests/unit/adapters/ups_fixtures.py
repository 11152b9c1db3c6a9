"""Canonical inputs and UPS replies shaped after the UPS OpenAPI specs (Rating, Shipping, Tracking)."""

from __future__ import annotations

import base64
from decimal import Decimal

from schemas import carrier, types

ACCOUNT = "A1B2C3"
CONFIG = {
    "client_id": "client-id-123",
    "client_secret": "client-secret-very-private",
    "account_number": ACCOUNT,
    "base_url": "http://ups.test",
    "webhook_credential": "webhook-credential-0123456789",
    "webhook_client_id": "ups-webhooks",
    "webhook_client_secret": "webhook-client-secret-abcdef",
    "timeout_seconds": 5,
}

ORIGIN = types.Address(
    country_code="US",
    postal_code="21093",
    city="TIMONIUM",
    street_lines=("12 Main St",),
    state="MD",
    company="Acme Widgets",
    name="Ann Sender",
    phone="+1 410-555-0100",
)
DESTINATION = types.Address(
    country_code="US",
    postal_code="30005",
    city="Alpharetta",
    street_lines=("500 Oak Ave", "Suite 2"),
    state="GA",
    name="Bob Buyer",
    residential=True,
)
PARCEL = types.Parcel(
    weight_kg=Decimal("2.0"), length_cm=Decimal("30"), width_cm=Decimal("20"), height_cm=Decimal("10")
)
SPEC = types.ShipmentSpec(origin=ORIGIN, destination=DESTINATION, parcels=(PARCEL,), reference="order-42")

RATE_REQUEST = carrier.RateRequest(spec=SPEC, account=ACCOUNT)
LABEL_REQUEST = carrier.LabelRequest(
    spec=SPEC, account=ACCOUNT, service_code="03", reference="shp_0001", label_format=carrier.LabelFormat.ZPL
)

TOKEN_REPLY = {
    "token_type": "Bearer",
    "issued_at": "1700000000000",
    "client_id": "client-id-123",
    "access_token": "eyJ-access-token-1",
    "scope": "",
    "expires_in": "14399",
    "refresh_count": "0",
    "status": "approved",
}

RATE_REPLY = {
    "RateResponse": {
        "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
        "RatedShipment": [
            {
                "Service": {"Code": "01", "Description": "Next Day Air"},
                "BillingWeight": {
                    "UnitOfMeasurement": {"Code": "LBS", "Description": "Pounds"},
                    "Weight": "5.0",
                },
                "TransportationCharges": {"CurrencyCode": "USD", "MonetaryValue": "61.12"},
                "ServiceOptionsCharges": {"CurrencyCode": "USD", "MonetaryValue": "0.00"},
                "TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": "61.12"},
                "GuaranteedDelivery": {"BusinessDaysInTransit": "1", "DeliveryByTime": "10:30 A.M."},
                "RatedPackage": [{"Weight": "4.5"}],
            },
            {
                "Service": {"Code": "03", "Description": "Ground"},
                "BillingWeight": {
                    "UnitOfMeasurement": {"Code": "LBS", "Description": "Pounds"},
                    "Weight": "5.0",
                },
                "TransportationCharges": {"CurrencyCode": "USD", "MonetaryValue": "14.50"},
                "ServiceOptionsCharges": {"CurrencyCode": "USD", "MonetaryValue": "0.00"},
                "ItemizedCharges": [
                    {
                        "Code": "270",
                        "Description": "Residential surcharge",
                        "CurrencyCode": "USD",
                        "MonetaryValue": "5.05",
                    }
                ],
                "TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": "19.55"},
                "NegotiatedRateCharges": {"TotalCharge": {"CurrencyCode": "USD", "MonetaryValue": "17.10"}},
                "RatedPackage": [{"Weight": "4.5"}],
            },
        ],
    }
}

LABEL_IMAGE = b"^XA^FO50,50^FD1Z12345E0205271688^FS^XZ"
SHIP_REPLY = {
    "ShipmentResponse": {
        "Response": {
            "ResponseStatus": {"Code": "1", "Description": "Success"},
            "TransactionReference": {"CustomerContext": "shp_0001"},
        },
        "ShipmentResults": {
            "ShipmentCharges": {
                "TransportationCharges": {"CurrencyCode": "USD", "MonetaryValue": "19.55"},
                "ServiceOptionsCharges": {"CurrencyCode": "USD", "MonetaryValue": "0.00"},
                "TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": "19.55"},
            },
            "BillingWeight": {
                "UnitOfMeasurement": {"Code": "LBS", "Description": "Pounds"},
                "Weight": "000005.0",
            },
            "ShipmentIdentificationNumber": "1Z12345E0205271688",
            "PackageResults": [
                {
                    "TrackingNumber": "1Z12345E0205271688",
                    "ShippingLabel": {
                        "ImageFormat": {"Code": "ZPL", "Description": "ZPL"},
                        "GraphicImage": base64.b64encode(LABEL_IMAGE).decode(),
                    },
                }
            ],
        },
    }
}

VOID_REPLY = {
    "VoidShipmentResponse": {
        "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
        "SummaryResult": {"Status": {"Code": "1", "Description": "Voided"}},
    }
}

TRACK_REPLY = {
    "trackResponse": {
        "shipment": [
            {
                "inquiryNumber": "1Z12345E0205271688",
                "package": [
                    {
                        "trackingNumber": "1Z12345E0205271688",
                        "deliveryDate": [{"type": "SDD", "date": "20240424"}],
                        "activity": [
                            {
                                "location": {
                                    "address": {
                                        "city": "Alpharetta",
                                        "stateProvince": "GA",
                                        "countryCode": "US",
                                        "country": "US",
                                    }
                                },
                                "status": {
                                    "type": "I",
                                    "code": "OT",
                                    "description": "Out For Delivery Today",
                                    "statusCode": "021",
                                },
                                "date": "20240423",
                                "time": "091519",
                                "gmtDate": "20240423",
                                "gmtTime": "131519",
                                "gmtOffset": "-04:00",
                            },
                            {
                                "location": {
                                    "address": {
                                        "city": "Timonium",
                                        "stateProvince": "MD",
                                        "countryCode": "US",
                                        "country": "US",
                                    }
                                },
                                "status": {
                                    "type": "M",
                                    "code": "MP",
                                    "description": "Shipper created a label",
                                },
                                "date": "20240421",
                                "time": "170000",
                                "gmtOffset": "-04:00",
                            },
                        ],
                    }
                ],
            }
        ]
    }
}


def error_reply(code: str, message: str) -> dict[str, object]:
    """Return a UPS error envelope."""
    return {"response": {"errors": [{"code": code, "message": message}]}}
