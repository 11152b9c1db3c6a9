"""UPS REST mapping: pure pairs that build UPS request bodies and parse UPS replies into canonical types.

Written from UPS's published OpenAPI specs (Rating, Shipping, Tracking, Track Alert, OAuth). No I/O here.
Tracking codes follow ``schemas.carrier``: ``code`` is the UPS status *type* and ``subcode`` the 2-letter
activity *code*.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from adapters import base
from schemas import carrier, money, types, units

CARRIER = "ups"
RATING_VERSION = "v2409"
SHIPPING_VERSION = "v2409"
TRACK_ALERT_VERSION = "v2"

OAUTH_PATH = "/security/v1/oauth/token"
RATE_PATH = f"/api/rating/{RATING_VERSION}/Shop"
SHIP_PATH = f"/api/shipments/{SHIPPING_VERSION}/ship"
VOID_PATH = "/api/shipments/" + SHIPPING_VERSION + "/void/cancel/{shipment_id}"
TRACK_PATH = "/api/track/v1/details/{tracking_number}"
REFERENCE_TRACK_PATH = "/api/track/v1/reference/details/{reference}"
SUBSCRIBE_PATH = f"/api/track/{TRACK_ALERT_VERSION}/subscription/standard/package"

# UPS ships US/PR domestic in imperial units; everywhere else in metric.
_IMPERIAL_ORIGINS = frozenset({"US", "PR"})

SERVICE_NAMES: dict[str, str] = {
    "01": "UPS Next Day Air",
    "02": "UPS 2nd Day Air",
    "03": "UPS Ground",
    "07": "UPS Worldwide Express",
    "08": "UPS Worldwide Expedited",
    "11": "UPS Standard",
    "12": "UPS 3 Day Select",
    "13": "UPS Next Day Air Saver",
    "14": "UPS Next Day Air Early",
    "17": "UPS Worldwide Economy DDU",
    "54": "UPS Worldwide Express Plus",
    "59": "UPS 2nd Day Air A.M.",
    "65": "UPS Worldwide Saver",
    "72": "UPS Worldwide Economy DDP",
    "93": "UPS Ground Saver",
}

# UPS error codes that mean "try again later" even when sent with a 4xx status.
TRANSIENT_ERROR_CODES = frozenset({"10004", "190001", "190002"})


@dataclass(frozen=True, slots=True)
class HttpCall:
    """A carrier HTTP call described as data, so building it stays pure and testable."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    form: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


# -- helpers ----------------------------------------------------------------------------------------------


def _imperial(spec: types.ShipmentSpec) -> bool:
    return spec.origin.country_code.upper() in _IMPERIAL_ORIGINS


def _weight(parcel: types.Parcel, imperial: bool) -> dict[str, Any]:
    unit = "lb" if imperial else "kg"
    # Round up to 0.1: carriers bill by the started unit and UPS rejects more decimals.
    value = (Decimal(math.ceil(units.from_kg(parcel.weight_kg, unit) * 10)) / 10).quantize(Decimal("0.1"))
    code, text = ("LBS", "Pounds") if imperial else ("KGS", "Kilograms")
    return {
        "UnitOfMeasurement": {"Code": code, "Description": text},
        "Weight": f"{max(value, Decimal('0.1')):f}",
    }


def _dimensions(parcel: types.Parcel, imperial: bool) -> dict[str, Any]:
    unit = "in" if imperial else "cm"
    length, width, height = (math.ceil(units.from_cm(d, unit)) for d in parcel.sorted_dims)
    code, text = ("IN", "Inches") if imperial else ("CM", "Centimeters")
    return {
        "UnitOfMeasurement": {"Code": code, "Description": text},
        "Length": str(length),
        "Width": str(width),
        "Height": str(height),
    }


def _address(address: types.Address) -> dict[str, Any]:
    lines = [line[:35] for line in address.street_lines[:3]] or [address.city[:35]]
    out: dict[str, Any] = {
        "AddressLine": lines,
        "City": address.city[:30],
        "CountryCode": address.country_code,
    }
    if address.state:
        out["StateProvinceCode"] = address.state
    if address.postal_code:
        out["PostalCode"] = address.postal_code.replace(" ", "")[:9]
    return out


def _party_name(address: types.Address, role: str) -> str:
    name = address.company or address.name
    if not name:
        raise base.CarrierRejected(CARRIER, f"{role} needs a name or company for UPS", code="invalid_request")
    return name[:35]


