"""The DHL Express SOAP subset: getRateRequest, createShipmentRequest, deleteShipmentRequest and
trackShipmentRequest.

Element names and namespaces follow DHL's WSDLs (../shared/carriers/dhl_express/): the operation
elements are namespace-qualified, their children unqualified, except dhl:TrackingRequest and
dhl:TrackingResponse in http://www.dhl.com. Incoming XML is parsed hardened: a DTD, an entity
or anything that needs the network is refused with a SOAP Client fault.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import flask
from lxml import etree

from schemas import units
from simulator import injection, labels, numbers, pricing, progressions
from simulator import ledger as sim_ledger
from simulator import state as sim_state

bp = flask.Blueprint("dhl_express", __name__)

CARRIER = "dhl_express"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
# A token type URI, not a password.
PASSWORD_DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"  # noqa: S105
)
RATE_REQ = "http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/RateMsgRequest"
RATE_RESP = "http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/RateMsgResponse"
SHIP_REQ = "http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/ShipmentMsgRequest"
SHIP_RESP = "http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/ShipmentMsgResponse"
DELETE_REQ = "http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/DeleteShipmentRequest"
DELETE_RESP = "http://scxgxtt.phx-dc.dhl.com/euExpressRateBook/DeleteShipmentResponse"
TRACK_NS = "http://scxgxtt.phx-dc.dhl.com/glDHLExpressTrack/providers/services/trackShipment"
DHL_NS = "http://www.dhl.com"
LABEL_TYPES = frozenset({"PDF", "ZPL", "EPL", "LP2"})
MAX_BODY = 2_000_000


class SoapFault(Exception):
    """A SOAP 1.1 fault: faultcode Client (the request is wrong) or Server."""

    def __init__(self, code: str, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class Rejected(Exception):
    """A business error DHL reports as a non-zero Notification in a normal response."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def sim() -> sim_state.Simulator:
    return flask.current_app.extensions["handoff_simulator"]


# -- XML in --------------------------------------------------------------------------------------
def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_envelope(body: bytes) -> etree._Element:
    """Parse a SOAP envelope, refusing DTDs, entities and external references."""
    if len(body) > MAX_BODY:
        raise SoapFault("Client", "Request too large")
    # A byte scan catches UTF-8/ASCII DTDs before the parser sees them; the docinfo check below
    # catches ones hidden behind another encoding.
    lowered = body.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise SoapFault("Client", "DTDs and entity declarations are not allowed")
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise SoapFault("Client", f"Malformed XML: {exc}") from None
    tree = root.getroottree()
    # lxml-stubs' DocInfo has no doctype (lxml's does).
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:  # type: ignore[union-attr]
        raise SoapFault("Client", "DTDs and entity declarations are not allowed")
    if any(isinstance(node, etree._Entity) for node in root.iter()):
        raise SoapFault("Client", "Entity references are not allowed")
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault("Client", "Not a SOAP 1.1 envelope")
    return root


def _children(el: etree._Element | None, name: str) -> list[etree._Element]:
    if el is None:
        return []
    return [child for child in el if isinstance(child.tag, str) and etree.QName(child).localname == name]


def _find(el: etree._Element | None, *path: str) -> etree._Element | None:
    for name in path:
        found = _children(el, name)
        if not found:
            return None
        el = found[0]
    return el


def _text(el: etree._Element | None, *path: str) -> str:
    found = _find(el, *path)
    return (found.text or "").strip() if found is not None else ""


