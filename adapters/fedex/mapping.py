"""FedEx REST mapping: pure pairs that build FedEx request bodies and parse FedEx replies into canonical types.

Written from FedEx's published OpenAPI files (API Authorization, Rates and Transit Times, Ship, Track). No
I/O here. Tracking codes follow ``schemas.carrier``: ``code`` is the two-letter scan ``eventType`` (or the
``derivedStatusCode`` when FedEx sends no event type) and ``subcode`` the ``exceptionCode`` (e.g. ``A25``)
that refines DE/SE events.

Money is read exactly: the client parses replies with ``parse_float=Decimal`` and every amount goes
through ``Decimal(str(value))``, so a float that slipped through still keeps its printed digits.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from adapters import base, checks
from adapters.fedex import requirements
from schemas import carrier, money, types, units

CARRIER = "fedex"

OAUTH_PATH = "/oauth/token"
RATE_PATH = "/rate/v1/rates/quotes"
SHIP_PATH = "/ship/v1/shipments"
CANCEL_PATH = "/ship/v1/shipments/cancel"
TRACK_PATH = "/track/v1/trackingnumbers"

MAX_TRACKING_NUMBERS = 30  # trackingInfo entries per Track request
DEFAULT_RATE_TYPE = "ACCOUNT"
DEFAULT_PICKUP_TYPE = "USE_SCHEDULED_PICKUP"

# FedEx rates US and Puerto Rico origins in pounds and inches; everywhere else in kilograms and centimetres.
_IMPERIAL_ORIGINS = frozenset({"US", "PR"})

_DAYS: dict[str, int] = {
    name: n
    for n, name in enumerate(
        (
            "ONE",
            "TWO",
            "THREE",
            "FOUR",
            "FIVE",
            "SIX",
            "SEVEN",
            "EIGHT",
            "NINE",
            "TEN",
            "ELEVEN",
            "TWELVE",
            "THIRTEEN",
            "FOURTEEN",
            "FIFTEEN",
            "SIXTEEN",
            "SEVENTEEN",
            "EIGHTEEN",
            "NINETEEN",
            "TWENTY",
        ),
        start=1,
    )
}

# Rate types that are the account's own (discounted) price rather than the published list price.
_NEGOTIATED_RATE_TYPES = frozenset({"ACCOUNT", "PREFERRED", "INCENTIVE", "PREFERRED_INCENTIVE", "ACTUAL"})

LABEL_IMAGE_TYPES: dict[carrier.LabelFormat, str] = {
    carrier.LabelFormat.PDF: "PDF",
    carrier.LabelFormat.PNG: "PNG",
    carrier.LabelFormat.ZPL: "ZPLII",
    carrier.LabelFormat.EPL: "EPL2",
}
_DOC_TYPES: dict[str, carrier.LabelFormat] = {
    "PDF": carrier.LabelFormat.PDF,
    "PNG": carrier.LabelFormat.PNG,
    "ZPLII": carrier.LabelFormat.ZPL,
    "ZPL": carrier.LabelFormat.ZPL,
    "EPL2": carrier.LabelFormat.EPL,
    "EPL": carrier.LabelFormat.EPL,
}
# Label documents (as opposed to commercial invoices and other shipping documents).
_LABEL_CONTENT_TYPES = frozenset({"LABEL", "MERGED_LABEL_DOCUMENTS", None, ""})

# Which dateAndTimes entries give an expected delivery, best first.
_ESTIMATE_TYPES = ("ESTIMATED_DELIVERY", "APPOINTMENT_DELIVERY", "COMMITMENT")


@dataclass(frozen=True, slots=True)
class HttpCall:
    """A carrier HTTP call described as data, so building it stays pure and testable."""

    method: str
    path: str
    json: Any = None
    form: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


# -- helpers ----------------------------------------------------------------------------------------------


def malformed(detail: str) -> base.CarrierUnavailable:
    """Return the error for a reply we cannot read (the carrier may be mid-deploy: try later)."""
    return base.CarrierUnavailable(CARRIER, f"malformed FedEx reply: {detail}", code="malformed_response")


def invalid(detail: str) -> base.CarrierRejected:
    """Return the error for a request FedEx cannot be asked (missing data on our side)."""
    return base.CarrierRejected(CARRIER, detail, code="invalid_request")


def clean(text: Any) -> str:
    return " ".join(str(text if text is not None else "").split())


def as_list(node: Any) -> list[Any]:
    if node is None or node == "":
        return []
    return list(node) if isinstance(node, list) else [node]


def _mapping(node: Any) -> Mapping[str, Any]:
    return node if isinstance(node, Mapping) else {}


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _money(amount: Any, currency: Any) -> money.Money | None:
    value = _decimal(amount)
    code = clean(currency).upper()
    if value is None or not code:
        return None
    try:
        return money.Money(value, code)
    except money.CurrencyError as exc:
        raise malformed(f"unreadable currency {code!r}") from exc


def _imperial(spec: types.ShipmentSpec) -> bool:
    return spec.origin.country_code.upper() in _IMPERIAL_ORIGINS


def _weight_value(parcel: types.Parcel, unit: str) -> Decimal:
    # Round up to 0.1: carriers bill by the started unit.
    value = Decimal(math.ceil(units.from_kg(parcel.weight_kg, unit) * 10)) / 10
    return max(value, Decimal("0.1"))


def _weight(parcel: types.Parcel, imperial: bool) -> dict[str, Any]:
    unit = "lb" if imperial else "kg"
    return {"units": unit.upper(), "value": _json_number(_weight_value(parcel, unit))}


def _dimensions(parcel: types.Parcel, imperial: bool) -> dict[str, Any]:
    unit = "in" if imperial else "cm"
    length, width, height = (max(math.ceil(units.from_cm(d, unit)), 1) for d in parcel.sorted_dims)
    return {"length": length, "width": width, "height": height, "units": unit.upper()}


def _json_number(value: Decimal) -> int | float:
    """FedEx's schemas type weights as JSON numbers; a Decimal with one decimal place converts exactly."""
    return int(value) if value == value.to_integral_value() else float(value)