def _party(address: types.Address, role: str) -> dict[str, Any]:
    party: dict[str, Any] = {"Name": _party_name(address, role), "Address": _address(address)}
    if address.name and address.company:
        party["AttentionName"] = address.name[:35]
    if address.phone:
        party["Phone"] = {"Number": "".join(ch for ch in address.phone if ch.isdigit())[:15]}
    return party


def _money(node: Mapping[str, Any] | None) -> money.Money | None:
    if not node or node.get("MonetaryValue") in (None, ""):
        return None
    try:
        return money.Money(Decimal(str(node["MonetaryValue"])), str(node.get("CurrencyCode", "")).upper())
    except (InvalidOperation, money.CurrencyError, KeyError) as exc:
        raise malformed(f"unreadable amount {node!r}") from exc


def _as_list(node: Any) -> list[Any]:
    if node is None:
        return []
    return list(node) if isinstance(node, list) else [node]


# Where each field of UPS's fixed-width digit formats starts and ends.
_DIGIT_CUTS = {"%Y%m%d": (0, 4, 6, 8), "%Y%m%d%H%M%S": (0, 4, 6, 8, 10, 12, 14)}


def _strptime_digits(text: str, fmt: str) -> datetime:
    """``datetime.strptime(text, fmt)`` for UPS's fixed-width digit formats, by slicing when it can.

    Slicing is about ten times cheaper than ``strptime``, which showed as the largest single cost of
    normalising a Track Alert push. Anything that is not exactly the format's width in ASCII digits
    goes through ``strptime``, so the accepted forms and the ValueErrors do not change.
    """
    cuts = _DIGIT_CUTS[fmt]
    if len(text) != cuts[-1] or not (text.isascii() and text.isdigit()):
        return datetime.strptime(text, fmt)
    return datetime(*(int(text[a:b]) for a, b in itertools.pairwise(cuts)))


