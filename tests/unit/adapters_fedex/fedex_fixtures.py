"""Canonical inputs and FedEx replies written from FedEx's OpenAPI files (Authorization, Rate, Ship, Track)."""

from __future__ import annotations

import base64
import copy
import json
from decimal import Decimal
from typing import Any

from schemas import carrier, money, types

ACCOUNT = "740561073"
BASE_URL = "http://fedex.test"
TOKEN_URL = BASE_URL + "/oauth/token"
RATE_URL = BASE_URL + "/rate/v1/rates/quotes"
SHIP_URL = BASE_URL + "/ship/v1/shipments"
CANCEL_URL = BASE_URL + "/ship/v1/shipments/cancel"
TRACK_URL = BASE_URL + "/track/v1/trackingnumbers"

SECURITY_TOKEN = "Webhook-Security-Token-0123456789abc"
CONFIG: dict[str, Any] = {
    "client_id": "l7xx-fedex-api-key",
    "client_secret": "fedex-secret-key-very-private",
    "account_number": ACCOUNT,
    "base_url": BASE_URL,
    "webhook_security_token": SECURITY_TOKEN,
    "timeout_seconds": 5,
}

ORIGIN = types.Address(
    country_code="US",
    postal_code="38017",
    city="Collierville",
    street_lines=("10 FedEx Parkway", "Suite 302"),
    state="TN",
    company="Acme Widgets",
    name="Ann Sender",
    phone="+1 901-555-0100",
)
DESTINATION = types.Address(
    country_code="US",
    postal_code="90210",
    city="Beverly Hills",
    street_lines=("1550 Union Blvd",),
    state="CA",
    name="Bob Buyer",
    phone="(310) 555-0199",
    residential=True,
)
PARCEL = types.Parcel(
    weight_kg=Decimal("2.0"), length_cm=Decimal("30"), width_cm=Decimal("20"), height_cm=Decimal("10")
)
SPEC = types.ShipmentSpec(origin=ORIGIN, destination=DESTINATION, parcels=(PARCEL,), reference="order-42")
INTERNATIONAL = types.ShipmentSpec(
    origin=types.Address(
        "DE", "10115", "Berlin", ("Invalidenstr. 1",), company="Handoff GmbH", phone="+49 30 1234"
    ),
    destination=types.Address(
        "FR", "75001", "Paris", ("1 Rue de Rivoli",), name="Claire Client", phone="0102"
    ),
    parcels=(
        PARCEL,
        types.Parcel(
            weight_kg=Decimal("0.25"),
            length_cm=Decimal("20"),
            width_cm=Decimal("15"),
            height_cm=Decimal("5"),
            declared_value=money.Money(Decimal("49.90"), "EUR"),
        ),
    ),
    reference="order-43",
)

RATE_REQUEST = carrier.RateRequest(spec=SPEC, account=ACCOUNT)
LABEL_REQUEST = carrier.LabelRequest(
    spec=SPEC,
    account=ACCOUNT,
    service_code="FEDEX_GROUND",
    reference="shp_0001",
    label_format=carrier.LabelFormat.ZPL,
)

TOKEN_REPLY = {
    "access_token": "eyJhbGciOiJSUzI1NiJ9.fedex-token-1",
    "token_type": "bearer",
    "expires_in": 3599,
    "scope": "CXS",
}

LABEL_BYTES = b"^XA^FO50,50^ADN,36,20^FDFedEx test label^FS^XZ"
LABEL_B64 = base64.b64encode(LABEL_BYTES).decode()


def error_reply(code: str, message: str) -> dict[str, Any]:
    """The common FedEx error envelope."""
    return {
        "transactionId": "624deea6-b709-470c-8c39-4b5511281492",
        "customerTransactionId": "AnyCo_order123456789",
        "errors": [{"code": code, "message": message}],
    }


def _rated(rate_type: str, net: str, base_charge: str, fuel: str, currency: str = "USD") -> dict[str, Any]:
    return {
        "rateType": rate_type,
        "ratedWeightMethod": "ACTUAL",
        "totalDiscounts": 0,
        "totalBaseCharge": Decimal(base_charge),
        "totalNetCharge": Decimal(net),
        "totalNetFedExCharge": Decimal(net),
        "totalNetChargeWithDutiesAndTaxes": Decimal(net),
        "shipmentRateDetail": {
            "rateZone": "8",
            "dimDivisor": 139,
            "fuelSurchargePercent": Decimal("15.25"),
            "totalSurcharges": Decimal(fuel),
            "surCharges": [{"type": "FUEL", "description": "Fuel Surcharge", "amount": Decimal(fuel)}],
            "totalBillingWeight": {"units": "LB", "value": 5},
            "currency": currency,
        },
        "currency": currency,
    }


