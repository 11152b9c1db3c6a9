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
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from adapters import base, checks
from adapters.ups import requirements
from schemas import carrier, money, types, units

CARRIER = "ups"
RATING_VERSION = "v2409"
SHIPPING_VERSION = "v2409"
TRACK_ALERT_VERSION = "v2"

OAUTH_PATH = "/security/v1/oauth/token"
RATE_PATH = "/api/rating/" + RATING_VERSION + "/{option}"
# Shoptimeintransit prices every service *and* returns the time-in-transit block, the only place UPS
# gives a delivery date for services it does not guarantee (Ground, Standard, ...).
RATE_OPTION = "Shoptimeintransit"
SHIP_PATH = f"/api/shipments/{SHIPPING_VERSION}/ship"
# Shipping.yaml Shipment_ReturnService Code: "9 = UPS Print Return Label (PRL)".
RETURN_SERVICE_PRINT = "9"
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
        code = address.postal_code.replace(" ", "")
        if address.country_code.upper() in _IMPERIAL_ORIGINS:  # a ZIP+4 goes as 9 digits, without its hyphen
            code = code.replace("-", "")
        out["PostalCode"] = code[:9]
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
    digits = "".join(ch for ch in address.phone or "" if ch.isdigit())[:15]
    if digits:  # Shipping.yaml: Phone/Number has minLength 1, so a phone without digits is left out
        party["Phone"] = {"Number": digits}
    return party


def _money(node: Mapping[str, Any] | None) -> money.Money | None:
    if not node or node.get("MonetaryValue") in (None, ""):
        return None
    try:
        return money.Money(Decimal(str(node["MonetaryValue"])), str(node.get("CurrencyCode", "")).upper())
    except (InvalidOperation, money.CurrencyError, KeyError) as exc:
        raise malformed(f"unreadable amount {node!r}") from exc


def _segment(value: str) -> str:
    """Percent-encode a value that fills one path segment, so ``/``, ``?`` or ``#`` cannot leave it."""
    return quote(value, safe="")


def _clean(text: Any) -> str:
    """Collapse the line breaks and indentation UPS leaves inside descriptions."""
    return " ".join(str(text or "").split())


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
    numbers = [int(text[a:b]) for a, b in itertools.pairwise(cuts)]
    year, month, day, hour, minute, second = numbers + [0] * (6 - len(numbers))
    return datetime(year, month, day, hour, minute, second)


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


def _total_weight(spec: types.ShipmentSpec) -> dict[str, Any]:
    imperial = _imperial(spec)
    weights = [Decimal(_weight(parcel, imperial)["Weight"]) for parcel in spec.parcels]
    code, text = ("LBS", "Pounds") if imperial else ("KGS", "Kilograms")
    return {"UnitOfMeasurement": {"Code": code, "Description": text}, "Weight": f"{sum(weights):f}"}


def _invoice_total(spec: types.ShipmentSpec) -> dict[str, str] | None:
    """The invoice total UPS asks for abroad: the parcels' declared values, else the customs items'."""
    values = [p.declared_value for p in spec.parcels if p.declared_value is not None]
    if not values and spec.customs is not None:
        values = [item.value for item in spec.customs.items]
    if not values or len({v.currency for v in values}) != 1:
        return None
    total = sum((v.amount for v in values), Decimal(0))
    # UPS takes whole units from 1 upwards.
    amount = max(int(total.to_integral_value(rounding=ROUND_CEILING)), 1)
    return {"CurrencyCode": values[0].currency, "MonetaryValue": str(amount)}