def _ymd(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return _strptime_digits(text, "%Y%m%d").date()
    except ValueError:
        return None


def malformed(detail: str) -> base.CarrierUnavailable:
    """Return the error for a reply we cannot read (the carrier may be mid-deploy: try later)."""
    return base.CarrierUnavailable(CARRIER, f"malformed UPS reply: {detail}", code="malformed_response")


# -- OAuth ------------------------------------------------------------------------------------------------


def oauth_request(merchant_id: str | None = None) -> HttpCall:
    """Build the client-credentials token request (client id/secret go in HTTP Basic auth)."""
    headers = {"x-merchant-id": merchant_id} if merchant_id else {}
    return HttpCall("POST", OAUTH_PATH, form={"grant_type": "client_credentials"}, headers=headers)


def parse_oauth_response(body: Mapping[str, Any]) -> tuple[str, float]:
    """Return (access token, lifetime in seconds) from a token reply."""
    try:
        token = str(body["access_token"])
        lifetime = float(body.get("expires_in", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise malformed("token reply without access_token/expires_in") from exc
    if not token:
        raise malformed("empty access_token")
    return token, lifetime


# -- Rating (Shop) ----------------------------------------------------------------------------------------


def _packages(spec: types.ShipmentSpec, packaging_key: str) -> list[dict[str, Any]]:
    imperial = _imperial(spec)
    return [
        {
            packaging_key: {"Code": "02", "Description": "Customer Supplied Package"},
            "Dimensions": _dimensions(parcel, imperial),
            "PackageWeight": _weight(parcel, imperial),
        }
        for parcel in spec.parcels
    ]


def rate_request(request: carrier.RateRequest, shipper_name: str | None = None) -> HttpCall:
    """Build a Rating request in Shop mode: every UPS service for the shipment, with negotiated rates."""
    spec = request.spec
    if not spec.parcels:
        raise base.CarrierRejected(CARRIER, "a shipment needs at least one parcel", code="invalid_request")
    shipper = {
        "Name": (shipper_name or spec.origin.company or spec.origin.name or "Shipper")[:35],
        "ShipperNumber": request.account,
        "Address": _address(spec.origin),
    }
    ship_to: dict[str, Any] = {"Address": _address(spec.destination)}
    if spec.destination.name or spec.destination.company:
        ship_to["Name"] = (spec.destination.company or spec.destination.name or "")[:35]
    if spec.destination.residential:
        ship_to["Address"]["ResidentialAddressIndicator"] = "Y"
    body = {
        "RateRequest": {
            "Request": {
                "RequestOption": "Shop",
                "SubVersion": "2409",
                "TransactionReference": {"CustomerContext": (spec.reference or "rate")[:512]},
            },
            "Shipment": {
                "Shipper": shipper,
                "ShipTo": ship_to,
                "ShipFrom": {"Name": shipper["Name"], "Address": _address(spec.origin)},
                "PaymentDetails": {
                    "ShipmentCharge": [{"Type": "01", "BillShipper": {"AccountNumber": request.account}}]
                },
                "ShipmentRatingOptions": {"NegotiatedRatesIndicator": "Y"},
                "NumOfPieces": str(len(spec.parcels)),
                "Package": _packages(spec, "PackagingType"),
            },
        }
    }
    return HttpCall("POST", RATE_PATH, json=body)


def _charge_lines(shipment: Mapping[str, Any]) -> tuple[carrier.ChargeLine, ...]:
    lines: list[carrier.ChargeLine] = []
    for key, code, text in (
        ("BaseServiceCharge", "BASE", "Base service charge"),
        ("TransportationCharges", "TRANSPORTATION", "Transportation charges"),
        ("ServiceOptionsCharges", "SERVICE_OPTIONS", "Service options charges"),
    ):
        amount = _money(shipment.get(key))
        if amount is not None and amount.amount != 0:
            lines.append(carrier.ChargeLine(code, text, amount))
    for item in _as_list(shipment.get("ItemizedCharges")):
        amount = _money(item)
        if amount is not None:
            lines.append(
                carrier.ChargeLine(str(item.get("Code", "")), str(item.get("Description", "")), amount)
            )
    return tuple(lines)


def parse_rate_response(body: Mapping[str, Any], services: Sequence[str] = ()) -> list[carrier.RateResult]:
    """Return one RateResult per rated UPS service (negotiated total when UPS gives one), cheapest first."""
    try:
        rated = _as_list(body["RateResponse"]["RatedShipment"])
    except (KeyError, TypeError) as exc:
        raise malformed("no RateResponse.RatedShipment") from exc
    results: list[carrier.RateResult] = []
    for shipment in rated:
        service = shipment.get("Service") or {}
        code = str(service.get("Code", ""))
        if not code or (services and code not in services):
            continue
        negotiated = _money((shipment.get("NegotiatedRateCharges") or {}).get("TotalCharge"))
        published = _money(shipment.get("TotalCharges"))
        total = negotiated or published
        if total is None:
            raise malformed(f"service {code} without TotalCharges")
        guarantee = shipment.get("GuaranteedDelivery") or {}
        days_text = str(guarantee.get("BusinessDaysInTransit") or "")
        results.append(
            carrier.RateResult(
                carrier=CARRIER,
                service_code=code,
                service_name=SERVICE_NAMES.get(code)
                or str(service.get("Description") or f"UPS service {code}"),
                total=total,
                charges=_charge_lines(shipment),
                transit_days=int(days_text) if days_text.isdigit() else None,
                estimated_delivery=_ymd(guarantee.get("ScheduledDeliveryDate")),
                guaranteed=days_text.isdigit(),
                negotiated=negotiated is not None,
            )
        )
    results.sort(key=lambda r: (r.total.currency, r.total.amount))
    return results


# -- Shipping ---------------------------------------------------------------------------------------------

_LABEL_CODES: dict[carrier.LabelFormat, str] = {
    carrier.LabelFormat.GIF: "GIF",
    carrier.LabelFormat.PNG: "PNG",
    carrier.LabelFormat.ZPL: "ZPL",
}


def ship_request(request: carrier.LabelRequest, shipper_name: str | None = None) -> HttpCall:
    """Build a Shipping request that buys labels, carrying our shipment id as the reference."""
    spec = request.spec
    if request.label_format not in _LABEL_CODES:
        raise base.CarrierRejected(
            CARRIER,
            f"UPS labels come as GIF, PNG or ZPL, not {request.label_format.value}",
            code="invalid_request",
        )
    if not spec.parcels:
        raise base.CarrierRejected(CARRIER, "a shipment needs at least one parcel", code="invalid_request")
    shipper = _party(spec.origin, "origin")
    if shipper_name:
        shipper["Name"] = shipper_name[:35]
    shipper["ShipperNumber"] = request.account
    ship_to = _party(spec.destination, "destination")
    if spec.destination.residential:
        ship_to["Address"]["ResidentialAddressIndicator"] = "Y"
    label_format = _LABEL_CODES[request.label_format]
    label_spec: dict[str, Any] = {
        "LabelImageFormat": {"Code": label_format},
        # Thermal printers take 4x6 stock; UPS scales image formats to the same size.
        "LabelStockSize": {"Height": "6", "Width": "4"},
    }
    if label_format in ("GIF", "PNG"):
        label_spec["HTTPUserAgent"] = "Mozilla/4.5"
    body = {
        "ShipmentRequest": {
            "Request": {
                "RequestOption": "nonvalidate",
                "SubVersion": "2409",
                "TransactionReference": {"CustomerContext": request.reference[:512]},
            },
            "Shipment": {
                "Description": (spec.reference or request.reference)[:50],
                "Shipper": shipper,
                "ShipTo": ship_to,
                "ShipFrom": _party(spec.origin, "origin"),
                "PaymentInformation": {
                    "ShipmentCharge": [{"Type": "01", "BillShipper": {"AccountNumber": request.account}}]
                },
                "Service": {"Code": request.service_code},
                "ShipmentRatingOptions": {"NegotiatedRatesIndicator": "Y"},
                "ReferenceNumber": [{"Value": request.reference[:35]}],
                "Package": _packages(spec, "Packaging"),
            },
            "LabelSpecification": label_spec,
        }
    }
    return HttpCall("POST", SHIP_PATH, json=body, params={"additionaladdressvalidation": "city"})


def parse_ship_response(body: Mapping[str, Any]) -> carrier.LabelResult:
    """Return the bought label(s), tracking numbers and charges from a Shipping reply."""
    try:
        shipment = body["ShipmentResponse"]
        results = shipment["ShipmentResults"]
    except (KeyError, TypeError) as exc:
        raise malformed("no ShipmentResponse.ShipmentResults") from exc
    status = ((shipment.get("Response") or {}).get("ResponseStatus") or {}).get("Code")
    if status not in (None, "1", 1):
        raise base.CarrierRejected(CARRIER, "UPS did not confirm the shipment", code=str(status))
    packages = _as_list(results.get("PackageResults"))
    if not packages:
        raise malformed("no PackageResults")
    tracking: list[str] = []
    images: list[bytes] = []
    label_format: carrier.LabelFormat | None = None
    for package in packages:
        tracking.append(str(package["TrackingNumber"]))
        label = package.get("ShippingLabel") or {}
        try:
            images.append(base64.b64decode(label["GraphicImage"], validate=True))
            code = str((label.get("ImageFormat") or {}).get("Code", "")).upper()
        except (KeyError, binascii.Error) as exc:
            raise malformed(f"no readable label for {tracking[-1]}") from exc
        label_format = label_format or carrier.LabelFormat(code)
    charges = results.get("ShipmentCharges") or {}
    negotiated = _money((results.get("NegotiatedRateCharges") or {}).get("TotalCharge"))
    assert label_format is not None
    return carrier.LabelResult(
        carrier=CARRIER,
        carrier_shipment_id=str(results.get("ShipmentIdentificationNumber") or tracking[0]),
        tracking_numbers=tuple(tracking),
        label=images[0],
        label_format=label_format,
        charges=negotiated or _money(charges.get("TotalCharges")),
        charge_lines=_charge_lines(charges),
        labels=tuple(images),
    )


# -- Void -------------------------------------------------------------------------------------------------


def void_request(request: carrier.VoidRequest) -> HttpCall:
    """Build the DELETE that voids a shipment (optionally only some of its packages)."""
    params: dict[str, str] = {}
    if request.tracking_numbers:
        if len(request.tracking_numbers) > 20:
            raise base.CarrierRejected(
                CARRIER, "UPS voids at most 20 packages per call", code="invalid_request"
            )
        params["trackingnumber"] = "[" + ",".join(f'"{n}"' for n in request.tracking_numbers) + "]"
    return HttpCall("DELETE", VOID_PATH.format(shipment_id=request.carrier_shipment_id), params=params)


def parse_void_response(body: Mapping[str, Any], request: carrier.VoidRequest) -> carrier.VoidResult:
    """Return whether UPS voided the shipment and which packages."""
    try:
        reply = body["VoidShipmentResponse"]
        summary = reply["SummaryResult"]["Status"]
    except (KeyError, TypeError) as exc:
        raise malformed("no VoidShipmentResponse.SummaryResult") from exc
    voided_numbers = tuple(
        str(p.get("TrackingNumber"))
        for p in _as_list(reply.get("PackageLevelResults"))
        if str((p.get("Status") or {}).get("Code")) == "1"
    )
    return carrier.VoidResult(
        carrier=CARRIER,
        carrier_shipment_id=request.carrier_shipment_id,
        voided=str(summary.get("Code")) == "1",
        voided_tracking_numbers=voided_numbers,
        message=summary.get("Description"),
    )


# -- Tracking ---------------------------------------------------------------------------------------------


def track_request(tracking_number: str) -> HttpCall:
    """Build the Track API call for one tracking number."""
    if not 7 <= len(tracking_number) <= 34:
        raise base.CarrierRejected(
            CARRIER, "UPS tracking numbers have 7 to 34 characters", code="invalid_request"
        )
    return HttpCall(
        "GET",
        TRACK_PATH.format(tracking_number=tracking_number),
        params={
            "locale": "en_US",
            "returnSignature": "false",
            "returnMilestones": "false",
            "returnPOD": "false",
        },
    )


def reference_track_request(reference: str) -> HttpCall:
    """Build the Reference Tracking call that finds a shipment by our reference."""
    return HttpCall("GET", REFERENCE_TRACK_PATH.format(reference=reference), params={"locale": "en_US"})


def _utc(day: str | None, clock: str | None, offset: str | None = None) -> datetime | None:
    if not day or not clock:
        return None
    try:
        naive = _strptime_digits(day + clock.ljust(6, "0")[:6], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    if offset is None:
        return naive.replace(tzinfo=UTC)
    # UPS writes offsets as "-05:00" (Track API) or "-04.00" (Track Alert).
    text = offset.replace(".", ":").strip()
    try:
        sign = -1 if text.startswith("-") else 1
        hours, minutes = text.lstrip("+-").split(":")
        local = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    except ValueError:
        return None
    return naive.replace(tzinfo=local).astimezone(UTC)


def _location(address: Mapping[str, Any] | None) -> carrier.EventLocation | None:
    if not address:
        return None
    location = carrier.EventLocation(
        city=address.get("city") or None,
        state=address.get("stateProvince") or None,
        postal_code=address.get("postalCode") or None,
        country_code=address.get("countryCode") or address.get("country") or None,
    )
    return None if location == carrier.EventLocation() else location


def _event_id(tracking_number: str, occurred_at: datetime, type_: str, code: str | None) -> str:
    # UPS sends no event id; this key is the same for a polled activity and its Track Alert push.
    return f"{tracking_number}:{occurred_at:%Y%m%d%H%M%S}:{type_}:{code or ''}"


def parse_track_response(body: Mapping[str, Any], tracking_number: str) -> carrier.TrackResult:
    """Return the events of every package in a Track API reply, oldest first."""
    try:
        shipments = _as_list(body["trackResponse"]["shipment"])
    except (KeyError, TypeError) as exc:
        raise malformed("no trackResponse.shipment") from exc
    events: list[carrier.RawTrackingEvent] = []
    estimated: date | None = None
    for shipment in shipments:
        for package in _as_list(shipment.get("package")):
            number = str(package.get("trackingNumber") or tracking_number)
            for entry in _as_list(package.get("deliveryDate")):
                if entry.get("type") in ("SDD", "RDD"):
                    estimated = _ymd(entry.get("date")) or estimated
            for activity in _as_list(package.get("activity")):
                event = _activity_event(number, activity, estimated)
                if event is not None:
                    events.append(event)
    events.sort(key=lambda e: e.occurred_at)
    return carrier.TrackResult(CARRIER, tracking_number, tuple(events), estimated)


def _activity_event(
    tracking_number: str, activity: Mapping[str, Any], estimated: date | None
) -> carrier.RawTrackingEvent | None:
    status = activity.get("status") or {}
    type_ = str(status.get("type") or "")
    if not type_:
        return None
    occurred = _utc(activity.get("gmtDate"), activity.get("gmtTime")) or _utc(
        activity.get("date"), activity.get("time"), activity.get("gmtOffset") or "+00:00"
    )
    if occurred is None:
        raise malformed(f"activity without a readable date for {tracking_number}")
    code = status.get("code") or None
    return carrier.RawTrackingEvent(
        carrier=CARRIER,
        tracking_number=tracking_number,
        code=type_,
        subcode=code,
        description=str(status.get("description") or status.get("simplifiedTextDescription") or ""),
        occurred_at=occurred,
        location=_location((activity.get("location") or {}).get("address")),
        estimated_delivery=estimated,
        source_event_id=_event_id(tracking_number, occurred, type_, code),
        detail_code=status.get("statusCode") or None,
        raw=dict(activity),
    )


def parse_reference_lookup(body: Mapping[str, Any], reference: str) -> carrier.ShipmentLookup:
    """Return whether a Reference Tracking reply shows a shipment under our reference."""
    numbers: list[str] = []
    for shipment in _as_list((body.get("trackResponse") or {}).get("shipment")):
        for package in _as_list(shipment.get("package")):
            if package.get("trackingNumber"):
                numbers.append(str(package["trackingNumber"]))
    return carrier.ShipmentLookup(
        reference=reference,
        found=bool(numbers),
        carrier_shipment_id=numbers[0] if numbers else None,
        tracking_numbers=tuple(numbers),
    )


# -- Track Alert ------------------------------------------------------------------------------------------


def track_alert_subscription_request(
    tracking_numbers: Sequence[str], locale: str = "en_US", country_code: str = "US"
) -> HttpCall:
    """Build a Track Alert (standard) subscription for up to 100 tracking numbers."""
    if not 1 <= len(tracking_numbers) <= 100:
        raise base.CarrierRejected(
            CARRIER, "subscribe 1 to 100 tracking numbers per call", code="invalid_request"
        )
    body = {"locale": locale, "countryCode": country_code, "trackingNumberList": list(tracking_numbers)}
    return HttpCall("POST", SUBSCRIBE_PATH, json=body)


def parse_subscription_response(body: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Return (subscribed, refused) tracking numbers."""
    return [str(n) for n in body.get("validTrackingNumbers") or []], [
        str(n) for n in body.get("invalidTrackingNumbers") or []
    ]


def parse_track_alert_push(body: Mapping[str, Any]) -> list[carrier.RawTrackingEvent]:
    """Return the event carried by one Track Alert webhook payload (authenticate it first)."""
    try:
        number = str(body["trackingNumber"])
        status = body["activityStatus"]
        type_ = str(status["type"])
    except (KeyError, TypeError) as exc:
        raise base.CarrierRejected(
            CARRIER, "Track Alert payload without trackingNumber/activityStatus"
        ) from exc
    occurred = _utc(body.get("gmtActivityDate"), body.get("gmtActivityTime")) or _utc(
        body.get("localActivityDate"), body.get("localActivityTime"), body.get("gmtOffset") or "+00:00"
    )
    if occurred is None:
        raise base.CarrierRejected(CARRIER, f"Track Alert payload for {number} without a readable date")
    code = status.get("code") or None
    detail = status.get("descriptionCode")
    return [
        carrier.RawTrackingEvent(
            carrier=CARRIER,
            tracking_number=number,
            code=type_,
            subcode=code,
            description=str(status.get("description") or ""),
            occurred_at=occurred,
            location=_location(body.get("activityLocation")),
            estimated_delivery=_ymd(body.get("scheduledDeliveryDate")),
            source_event_id=_event_id(number, occurred, type_, code),
            detail_code=None if detail in (None, "") else str(detail),
            raw={k: v for k, v in body.items() if k != "deliveryPhoto"},
        )
    ]


# -- Errors -----------------------------------------------------------------------------------------------


def parse_error(status: int, body: Any) -> base.CarrierError:
    """Map a UPS error reply to CarrierUnavailable (retry later) or CarrierRejected (keep UPS's code)."""
    errors: list[Mapping[str, Any]] = []
    if isinstance(body, Mapping):
        envelope = body.get("response") or body.get("Response") or {}
        if isinstance(envelope, Mapping):
            errors = [e for e in _as_list(envelope.get("errors")) if isinstance(e, Mapping)]
    code = str(errors[0].get("code")) if errors and errors[0].get("code") is not None else None
    message = "; ".join(str(e.get("message") or "") for e in errors if e.get("message")) or f"HTTP {status}"
    if status == 429 or status >= 500 or code in TRANSIENT_ERROR_CODES:
        return base.CarrierUnavailable(CARRIER, message, code=code or f"http_{status}", http_status=status)
    return base.CarrierRejected(CARRIER, message, code=code or f"http_{status}", http_status=status)