# Three services: Ground with a transit-days enum, an Express service with a commit date, and an Express
# service listed LIST before ACCOUNT, to prove the adapter picks by rateType and not by position.
RATE_REPLY: dict[str, Any] = {
    "transactionId": "a1b2",
    "output": {
        "alerts": [
            {"code": "VIRTUAL.RESPONSE", "alertType": "NOTE", "message": "This is a Virtual Response."}
        ],
        "quoteDate": "2024-05-06",
        "rateReplyDetails": [
            {
                "serviceType": "PRIORITY_OVERNIGHT",
                "serviceName": "FedEx Priority Overnight®",
                "packagingType": "YOUR_PACKAGING",
                "ratedShipmentDetails": [
                    _rated("LIST", "98.40", "85.00", "13.40"),
                    _rated("ACCOUNT", "61.17", "53.08", "8.09"),
                ],
                "operationalDetail": {
                    "deliveryDay": "TUE",
                    "deliveryDate": "2024-05-07T10:30:00",
                    "ineligibleForMoneyBackGuarantee": False,
                    "transitTime": "ONE_DAY",
                },
                "commit": {
                    "dateDetail": {"dayOfWeek": "TUE", "dayFormat": "2024-05-07T10:30:00"},
                    "daysInTransit": "ONE_DAY",
                },
            },
            {
                "serviceType": "FEDEX_GROUND",
                "serviceName": "FedEx Ground®",
                "packagingType": "YOUR_PACKAGING",
                "ratedShipmentDetails": [
                    _rated("ACCOUNT", "14.71", "12.76", "1.95"),
                    _rated("LIST", "19.62", "17.02", "2.60"),
                ],
                "operationalDetail": {"transitTime": "FOUR_DAYS", "ineligibleForMoneyBackGuarantee": False},
                "commit": {
                    "transitDays": {
                        "description": "4 Business Days",
                        "minimumTransitTime": "FOUR_DAYS",
                        "maximumTransitTime": "FIVE_DAYS",
                    },
                    "label": "Delivery date unavailable",
                },
            },
            {
                "serviceType": "FEDEX_2_DAY",
                "serviceName": "FedEx 2Day®",
                "packagingType": "YOUR_PACKAGING",
                "ratedShipmentDetails": [_rated("ACCOUNT", "27.33", "23.71", "3.62")],
                "operationalDetail": {"commitDate": "2024-05-08T23:59:00", "transitTime": ""},
                "customerMessages": [{"code": "SERVICE.TYPE.MESSAGE", "message": "Rate may change."}],
            },
        ],
    },
}


SHIP_REPLY: dict[str, Any] = {
    "transactionId": "c3d4",
    "customerTransactionId": "shp_0001",
    "output": {
        "transactionShipments": [
            {
                "masterTrackingNumber": "794953535000",
                "serviceType": "FEDEX_GROUND",
                "shipDatestamp": "2024-05-06",
                "serviceName": "FedEx Ground®",
                "alerts": [{"code": "RECIPIENTCONTACT.PHONENUMBER.INVALID", "message": "Phone format."}],
                "pieceResponses": [
                    {
                        "masterTrackingNumber": "794953535000",
                        "trackingNumber": "794953535000",
                        "deliveryTimestamp": "2024-05-10",
                        "netChargeAmount": Decimal("14.71"),
                        "customerReferences": [
                            {"customerReferenceType": "CUSTOMER_REFERENCE", "value": "shp_0001"}
                        ],
                        "packageDocuments": [
                            {
                                "contentType": "LABEL",
                                "copiesToPrint": 1,
                                "docType": "ZPLII",
                                "encodedLabel": LABEL_B64,
                            }
                        ],
                    }
                ],
                "completedShipmentDetail": {
                    "carrierCode": "FDXG",
                    "masterTrackingId": {"trackingIdType": "FEDEX", "trackingNumber": "794953535000"},
                    "shipmentRating": {
                        "actualRateType": "PAYOR_ACCOUNT_PACKAGE",
                        "shipmentRateDetails": [
                            {
                                "rateType": "PAYOR_LIST_PACKAGE",
                                "totalNetCharge": Decimal("19.62"),
                                "currency": "USD",
                            },
                            {
                                "rateType": "PAYOR_ACCOUNT_PACKAGE",
                                "totalNetCharge": Decimal("14.71"),
                                "currency": "USD",
                            },
                        ],
                    },
                },
            }
        ]
    },
}


