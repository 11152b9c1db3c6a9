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

from adapters import base
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
    _require_parcels(spec)
    if request.label_format not in LABEL_FORMATS:
        raise Invalid(f"DHL Express labels are PDF or ZPL, not {request.label_format.value}")
    if not request.service_code or len(request.service_code) > 3:
        raise Invalid("service_code must be a DHL global product code such as 'P'")
    reference = _limited(request.reference, 35, "reference")
    declared = _declared_value(spec)
    currency = declared.currency if declared is not None else _default_currency(spec)
    commodities: dict[str, Any] = {"Description": _limited(contents, 70, "contents description")}
    if declared is not None:
        commodities["CustomsValue"] = declared.amount.quantize(_THOUSANDTH, rounding=ROUND_HALF_UP)
    return {
        "Request": service_header(message_time, message_reference),
        "RequestedShipment": {
            "ShipmentInfo": {
                "DropOffType": "REGULAR_PICKUP",
                "ServiceType": request.service_code,
                "Account": _account(request.account or account),
                "Currency": currency,
                "UnitOfMeasurement": "SI",
                "LabelType": request.label_format.value,
                "ShipmentReferences": {"ShipmentReference": [{"ShipmentReference": reference}]},
            },
            "ShipTimestamp": ship_timestamp(ship_time),
            "PaymentInfo": _incoterm(spec),
            "InternationalDetail": {"Commodities": commodities, "Content": _content(spec)},
            "Ship": {
                "Shipper": _contact_info(spec.origin, "origin"),
                "Recipient": _contact_info(spec.destination, "destination"),
            },
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
    """Return one RateResult per priced DHL product, keeping only services when any are named."""
    wanted = set(services)
    results: list[carrier.RateResult] = []
    for provider in _kids(reply, "Provider"):
        offered = _kids(provider, "Service")
        if not offered:
            _raise_on_errors(_kids(provider, "Notification"), "getRateRequest")
        for service in offered:
            code = service.get("type") or ""
            if not code or (wanted and code not in wanted):
                continue
            total_node = _pick_total(_kids(service, "TotalNet"))
            if total_node is None:
                continue
            total = _money(_text(total_node, "Amount"), _text(total_node, "Currency"))
            results.append(
                carrier.RateResult(
                    carrier=CARRIER,
                    service_code=code,
                    service_name=_text(service, "ServiceName") or code,
                    total=total,
                    charges=_charge_lines(_kids(service, "Charges"), total.currency),
                    transit_days=_int(_text(service, "TotalTransitDays")),
                    estimated_delivery=_date_of(_text(service, "DeliveryTime")),
                    negotiated=service.get("account") == "PAYOR_ACCOUNT",
                )
            )
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
    )


def parse_track_response(reply: etree._Element, tracking_number: str) -> carrier.TrackResult:
    """Return the checkpoints of one waybill oldest first, codes untouched (``PU``, ``OK``, ...)."""
    response = _find_path(reply, "trackingResponse", "TrackingResponse")
    if response is None:
        raise _bad_reply("trackShipmentRequest", "no TrackingResponse")
    infos = _kids(_first(response, "AWBInfo"), "ArrayOfAWBInfoItem")
    if not infos:
        _raise_on_piece_faults(response)
        raise _bad_reply("trackShipmentRequest", "no AWBInfo")
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
            events.setdefault((event.occurred_at, event.code, event.location.description or ""), event)
    ordered = tuple(sorted(events.values(), key=lambda e: e.occurred_at))
    return carrier.TrackResult(
        carrier=CARRIER, tracking_number=tracking_number, events=ordered, estimated_delivery=estimated
    )


def _event(item: etree._Element, awb: str, estimated: date | None) -> carrier.RawTrackingEvent:
    service_event = _first(item, "ServiceEvent")
    code = (_text(service_event, "EventCode") or "").strip()
    if not code:
        raise _bad_reply("trackShipmentRequest", "checkpoint without EventCode")
    local_date, local_time = _text(item, "Date"), _text(item, "Time")
    occurred, zone_known = _occurred_at(local_date, local_time)
    area = _first(item, "ServiceArea")
    area_code = _text(area, "ServiceAreaCode")
    area_name = _text(area, "Description")
    signatory = _text(item, "Signatory")
    raw: dict[str, Any] = {"date": local_date, "time": local_time, "local_time_zone_known": zone_known}
    if area_code:
        raw["service_area"] = area_code
    if signatory:
        raw["signatory"] = signatory
    return carrier.RawTrackingEvent(
        carrier=CARRIER,
        tracking_number=awb,
        code=code,
        subcode=None,
        description=_text(service_event, "Description") or code,
        occurred_at=occurred,
        location=carrier.EventLocation(description=area_name or area_code),
        estimated_delivery=estimated,
        source_event_id=f"{awb}:{local_date}T{local_time}:{code}:{area_code or ''}",
        raw=raw,
    )


def _occurred_at(local_date: str | None, local_time: str | None) -> tuple[datetime, bool]:
    # DHL gives the service area's wall-clock time, usually without an offset. With an offset we convert
    # exactly; without one we keep the wall clock as UTC and say so in raw, rather than guess a zone.
    try:
        day = date.fromisoformat((local_date or "").strip())
        clock = time.fromisoformat((local_time or "00:00:00").strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise _bad_reply(
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
    return "DOCUMENTS" if "documents" in spec.options else "NON_DOCUMENTS"


def _incoterm(spec: types.ShipmentSpec) -> str:
    return "DDP" if "ddp" in spec.options else "DAP"


def _account(account: str) -> str:
    account = (account or "").strip()
    if not account or len(account) > 12:
        raise Invalid("DHL account number must be 1 to 12 characters")
    return account


def _declared_value(spec: types.ShipmentSpec) -> money.Money | None:
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


def _pick_total(totals: list[etree._Element]) -> etree._Element | None:
    # Up to three totals in different currencies; BILLC is the billing currency, the one DHL invoices.
    for node in totals:
        if (node.get("type") or "BILLC") == "BILLC":
            return node
    return totals[0] if totals else None


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
            kind = _text(charge, "ChargeType") or "charge"
            lines.append(
                carrier.ChargeLine(
                    code=_text(charge, "ChargeCode") or kind,
                    description=kind,
                    amount=_money(_text(charge, "ChargeAmount"), group_currency),
                )
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
