"""Canonical inputs and USPS v3 replies written from USPS's OpenAPI schemas and USPS's own examples."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal

from schemas import carrier, money, types

BASE = "http://usps.test"
TOKEN_URL = f"{BASE}/oauth2/v3/token"
PAYMENT_URL = f"{BASE}/payments/v3/payment-authorization"
BASE_RATES_URL = f"{BASE}/prices/v3/base-rates/search"
TOTAL_RATES_URL = f"{BASE}/prices/v3/total-rates/search"
ESTIMATES_URL = f"{BASE}/service-standards/v3/estimates"
LABEL_URL = f"{BASE}/labels/v3/label"
TRACK_URL = f"{BASE}/tracking/v3r2/tracking"
SUBSCRIPTIONS_URL = f"{BASE}/subscriptions-tracking/v3r2/subscriptions"
PICKUP_URL = f"{BASE}/pickup/v3/carrier-pickup"
SCAN_URL = f"{BASE}/scan-forms/v3/scan-form"
ADDRESS_URL = f"{BASE}/addresses/v3/address"

WEBHOOK_SECRET = "0123456789abcdef0123456789abcdef"
CONFIG = {
    "client_id": "usps-consumer-key",
    "client_secret": "usps-consumer-secret-very-private",
    "crid": "56982563",
    "mid": "904128936",
    "manifest_mid": "904128937",
    "account_type": "EPS",
    "account_number": "1000405525",
    "price_type": "COMMERCIAL",
    "base_url": BASE,
    "timeout_seconds": 5,
    "webhook_secret": WEBHOOK_SECRET,
    "admin_emails": ["ops@example.com"],
}
# 2025-05-26 12:00 UTC: the mailing date every request carries.
NOW = datetime(2025, 5, 26, 12, 0, tzinfo=UTC).timestamp()

ORIGIN = types.Address(
    country_code="US",
    postal_code="63116",
    city="St. Louis",
    street_lines=("4120 Bingham Ave",),
    state="MO",
    name="John Smith",
    company="Acme Widgets",
    phone="+1 314-555-0100",
)
DESTINATION = types.Address(
    country_code="US",
    postal_code="63118-2628",
    city="St. Louis",
    street_lines=("1100 Wyoming", "Suite 150"),
    state="MO",
    name="Joe Doe",
    email="joe@example.com",
)
PARCEL = types.Parcel(
    weight_kg=Decimal("0.5"), length_cm=Decimal("22.86"), width_cm=Decimal("15.24"), height_cm=Decimal("5")
)
SPEC = types.ShipmentSpec(origin=ORIGIN, destination=DESTINATION, parcels=(PARCEL,), reference="order-42")
VALUED = types.ShipmentSpec(
    origin=ORIGIN,
    destination=DESTINATION,
    parcels=(
        types.Parcel(
            weight_kg=Decimal("3.2"),
            length_cm=Decimal("30"),
            width_cm=Decimal("20"),
            height_cm=Decimal("10"),
            declared_value=money.Money(Decimal("400"), "USD"),
        ),
    ),
    reference="order-43",
    options=frozenset({"signature", "insurance"}),
)

# A customs form's destinations (labels_update_1.yaml customsForm): the spec's own APO example address,
# and a Guam address written with its territory as the country.
APO = types.Address(
    country_code="US",
    postal_code="09008-0041",
    city="APO",
    street_lines=("PSC 123 BOX 1234",),
    state="AE",
    name="Nick Fury",
)
GUAM = types.Address(
    country_code="GU",
    postal_code="96910",
    city="Hagatna",
    street_lines=("176 Serenu Ave",),
    state="GU",
    name="Ana Cruz",
)
CUSTOMS = types.Customs(
    content_type="merchandise",
    incoterm="DAP",
    items=(
        types.CustomsItem(
            description="Cotton T-shirt",
            quantity=2,
            unit_value=money.Money(Decimal("12.50"), "USD"),
            weight_kg=Decimal("0.25"),
            origin_country="US",
            hs_code="6109.10.00",
        ),
        types.CustomsItem(
            description="Ceramic mug",
            quantity=3,
            unit_value=money.Money(Decimal("0.10"), "USD"),
            weight_kg=Decimal("0.2"),
            origin_country="CN",
            hs_code="691200",
        ),
    ),
    exporter_tax_ids=(types.TaxId("EIN", "12-3456789"),),
    invoice_number="INV-1001",
)
DOCUMENTS = types.Customs(
    content_type="documents",
    incoterm="DAP",
    items=(
        types.CustomsItem(
            description="Signed contract",
            quantity=1,
            unit_value=money.Money(Decimal("1"), "USD"),
            weight_kg=Decimal("0.1"),
            origin_country="US",
        ),
    ),
)
TO_APO = types.ShipmentSpec(
    origin=ORIGIN, destination=APO, parcels=(PARCEL,), reference="order-44", customs=CUSTOMS
)

LABEL_REQUEST = carrier.LabelRequest(
    spec=SPEC, account=CONFIG["account_number"], service_code="PRIORITY_MAIL", reference="shp_0001"
)

TOKEN_REPLY = {
    "access_token": "usps-access-token-1",
    "token_type": "Bearer",
    "issued_at": "1748260800000",
    "expires_in": "28799",
    "status": "approved",
    "scope": "addresses service-delivery-standards locations prices tracking labels payments",
    "issuer": "https://keyc.usps.com/realms/USPS",
    "client_id": "usps-consumer-key",
}
PAYMENT_REPLY = {
    "paymentAuthorizationToken": "usps-payment-token-XYZ",
    "roles": [
        {
            "roleName": "PAYER",
            "CRID": "56982563",
            "MID": "904128936",
            "accountType": "EPS",
            "accountNumber": "1000405525",
        },
        {
            "roleName": "LABEL_OWNER",
            "CRID": "56982563",
            "MID": "904128936",
            "accountType": "EPS",
            "accountNumber": "1000405525",
        },
    ],
}

BASE_RATES_REPLY = {
    "totalBasePrice": 8.02,
    "rates": [
        {
            "SKU": "DPXR0XXXXC01005",
            "description": "Priority Mail Machinable Single-piece",
            "priceType": "COMMERCIAL",
            "price": 7.64,
            "weight": 1.11,
            "dimWeight": 0,
            "fees": [{"name": "Nonstandard Length fee > 22 in.", "SKU": "DFXX0XXXXX00000", "price": 0.38}],
            "startDate": "2025-01-19",
            "endDate": "",
            "warnings": [],
            "mailClass": "PRIORITY_MAIL",
            "zone": "01",
        }
    ],
}

TOTAL_RATES_REPLY = {
    "rateOptions": [
        {
            "totalBasePrice": 5.74,
            "rates": [
                {
                    "description": "USPS Ground Advantage Machinable Single-piece",
                    "priceType": "COMMERCIAL",
                    "price": 5.74,
                    "weight": 1.11,
                    "mailClass": "USPS_GROUND_ADVANTAGE",
                    "zone": "01",
                    "SKU": "DUXP0XXXXC01010",
                    "rateIndicator": "SP",
                    "processingCategory": "MACHINABLE",
                    "destinationEntryFacilityType": "NONE",
                }
            ],
        },
        {
            "totalBasePrice": 7.64,
            "rates": [
                {
                    "description": "Priority Mail Machinable Single-piece",
                    "priceType": "COMMERCIAL",
                    "price": 7.64,
                    "mailClass": "PRIORITY_MAIL",
                    "SKU": "DPXR0XXXXC01005",
                    "rateIndicator": "SP",
                    "processingCategory": "MACHINABLE",
                    "destinationEntryFacilityType": "NONE",
                }
            ],
        },
        {
            "totalBasePrice": 9.85,
            "rates": [
                {
                    "description": "Priority Mail Flat Rate Envelope",
                    "priceType": "COMMERCIAL",
                    "price": 9.85,
                    "mailClass": "PRIORITY_MAIL",
                    "SKU": "DPXF0XXXXC00010",
                    "rateIndicator": "FE",
                    "processingCategory": "FLATS",
                    "destinationEntryFacilityType": "NONE",
                }
            ],
        },
        {
            "totalBasePrice": 4.59,
            "rates": [
                {
                    "description": "Parcel Select Machinable DDU Single-piece",
                    "priceType": "COMMERCIAL",
                    "price": 4.59,
                    "mailClass": "PARCEL_SELECT",
                    "SKU": "DVXP0XXUXC00070",
                    "rateIndicator": "SP",
                    "processingCategory": "MACHINABLE",
                    "destinationEntryFacilityType": "DESTINATION_DELIVERY_UNIT",
                }
            ],
        },
    ]
}

TOTAL_RATES_WITH_EXTRAS_REPLY = {
    "rateOptions": [
        {
            "totalBasePrice": 9.10,
            "totalPrice": 16.05,
            "rates": [
                {
                    "description": "Priority Mail Machinable Single-piece",
                    "priceType": "CONTRACT",
                    "price": 9.10,
                    "fees": [],
                    "mailClass": "PRIORITY_MAIL",
                    "SKU": "DPXR0XXXXC01070",
                }
            ],
            "extraServices": [
                {
                    "extraService": "921",
                    "name": "Signature Confirmation",
                    "priceType": "CONTRACT",
                    "price": 3.65,
                    "warnings": [],
                    "SKU": "DXSX0XXXXCX0000",
                },
                {
                    "extraService": "930",
                    "name": "Insurance <= $500",
                    "priceType": "CONTRACT",
                    "price": 3.30,
                    "warnings": [
                        {"warningCode": "W1", "warningDescription": "Insurance valued at item value"}
                    ],
                    "SKU": "DXIX0XXXXCX0400",
                },
            ],
        }
    ]
}

ESTIMATES_REPLY = [
    {
        "mailClass": "PRIORITY_MAIL",
        "destinationType": "STREET",
        "acceptanceDateTime": "2025-05-26T12:00:00Z",
        "effectiveAcceptanceDate": "2025-05-26",
        "cutOffTime": "1700",
        "serviceStandard": " 2",
        "serviceStandardMessage": "2-Day",
        "delivery": {"scheduledDeliveryDateTime": "2025-05-28T18:00:00Z", "guaranteedDelivery": False},
    },
    {
        "mailClass": "USPS_GROUND_ADVANTAGE",
        "notes": "WEIGHT_LESS_THAN_1_POUND",
        "serviceStandard": 3,
        "delivery": {"scheduledDeliveryDateTime": "2025-05-29"},
    },
    {
        "mailClass": "USPS_GROUND_ADVANTAGE",
        "notes": "WEIGHT_GREATER_THAN_OR_EQUAL_TO_1_POUND",
        "serviceStandard": "4",
        "delivery": {"scheduledDeliveryDateTime": "2025-05-30"},
    },
]

LABEL_IMAGE = b"%PDF-1.4 fake usps label"
LABEL_REPLY = {
    "labelAddress": {
        "streetAddress": "1100 WYOMING ST",
        "secondaryAddress": "STE 150",
        "city": "SAINT LOUIS",
        "state": "MO",
        "ZIPCode": "63118",
        "ZIPPlus4": "2628",
        "firstName": "JOE",
        "lastName": "DOE",
        "ignoreBadAddress": False,
    },
    "routingInformation": "420631182628",
    "trackingNumber": "9205590109769900012613",
    "postage": 7.99,
    "extraServices": [
        {"name": "USPS Tracking", "price": 0.0, "SKU": "DXTX0XXXXCX0000"},
        {"name": "Signature Confirmation", "price": 3.65, "SKU": "DXSX0XXXXCX0000"},
    ],
    "zone": "01",
    "commitment": {"name": "2 Days", "scheduleDeliveryDate": "2025-05-28"},
    "weightUOM": "LB",
    "weight": 1.11,
    "dimensionalWeight": 0.0,
    "fees": [],
    "bannerText": "USPS TRACKING # USPS Ship",
    "serviceTypeCode": "055",
    "constructCode": "C01",
    "SKU": "DPXR0XXXXC01005",
    "labelImage": base64.b64encode(LABEL_IMAGE).decode(),
}


def multipart_label(boundary: str = "726UYUDSQB6JWJXFDY") -> bytes:
    """The default multipart reply, shaped like USPS's domesticlabel-v3-response.json sample."""
    metadata = {k: v for k, v in LABEL_REPLY.items() if k != "labelImage"}
    return (
        f"--{boundary}\r\nContent-type: application/json\r\n\r\n{json.dumps(metadata, indent=4)}\r\n"
        f"--{boundary}\r\nFile Name: label.pdf\r\nContent-Type: application/pdf\r\n"
        "Content-Encoding: gzip\r\nContent-Transfer-Encoding: encode\r\n\r\n"
        f"{base64.b64encode(LABEL_IMAGE).decode()}\r\n--{boundary}--\r\n"
    ).encode()