def rate_request(request: carrier.RateRequest, shipper_name: str | None = None) -> HttpCall:
    """Build a Rating request for every UPS service with negotiated rates and, when UPS can give it, transit.

    ``Shoptimeintransit`` needs the total weight and, abroad, the invoice total (the parcels' declared
    values, else the customs items'): an international shipment with neither is shopped with plain
    ``Shop`` (no transit block; only guaranteed services then carry a delivery date).
    """
    spec = request.spec
    if not spec.parcels:
        raise base.CarrierRejected(CARRIER, "a shipment needs at least one parcel", code="invalid_request")
    international = spec.origin.country_code.upper() != spec.destination.country_code.upper()
    invoice = _invoice_total(spec)
    option = RATE_OPTION if invoice is not None or not international else "Shop"
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
    shipment: dict[str, Any] = {
        "Shipper": shipper,
        "ShipTo": ship_to,
        "ShipFrom": {"Name": shipper["Name"], "Address": _address(spec.origin)},
        "PaymentDetails": {
            "ShipmentCharge": [{"Type": "01", "BillShipper": {"AccountNumber": request.account}}]
        },
        "ShipmentRatingOptions": {"NegotiatedRatesIndicator": "Y"},
        "NumOfPieces": str(len(spec.parcels)),
        "Package": _packages(spec, "PackagingType"),
    }
    if option == RATE_OPTION:
        documents = checks.is_documents(spec)
        shipment["DeliveryTimeInformation"] = {"PackageBillType": "02" if documents else "03"}
        shipment["ShipmentTotalWeight"] = _total_weight(spec)
        if international and invoice is not None:
            shipment["InvoiceLineTotal"] = invoice
    body = {
        "RateRequest": {
            "Request": {
                "RequestOption": option,
                "SubVersion": "2409",
                "TransactionReference": {"CustomerContext": (spec.reference or "rate")[:512]},
            },
            "Shipment": shipment,
        }
    }
    return HttpCall("POST", RATE_PATH.format(option=option), json=body)


def _itemized(nodes: Any, currency: str) -> list[carrier.ChargeLine]:
    lines: list[carrier.ChargeLine] = []
    for item in _as_list(nodes):
        amount = _money(item) if isinstance(item, Mapping) else None
        if amount is None or amount.currency != currency:
            continue
        code = str(item.get("Code") or "ITEM")
        lines.append(carrier.ChargeLine(code, _clean(item.get("Description")) or code, amount))
    return lines


def _sum(lines: Sequence[carrier.ChargeLine], currency: str) -> money.Money:
    return money.Money(sum((line.amount.amount for line in lines), Decimal(0)), currency)


def _published_lines(charges: Mapping[str, Any], currency: str) -> list[carrier.ChargeLine]:
    """Split UPS's published charges into lines that add up to ``TotalCharges``.

    UPS lists the transportation charge (which already contains the base charge and the itemised
    surcharges), the base charge and the surcharges side by side; adding them all counts twice. The first
    reading that adds up wins; otherwise the rest goes on an ``OTHER`` line.
    """
    published = _money(charges.get("TotalCharges"))
    itemized = _itemized(charges.get("ItemizedCharges"), currency)
    transport = _money(charges.get("TransportationCharges"))
    base_charge = _money(charges.get("BaseServiceCharge"))
    options = _money(charges.get("ServiceOptionsCharges"))
    options_lines = (
        [carrier.ChargeLine("SERVICE_OPTIONS", "Service options charges", options)]
        if options is not None and options.currency == currency and options.amount != 0
        else []
    )
    readings: list[list[carrier.ChargeLine]] = []
    if base_charge is not None and base_charge.currency == currency:
        base_line = carrier.ChargeLine("BASE", "Base service charge", base_charge)
        readings += [[base_line, *itemized, *options_lines], [base_line, *itemized]]
    if transport is not None and transport.currency == currency:
        rest = transport - _sum(itemized, currency)
        if rest.amount >= 0:
            base_line = carrier.ChargeLine("BASE", "Base service charge", rest)
            readings.append([base_line, *itemized, *options_lines])
    if published is None or published.currency != currency:
        return readings[0] if readings else itemized
    for reading in readings:
        if _sum(reading, currency) == published:
            return [line for line in reading if line.amount.amount != 0 or line.code == "BASE"]
    lines = readings[-1] if readings else [*itemized, *options_lines]
    return _balanced(lines, published, "OTHER", "Charges UPS did not itemise")


def _balanced(
    lines: list[carrier.ChargeLine], total: money.Money, code: str, description: str
) -> list[carrier.ChargeLine]:
    """Add what the lines miss of ``total``; lines are never negative, so an excess leaves one total line."""
    rest = total - _sum(lines, total.currency)
    if rest.amount < 0:
        return [carrier.ChargeLine("TOTAL", "Carrier quoted total", total)]
    return [*lines, carrier.ChargeLine(code, description, rest)] if rest.amount != 0 else lines