def multi_piece_ship_reply() -> dict[str, Any]:
    """Two pieces, two PNG labels, no shipment rating."""
    reply = copy.deepcopy(SHIP_REPLY)
    shipment = reply["output"]["transactionShipments"][0]
    piece = shipment["pieceResponses"][0]
    piece["packageDocuments"][0]["docType"] = "PNG"
    second = copy.deepcopy(piece)
    second["trackingNumber"] = "794953535011"
    second["packageDocuments"][0]["encodedLabel"] = base64.b64encode(b"second-png").decode()
    shipment["pieceResponses"].append(second)
    del shipment["completedShipmentDetail"]
    return reply


CANCEL_REPLY: dict[str, Any] = {
    "transactionId": "e5f6",
    "output": {
        "cancelledShipment": True,
        "cancelledHistory": True,
        "message": "Shipment is successfully cancelled",
    },
}
CANCEL_REFUSED_REPLY: dict[str, Any] = {
    "transactionId": "e5f7",
    "output": {
        "cancelledShipment": False,
        "cancelledHistory": False,
        "alerts": [{"code": "SHIPMENT.CANCEL.FAILED", "alertType": "WARNING", "message": "Already scanned."}],
    },
}

TRACKING_NUMBER = "794953535000"


def scan(
    date: str, event_type: str, description: str, *, exception: tuple[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "date": date,
        "eventType": event_type,
        "eventDescription": description,
        "derivedStatusCode": event_type,
        "derivedStatus": description,
        "scanLocation": {
            "city": "MEMPHIS",
            "stateOrProvinceCode": "TN",
            "postalCode": "38118",
            "countryCode": "US",
        },
        "locationId": "0381",
        "locationType": "FEDEX_FACILITY",
        **extra,
    }
    if exception is not None:
        event["exceptionCode"], event["exceptionDescription"] = exception
    return event


DELIVERED_RESULT: dict[str, Any] = {
    "trackingNumberInfo": {
        "trackingNumber": TRACKING_NUMBER,
        "trackingNumberUniqueId": "12029~794953535000~FDEG",
        "carrierCode": "FDXG",
    },
    "latestStatusDetail": {
        "code": "DL",
        "derivedCode": "DL",
        "statusByLocale": "Delivered",
        "description": "Delivered",
    },
    "dateAndTimes": [
        {"type": "ACTUAL_DELIVERY", "dateTime": "2024-05-09T14:02:00-07:00"},
        {"type": "ESTIMATED_DELIVERY", "dateTime": "2024-05-09T00:00:00"},
        {"type": "SHIP", "dateTime": "2024-05-06T00:00:00-06:00"},
    ],
    "deliveryDetails": {
        "receivedByName": "B.BUYER",
        "signedByName": "B.BUYER",
        "locationDescription": "Front Desk",
        "deliveryAttempts": "0",
    },
    "availableImages": [{"type": "SIGNATURE_PROOF_OF_DELIVERY", "size": "SMALL"}],
    # Newest first, as FedEx usually lists them; the order is not documented, so the parser sorts.
    "scanEvents": [
        scan(
            "2024-05-09T14:02:00-07:00",
            "DL",
            "Delivered",
            scanLocation={"city": "BEVERLY HILLS", "countryCode": "US"},
        ),
        scan("2024-05-09T08:10:00-07:00", "OD", "On FedEx vehicle for delivery"),
        scan(
            "2024-05-08T05:00:00-07:00",
            "DE",
            "Delivery exception",
            exception=("A25", "Package available for clearance"),
        ),
        scan("2024-05-06T18:30:00Z", "PU", "Picked up"),
        scan("2024-05-06T09:00:00", "OC", "Shipment information sent to FedEx", scanLocation={}),
    ],
}


def track_reply(
    *results: dict[str, Any], number: str = TRACKING_NUMBER, alerts: Any = None
) -> dict[str, Any]:
    output: dict[str, Any] = {
        "completeTrackResults": [{"trackingNumber": number, "trackResults": list(results)}]
    }
    if alerts is not None:
        output["alerts"] = alerts
    return {"transactionId": "g7h8", "output": output}


NOT_FOUND_RESULT: dict[str, Any] = {
    "trackingNumberInfo": {"trackingNumber": "123456789012", "trackingNumberUniqueId": ""},
    "error": {
        "code": "TRACKING.TRACKINGNUMBER.NOTFOUND",
        "message": "Tracking number cannot be found. Please correct the tracking number and try again.",
    },
}


def dumps(reply: Any) -> str:
    """Serialise a reply as FedEx would send it: Decimal amounts as plain JSON numbers."""
    return json.dumps(reply, default=lambda value: float(value) if isinstance(value, Decimal) else str(value))