NUMBER = "9205590109769900012613"
OTHER = "9400100000000000000000"
EVENTS = [  # newest first, as USPS lists them
    {
        "eventType": "Delivered, In/At Mailbox",
        "eventTimestamp": "2025-05-28T12:55:12-05:00",
        "GMTTimestamp": "2025-05-28T17:55:12Z",
        "GMTOffset": "-5:00",
        "eventCode": "01",
        "actionCode": "A",
        "reasonCode": "10",
        "eventCity": "SAINT LOUIS",
        "eventState": "MO",
        "eventZIPCode": "63118",
        "eventCountry": "US",
        "recipientName": "J DOE",
        "veriPoint": True,
    },
    {
        "eventType": "Out for Delivery",
        "eventTimestamp": "2025-05-28T07:10:00",
        "GMTOffset": "-05:00",
        "eventCode": "OF",
        "eventCity": "SAINT LOUIS",
        "eventState": "MO",
        "eventZIPCode": "63118",
    },
    {
        "eventType": "Arrived at USPS Regional Facility",
        "eventTimestamp": "2025-05-27 02:00:00",
        "GMTTimestamp": "2025-05-27 07:00:00.041000+00:00",
        "eventCode": "10",
        "eventCity": "SAINT LOUIS MO DISTRIBUTION CENTER",
    },
    {
        "eventType": "Some New USPS Scan",
        "eventTimestamp": "2025-05-26T23:00:00",
        "eventCode": "Z9",
        "eventCity": None,
        "eventState": "",
    },
    {
        "eventType": "USPS in possession of item",
        "eventTimestamp": "2025-05-26T16:31:00",
        "GMTOffset": "-300",
        "eventCode": "03",
        "eventCity": "SAINT LOUIS",
        "eventState": "MO",
        "eventZIPCode": "63116",
    },
    {
        "eventType": "Shipping Label Created, USPS Awaiting Item",
        "eventTimestamp": "2025-05-26",
        "eventCode": "GX",
    },
]
DETAIL = {
    "statusCode": "200",
    "trackingNumber": NUMBER,
    "mailClass": "Priority Mail<SUP>&reg;</SUP>",
    "mailClassCode": "PM",
    "status": "Delivered, In/At Mailbox",
    "statusCategory": "Delivered",
    "statusSummary": "Your item was delivered in or at the mailbox at 12:55 pm on May 28, 2025 in SAINT LOUIS, MO 63118.",
    "deliveryDateExpectation": {"expectedDeliveryDate": "2025-05-29", "predictedDeliveryDate": "2025-05-28"},
    "trackingEvents": EVENTS,
}
NOT_FOUND_ITEM = {
    "statusCode": "404",
    "trackingNumber": OTHER,
    "apiVersion": "/tracking/v3r2",
    "error": {
        "code": "404",
        "message": "Not Found",
        "errors": [
            {
                "status": "404",
                "code": "150002",
                "title": "Not Found",
                "detail": "The tracking number may be incorrect or the status update is not yet available.",
            }
        ],
    },
}


def error_body(
    status: int, code: str, detail: str, parameter: str | None = None, api: str = "/labels/v3"
) -> dict:
    item: dict = {
        "status": str(status),
        "code": code,
        "title": "Bad Request" if status == 400 else "Error",
        "detail": detail,
    }
    if parameter:
        item["source"] = {"parameter": parameter, "example": "2025-05-26"}
    return {"apiVersion": api, "error": {"code": str(status), "message": "Error", "errors": [item]}}


def push_envelope(detail: dict, timestamp: str = "2025-05-28T17:56:01.127Z") -> dict:
    return {
        "subscriptionId": "123456789",
        "subscriptionType": "TRACKING",
        "timestamp": timestamp,
        "payload": json.dumps(detail),
    }