def _charge_lines(charges: Mapping[str, Any], total: money.Money) -> tuple[carrier.ChargeLine, ...]:
    """Return charge lines that add up exactly to ``total`` (the negotiated total when UPS gave one)."""
    currency = total.currency
    published = _money(charges.get("TotalCharges"))
    negotiated_node = charges.get("NegotiatedRateCharges") or {}
    negotiated = _money(negotiated_node.get("TotalCharge")) if isinstance(negotiated_node, Mapping) else None
    if negotiated is not None and negotiated == total and published != total:
        # Negotiated breakdown when UPS sends one (SubVersion >= 2201), else the published surcharges
        # with the negotiated discount taken off the base charge (lines are never negative).
        lines = [
            carrier.ChargeLine("BASE", "Base service charge (negotiated)", amount)
            for amount in (_money(n) for n in _as_list(negotiated_node.get("BaseServiceCharge")))
            if amount is not None and amount.currency == currency
        ] + _itemized(negotiated_node.get("ItemizedCharges"), currency)
        if lines:
            return tuple(_balanced(lines, total, "OTHER", "Charges UPS did not itemise"))
        others = [line for line in _published_lines(charges, currency) if line.code not in ("BASE", "OTHER")]
        return tuple(_balanced(others, total, "BASE", "Base service charge (negotiated)"))
    return tuple(
        _balanced(_published_lines(charges, currency), total, "OTHER", "Charges UPS did not itemise")
    )


def _transit(shipment: Mapping[str, Any]) -> tuple[int | None, date | None, bool]:
    """Return (business days, delivery date, guaranteed) from the time-in-transit or guarantee blocks."""
    guarantee = shipment.get("GuaranteedDelivery") or {}
    summary = (shipment.get("TimeInTransit") or {}).get("ServiceSummary") or {}
    if isinstance(summary, list):
        summary = summary[0] if summary else {}
    arrival = summary.get("EstimatedArrival") or {}
    days_text = str(
        arrival.get("BusinessDaysInTransit") or guarantee.get("BusinessDaysInTransit") or ""
    ).strip()
    day = _ymd(str((arrival.get("Arrival") or {}).get("Date") or "").strip() or None) or _ymd(
        str(guarantee.get("ScheduledDeliveryDate") or "").strip() or None
    )
    guaranteed = str(guarantee.get("BusinessDaysInTransit") or "").strip().isdigit() or (
        "GuaranteedIndicator" in summary
    )
    return (int(days_text) if days_text.isdigit() else None), day, guaranteed


def parse_rate_response(body: Mapping[str, Any], services: Sequence[str] = ()) -> list[carrier.RateResult]:
    """Return one RateResult per rated UPS offer (negotiated total when UPS gives one), cheapest first.

    Transit comes from the time-in-transit block (``Shoptimeintransit``), else from the guarantee. When
    UPS prices a service twice (with and without service options) ``service_options`` tells them apart.
    """
    try:
        rated = _as_list(body["RateResponse"]["RatedShipment"])
    except (KeyError, TypeError) as exc:
        raise malformed("no RateResponse.RatedShipment") from exc
    offers: list[tuple[str, Mapping[str, Any]]] = []
    for shipment in rated:
        if not isinstance(shipment, Mapping):
            continue
        code = str((shipment.get("Service") or {}).get("Code", "")).strip()
        if code and (not services or code in services):
            offers.append((code, shipment))
    counts: dict[str, int] = {}
    for code, _ in offers:
        counts[code] = counts.get(code, 0) + 1
    seen: dict[str, set[str]] = {}
    results: list[carrier.RateResult] = []
    for code, shipment in offers:
        service = shipment.get("Service") or {}
        negotiated = _money((shipment.get("NegotiatedRateCharges") or {}).get("TotalCharge"))
        published = _money(shipment.get("TotalCharges"))
        total = negotiated or published
        if total is None:
            raise malformed(f"service {code} without TotalCharges")
        transit_days, delivery, guaranteed = _transit(shipment)
        name = SERVICE_NAMES.get(code) or _clean(service.get("Description")) or f"UPS service {code}"
        variant: str | None = None
        if counts[code] > 1:
            variant = _service_options(shipment)
            taken = seen.setdefault(code, set())
            base_variant, n = variant, 1
            while variant in taken:
                n += 1
                variant = f"{base_variant}#{n}"
            taken.add(variant)
            if variant.startswith("with_options"):
                name = f"{name} (with service options)"
        results.append(
            carrier.RateResult(
                carrier=CARRIER,
                service_code=code,
                service_name=name,
                total=total,
                charges=_charge_lines(shipment, total),
                transit_days=transit_days,
                estimated_delivery=delivery,
                guaranteed=guaranteed,
                negotiated=negotiated is not None,
                service_options=variant,
            )
        )
    results.sort(key=lambda r: (r.total.currency, r.total.amount, r.service_code, r.service_options or ""))
    return results