def _address(address: types.Address) -> dict[str, Any]:
    lines = [line[:35] for line in address.street_lines[:3] if line.strip()]
    # Street lines are optional for rating; a made-up line would only mislead FedEx.
    out: dict[str, Any] = {"streetLines": lines} if lines else {}
    out["city"] = address.city[:35]
    if address.state:
        out["stateOrProvinceCode"] = address.state.strip()
    if address.postal_code:
        out["postalCode"] = address.postal_code.strip()
    out["countryCode"] = address.country_code.upper()
    if address.residential is not None:
        out["residential"] = bool(address.residential)
    return out


def _ship_address(address: types.Address, role: str) -> dict[str, Any]:
    if not any(line.strip() for line in address.street_lines):
        raise invalid(f"{role} needs a street address for a FedEx label")
    return _address(address)


def phone_digits(address: types.Address) -> str:
    """Return the phone as digits; North American numbers lose the country code 1 (FedEx wants 10 digits)."""
    return requirements.phone_digits(address)


def _contact(address: types.Address, role: str) -> dict[str, Any]:
    if not (address.name or address.company):
        raise invalid(f"{role} needs a name or company for FedEx")
    phone = phone_digits(address)
    if not phone:
        raise invalid(f"{role} needs a phone number for a FedEx label")
    contact: dict[str, Any] = {"phoneNumber": phone}
    if address.name:
        contact["personName"] = address.name[:70]
    if address.company:
        contact["companyName"] = address.company[:35]
    if address.email:
        contact["emailAddress"] = address.email[:80]
    return contact


def _packages(spec: types.ShipmentSpec) -> list[dict[str, Any]]:
    if not spec.parcels:
        raise invalid("a shipment needs at least one parcel")
    imperial = _imperial(spec)
    items: list[dict[str, Any]] = []
    for parcel in spec.parcels:
        item: dict[str, Any] = {
            "weight": _weight(parcel, imperial),
            "dimensions": _dimensions(parcel, imperial),
        }
        if parcel.declared_value is not None:
            item["declaredValue"] = {
                "amount": _json_number(parcel.declared_value.amount),
                "currency": parcel.declared_value.currency,
            }
        items.append(item)
    return items


def parse_days(value: Any) -> int | None:
    """Turn FedEx's transit enum (``THREE_DAYS``, ``ONE_DAY``) or a plain number into days."""
    text = clean(value).upper()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    head = text.removesuffix("_DAYS").removesuffix("_DAY")
    return _DAYS.get(head)


def parse_timestamp(value: Any) -> tuple[datetime | None, bool]:
    """Return (UTC time, whether the zone is known) for the ISO-8601 forms FedEx uses.

    ``2018-02-02T12:01:00-07:00`` and ``...Z`` carry their zone; ``2007-09-27T00:00:00`` and a bare date
    do not, and are kept as UTC wall-clock time with the zone flagged unknown, as the UPS adapter does.
    """
    text = clean(value)
    if not text:
        return None, False
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None, False
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC), False
    return parsed.astimezone(UTC), True


def _day(value: Any) -> date | None:
    text = clean(value)
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def alert_texts(alerts: Any) -> list[str]:
    texts: list[str] = []
    for alert in as_list(alerts):
        if isinstance(alert, Mapping):
            text = ": ".join(filter(None, (clean(alert.get("code")), clean(alert.get("message")))))
            if text and text not in texts:
                texts.append(text)
    return texts


# -- OAuth ------------------------------------------------------------------------------------------------


