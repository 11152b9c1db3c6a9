"""Pure DHL Express mapping: canonical requests to SOAP bodies, SOAP replies to canonical results.

Builders return the keyword arguments zeep serialises against ``wsdl/*.wsdl``; parsers read the reply
element (``RateResponse``, ``ShipmentResponse``, ``trackShipmentRequestResponse``) with lxml by local name,
because DHL's reply children are unqualified. Nothing here does I/O, so every pair is tested with golden
data. Failures are raised as :class:`adapters.base.CarrierRejected` with DHL's own code and message.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from lxml import etree

from adapters import base, checks
from adapters.dhl_express import requirements
from schemas import carrier, money, types

CARRIER = "dhl_express"

LABEL_FORMATS: frozenset[carrier.LabelFormat] = frozenset({carrier.LabelFormat.PDF, carrier.LabelFormat.ZPL})

# The WSDL bounds: tracking takes AWBs of 10-11 characters, anything else is a piece id (license plate).
_AWB_LENGTHS = (10, 11)
_THOUSANDTH = Decimal("0.001")
_SUCCESS = "0"  # DHL notification code for success; anything else is an error


class Invalid(base.CarrierRejected):
    """The canonical request cannot be expressed in DHL's contract; nothing was sent."""

    def __init__(self, message: str) -> None:
        super().__init__(CARRIER, message, code="invalid_request")


# -- requests --------------------------------------------------------------------------------------------


def service_header(message_time: datetime, message_reference: str) -> dict[str, Any]:
    """Return the Request/ServiceHeader DHL echoes back (reference: 28-32 characters)."""
    if not 28 <= len(message_reference) <= 32:
        raise Invalid("message reference must be 28 to 32 characters long")
    return {"ServiceHeader": {"MessageTime": message_time, "MessageReference": message_reference}}


def ship_timestamp(moment: datetime) -> str:
    """Format a tender time as DHL wants it: ``2024-05-02T14:00:00 GMT+02:00``."""
    if moment.utcoffset() is None:
        raise Invalid("ship time must be timezone-aware")
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%S')} GMT{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def rate_request(
    request: carrier.RateRequest,
    *,
    account: str,
    ship_time: datetime,
    message_time: datetime,
    message_reference: str,
) -> dict[str, Any]:
    """Build the getRateRequest body for every DHL product on a shipment (services are filtered on reply)."""
    spec = request.spec
    _require_parcels(spec)
    shipment: dict[str, Any] = {
        "GetDetailedRateBreakdown": "Y",
        "DropOffType": "REGULAR_PICKUP",
        "Ship": {"Shipper": _rate_address(spec.origin), "Recipient": _rate_address(spec.destination)},
        "Packages": {
            "RequestedPackages": [
                {
                    "number": n,
                    "Weight": {"Value": _weight(p)},
                    "Dimensions": _dimensions(p),
                }
                for n, p in enumerate(spec.parcels, start=1)
            ]
        },
        "ShipTimestamp": ship_timestamp(ship_time),
        "UnitOfMeasurement": "SI",
        "Content": _content(spec),
    }
    declared = _declared_value(spec)
    if declared is not None:
        shipment["DeclaredValue"] = declared.amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        shipment["DeclaredValueCurrencyCode"] = declared.currency
    shipment["PaymentInfo"] = _incoterm(spec)
    shipment["Account"] = _account(request.account or account)
    return {"Request": service_header(message_time, message_reference), "RequestedShipment": shipment}