def _service_options(shipment: Mapping[str, Any]) -> str:
    options = _money(shipment.get("ServiceOptionsCharges"))
    if options is None or options.amount == 0:
        return "none"
    return "with_options"


# -- Shipping ---------------------------------------------------------------------------------------------

_LABEL_CODES: dict[carrier.LabelFormat, str] = {
    carrier.LabelFormat.GIF: "GIF",
    carrier.LabelFormat.PNG: "PNG",
    carrier.LabelFormat.ZPL: "ZPL",
}


def ship_request(
    request: carrier.LabelRequest, shipper_name: str | None = None, *, today: date | None = None
) -> HttpCall:
    """Build a Shipping request that buys labels, carrying our shipment id as the reference."""
    spec = request.spec
    if request.label_format not in _LABEL_CODES:
        raise base.CarrierRejected(
            CARRIER,
            f"UPS labels come as GIF, PNG or ZPL, not {request.label_format.value}",
            code="invalid_request",
        )
    # Everything about the shipment itself is the check's: the gateway asks it before buying.
    base.refuse_unless_valid(CARRIER, requirements.check(spec, request.service_code))
    # The Shipper is the account holder: on a return (Shipping.yaml ReturnService) that is the merchant
    # the parcel goes back to, while ShipFrom is the customer sending it.
    shipper = _party(spec.destination, "destination") if spec.is_return else _party(spec.origin, "origin")
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
    body: dict[str, Any] = {
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
    if spec.is_return:
        _as_return(body["ShipmentRequest"]["Shipment"], spec.reference or request.reference)
    if spec.customs is not None and spec.customs.items and checks.needs_customs(spec):
        _add_invoice(body["ShipmentRequest"]["Shipment"], spec, spec.customs, request.reference, today)
    return HttpCall("POST", SHIP_PATH, json=body, params={"additionaladdressvalidation": "city"})


# Shipping.yaml InternationalForms ReasonForExport: "SALE, GIFT, SAMPLE, RETURN, REPAIR, INTERCOMPANYDATA".
_REASONS_FOR_EXPORT = {
    "merchandise": "SALE",
    "documents": "SALE",
    "gift": "GIFT",
    "sample": "SAMPLE",
    "return": "RETURN",
}


def _add_invoice(
    shipment: dict[str, Any],
    spec: types.ShipmentSpec,
    customs: types.Customs,
    reference: str,
    today: date | None,
) -> None:
    """ShipmentServiceOptions/InternationalForms as the invoice form (FormType 01) and the parties' tax ids.

    UPS sends the invoice paperless by default (its copy comes back in the reply's Form when asked).
    """
    products = []
    for item in customs.items:
        product: dict[str, Any] = {
            "Description": [" ".join(item.description.split())[:35]],
            "Unit": {
                "Number": str(item.quantity),
                "UnitOfMeasurement": {"Code": "PCS"},
                "Value": format(item.unit_value.amount, "f")[:19],
            },
            "OriginCountryCode": item.origin_country.upper(),
        }
        if item.hs_code:
            product["CommodityCode"] = checks.hs_digits(item.hs_code)
        products.append(product)
    form: dict[str, Any] = {
        "FormType": ["01"],
        "Product": products,
        "InvoiceNumber": (customs.invoice_number or reference)[:35],
        "InvoiceDate": (today or datetime.now(UTC).date()).strftime("%Y%m%d"),
        "TermsOfShipment": customs.incoterm,
        "ReasonForExport": _REASONS_FOR_EXPORT.get(customs.content_type, "SALE"),
        "CurrencyCode": customs.currency or "USD",
    }
    shipment.setdefault("ShipmentServiceOptions", {})["InternationalForms"] = form
    if customs.exporter_tax_ids:
        shipment["Shipper"]["TaxIdentificationNumber"] = checks.tax_id_number(
            customs.exporter_tax_ids[0].number
        )[:15]
    if customs.importer_tax_ids:
        shipment["ShipTo"]["TaxIdentificationNumber"] = checks.tax_id_number(
            customs.importer_tax_ids[0].number
        )[:15]


def _as_return(shipment: dict[str, Any], description: str) -> None:
    """Make a Shipping request a print-at-home return (ReturnService 9, UPS Print Return Label).

    Shipping.yaml: "When this container exists, the shipment is a return shipment", and each
    package's merchandise Description (1 to 35 characters) is "Required for shipment with return service".
    """
    shipment["ReturnService"] = {"Code": RETURN_SERVICE_PRINT, "Description": "UPS Print Return Label"}
    for package in shipment["Package"]:
        package["Description"] = description[:35] or "Return"


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
    total = negotiated or _money(charges.get("TotalCharges"))
    assert label_format is not None
    return carrier.LabelResult(
        carrier=CARRIER,
        carrier_shipment_id=str(results.get("ShipmentIdentificationNumber") or tracking[0]),
        tracking_numbers=tuple(tracking),
        label=images[0],
        label_format=label_format,
        charges=total,
        charge_lines=_charge_lines(
            {**charges, "NegotiatedRateCharges": results.get("NegotiatedRateCharges") or {}}, total
        )
        if total is not None
        else (),
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
    return HttpCall(
        "DELETE", VOID_PATH.format(shipment_id=_segment(request.carrier_shipment_id)), params=params
    )


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
    tracking_number = tracking_number.strip()
    if not 7 <= len(tracking_number) <= 34:
        raise base.CarrierRejected(
            CARRIER, "UPS tracking numbers have 7 to 34 characters", code="invalid_request"
        )
    return HttpCall(
        "GET",
        TRACK_PATH.format(tracking_number=_segment(tracking_number)),
        params={
            "locale": "en_US",
            "returnSignature": "false",
            "returnMilestones": "false",
            "returnPOD": "false",
        },
    )


def reference_track_request(reference: str) -> HttpCall:
    """Build the Reference Tracking call that finds a shipment by our reference."""
    return HttpCall(
        "GET", REFERENCE_TRACK_PATH.format(reference=_segment(reference)), params={"locale": "en_US"}
    )


def _clock_digits(clock: Any) -> str | None:
    """Return a UPS time as ``HHMMSS``: ``HHMMSS``, ``HHMM``, ``HH:MM:SS`` and leading zero dropped."""
    text = str(clock if clock is not None else "").strip().replace(":", "")
    if not text or not (text.isascii() and text.isdigit()) or len(text) > 6:
        return None
    if len(text) == 4:
        return text + "00"  # HHMM, the other documented form
    # UPS sometimes sends the time as a number: '74700' is 07:47:00, not 74:70:0.
    return text.zfill(6)


def _utc(day: Any, clock: Any, offset: str | None = None) -> datetime | None:
    digits = _clock_digits(clock)
    day_text = str(day or "").strip()
    if not day_text or digits is None:
        return None
    try:
        naive = _strptime_digits(day_text + digits, "%Y%m%d%H%M%S")
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


def _occurred(
    gmt_day: Any, gmt_time: Any, local_day: Any, local_time: Any, offset: Any
) -> tuple[datetime | None, bool]:
    """Return (UTC time, whether the zone is known): GMT fields first, else local time and offset.

    Without either, the local wall clock is kept as UTC and flagged (``local_time_zone_known``), as the
    DHL adapter does, rather than guessing a zone.
    """
    occurred = _utc(gmt_day, gmt_time)
    if occurred is not None:
        return occurred, True
    offset_text = str(offset or "").strip()
    if offset_text:
        return _utc(local_day, local_time, offset_text), True
    return _utc(local_day, local_time, "+00:00"), False


def _location(address: Mapping[str, Any] | None) -> carrier.EventLocation | None:
    if not address or not isinstance(address, Mapping):
        return None
    location = carrier.EventLocation(
        city=_clean(address.get("city")) or None,
        state=_clean(address.get("stateProvince")) or None,
        postal_code=_clean(address.get("postalCode")) or None,
        country_code=_clean(address.get("countryCode") or address.get("country")) or None,
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
    warnings: list[str] = []
    estimated: date | None = None
    for shipment in shipments:
        for warning in _as_list(shipment.get("warnings")):
            if isinstance(warning, Mapping):
                text = ": ".join(filter(None, (_clean(warning.get("code")), _clean(warning.get("message")))))
                if text and text not in warnings:
                    warnings.append(text)
        for package in _as_list(shipment.get("package")):
            number = _clean(package.get("trackingNumber")) or tracking_number
            for entry in _as_list(package.get("deliveryDate")):
                if entry.get("type") in ("SDD", "RDD"):
                    estimated = _ymd(entry.get("date")) or estimated
            for activity in _as_list(package.get("activity")):
                event = _activity_event(number, activity, estimated)
                if event is not None:
                    events.append(event)
    events.sort(key=lambda e: e.occurred_at)
    return carrier.TrackResult(CARRIER, tracking_number, tuple(events), estimated, tuple(warnings))


def _activity_event(
    tracking_number: str, activity: Mapping[str, Any], estimated: date | None
) -> carrier.RawTrackingEvent | None:
    status = activity.get("status") or {}
    type_ = _clean(status.get("type"))
    if not type_:
        return None
    occurred, zone_known = _occurred(
        activity.get("gmtDate"),
        activity.get("gmtTime"),
        activity.get("date"),
        activity.get("time"),
        activity.get("gmtOffset"),
    )
    if occurred is None:
        raise malformed(f"activity without a readable date for {tracking_number}")
    code = _clean(status.get("code")) or None
    detail = _clean(status.get("statusCode")) or None
    return carrier.RawTrackingEvent(
        carrier=CARRIER,
        tracking_number=tracking_number,
        code=type_,
        subcode=code,
        description=_clean(status.get("description") or status.get("simplifiedTextDescription")),
        occurred_at=occurred,
        location=_location((activity.get("location") or {}).get("address")),
        estimated_delivery=estimated,
        source_event_id=_event_id(tracking_number, occurred, type_, code),
        detail_code=detail,
        raw=dict(activity),
        attributes=_attributes(detail, zone_known),
    )


def _attributes(status_code: str | None, zone_known: bool) -> dict[str, str]:
    attributes = {"status_code": status_code} if status_code else {}
    if not zone_known:
        attributes["local_time_zone_known"] = "false"
    return attributes


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
        number = _clean(body["trackingNumber"])
        status = body["activityStatus"]
        type_ = _clean(status["type"])
    except (KeyError, TypeError) as exc:
        raise base.CarrierRejected(
            CARRIER, "Track Alert payload without trackingNumber/activityStatus"
        ) from exc
    if not number or not type_:
        raise base.CarrierRejected(CARRIER, "Track Alert payload without trackingNumber/activityStatus")
    occurred, zone_known = _occurred(
        body.get("gmtActivityDate"),
        body.get("gmtActivityTime"),
        body.get("localActivityDate"),
        body.get("localActivityTime"),
        body.get("gmtOffset"),
    )
    if occurred is None:
        raise base.CarrierRejected(CARRIER, f"Track Alert payload for {number} without a readable date")
    code = _clean(status.get("code")) or None
    detail = _clean(status.get("descriptionCode")) or None
    return [
        carrier.RawTrackingEvent(
            carrier=CARRIER,
            tracking_number=number,
            code=type_,
            subcode=code,
            description=_clean(status.get("description")),
            occurred_at=occurred,
            location=_location(body.get("activityLocation")),
            estimated_delivery=_ymd(_clean(body.get("scheduledDeliveryDate")) or None),
            source_event_id=_event_id(number, occurred, type_, code),
            detail_code=detail,
            raw={k: v for k, v in body.items() if k != "deliveryPhoto"},
            attributes=_attributes(detail, zone_known),
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