def oauth_request(client_id: str, client_secret: str) -> HttpCall:
    """Build the client-credentials token request (the key and secret travel in the form body)."""
    return HttpCall(
        "POST",
        OAUTH_PATH,
        form={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def parse_oauth_response(body: Any) -> tuple[str, float]:
    """Return (access token, lifetime in seconds) from a token reply."""
    try:
        token = str(body["access_token"])
        lifetime = float(body.get("expires_in", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise malformed("token reply without access_token/expires_in") from exc
    if not token:
        raise malformed("empty access_token")
    return token, lifetime


# -- Rates and transit times ------------------------------------------------------------------------------


def rate_request(
    request: carrier.RateRequest,
    account_number: str,
    *,
    rate_type: str = DEFAULT_RATE_TYPE,
    pickup_type: str = DEFAULT_PICKUP_TYPE,
) -> HttpCall:
    """Build a Rate and Transit Times request: every service (or the one asked for), with transit times."""
    spec = request.spec
    items = _packages(spec)
    shipment: dict[str, Any] = {
        "shipper": {"address": _address(spec.origin)},
        "recipient": {"address": _address(spec.destination)},
        "pickupType": pickup_type,
        "packagingType": "YOUR_PACKAGING",
        "rateRequestType": [rate_type] if rate_type == "LIST" else [rate_type, "LIST"],
        "totalPackageCount": len(items),
        "requestedPackageLineItems": items,
    }
    if len(request.services) == 1:
        shipment["serviceType"] = request.services[0]
    if "saturday" in spec.options:
        shipment["shipmentSpecialServices"] = {"specialServiceTypes": ["SATURDAY_DELIVERY"]}
    if spec.customs is not None and spec.customs.items and checks.needs_customs(spec):
        # RateQuotes-Resource.json: "Customs commodity data is required for international ... rating"; with
        # it FedEx estimates the duties and taxes (RatedShipmentDetail totalDutiesAndTaxes).
        clearance: dict[str, Any] = {"commodities": _commodities(spec.customs)}
        if spec.customs.incoterm == "DDP":  # the Rate contract's Payment takes SENDER only
            clearance["dutiesPayment"] = {"paymentType": "SENDER"}
        shipment["customsClearanceDetail"] = clearance
    body = {
        "accountNumber": {"value": account_number},
        "rateRequestControlParameters": {"returnTransitTimes": True},
        "requestedShipment": shipment,
    }
    return HttpCall("POST", RATE_PATH, json=body)


def _rated_detail(details: Sequence[Any], rate_type: str) -> Mapping[str, Any] | None:
    """Pick the priced entry of the rate type asked for; never assume it is the first one."""
    entries = [d for d in details if isinstance(d, Mapping) and _decimal(d.get("totalNetCharge")) is not None]
    for wanted in (rate_type, "ACCOUNT", "PREFERRED", "LIST"):
        for entry in entries:
            if clean(entry.get("rateType")).upper() == wanted:
                return entry
    return entries[0] if entries else None


def _charge_lines(detail: Mapping[str, Any], total: money.Money) -> tuple[carrier.ChargeLine, ...]:
    """Base charge, surcharges and taxes, balanced so the lines add up exactly to ``total``."""
    currency = total.currency
    rate_detail = _mapping(detail.get("shipmentRateDetail"))
    lines: list[carrier.ChargeLine] = []
    base_charge = _money(detail.get("totalBaseCharge"), currency)
    discount = _money(detail.get("totalDiscounts"), currency)
    if base_charge is not None:
        # Lines are never negative: discounts come off the base charge when it can carry them.
        if discount is not None and Decimal(0) < discount.amount <= base_charge.amount:
            lines.append(carrier.ChargeLine("BASE", "Base charge (after discounts)", base_charge - discount))
        else:
            lines.append(carrier.ChargeLine("BASE", "Base charge", base_charge))
    for node, kind in ((rate_detail.get("surCharges"), "SURCHARGE"), (rate_detail.get("taxes"), "TAX")):
        for item in as_list(node):
            if not isinstance(item, Mapping):
                continue
            amount = _money(item.get("amount"), currency)
            if amount is None or amount.amount <= 0:
                continue
            code = clean(item.get("type")) or kind
            lines.append(carrier.ChargeLine(code, clean(item.get("description")) or code, amount))
    rest = total - money.Money(sum((line.amount.amount for line in lines), Decimal(0)), currency)
    if rest.amount < 0:
        return (carrier.ChargeLine("TOTAL", "Carrier quoted total", total),)
    if rest.amount > 0:
        lines.append(carrier.ChargeLine("OTHER", "Charges FedEx did not itemise", rest))
    return tuple(lines)


def transit_of(reply: Mapping[str, Any]) -> tuple[int | None, date | None, bool]:
    """Return (transit days, delivery date, guaranteed) from ``commit`` and ``operationalDetail``.

    Express services give a date (``commit.dateDetail.dayFormat``, ``operationalDetail.deliveryDate``
    or ``commitDate``); Ground gives a transit-days enum (``commit.daysInTransit``,
    ``operationalDetail.transitTime``, ``commit.transitDays.minimumTransitTime``).
    """
    commit = _mapping(reply.get("commit"))
    operational = _mapping(reply.get("operationalDetail"))
    date_detail = _mapping(commit.get("dateDetail"))
    delivery: date | None = None
    for candidate in (
        date_detail.get("dayFormat"),
        date_detail.get("dayCxsFormat"),  # the spelling in FedEx's own example reply
        operational.get("deliveryDate"),
        operational.get("commitDate"),
    ):
        delivery = _day(candidate)
        if delivery is not None:
            break
    transit_days_node = _mapping(commit.get("transitDays"))
    days: int | None = None
    for candidate in (
        commit.get("daysInTransit"),
        operational.get("transitTime"),
        transit_days_node.get("minimumTransitTime"),
        operational.get("maximumTransitTime") or operational.get("MaximumTransitTime"),
    ):
        days = parse_days(candidate)
        if days is not None:
            break
    guaranteed = bool(clean(commit.get("guaranteedType"))) or (
        operational.get("ineligibleForMoneyBackGuarantee") is False and delivery is not None
    )
    return days, delivery, guaranteed


def parse_rate_response(
    body: Mapping[str, Any], services: Sequence[str] = (), rate_type: str = DEFAULT_RATE_TYPE
) -> list[carrier.RateResult]:
    """Return one RateResult per priced ``rateReplyDetails`` entry, cheapest first."""
    output = body.get("output")
    if not isinstance(output, Mapping) or not isinstance(output.get("rateReplyDetails"), list):
        raise malformed("no output.rateReplyDetails")
    results: list[carrier.RateResult] = []
    for reply in output["rateReplyDetails"]:
        if not isinstance(reply, Mapping):
            continue
        code = clean(reply.get("serviceType"))
        if not code or (services and code not in services):
            continue
        detail = _rated_detail(as_list(reply.get("ratedShipmentDetails")), rate_type)
        if detail is None:
            continue  # FedEx named the service without a price (e.g. rate failure for that service)
        rate_detail = _mapping(detail.get("shipmentRateDetail"))
        total = _money(detail.get("totalNetCharge"), detail.get("currency") or rate_detail.get("currency"))
        if total is None:
            raise malformed(f"service {code} priced without a currency")
        days, delivery, guaranteed = transit_of(reply)
        results.append(
            carrier.RateResult(
                carrier=CARRIER,
                service_code=code,
                service_name=clean(reply.get("serviceName")) or code.replace("_", " ").title(),
                total=total,
                charges=_charge_lines(detail, total),
                transit_days=days,
                estimated_delivery=delivery,
                guaranteed=guaranteed,
                negotiated=clean(detail.get("rateType")).upper() in _NEGOTIATED_RATE_TYPES,
                duties_and_taxes=_duties(detail, total.currency),
            )
        )
    results.sort(key=lambda r: (r.total.currency, r.total.amount, r.service_code))
    return results


def rate_alerts(body: Mapping[str, Any]) -> list[str]:
    """Return the reply's non-fatal alerts and per-service messages as ``"code: message"``."""
    output = _mapping(body.get("output"))
    texts = alert_texts(output.get("alerts"))
    for reply in as_list(output.get("rateReplyDetails")):
        for text in alert_texts(_mapping(reply).get("customerMessages")):
            if text not in texts:
                texts.append(text)
    return texts


# -- Ship -------------------------------------------------------------------------------------------------


def _label_stock(label_format: carrier.LabelFormat, stock: str | None) -> str:
    if stock:
        return stock
    return "STOCK_4X6" if label_format in (carrier.LabelFormat.ZPL, carrier.LabelFormat.EPL) else "PAPER_4X6"


def ship_request(
    request: carrier.LabelRequest,
    account_number: str,
    *,
    rate_type: str = DEFAULT_RATE_TYPE,
    pickup_type: str = DEFAULT_PICKUP_TYPE,
    label_stock_type: str | None = None,
) -> HttpCall:
    """Build a Ship request that returns base64 labels, carrying our shipment id as a customer reference."""
    spec = request.spec
    image_type = LABEL_IMAGE_TYPES.get(request.label_format)
    if image_type is None:
        raise invalid(f"FedEx labels come as PDF, PNG, ZPL or EPL, not {request.label_format.value}")
    # Everything about the shipment itself is the check's: the gateway asks it before buying.
    base.refuse_unless_valid(CARRIER, requirements.check(spec, request.service_code))
    items = _packages(spec)
    reference = request.reference[:30]
    for n, item in enumerate(items, start=1):
        item["sequenceNumber"] = n
        item["customerReferences"] = [{"customerReferenceType": "CUSTOMER_REFERENCE", "value": reference}]
    total_lb = sum((_weight_value(p, "lb") for p in spec.parcels), Decimal(0))
    shipment: dict[str, Any] = {
        "shipper": {
            "contact": _contact(spec.origin, "origin"),
            "address": _ship_address(spec.origin, "origin"),
        },
        "recipients": [
            {
                "contact": _contact(spec.destination, "destination"),
                "address": _ship_address(spec.destination, "destination"),
            }
        ],
        "serviceType": request.service_code,
        "packagingType": "YOUR_PACKAGING",
        "pickupType": pickup_type,
        "totalWeight": _json_number(total_lb),
        "shippingChargesPayment": {"paymentType": "SENDER"},
        "labelSpecification": {
            "labelFormatType": "COMMON2D",
            "imageType": image_type,
            "labelStockType": _label_stock(request.label_format, label_stock_type),
        },
        "rateRequestType": [rate_type],
        "totalPackageCount": len(items),
        "requestedPackageLineItems": items,
    }
    if "saturday" in spec.options:
        shipment["shipmentSpecialServices"] = {"specialServiceTypes": ["SATURDAY_DELIVERY"]}
    if spec.is_return:
        # Shipment-Resource.json ReturnShipmentDetail: "Required to be set to PRINT_RETURN_LABEL for
        # printed return label shipments" (the shipper is the customer sending it back, as on the label).
        special = shipment.setdefault("shipmentSpecialServices", {"specialServiceTypes": []})
        special["specialServiceTypes"].append("RETURN_SHIPMENT")
        special["returnShipmentDetail"] = {"returnType": "PRINT_RETURN_LABEL"}
    if spec.customs is not None and checks.needs_customs(spec):
        _add_customs(shipment, spec, spec.customs, reference)
    body = {
        "labelResponseOptions": "LABEL",
        "accountNumber": {"value": account_number},
        "requestedShipment": shipment,
        "shipAction": "CONFIRM",
        "processingOptionType": "SYNCHRONOUS_ONLY",
        "oneLabelAtATime": False,
    }
    return HttpCall("POST", SHIP_PATH, json=body)


# Commercial invoice shipmentPurpose per content type (Shipment-Resource.json CommercialInvoice).
_SHIPMENT_PURPOSES = {
    "merchandise": "SOLD",
    "documents": "NOT_SOLD",
    "gift": "GIFT",
    "sample": "SAMPLE",
    "return": "REPAIR_AND_RETURN",
}
# TaxpayerIdentification tinType per tax id type; ``usage`` names the kind (EORI and IOSS are both the EU's).
_TIN_TYPES = {
    "EIN": "FEDERAL",
    "EORI": "BUSINESS_UNION",
    "VAT": "BUSINESS_NATIONAL",
    "IOSS": "BUSINESS_UNION",
}


def _customs_money(value: money.Money) -> dict[str, Any]:
    return {"amount": _json_number(value.amount), "currency": value.currency}


def _tins(tax_ids: Sequence[types.TaxId]) -> list[dict[str, Any]]:
    return [
        {
            "number": checks.tax_id_number(t.number)[:18],
            "tinType": _TIN_TYPES.get(t.type, "BUSINESS_NATIONAL"),
            "usage": t.type,
        }
        for t in tax_ids
    ]


def _duties(detail: Mapping[str, Any], currency: str) -> money.Money | None:
    """RatedShipmentDetail totalDutiesAndTaxes (in the rate's currency), when FedEx estimated any."""
    amount = _decimal(detail.get("totalDutiesAndTaxes"))
    return money.Money(amount, currency) if amount is not None and amount > 0 else None


def _commodities(customs: types.Customs) -> list[dict[str, Any]]:
    commodities = []
    for item in customs.items:
        weight = max(item.weight_kg.quantize(Decimal("0.01"), rounding=ROUND_CEILING), Decimal("0.01"))
        commodity: dict[str, Any] = {
            "description": " ".join(item.description.split())[:450],
            "countryOfManufacture": item.origin_country.upper(),
            "quantity": item.quantity,
            "quantityUnits": "PCS",
            "numberOfPieces": min(item.quantity, 9999),
            "unitPrice": _customs_money(item.unit_value),
            "customsValue": _customs_money(item.value),
            "weight": {"units": "KG", "value": _json_number(weight)},
        }
        if item.hs_code:
            commodity["harmonizedCode"] = checks.hs_digits(item.hs_code)
        commodities.append(commodity)
    return commodities


def _add_customs(
    shipment: dict[str, Any], spec: types.ShipmentSpec, customs: types.Customs, reference: str
) -> None:
    """requestedShipment.customsClearanceDetail (commodities, dutiesPayment, commercialInvoice) and the tins.

    Goods also ask for FedEx's own commercial invoice, sent electronically (ELECTRONIC_TRADE_DOCUMENTS,
    shippingDocumentSpecification COMMERCIAL_INVOICE): it comes back in shipmentDocuments.
    """
    commodities = _commodities(customs)
    if not commodities:
        # Documents declared without lines: one "Documents" commodity (Commodity requires a description).
        commodities = [
            {
                "description": "Documents",
                "countryOfManufacture": spec.origin.country_code.upper(),
                "quantity": 1,
                "quantityUnits": "PCS",
                "numberOfPieces": 1,
            }
        ]
    invoice: dict[str, Any] = {
        "shipmentPurpose": _SHIPMENT_PURPOSES.get(customs.content_type, "SOLD"),
        "termsOfSale": customs.incoterm,
        "customerReferences": [
            {"customerReferenceType": "INVOICE_NUMBER", "value": (customs.invoice_number or reference)[:30]}
        ],
    }
    detail: dict[str, Any] = {
        "dutiesPayment": {"paymentType": "SENDER" if customs.incoterm == "DDP" else "RECIPIENT"},
        "isDocumentOnly": customs.is_documents,
        "commercialInvoice": invoice,
        "commodities": commodities,
    }
    total = customs.total_value() if customs.items else None
    if total is not None:
        detail["totalCustomsValue"] = _customs_money(total)
    shipment["customsClearanceDetail"] = detail
    if customs.exporter_tax_ids:
        shipment["shipper"]["tins"] = _tins(customs.exporter_tax_ids)
    if customs.importer_tax_ids:
        shipment["recipients"][0]["tins"] = _tins(customs.importer_tax_ids)
    if customs.items and not customs.is_documents:
        special = shipment.setdefault("shipmentSpecialServices", {"specialServiceTypes": []})
        special["specialServiceTypes"].append("ELECTRONIC_TRADE_DOCUMENTS")
        special["etdDetail"] = {"requestedDocumentTypes": ["COMMERCIAL_INVOICE"]}
        shipment["shippingDocumentSpecification"] = {
            "shippingDocumentTypes": ["COMMERCIAL_INVOICE"],
            "commercialInvoiceDetail": {"documentFormat": {"docType": "PDF", "stockType": "PAPER_LETTER"}},
        }


def _documents_of(documents: Any) -> tuple[carrier.ShippingDocument, ...]:
    """The customs paperwork among shipmentDocuments (a COMMERCIAL_INVOICE), the base64 ones we can read."""
    found = []
    for doc in as_list(documents):
        if not isinstance(doc, Mapping) or clean(doc.get("contentType")).upper() in _LABEL_CONTENT_TYPES:
            continue
        encoded = doc.get("encodedLabel")
        if not encoded:
            continue
        try:
            data = base64.b64decode(str(encoded), validate=True)
        except (binascii.Error, ValueError):
            continue  # a document we cannot read does not undo a bought label
        kind = clean(doc.get("contentType")).lower() or "document"
        found.append(
            carrier.ShippingDocument(kind=kind, data=data, format=clean(doc.get("docType")).upper() or "PDF")
        )
    return tuple(found)


def _label_of(documents: Any) -> tuple[bytes, carrier.LabelFormat] | None:
    for doc in as_list(documents):
        if not isinstance(doc, Mapping) or doc.get("contentType") not in _LABEL_CONTENT_TYPES:
            continue
        encoded = doc.get("encodedLabel")
        if not encoded:
            continue
        label_format = _DOC_TYPES.get(clean(doc.get("docType")).upper())
        if label_format is None:
            raise malformed(f"label in unknown docType {doc.get('docType')!r}")
        try:
            return base64.b64decode(str(encoded), validate=True), label_format
        except (binascii.Error, ValueError) as exc:
            raise malformed("label is not base64") from exc
    return None


def _shipment_charge(completed: Mapping[str, Any]) -> money.Money | None:
    rating = _mapping(completed.get("shipmentRating"))
    details = [d for d in as_list(rating.get("shipmentRateDetails")) if isinstance(d, Mapping)]
    actual = clean(rating.get("actualRateType"))
    chosen = [d for d in details if clean(d.get("rateType")) == actual]
    for detail in chosen + details:
        amount = _money(detail.get("totalNetCharge"), detail.get("currency"))
        if amount is not None:
            return amount
    return None


def parse_ship_response(body: Mapping[str, Any]) -> carrier.LabelResult:
    """Return the bought label(s), tracking numbers and charge from a Ship reply."""
    output = _mapping(body.get("output"))
    shipments = [s for s in as_list(output.get("transactionShipments")) if isinstance(s, Mapping)]
    if not shipments:
        if output.get("jobId"):
            raise malformed(f"FedEx answered asynchronously (jobId {output['jobId']}) to a synchronous ship")
        raise malformed("no output.transactionShipments")
    shipment = shipments[0]
    tracking: list[str] = []
    images: list[bytes] = []
    label_format: carrier.LabelFormat | None = None
    for piece in as_list(shipment.get("pieceResponses")):
        piece = _mapping(piece)
        number = clean(piece.get("trackingNumber"))
        if not number:
            raise malformed("piece without trackingNumber")
        tracking.append(number)
        found = _label_of(piece.get("packageDocuments"))
        if found is not None:
            images.append(found[0])
            label_format = label_format or found[1]
    if not images:
        found = _label_of(shipment.get("shipmentDocuments"))
        if found is not None:
            images.append(found[0])
            label_format = found[1]
    if not tracking:
        raise malformed("no pieceResponses")
    if not images or label_format is None:
        raise malformed(f"no base64 label for {tracking[0]} (was labelResponseOptions URL_ONLY?)")
    completed = _mapping(shipment.get("completedShipmentDetail"))
    master = clean(shipment.get("masterTrackingNumber")) or clean(
        _mapping(completed.get("masterTrackingId")).get("trackingNumber")
    )
    return carrier.LabelResult(
        carrier=CARRIER,
        carrier_shipment_id=master or tracking[0],
        tracking_numbers=tuple(tracking),
        label=images[0],
        label_format=label_format,
        charges=_shipment_charge(completed),
        labels=tuple(images),
        documents=_documents_of(shipment.get("shipmentDocuments")),
    )


def ship_alerts(body: Mapping[str, Any]) -> list[str]:
    """Return the Ship reply's alerts (e.g. ``RECIPIENTCONTACT.PHONENUMBER.INVALID``)."""
    output = _mapping(body.get("output"))
    texts = alert_texts(output.get("alerts"))
    for shipment in as_list(output.get("transactionShipments")):
        texts += [t for t in alert_texts(_mapping(shipment).get("alerts")) if t not in texts]
    return texts


# -- Cancel -----------------------------------------------------------------------------------------------


def cancel_request(request: carrier.VoidRequest, account_number: str) -> HttpCall:
    """Build the PUT that cancels a whole shipment by its (master) tracking number."""
    number = request.carrier_shipment_id.strip() or next(iter(request.tracking_numbers), "")
    if not number:
        raise invalid("a FedEx cancel needs the shipment's tracking number")
    body = {
        "accountNumber": {"value": account_number},
        "trackingNumber": number,
        "deletionControl": "DELETE_ALL_PACKAGES",
        "emailShipment": False,
    }
    return HttpCall("PUT", CANCEL_PATH, json=body)


def parse_cancel_response(body: Mapping[str, Any], request: carrier.VoidRequest) -> carrier.VoidResult:
    """Return whether FedEx cancelled the shipment; ``cancelledShipment`` false is a failed void."""
    output = body.get("output")
    if not isinstance(output, Mapping) or "cancelledShipment" not in output:
        raise malformed("no output.cancelledShipment")
    voided = output.get("cancelledShipment") is True
    message = "; ".join(filter(None, [clean(output.get("message")), *alert_texts(output.get("alerts"))]))
    numbers = request.tracking_numbers or (request.carrier_shipment_id,)
    return carrier.VoidResult(
        carrier=CARRIER,
        carrier_shipment_id=request.carrier_shipment_id,
        voided=voided,
        voided_tracking_numbers=tuple(numbers) if voided else (),
        message=message or None,
    )


# -- Track ------------------------------------------------------------------------------------------------


def track_request(tracking_numbers: Sequence[str]) -> HttpCall:
    """Build a Track request with detailed scans for up to 30 tracking numbers."""
    numbers = [n.strip() for n in tracking_numbers if n.strip()]
    if not numbers:
        raise invalid("no tracking number to track")
    if len(numbers) > MAX_TRACKING_NUMBERS:
        raise invalid(f"FedEx tracks at most {MAX_TRACKING_NUMBERS} numbers per request")
    body = {
        "includeDetailedScans": True,
        "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": n}} for n in numbers],
    }
    return HttpCall("POST", TRACK_PATH, json=body)


def _location(node: Any) -> carrier.EventLocation | None:
    node = _mapping(node)
    location = carrier.EventLocation(
        city=clean(node.get("city")) or None,
        state=clean(node.get("stateOrProvinceCode")) or None,
        postal_code=clean(node.get("postalCode")) or None,
        country_code=clean(node.get("countryCode")) or None,
    )
    return None if location == carrier.EventLocation() else location


def _estimated_delivery(result: Mapping[str, Any]) -> date | None:
    stamps = {
        clean(_mapping(e).get("type")): _mapping(e).get("dateTime")
        for e in as_list(result.get("dateAndTimes"))
    }
    window = _mapping(_mapping(result.get("estimatedDeliveryTimeWindow")).get("window"))
    for candidate in (
        stamps.get("ESTIMATED_DELIVERY"),
        window.get("ends"),
        window.get("begins"),
        stamps.get("APPOINTMENT_DELIVERY"),
        stamps.get("COMMITMENT"),
    ):
        day = _day(candidate)
        if day is not None:
            return day
    return None


def _delivery_attributes(result: Mapping[str, Any]) -> dict[str, str]:
    """The proof of delivery FedEx gives on a result: signatory, receiver, where it was left, POD image."""
    details = _mapping(result.get("deliveryDetails"))
    out: dict[str, str] = {}
    signed = clean(details.get("signedByName"))
    received = clean(details.get("receivedByName"))
    if signed or received:
        out["signatory"] = signed or received
    if received:
        out["received_by"] = received
    where = clean(details.get("locationDescription")) or clean(details.get("locationType"))
    if where:
        out["delivery_location"] = where
    images = {clean(_mapping(i).get("type")) for i in as_list(result.get("availableImages"))}
    if "SIGNATURE_PROOF_OF_DELIVERY" in images:
        out["signature_proof_available"] = "true"
    return out


def event_id(tracking_number: str, occurred_at: datetime, code: str, subcode: str | None, where: str) -> str:
    """FedEx sends no event id; this key is the same for a polled scan and its pushed copy."""
    return f"{tracking_number}:{occurred_at:%Y%m%dT%H%M%SZ}:{code}:{subcode or ''}:{where}"


def _scan_event(
    number: str,
    scan: Mapping[str, Any],
    estimated: date | None,
    extra: Mapping[str, str],
    warnings: list[str],
) -> carrier.RawTrackingEvent | None:
    code = clean(scan.get("eventType")) or clean(scan.get("derivedStatusCode"))
    if not code:
        warnings.append(f"{number}: scan without eventType ({clean(scan.get('eventDescription'))!r}) skipped")
        return None
    occurred, zone_known = parse_timestamp(scan.get("date"))
    if occurred is None:
        warnings.append(f"{number}: {code} scan without a readable date {scan.get('date')!r} skipped")
        return None
    subcode = clean(scan.get("exceptionCode")) or None
    attributes: dict[str, str] = {}
    for key, name in (
        ("derivedStatusCode", "derived_status_code"),
        ("derivedStatus", "derived_status"),
        ("exceptionDescription", "exception_description"),
        ("locationId", "location_id"),
        ("locationType", "location_type"),
    ):
        value = clean(scan.get(key))
        if value:
            attributes[name] = value
    delay = _mapping(scan.get("delayDetail"))
    if clean(delay.get("status")):
        attributes["delay"] = "/".join(
            filter(None, (clean(delay.get(k)) for k in ("status", "type", "subType")))
        )
    if not zone_known:
        attributes["local_time_zone_known"] = "false"
    if code == "DL":
        attributes.update(extra)
    elif extra.get("tracking_number_unique_id"):
        attributes["tracking_number_unique_id"] = extra["tracking_number_unique_id"]
    where = attributes.get("location_id", "")
    return carrier.RawTrackingEvent(
        carrier=CARRIER,
        tracking_number=number,
        code=code,
        subcode=subcode,
        description=clean(scan.get("eventDescription")) or clean(scan.get("derivedStatus")),
        occurred_at=occurred,
        location=_location(scan.get("scanLocation")),
        estimated_delivery=estimated,
        source_event_id=event_id(number, occurred, code, subcode, where),
        detail_code=clean(scan.get("derivedStatusCode")) or None,
        raw=dict(scan),
        attributes=attributes,
    )


def track_result_events(
    result: Mapping[str, Any], fallback_number: str, warnings: list[str]
) -> tuple[list[carrier.RawTrackingEvent], date | None]:
    """Return the scan events and expected delivery of one ``trackResults`` entry; note its error."""
    info = _mapping(result.get("trackingNumberInfo"))
    number = clean(info.get("trackingNumber")) or fallback_number
    error = _mapping(result.get("error"))
    if error:
        text = ": ".join(filter(None, (clean(error.get("code")), clean(error.get("message")))))
        warnings.append(f"{number}: {text}" if text else f"{number}: FedEx reported an error")
    estimated = _estimated_delivery(result)
    extra = _delivery_attributes(result)
    unique = clean(info.get("trackingNumberUniqueId"))
    if unique:
        extra["tracking_number_unique_id"] = unique
    events = []
    for scan in as_list(result.get("scanEvents")):
        if isinstance(scan, Mapping):
            event = _scan_event(number, scan, estimated, extra, warnings)
            if event is not None:
                events.append(event)
    return events, estimated


def parse_track_response(body: Mapping[str, Any], tracking_number: str) -> carrier.TrackResult:
    """Return the events of every ``trackResults`` entry for a number, oldest first, with FedEx's warnings.

    A reused number gives several results (``trackingNumberUniqueId``): all are kept, each event tagged
    with its unique id, and a warning says so. Per-number errors (``TRACKING.TRACKINGNUMBER.NOTFOUND``)
    and the reply's alerts become warnings rather than vanishing.
    """
    output = body.get("output")
    if not isinstance(output, Mapping) or not isinstance(output.get("completeTrackResults"), list):
        raise malformed("no output.completeTrackResults")
    warnings = alert_texts(output.get("alerts"))
    events: list[carrier.RawTrackingEvent] = []
    estimated: date | None = None
    unique_ids: set[str] = set()
    for complete in output["completeTrackResults"]:
        complete = _mapping(complete)
        number = clean(complete.get("trackingNumber")) or tracking_number
        for result in as_list(complete.get("trackResults")):
            if not isinstance(result, Mapping):
                continue
            unique = clean(_mapping(result.get("trackingNumberInfo")).get("trackingNumberUniqueId"))
            if unique:
                unique_ids.add(unique)
            found, day = track_result_events(result, number, warnings)
            events.extend(found)
            estimated = day or estimated
    if len(unique_ids) > 1:
        warnings.append(
            f"{tracking_number}: FedEx returned {len(unique_ids)} shipments under this number "
            "(reused tracking number); events carry tracking_number_unique_id"
        )
    seen: set[str] = set()
    unique_events = []
    for event in sorted(events, key=lambda e: e.occurred_at):
        key = f"{event.source_event_id}:{event.attributes.get('tracking_number_unique_id', '')}"
        if key not in seen:
            seen.add(key)
            unique_events.append(event)
    return carrier.TrackResult(CARRIER, tracking_number, tuple(unique_events), estimated, tuple(warnings))


# -- Errors -----------------------------------------------------------------------------------------------


def parse_error(status: int, body: Any) -> base.CarrierError:
    """Map a FedEx error reply to CarrierUnavailable (retry later) or CarrierRejected (keep FedEx's code)."""
    errors = [e for e in as_list(_mapping(body).get("errors")) if isinstance(e, Mapping)]
    code = clean(errors[0].get("code")) if errors else ""
    message = (
        "; ".join(clean(e.get("message")) for e in errors if clean(e.get("message"))) or f"HTTP {status}"
    )
    if status == 429 or status >= 500:
        return base.CarrierUnavailable(CARRIER, message, code=code or f"http_{status}", http_status=status)
    return base.CarrierRejected(CARRIER, message, code=code or f"http_{status}", http_status=status)