def label_request(
    request: carrier.LabelRequest,
    *,
    account: str,
    ship_time: datetime,
    message_time: datetime,
    message_reference: str,
    contents: str,
) -> dict[str, Any]:
    """Build the createShipmentRequest body; our shipment reference travels as DHL's shipment reference."""
    spec = request.spec
    # Everything about the shipment itself is the check's: the gateway asks it before buying.
    base.refuse_unless_valid(CARRIER, requirements.check(spec, request.service_code))
    if request.label_format not in LABEL_FORMATS:
        raise Invalid(f"DHL Express labels are PDF or ZPL, not {request.label_format.value}")
    reference = _limited(request.reference, 35, "reference")
    declared = _declared_value(spec)
    currency = declared.currency if declared is not None else _default_currency(spec)
    commodities: dict[str, Any] = {
        "Description": _limited(_contents(spec, contents), 70, "contents description")
    }
    if declared is not None:
        commodities["CustomsValue"] = declared.amount.quantize(_THOUSANDTH, rounding=ROUND_HALF_UP)
    info: dict[str, Any] = {
        "DropOffType": "REGULAR_PICKUP",
        "ServiceType": request.service_code,
        "Account": _account(request.account or account),
        "Currency": currency,
        "UnitOfMeasurement": "SI",
        "LabelType": request.label_format.value,
        "ShipmentReferences": {"ShipmentReference": [{"ShipmentReference": reference}]},
    }
    international: dict[str, Any] = {"Commodities": commodities, "Content": _content(spec)}
    shipper = _contact_info(spec.origin, "origin")
    recipient = _contact_info(spec.destination, "destination")
    customs = spec.customs
    if customs is not None and customs.items and checks.needs_customs(spec):
        international["ExportDeclaration"] = _export_declaration(customs, reference, ship_time)
        if not customs.is_documents:
            # Paperless trade: DHL generates the commercial invoice from ExportDeclaration and sends it
            # electronically (expressRateBook.wsdl LabelOptions/RequestDHLCustomsInvoice; the invoice
            # comes back in Documents, kept beside our own).
            info["PaperlessTradeEnabled"] = True
            info["LabelOptions"] = {
                "RequestDHLCustomsInvoice": "Y",
                "DHLCustomsInvoiceType": "COMMERCIAL_INVOICE",
            }
    if customs is not None:
        _registration_numbers(shipper, customs.exporter_tax_ids, spec.origin.country_code)
        _registration_numbers(recipient, customs.importer_tax_ids, spec.destination.country_code)
    return {
        "Request": service_header(message_time, message_reference),
        "RequestedShipment": {
            "ShipmentInfo": info,
            "ShipTimestamp": ship_timestamp(ship_time),
            "PaymentInfo": _incoterm(spec),
            "InternationalDetail": international,
            "Ship": {"Shipper": shipper, "Recipient": recipient},
            "Packages": {
                "RequestedPackages": [
                    {
                        "number": n,
                        "Weight": _weight(p),
                        "Dimensions": _dimensions(p),
                        "CustomerReferences": reference,
                    }
                    for n, p in enumerate(spec.parcels, start=1)
                ]
            },
        },
    }


def track_request(
    request: carrier.TrackRequest, *, message_time: datetime, message_reference: str
) -> dict[str, Any]:
    """Build the trackShipmentRequest body: every checkpoint of one waybill (or piece id)."""
    number = request.tracking_number.strip()
    if not number or len(number) > 35:
        raise Invalid("tracking number must be 1 to 35 characters")
    tracking: dict[str, Any] = {"Request": service_header(message_time, message_reference)}
    if len(number) in _AWB_LENGTHS and number.isdigit():
        tracking["AWBNumber"] = {"ArrayOfAWBNumberItem": [number]}
        tracking["LevelOfDetails"] = "ALL_CHECK_POINTS"
        tracking["PiecesEnabled"] = "S"
    else:
        tracking["LPNumber"] = {"ArrayOfTrackingPieceIDItem": [number]}
        tracking["LevelOfDetails"] = "ALL_CHECK_POINTS"
        tracking["PiecesEnabled"] = "P"
    return {"trackingRequest": {"TrackingRequest": tracking}}


# -- replies ---------------------------------------------------------------------------------------------


