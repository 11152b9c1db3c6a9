"""Request bodies the simulator tests send, shaped like the carriers' published contracts."""

from __future__ import annotations

from typing import Any

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
RATE_REQ = "http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/RateMsgRequest"
SHIP_REQ = "http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/ShipmentMsgRequest"
TRACK_NS = "http://scxgxtt.phx-dc.dhl.com/glDHLExpressTrack/providers/services/trackShipment"


def ups_address(country: str, city: str, postal: str, state: str = "") -> dict[str, Any]:
    address = {"AddressLine": ["1 Main Street"], "City": city, "PostalCode": postal, "CountryCode": country}
    if state:
        address["StateProvinceCode"] = state
    return address


def ups_shipment(reference: str = "shp_1", service: str = "03", packages: int = 1) -> dict[str, Any]:
    package = {
        "Packaging": {"Code": "02"},
        "Dimensions": {"UnitOfMeasurement": {"Code": "IN"}, "Length": "10", "Width": "8", "Height": "4"},
        "PackageWeight": {"UnitOfMeasurement": {"Code": "LBS"}, "Weight": "5"},
    }
    return {
        "Shipper": {
            "Name": "Acme Shop",
            "ShipperNumber": "A1B2C3",
            "Address": ups_address("US", "Atlanta", "30301", "GA"),
        },
        "ShipTo": {"Name": "Jo Buyer", "Address": ups_address("US", "Wayne", "07470", "NJ")},
        "ShipFrom": {"Name": "Acme Shop", "Address": ups_address("US", "Atlanta", "30301", "GA")},
        "PaymentInformation": {
            "ShipmentCharge": [{"Type": "01", "BillShipper": {"AccountNumber": "A1B2C3"}}]
        },
        "Service": {"Code": service},
        "ReferenceNumber": [{"Value": reference}],
        "Package": [dict(package) for _ in range(packages)],
    }


def ups_ship_body(reference: str = "shp_1", label_format: str = "GIF", **kwargs: Any) -> dict[str, Any]:
    return {
        "ShipmentRequest": {
            "Request": {
                "RequestOption": "nonvalidate",
                "TransactionReference": {"CustomerContext": reference},
            },
            "Shipment": ups_shipment(reference, **kwargs),
            "LabelSpecification": {
                "LabelImageFormat": {"Code": label_format},
                "LabelStockSize": {"Height": "6", "Width": "4"},
            },
        }
    }


def ups_rate_body(**kwargs: Any) -> dict[str, Any]:
    shipment = ups_shipment(**kwargs)
    shipment.pop("ReferenceNumber")
    return {
        "RateRequest": {
            "Request": {"TransactionReference": {"CustomerContext": "rate"}},
            "Shipment": shipment,
        }
    }


def security(username: str = "sim-dhl-user", password: str = "sim-dhl-password") -> str:
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}"><wsse:UsernameToken><wsse:Username>{username}</wsse:Username>'
        f'<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0'
        f'#PasswordText">{password}</wsse:Password></wsse:UsernameToken></wsse:Security>'
    )


def envelope(body: str, header: str | None = None) -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP}"><soapenv:Header>{security() if header is None else header}'
        f"</soapenv:Header><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def _dhl_party(city: str, postal: str, country: str) -> str:
    return (
        "<Contact><PersonName>Jo Buyer</PersonName><CompanyName>Acme</CompanyName><PhoneNumber>123456</PhoneNumber>"
        f"</Contact><Address><StreetLines>1 Main Street</StreetLines><City>{city}</City>"
        f"<PostalCode>{postal}</PostalCode><CountryCode>{country}</CountryCode></Address>"
    )


def dhl_ship(
    reference: str = "shp_1", label_type: str = "PDF", service: str = "P", destination: str = "US"
) -> bytes:
    return envelope(
        f'<ship:ShipmentRequest xmlns:ship="{SHIP_REQ}"><RequestedShipment>'
        f"<ShipmentInfo><DropOffType>REGULAR_PICKUP</DropOffType><ServiceType>{service}</ServiceType>"
        "<Account>123456789</Account><Currency>EUR</Currency><UnitOfMeasurement>SI</UnitOfMeasurement>"
        f"<LabelType>{label_type}</LabelType><ShipmentReferences><ShipmentReference>"
        f"<ShipmentReference>{reference}</ShipmentReference></ShipmentReference></ShipmentReferences></ShipmentInfo>"
        "<ShipTimestamp>2026-11-20T10:00:00GMT+01:00</ShipTimestamp><PaymentInfo>DAP</PaymentInfo>"
        "<InternationalDetail><Commodities><Description>Shoes</Description></Commodities>"
        "<Content>NON_DOCUMENTS</Content></InternationalDetail>"
        f"<Ship><Shipper>{_dhl_party('Berlin', '10115', 'DE')}</Shipper>"
        f"<Recipient>{_dhl_party('New York', '10001', destination)}</Recipient></Ship>"
        '<Packages><RequestedPackages number="1"><Weight>2.5</Weight>'
        "<Dimensions><Length>30</Length><Width>20</Width><Height>10</Height></Dimensions>"
        f"<CustomerReferences>{reference}</CustomerReferences></RequestedPackages></Packages>"
        "</RequestedShipment></ship:ShipmentRequest>"
    )


def dhl_rate(destination: str = "US") -> bytes:
    return envelope(
        f'<rate:RateRequest xmlns:rate="{RATE_REQ}"><RequestedShipment><DropOffType>REGULAR_PICKUP</DropOffType>'
        "<Ship><Shipper><City>Berlin</City><PostalCode>10115</PostalCode><CountryCode>DE</CountryCode></Shipper>"
        f"<Recipient><City>New York</City><PostalCode>10001</PostalCode><CountryCode>{destination}</CountryCode>"
        '</Recipient></Ship><Packages><RequestedPackages number="1"><Weight><Value>2.5</Value></Weight>'
        "<Dimensions><Length>30</Length><Width>20</Width><Height>10</Height></Dimensions></RequestedPackages>"
        "</Packages><ShipTimestamp>2026-11-20T10:00:00GMT+01:00</ShipTimestamp>"
        "<UnitOfMeasurement>SI</UnitOfMeasurement><Content>NON_DOCUMENTS</Content><Account>123456789</Account>"
        "</RequestedShipment></rate:RateRequest>"
    )


def dhl_track(number: str, level: str = "ALL_CHECK_POINTS") -> bytes:
    return envelope(
        f'<trac:trackShipmentRequest xmlns:trac="{TRACK_NS}"><trackingRequest>'
        '<dhl:TrackingRequest xmlns:dhl="http://www.dhl.com"><Request><ServiceHeader>'
        "<MessageTime>2026-11-20T10:00:00Z</MessageTime><MessageReference>0123456789012345678901234567"
        "</MessageReference></ServiceHeader></Request>"
        f"<AWBNumber><ArrayOfAWBNumberItem>{number}</ArrayOfAWBNumberItem></AWBNumber>"
        f"<LevelOfDetails>{level}</LevelOfDetails><PiecesEnabled>S</PiecesEnabled>"
        "</dhl:TrackingRequest></trackingRequest></trac:trackShipmentRequest>"
    )