def _check_security(envelope: etree._Element) -> None:
    config = sim().config
    token = envelope.find(f"{{{SOAP_ENV}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
    if token is None:
        raise SoapFault("Client", "Missing WS-Security UsernameToken")
    username = (token.findtext(f"{{{WSSE}}}Username") or "").strip()
    password_el = token.find(f"{{{WSSE}}}Password")
    password = (password_el.text or "") if password_el is not None else ""
    if password_el is not None and password_el.get("Type") == PASSWORD_DIGEST:
        nonce = token.findtext(f"{{{WSSE}}}Nonce") or ""
        created = token.findtext(f"{{{WSU}}}Created") or ""
        try:
            raw_nonce = base64.b64decode(nonce)
        except binascii.Error:
            raw_nonce = b""
        expected = base64.b64encode(
            hashlib.sha1(raw_nonce + created.encode() + config.dhl_password.encode()).digest()  # noqa: S324 - WS-Security's digest
        ).decode()
        password_ok = hmac.compare_digest(password.strip(), expected)
    else:
        password_ok = hmac.compare_digest(password, config.dhl_password)
    if not (hmac.compare_digest(username, config.dhl_username) and password_ok):
        raise SoapFault("Client", "Authentication failed: invalid username or password")


# -- XML out -------------------------------------------------------------------------------------
def _envelope(payload: etree._Element | None = None, fault: SoapFault | None = None) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soapenv": SOAP_ENV})
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Header")
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    if fault is not None:
        element = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
        etree.SubElement(element, "faultcode").text = f"soapenv:{fault.code}"
        etree.SubElement(element, "faultstring").text = fault.message
    elif payload is not None:
        body.append(payload)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _soap(payload: etree._Element) -> flask.Response:
    return flask.Response(
        _envelope(payload), status=200, mimetype="text/xml", content_type="text/xml; charset=utf-8"
    )


def _fault(fault: SoapFault) -> flask.Response:
    return flask.Response(_envelope(fault=fault), status=fault.status, content_type="text/xml; charset=utf-8")


def _sub(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, name, attrib=attrs)
    if text is not None:
        element.text = text
    return element


def _unavailable() -> flask.Response:
    return _fault(SoapFault("Server", "Service temporarily unavailable, please try again later"))


def _malformed() -> flask.Response:
    return flask.Response(
        f'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body><Resp',
        status=200,
        content_type="text/xml; charset=utf-8",
    )


def _timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S")


# -- request details -----------------------------------------------------------------------------
def _decimal(value: str, what: str) -> Decimal:
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        raise Rejected("998", f"Invalid value for {what}: {value!r}") from None
    if not number.is_finite() or number <= 0:
        raise Rejected("998", f"Invalid value for {what}: {value!r}")
    return number


def _measures(
    shipment: etree._Element, nested_weight: bool
) -> tuple[Decimal, tuple[Decimal, Decimal, Decimal] | None, int]:
    unit = (
        _text(shipment, "UnitOfMeasurement") or _text(shipment, "ShipmentInfo", "UnitOfMeasurement") or "SI"
    )
    if unit not in ("SI", "SU"):
        raise Rejected("998", f"Invalid UnitOfMeasurement {unit!r}: use SI or SU")
    kg_unit, cm_unit = ("kg", "cm") if unit == "SI" else ("lb", "in")
    packages = _children(_find(shipment, "Packages"), "RequestedPackages")
    if not packages:
        raise Rejected("998", "At least one RequestedPackages element is required")
    total = Decimal(0)
    dims: tuple[Decimal, Decimal, Decimal] | None = None
    for package in packages:
        raw = _text(package, "Weight", "Value") if nested_weight else _text(package, "Weight")
        total += units.to_kg(_decimal(raw, "Weight"), kg_unit)
        box = _find(package, "Dimensions")
        if dims is None and box is not None:
            length, width, height = (
                units.to_cm(_decimal(_text(box, side), side), cm_unit)
                for side in ("Length", "Width", "Height")
            )
            dims = (length, width, height)
    return total, dims, len(packages)


def _party(element: etree._Element | None, role: str, nested: bool) -> dict[str, str]:
    address = _find(element, "Address") if nested else element
    if address is None or not _text(address, "CountryCode"):
        raise Rejected("998", f"{role} address with a CountryCode is required")
    return {
        "country": _text(address, "CountryCode").upper(),
        "city": _text(address, "City"),
        "postal_code": _text(address, "PostalCode"),
        "state": _text(address, "StateOrProvinceCode"),
        "name": _text(element, "Contact", "PersonName") or _text(element, "Contact", "CompanyName"),
    }


def _reference(shipment: etree._Element) -> str | None:
    reference = _text(
        shipment, "ShipmentInfo", "ShipmentReferences", "ShipmentReference", "ShipmentReference"
    )
    if reference:
        return reference
    first = _find(shipment, "Packages", "RequestedPackages")
    return _text(first, "CustomerReferences") or None


# -- operations ----------------------------------------------------------------------------------
def _rate(request: etree._Element) -> etree._Element:
    shipment = _find(request, "RequestedShipment")
    response = etree.Element(f"{{{RATE_RESP}}}RateResponse", nsmap={"rateresp": RATE_RESP})
    provider = _sub(response, "Provider", code="DHL")
    try:
        if shipment is None:
            raise Rejected("998", "RequestedShipment is required")
        ship = _find(shipment, "Ship")
        origin = _party(_find(ship, "Shipper"), "Shipper", nested=False)
        destination = _party(_find(ship, "Recipient"), "Recipient", nested=False)
        kg, dims, _count = _measures(shipment, nested_weight=True)
    except Rejected as exc:
        notification = _sub(provider, "Notification", code=exc.code)
        _sub(notification, "Message", exc.message)
        return response
    notification = _sub(provider, "Notification", code="0")
    _sub(notification, "Message")
    documents = _text(shipment, "Content") == "DOCUMENTS"
    billable = pricing.billable_kg(kg, dims)
    currency = pricing.currency_for(origin["country"])
    now = sim().clock.now()
    account = _text(shipment, "Account")
    for service in pricing.dhl_services(origin["country"], destination["country"], documents):
        quote = pricing.quote(service, billable, currency)
        attrs = {"type": service.code}
        if account:
            attrs["account"] = account
        element = _sub(provider, "Service", **attrs)
        total = _sub(element, "TotalNet")
        _sub(total, "Currency", currency)
        _sub(total, "Amount", f"{quote.total}")
        charges = _sub(element, "Charges")
        _sub(charges, "Currency", currency)
        for code, name, amount in (
            (None, service.name, quote.transport),
            ("FF", "FUEL SURCHARGE", quote.fuel),
        ):
            charge = _sub(charges, "Charge")
            if code:
                _sub(charge, "ChargeCode", code)
            _sub(charge, "ChargeType", name)
            _sub(charge, "ChargeAmount", f"{amount}")
        # The world's carrier estimate when a world is set (docs/WORLDS.md), else the service's days.
        estimate = sim().quoted_estimate(
            CARRIER, service.code, origin["country"], destination["country"], now
        )
        delivery = (now + timedelta(days=service.transit_days)).replace(hour=12, minute=0, second=0)
        _sub(element, "DeliveryTime", _timestamp(estimate.at if estimate else delivery))
        _sub(element, "CutoffTime", _timestamp(now.replace(hour=17, minute=0, second=0)))
        _sub(element, "NextBusinessDayInd", "N")
        _sub(element, "ServiceName", service.name)
        _sub(element, "TotalTransitDays", str(estimate.days if estimate else service.transit_days))
    return response


def _response_header(request: etree._Element, parent: etree._Element) -> None:
    reference = _text(request, "Request", "ServiceHeader", "MessageReference")
    header = _sub(_sub(parent, "Response"), "ServiceHeader")
    _sub(header, "MessageTime", _timestamp(sim().clock.now()))
    if reference:
        _sub(header, "MessageReference", reference)


def _ship(request: etree._Element) -> etree._Element:
    response = etree.Element(f"{{{SHIP_RESP}}}ShipmentResponse", nsmap={"shipresp": SHIP_RESP})
    _response_header(request, response)
    shipment = _find(request, "RequestedShipment")
    simulator = sim()
    try:
        if shipment is None:
            raise Rejected("998", "RequestedShipment is required")
        info = _find(shipment, "ShipmentInfo")
        service_code = _text(info, "ServiceType")
        if not service_code:
            raise Rejected("998", "ShipmentInfo/ServiceType is required")
        label_type = (_text(info, "LabelType") or "PDF").upper()
        if label_type not in LABEL_TYPES:
            raise Rejected("998", f"Invalid LabelType {label_type!r}: use PDF, ZPL, EPL or LP2")
        ship = _find(shipment, "Ship")
        origin = _party(_find(ship, "Shipper"), "Shipper", nested=True)
        destination = _party(_find(ship, "Recipient"), "Recipient", nested=True)
        kg, dims, count = _measures(shipment, nested_weight=False)
        documents = _text(shipment, "InternationalDetail", "Content") == "DOCUMENTS"
        # LabelOptions/RequestDHLCustomsInvoice = Y: DHL generates the commercial invoice from
        # ExportDeclaration, whose InvoiceNumber and InvoiceDate are then mandatory (expressRateBook.wsdl).
        wants_invoice = _text(info, "LabelOptions", "RequestDHLCustomsInvoice") == "Y"
        declaration = _find(shipment, "InternationalDetail", "ExportDeclaration")
        if wants_invoice and not (
            _text(declaration, "InvoiceNumber")
            and _text(declaration, "InvoiceDate")
            and _children(_find(declaration, "ExportLineItems"), "ExportLineItem")
        ):
            raise Rejected(
                "998", "ExportDeclaration with InvoiceNumber, InvoiceDate and ExportLineItems is required"
            )
        offered = {
            s.code: s for s in pricing.dhl_services(origin["country"], destination["country"], documents)
        }
        if service_code not in offered:
            raise Rejected("998", f"Product {service_code!r} is not available between these countries")
    except Rejected as exc:
        notification = _sub(response, "Notification", code=exc.code)
        _sub(notification, "Message", exc.message)
        return response
    quote = pricing.quote(
        offered[service_code], pricing.billable_kg(kg, dims), pricing.currency_for(origin["country"])
    )
    waybill = numbers.dhl_waybill(simulator.serials(numbers.DHL_WAYBILL)[0])
    pieces = [numbers.dhl_piece_id(serial) for serial in simulator.serials(numbers.DHL_PIECE, count)]
    # DHL's LabelImageFormat is at most 3 characters and "Currently always 'PDF'"; ZPL/EPL are
    # honoured too because the adapters may ask for thermal labels.
    document_format = "ZPL" if label_type == "ZPL" else "EPL" if label_type in ("EPL", "LP2") else "PDF"
    label = sim_ledger.LabelRecord(
        carrier=CARRIER,
        tracking_number=waybill,
        reference=_reference(shipment),
        requested_at=simulator.clock.now().isoformat(),
        service=service_code,
        label_format=document_format,
        charge_amount=f"{quote.total}",
        charge_currency=quote.currency,
        package_tracking_numbers=pieces,
        origin_country=origin["country"],
        origin_city=origin["city"],
        origin_state=origin["state"],
        origin_postal_code=origin["postal_code"],
        destination_country=destination["country"],
        destination_city=destination["city"],
        destination_state=destination["state"],
        destination_postal_code=destination["postal_code"],
        shipper_name=origin["name"],
        recipient_name=destination["name"],
        weight_kg=f"{quote.billable_kg}",
        scenario=progressions.choose_scenario(
            simulator.config.seed, waybill, simulator.config.exception_share, progressions.DHL_EXCEPTIONS
        ),
        label_base64=labels.render_base64(document_format, waybill, CARRIER),
    )
    simulator.ledger.record(label)
    flask.g.sold_tracking_number = waybill
    notification = _sub(response, "Notification", code="0")
    _sub(notification, "Message")
    results = _sub(response, "PackagesResult")
    for number, piece in enumerate(pieces, start=1):
        _sub(_sub(results, "PackageResult", number=str(number)), "TrackingNumber", piece)
    image = _sub(response, "LabelImage")
    _sub(image, "LabelImageFormat", document_format)
    _sub(image, "GraphicImage", label.label_base64)
    if wants_invoice:
        document = _sub(_sub(response, "Documents"), "Document")
        _sub(document, "DocumentName", "CustomsInvoice")
        _sub(document, "DocumentFormat", "PDF")
        _sub(document, "DocumentImage", labels.invoice_base64(waybill, CARRIER))
    _sub(response, "ShipmentIdentificationNumber", waybill)
    if _text(shipment, "ShipmentInfo", "DropOffType") == "REQUEST_COURIER":
        _sub(response, "DispatchConfirmationNumber", f"CBJ{waybill[-6:]}")
    total = _sub(response, "TotalNet")
    _sub(total, "Currency", quote.currency)
    _sub(total, "Amount", f"{quote.total}")
    return response


def _delete(request: etree._Element) -> etree._Element:
    response = etree.Element(f"{{{DELETE_RESP}}}DeleteResponse", nsmap={"delresp": DELETE_RESP})
    _response_header(request, response)
    notification = _sub(
        response, "Notification", code="0" if _text(request, "DispatchConfirmationNumber") else "998"
    )
    _sub(
        notification,
        "Message",
        "" if notification.get("code") == "0" else "DispatchConfirmationNumber is required",
    )
    return response


def _track_item(
    awb: str, label: sim_ledger.LabelRecord | None, all_checkpoints: bool, with_pieces: bool
) -> etree._Element:
    item = etree.Element("ArrayOfAWBInfoItem")
    _sub(item, "AWBNumber", awb)
    status = _sub(item, "Status")
    if label is None:
        _sub(status, "ActionStatus", "No Shipments Found")
        return item
    _sub(status, "ActionStatus", "Success")
    simulator = sim()
    events = simulator.events_so_far(label)
    if not all_checkpoints:
        events = events[-1:]
    info = _sub(item, "ShipmentInfo")
    steps = simulator.steps_for(label)
    origin_area, destination_area = steps[0].place, steps[-1].place
    origin = _sub(info, "OriginServiceArea")
    _sub(origin, "ServiceAreaCode", origin_area.service_area)
    _sub(origin, "Description", f"{origin_area.city.upper()} - {origin_area.country}")
    destination = _sub(info, "DestinationServiceArea")
    _sub(destination, "ServiceAreaCode", destination_area.service_area)
    _sub(destination, "Description", f"{destination_area.city.upper()} - {destination_area.country}")
    _sub(info, "ShipperName", label.shipper_name or "SHIPPER")
    _sub(info, "ConsigneeName", label.recipient_name or "CONSIGNEE")
    sold = datetime.fromisoformat(label.requested_at)
    _sub(info, "ShipmentDate", _timestamp(sold))
    _sub(info, "Pieces", str(len(label.package_tracking_numbers)))
    _sub(info, "Weight", label.weight_kg)
    _sub(info, "WeightUnit", "K")
    if events:
        array = _sub(info, "ShipmentEvent")
        for when, step in events:
            event = _sub(array, "ArrayOfShipmentEventItem")
            _sub(event, "Date", when.strftime("%Y-%m-%d"))
            _sub(event, "Time", when.strftime("%H:%M:%S"))
            service_event = _sub(event, "ServiceEvent")
            _sub(service_event, "EventCode", step.code)
            _sub(service_event, "Description", step.description)
            if step.signatory:
                _sub(event, "Signatory", step.signatory)
            area = _sub(event, "ServiceArea")
            _sub(area, "ServiceAreaCode", step.place.service_area)
            _sub(area, "Description", f"{step.place.city.upper()} - {step.place.country}")
    if label.reference:
        _sub(_sub(info, "ShipperReference"), "ReferenceID", label.reference)
    _sub(
        info,
        "EstimatedDeliveryDate",
        _timestamp(
            simulator.estimated_delivery(label)
            or (sold + timedelta(days=1)).replace(hour=23, minute=59, second=0)
        ),
    )
    if with_pieces:
        pieces = _sub(_sub(item, "Pieces"), "PieceInfo")
        for number, piece in enumerate(label.package_tracking_numbers, start=1):
            piece_item = _sub(pieces, "ArrayOfPieceInfoItem")
            details = _sub(piece_item, "PieceDetails")
            _sub(details, "AWBNumber", label.tracking_number)
            _sub(details, "LicensePlate", piece)
            _sub(details, "PieceNumber", str(number))
    return item


def _track(request: etree._Element) -> etree._Element:
    response = etree.Element(
        f"{{{TRACK_NS}}}trackShipmentRequestResponse", nsmap={"trac": TRACK_NS, "dhl": DHL_NS}
    )
    tracking = _find(request, "trackingRequest", "TrackingRequest")
    if tracking is None:
        raise SoapFault("Client", "trackingRequest/TrackingRequest is required")
    reference = _text(tracking, "Request", "ServiceHeader", "MessageReference") or uuid.uuid4().hex
    level = _text(tracking, "LevelOfDetails")
    if level not in ("LAST_CHECK_POINT_ONLY", "ALL_CHECK_POINTS"):
        raise SoapFault("Client", "LevelOfDetails must be LAST_CHECK_POINT_ONLY or ALL_CHECK_POINTS")
    awbs = [(el.text or "").strip() for el in _children(_find(tracking, "AWBNumber"), "ArrayOfAWBNumberItem")]
    pieces = [
        (el.text or "").strip() for el in _children(_find(tracking, "LPNumber"), "ArrayOfTrackingPieceIDItem")
    ]
    if not awbs and not pieces:
        raise SoapFault("Client", "AWBNumber or LPNumber is required")
    with_pieces = _text(tracking, "PiecesEnabled") in ("B", "P")
    outer = _sub(response, "trackingResponse")
    result = etree.SubElement(outer, f"{{{DHL_NS}}}TrackingResponse")
    header = _sub(_sub(result, "Response"), "ServiceHeader")
    _sub(header, "MessageTime", _timestamp(sim().clock.now()))
    _sub(header, "MessageReference", reference)
    info = _sub(result, "AWBInfo")
    ledger = sim().ledger
    for number in [*awbs, *pieces]:
        label = ledger.get(number)
        if label is not None and label.carrier != CARRIER:
            label = None
        info.append(
            _track_item(
                label.tracking_number if label else number, label, level == "ALL_CHECK_POINTS", with_pieces
            )
        )
    return response


OPERATIONS: dict[str, dict[str, tuple[str, Any]]] = {
    "expressRateBook": {
        f"{{{RATE_REQ}}}RateRequest": ("rate", _rate),
        f"{{{SHIP_REQ}}}ShipmentRequest": ("ship", _ship),
        f"{{{DELETE_REQ}}}DeleteRequest": ("delete_pickup", _delete),
    },
    "glDHLExpressTrack": {f"{{{TRACK_NS}}}trackShipmentRequest": ("track", _track)},
}


@bp.post("/<any(sndpt, gbl):environment>/<any(expressRateBook, glDHLExpressTrack):service>")
def soap_endpoint(environment: str, service: str) -> flask.Response:
    """Answer one SOAP 1.1 call on the sandpit (sndpt) or production (gbl) path."""
    try:
        envelope = parse_envelope(flask.request.get_data(cache=False))
        _check_security(envelope)
        body = envelope.find(f"{{{SOAP_ENV}}}Body")
        request = next(
            (child for child in (body if body is not None else []) if isinstance(child.tag, str)), None
        )
        if request is None or request.tag not in OPERATIONS[service]:
            raise SoapFault(
                "Client", f"Unknown operation for {service}: {request.tag if request is not None else None}"
            )
        operation, handler = OPERATIONS[service][request.tag]
    except SoapFault as fault:
        return _fault(fault)

    def normal() -> flask.Response:
        try:
            return _soap(handler(request))
        except SoapFault as fault:
            return _fault(fault)

    return injection.guarded(sim(), CARRIER, operation, normal, _unavailable, _malformed)