def parse_rate_response(reply: etree._Element, services: Iterable[str] = ()) -> list[carrier.RateResult]:
    """Return one RateResult per priced DHL product, keeping only services when any are named.

    A product DHL could not price (an empty ``<Currency/>`` or ``<Amount/>`` on its total) is left out
    rather than throwing away the whole reply; an empty amount on one charge line drops that line only.
    Nothing readable at all is a :class:`base.CarrierUnavailable` (retry later).
    """
    wanted = set(services)
    results: list[carrier.RateResult] = []
    unpriced: list[str] = []
    for provider in _kids(reply, "Provider"):
        offered = _kids(provider, "Service")
        if not offered:
            _raise_on_errors(_kids(provider, "Notification"), "getRateRequest")
        for service in offered:
            code = (service.get("type") or "").strip()
            if not code or (wanted and code not in wanted):
                continue
            total_node = _pick_total(_kids(service, "TotalNet"))
            if total_node is None:
                continue
            total = _money_or_none(_text(total_node, "Amount"), _text(total_node, "Currency"))
            if total is None:
                unpriced.append(code)
                continue
            results.append(
                carrier.RateResult(
                    carrier=CARRIER,
                    service_code=code,
                    service_name=_clean(_text(service, "ServiceName")) or code,
                    total=total,
                    charges=_charge_lines(_kids(service, "Charges"), total.currency),
                    transit_days=_int(_text(service, "TotalTransitDays")),
                    estimated_delivery=_date_of(_text(service, "DeliveryTime")),
                    negotiated=service.get("account") == "PAYOR_ACCOUNT",
                )
            )
    if unpriced and not results:
        raise _unreadable("getRateRequest", f"no product with a readable total ({', '.join(unpriced)})")
    return sorted(results, key=lambda r: (r.total.amount, r.service_code))


def parse_label_response(reply: etree._Element) -> carrier.LabelResult:
    """Return the bought label: DHL waybill number, decoded label image(s) and the charged total."""
    _raise_on_errors(_kids(reply, "Notification"), "createShipmentRequest")
    awb = _text(reply, "ShipmentIdentificationNumber")
    if not awb:
        raise _bad_reply("createShipmentRequest", "no ShipmentIdentificationNumber")
    images = _kids(reply, "LabelImage")
    if not images:
        raise _bad_reply("createShipmentRequest", "no LabelImage")
    decoded = tuple(_b64(_text(image, "GraphicImage")) for image in images)
    label_format = _label_format(_text(images[0], "LabelImageFormat"))
    total_node = _pick_total(_kids(reply, "TotalNet"))
    charges = None
    lines: tuple[carrier.ChargeLine, ...] = ()
    if total_node is not None:
        charges = _money(_text(total_node, "Amount"), _text(total_node, "Currency"))
        lines = _charge_lines(_kids(total_node, "Charges"), charges.currency)
    return carrier.LabelResult(
        carrier=CARRIER,
        carrier_shipment_id=awb,
        # DHL Express tracks the waybill; piece ids (PackageResult/TrackingNumber) are internal plates.
        tracking_numbers=(awb,),
        label=decoded[0],
        label_format=label_format,
        charges=charges,
        charge_lines=lines,
        labels=decoded if len(decoded) > 1 else (),
        documents=_documents(reply),
    )


def _documents(reply: etree._Element) -> tuple[carrier.ShippingDocument, ...]:
    """The paperwork DHL generated (Documents/Document: its customs invoice...), the ones readable."""
    found = []
    for document in _kids(_first(reply, "Documents"), "Document"):
        name = _clean(_text(document, "DocumentName"))
        compact = "".join((_text(document, "DocumentImage") or "").split())
        try:
            data = base64.b64decode(compact, validate=True) if compact else b""
        except (binascii.Error, ValueError):
            continue  # a document we cannot read does not undo a bought label
        if not data:
            continue
        invoice = "invoice" in name.lower() or name.upper() in ("CUSTOMSINVOICE", "COMMERCIALINVOICE")
        found.append(
            carrier.ShippingDocument(
                kind="commercial_invoice" if invoice else (name.lower() or "document"),
                data=data,
                format=(_text(document, "DocumentFormat") or "PDF").upper(),
            )
        )
    return tuple(found)


def parse_track_response(reply: etree._Element, tracking_number: str) -> carrier.TrackResult:
    """Return the checkpoints of one waybill oldest first, codes untouched (``PU``, ``OK``, ...)."""
    response = _find_path(reply, "trackingResponse", "TrackingResponse")
    if response is None:
        raise _unreadable("trackShipmentRequest", "no TrackingResponse")
    infos = _kids(_first(response, "AWBInfo"), "ArrayOfAWBInfoItem")
    if not infos:
        _raise_on_piece_faults(response)
        raise _unreadable("trackShipmentRequest", "no AWBInfo")
    # DHL may answer for several waybills in one reply: keep the one asked for (a piece id answers
    # under its waybill's number, so when none matches every waybill in the reply is ours).
    asked = tracking_number.strip()
    mine = [info for info in infos if (_text(info, "AWBNumber") or "") == asked]
    infos = mine or infos
    events: dict[tuple[datetime, str, str], carrier.RawTrackingEvent] = {}
    estimated: date | None = None
    for info in infos:
        awb = _text(info, "AWBNumber") or tracking_number
        status = _first(info, "Status")
        action = (_text(status, "ActionStatus") or "").strip()
        if action.lower() == "no shipments found":
            # A fresh waybill has no scan yet: that is "no events", not a refusal.
            continue
        if action.lower() != "success":
            conditions = _kids(_first(status, "Condition"), "ArrayOfConditionItem")
            code = _text(conditions[0], "ConditionCode") if conditions else None
            data = "; ".join(filter(None, (_text(c, "ConditionData") for c in conditions)))
            raise base.CarrierRejected(CARRIER, data or action or "tracking refused", code=code or action)
        shipment = _first(info, "ShipmentInfo")
        estimated = estimated or _date_of(_text(shipment, "EstimatedDeliveryDate"))
        items = _kids(_first(shipment, "ShipmentEvent"), "ArrayOfShipmentEventItem")
        for piece in _kids(_first(_first(info, "Pieces"), "PieceInfo"), "ArrayOfPieceInfoItem"):
            items += _kids(_first(piece, "PieceEvent"), "ArrayOfPieceEventItem")
        for item in items:
            event = _event(item, awb, estimated)
            place = event.location.description if event.location is not None else None
            events.setdefault((event.occurred_at, event.code, place or ""), event)
    ordered = tuple(sorted(events.values(), key=lambda e: e.occurred_at))
    return carrier.TrackResult(
        carrier=CARRIER, tracking_number=tracking_number, events=ordered, estimated_delivery=estimated
    )


def _event(item: etree._Element, awb: str, estimated: date | None) -> carrier.RawTrackingEvent:
    service_event = _first(item, "ServiceEvent")
    code = (_text(service_event, "EventCode") or "").strip()
    if not code:
        raise _unreadable("trackShipmentRequest", "checkpoint without EventCode")
    local_date, local_time = _text(item, "Date"), _text(item, "Time")
    occurred, zone_known = _occurred_at(local_date, local_time)
    area = _first(item, "ServiceArea")
    area_code = _text(area, "ServiceAreaCode")
    area_name = _text(area, "Description")
    signatory = signatory_name(_text(item, "Signatory"))
    raw: dict[str, Any] = {"date": local_date, "time": local_time, "local_time_zone_known": zone_known}
    # The same extras the tracking callback keeps (signatory = proof of delivery), on the canonical event.
    attributes: dict[str, str] = {}
    if area_code:
        raw["service_area"] = area_code
    if signatory:
        raw["signatory"] = signatory
        attributes["signatory"] = signatory
    if not zone_known:
        attributes["local_time_zone_known"] = "false"
    return carrier.RawTrackingEvent(
        carrier=CARRIER,
        tracking_number=awb,
        code=code,
        subcode=None,
        description=_clean(_text(service_event, "Description")) or code,
        occurred_at=occurred,
        location=carrier.EventLocation(description=_clean(area_name) or area_code),
        estimated_delivery=estimated,
        source_event_id=f"{awb}:{local_date}T{local_time}:{code}:{area_code or ''}",
        raw=raw,
        attributes=attributes,
    )


def signatory_name(value: str | None) -> str | None:
    """Return who signed, or None for DHL's placeholders (``00:00:00``, ``-``, ``N/A``...)."""
    name = _clean(value)
    letters = [ch for ch in name if ch.isalpha()]
    if not letters or name.upper() in {"N/A", "NA", "NONE", "NULL", "UNKNOWN"}:
        return None
    return name


def _occurred_at(local_date: str | None, local_time: str | None) -> tuple[datetime, bool]:
    # DHL gives the service area's wall-clock time, usually without an offset. With an offset we convert
    # exactly; without one we keep the wall clock as UTC and say so in raw, rather than guess a zone.
    try:
        day = date.fromisoformat((local_date or "").strip())
        clock = time.fromisoformat((local_time or "00:00:00").strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise _unreadable(
            "trackShipmentRequest", f"checkpoint date/time {local_date!r} {local_time!r}"
        ) from exc
    moment = datetime.combine(day, clock)
    if moment.tzinfo is not None:
        return moment.astimezone(UTC), True
    return moment.replace(tzinfo=UTC), False


# -- helpers ---------------------------------------------------------------------------------------------


def _require_parcels(spec: types.ShipmentSpec) -> None:
    if not spec.parcels:
        raise Invalid("a shipment needs at least one parcel")
    if len(spec.parcels) > 99:
        raise Invalid("DHL Express takes at most 99 pieces per shipment")


def _weight(parcel: types.Parcel) -> Decimal:
    if parcel.weight_kg <= 0:
        raise Invalid("parcel weight must be positive")
    # Round up: under-declaring weight earns a carrier adjustment later.
    return parcel.weight_kg.quantize(_THOUSANDTH, rounding=ROUND_CEILING)


def _dimensions(parcel: types.Parcel) -> dict[str, Decimal]:
    length, width, height = parcel.sorted_dims
    if height <= 0:
        raise Invalid("parcel dimensions must be positive")
    return {
        "Length": length.quantize(_THOUSANDTH, rounding=ROUND_CEILING),
        "Width": width.quantize(_THOUSANDTH, rounding=ROUND_CEILING),
        "Height": height.quantize(_THOUSANDTH, rounding=ROUND_CEILING),
    }


def _content(spec: types.ShipmentSpec) -> str:
    return "DOCUMENTS" if checks.is_documents(spec) else "NON_DOCUMENTS"


def _incoterm(spec: types.ShipmentSpec) -> str:
    return checks.incoterm(spec)


def _contents(spec: types.ShipmentSpec, configured: str) -> str:
    """The shipment's contents description: the declared items' (up to DHL's 70 characters), else configured."""
    if spec.customs is None or not spec.customs.items:
        return configured
    text = ", ".join(" ".join(item.description.split()) for item in spec.customs.items)
    return text if len(text) <= 70 else text[:67].rstrip(" ,") + "..."


# The reason for export per content type (ExportDeclaration/ExportReason, at most 30 characters) and
# each line's ExportReasonType (PERMANENT, TEMPORARY or RETURN).
_EXPORT_REASONS = {
    "merchandise": ("SALE", "PERMANENT"),
    "documents": ("DOCUMENTS", "PERMANENT"),
    "gift": ("GIFT", "PERMANENT"),
    "sample": ("COMMERCIAL SAMPLE", "PERMANENT"),
    "return": ("RETURN", "RETURN"),
}
# DHL RegistrationNumber/NumberTypeCode (at most 3 characters) per tax id type; IOSS is "SDT".
_REGISTRATION_TYPES = {"EIN": "EIN", "EORI": "EOR", "VAT": "VAT", "IOSS": "SDT"}


def _export_declaration(customs: types.Customs, reference: str, ship_time: datetime) -> dict[str, Any]:
    reason, reason_type = _EXPORT_REASONS.get(customs.content_type, ("SALE", "PERMANENT"))
    lines = []
    for n, item in enumerate(customs.items, start=1):
        weight = max(item.weight_kg.quantize(_THOUSANDTH, rounding=ROUND_CEILING), _THOUSANDTH)
        line: dict[str, Any] = {}
        if item.hs_code:
            line["CommodityCode"] = checks.hs_digits(item.hs_code)
        line.update(
            {
                "ExportReasonType": reason_type,
                "ItemNumber": n,
                "Quantity": item.quantity,
                "QuantityUnitOfMeasurement": "PCS",
                "ItemDescription": " ".join(item.description.split())[:170],
                "UnitPrice": item.unit_value.amount.quantize(_THOUSANDTH, rounding=ROUND_HALF_UP),
                "NetWeight": weight,
                "GrossWeight": weight,
                "ManufacturingCountryCode": item.origin_country.upper(),
            }
        )
        lines.append(line)
    declaration: dict[str, Any] = {
        "ExportLineItems": {"ExportLineItem": lines},
        "ExportReason": reason,
        # Both mandatory when DHL generates the invoice (RequestDHLCustomsInvoice = Y).
        "InvoiceDate": ship_time.date(),
        "InvoiceNumber": (customs.invoice_number or reference)[:35],
    }
    if customs.exporter_tax_ids:
        declaration["ExporterID"] = checks.tax_id_number(customs.exporter_tax_ids[0].number)
    return declaration


def _registration_numbers(party: dict[str, Any], tax_ids: Iterable[types.TaxId], country: str) -> None:
    numbers = []
    for tax_id in tax_ids:
        number = checks.tax_id_number(tax_id.number)
        issuer = number[:2] if tax_id.type in ("EORI", "VAT") and number[:2].isalpha() else country
        numbers.append(
            {
                "Number": number,
                "NumberTypeCode": _REGISTRATION_TYPES.get(tax_id.type, tax_id.type[:3]),
                "NumberIssuerCountryCode": issuer.upper(),
            }
        )
    if numbers:
        party["RegistrationNumbers"] = {"RegistrationNumber": numbers}


def _account(account: str) -> str:
    account = (account or "").strip()
    if not account or len(account) > 12:
        raise Invalid("DHL account number must be 1 to 12 characters")
    return account


def _declared_value(spec: types.ShipmentSpec) -> money.Money | None:
    if spec.customs is not None and spec.customs.items:
        try:
            return spec.customs.total_value()
        except money.CurrencyError as exc:
            raise Invalid("the declared items of one shipment must share a currency") from exc
    values = [p.declared_value for p in spec.parcels if p.declared_value is not None]
    if not values:
        return None
    total = values[0]
    try:
        for value in values[1:]:
            total = total + value
    except money.CurrencyError as exc:
        raise Invalid("declared values of one shipment must share a currency") from exc
    return total


def _default_currency(spec: types.ShipmentSpec) -> str:
    # Without a declared value DHL still wants a shipment currency; the shipper's is the natural one.
    return {"US": "USD", "GB": "GBP", "CA": "CAD", "AU": "AUD", "JP": "JPY", "CH": "CHF"}.get(
        spec.origin.country_code, "EUR"
    )


def _limited(value: str, limit: int, what: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise Invalid(f"{what} is required")
    if len(value) > limit:
        raise Invalid(f"{what} is longer than DHL's {limit} characters")
    return value


def _street_lines(address: types.Address, required: bool) -> dict[str, str]:
    lines = [" ".join(line.split()) for line in address.street_lines if line and line.strip()]
    if required and not lines:
        raise Invalid(f"address in {address.city} needs a street line")
    if len(lines) > 3:
        raise Invalid("DHL takes at most three street lines")
    out: dict[str, str] = {}
    for key, line in zip(("StreetLines", "StreetLines2", "StreetLines3"), lines, strict=False):
        out[key] = _limited(line, 35, "street line")
    return out


def _address(address: types.Address, *, street_required: bool) -> dict[str, Any]:
    if len(address.country_code) != 2:
        raise Invalid("country code must be ISO 3166-1 alpha-2")
    fields: dict[str, Any] = _street_lines(address, street_required)
    fields["City"] = _limited(address.city, 35, "city")
    if address.state:
        fields["StateOrProvinceCode"] = address.state
    fields["PostalCode"] = _limited(address.postal_code, 12, "postal code") if address.postal_code else ""
    fields["CountryCode"] = address.country_code.upper()
    return fields


def _rate_address(address: types.Address) -> dict[str, Any]:
    return _address(address, street_required=False)


def _contact_info(address: types.Address, role: str) -> dict[str, Any]:
    person = address.name or address.company
    company = address.company or address.name
    if not person:
        raise Invalid(f"{role} address needs a name or a company for the DHL label")
    if not address.phone:
        raise Invalid(f"{role} address needs a phone number for DHL Express")
    contact: dict[str, Any] = {
        "PersonName": _limited(person, 45, f"{role} name"),
        "CompanyName": _limited(company or person, 35, f"{role} company"),
        "PhoneNumber": _limited(address.phone, 25, f"{role} phone"),
    }
    if address.email:
        contact["EmailAddress"] = _limited(address.email, 50, f"{role} email")
    return {"Contact": contact, "Address": _address(address, street_required=True)}


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _kids(node: etree._Element | None, name: str) -> list[etree._Element]:
    if node is None:
        return []
    return [child for child in node if _local(child) == name]


def _first(node: etree._Element | None, name: str) -> etree._Element | None:
    found = _kids(node, name)
    return found[0] if found else None


def _find_path(node: etree._Element | None, *names: str) -> etree._Element | None:
    for name in names:
        node = _first(node, name)
    return node


def _text(node: etree._Element | None, name: str) -> str | None:
    child = _first(node, name)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def _notifications(nodes: Iterable[etree._Element]) -> Iterator[tuple[str, str]]:
    for node in nodes:
        yield (node.get("code") or "").strip(), (_text(node, "Message") or "").strip()


def _raise_on_errors(notifications: Iterable[etree._Element], operation: str) -> None:
    errors = [(code, text) for code, text in _notifications(notifications) if code != _SUCCESS]
    if errors:
        code = errors[0][0] or "unknown"
        message = "; ".join(text or f"error {c}" for c, text in errors)
        raise base.CarrierRejected(CARRIER, f"{operation}: {message}", code=code)


def _raise_on_piece_faults(response: etree._Element) -> None:
    faults = _kids(_first(_first(response, "Fault"), "PieceFault"), "ArrayOfPieceFaultItem")
    if faults:
        code = _text(faults[0], "ConditionCode") or "fault"
        data = "; ".join(f"{_text(f, 'PieceID')}: {_text(f, 'ConditionData')}" for f in faults)
        raise base.CarrierRejected(CARRIER, data, code=code)


def _bad_reply(operation: str, what: str) -> base.CarrierRejected:
    return base.CarrierRejected(CARRIER, f"{operation}: unexpected reply ({what})", code="bad_reply")


def _unreadable(operation: str, what: str) -> base.CarrierUnavailable:
    # docs/ADAPTERS.md: a reply we cannot read is "retry later" (DHL may be mid-deploy), not a refusal.
    return base.CarrierUnavailable(CARRIER, f"{operation}: unexpected reply ({what})", code="bad_reply")


def _clean(value: str | None) -> str:
    """Collapse the line breaks and indentation DHL leaves inside texts."""
    return " ".join((value or "").split())


def _pick_total(totals: list[etree._Element]) -> etree._Element | None:
    # Up to three totals in different currencies; BILLC is the billing currency, the one DHL invoices.
    for node in totals:
        if (node.get("type") or "BILLC") == "BILLC":
            return node
    return totals[0] if totals else None


def _money_or_none(amount: str | None, currency: str | None) -> money.Money | None:
    try:
        return money.Money(Decimal((amount or "").strip()), (currency or "").strip().upper())
    except (InvalidOperation, money.CurrencyError):
        return None


def _money(amount: str | None, currency: str | None) -> money.Money:
    try:
        return money.Money(Decimal((amount or "").strip()), (currency or "").strip().upper())
    except (InvalidOperation, money.CurrencyError) as exc:
        raise _bad_reply("rate", f"amount {amount!r} {currency!r}") from exc


def _charge_lines(groups: list[etree._Element], currency: str) -> tuple[carrier.ChargeLine, ...]:
    lines: list[carrier.ChargeLine] = []
    for group in groups:
        group_currency = _text(group, "Currency") or currency
        if group_currency != currency:
            continue
        for charge in _kids(group, "Charge"):
            kind = _clean(_text(charge, "ChargeType")) or "charge"
            amount = _money_or_none(_text(charge, "ChargeAmount"), group_currency)
            if amount is None:
                continue  # an optional charge DHL left unpriced (empty <ChargeAmount/>)
            lines.append(
                carrier.ChargeLine(code=_text(charge, "ChargeCode") or kind, description=kind, amount=amount)
            )
    return tuple(lines)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _date_of(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None


def _b64(value: str | None) -> bytes:
    compact = "".join((value or "").split())
    if not compact:
        raise _bad_reply("createShipmentRequest", "empty GraphicImage")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad_reply("createShipmentRequest", "GraphicImage is not base64") from exc


def _label_format(value: str | None) -> carrier.LabelFormat:
    try:
        return carrier.LabelFormat((value or "PDF").upper())
    except ValueError as exc:
        raise _bad_reply("createShipmentRequest", f"label format {value!r}") from exc
