"""The USPS v3 REST subset: OAuth, Payments, Prices, Service Standards, Labels and Tracking v3r2, under ``/usps``.

Paths, field names and the error envelope (``{"apiVersion", "error": {"code", "message", "errors": [...]}}``)
follow USPS's published OpenAPI files (../shared/carriers/usps/). The adapter's ``base_url`` points at
``<simulator>/usps``. Labels are sold against a payment authorization token, so each sale is recorded on
the PAYER account it was authorized for; tracking numbers are 22-digit IMpb with the mod-10 check digit.
Error codes USPS does not publish are the simulator's own (``SIM...``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from decimal import Decimal, InvalidOperation
from typing import Any

import flask

from schemas import units
from simulator import injection, labels, numbers, pricing, progressions
from simulator import ledger as sim_ledger
from simulator import state as sim_state

bp = flask.Blueprint("usps", __name__, url_prefix="/usps")

CARRIER = "usps"
LABEL_JSON = "application/vnd.usps.labels+json"
# USPS imageType -> the simulator's label format.
IMAGE_TYPES = {"PDF": "PDF", "PNG": "PNG", "GIF": "GIF", "ZPL203DPI": "ZPL", "ZPL300DPI": "ZPL"}
# Extra service code -> (name, price).
EXTRA_SERVICES: dict[int, tuple[str, Decimal]] = {
    921: ("Signature Confirmation", Decimal("3.65")),
    922: ("Adult Signature Required", Decimal("8.40")),
    930: ("Insurance <= $500", Decimal("3.30")),
    931: ("Insurance > $500", Decimal("8.00")),
}
SKUS = {
    "USPS_GROUND_ADVANTAGE": "DUXP0XXXXC01010",
    "PRIORITY_MAIL": "DPXR0XXXXC01005",
    "PRIORITY_MAIL_EXPRESS": "DEXR0XXXXC01010",
}
PAYMENT_TOKEN_SECONDS = 8 * 3600
TRACK_BATCH_MAX = 35


class UspsError(Exception):
    """A request USPS would refuse, with its HTTP status, code and detail."""

    def __init__(self, status: int, code: str, detail: str, api: str = "") -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.api = status, code, detail, api


def sim() -> sim_state.Simulator:
    return flask.current_app.extensions["handoff_simulator"]


def error_response(status: int, code: str, detail: str, api: str = "") -> flask.Response:
    """Return USPS's ``ErrorMessage`` envelope."""
    title = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}.get(status, "Error")
    response = flask.jsonify(
        {
            "apiVersion": api or _api(),
            "error": {
                "code": str(status),
                "message": title,
                "errors": [{"status": str(status), "code": code, "title": title, "detail": detail}],
            },
        }
    )
    response.status_code = status
    return response


def _api() -> str:
    parts = flask.request.path.split("/")  # "", "usps", "labels", "v3", ...
    return f"/{parts[2]}/{parts[3]}" if len(parts) > 3 else ""


@bp.errorhandler(UspsError)
def _usps_error(exc: UspsError) -> flask.Response:
    return error_response(exc.status, exc.code, exc.detail, exc.api)


def _unavailable() -> flask.Response:
    return error_response(503, "SIM503", "The service is temporarily unavailable. Please try again later.")


def _malformed() -> flask.Response:
    return flask.Response('{"rateOptions": [{"totalBasePrice": 7.', status=200, mimetype="application/json")


def _guard(operation: str, normal: injection.Respond) -> flask.Response:
    return injection.guarded(sim(), CARRIER, operation, normal, _unavailable, _malformed)


def _require_bearer() -> None:
    scheme, _, token = flask.request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token or not sim().token_is_valid(token.strip(), CARRIER):
        raise UspsError(401, "SIM401", "The access token is missing, invalid or expired.")


def _payer() -> dict[str, Any]:
    """Return the PAYER role of the request's valid ``X-Payment-Authorization-Token``."""
    token = flask.request.headers.get("X-Payment-Authorization-Token", "").strip()
    found = sim().payment_tokens.get(token) if token else None
    if found is None or found["expires"] <= sim().real_time():
        raise UspsError(401, "SIM401P", "The payment authorization token is missing, invalid or expired.")
    return found


def _body() -> Any:
    body = flask.request.get_json(silent=True)
    if body is None:
        raise UspsError(400, "SIM400", "The request body must be JSON.")
    return body


def _object() -> dict[str, Any]:
    body = _body()
    if not isinstance(body, dict):
        raise UspsError(400, "SIM400", "The request body must be a JSON object.")
    return body


def _positive(value: Any, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        number = Decimal(0)
    if not number.is_finite() or number <= 0:
        raise UspsError(400, "SIM400", f"{what} must be a positive number.")
    return number


def _zip(value: Any, what: str) -> str:
    text = str(value or "")
    if len(text) != 5 or not text.isdigit():
        raise UspsError(400, "SIM400", f"{what} must be a 5-digit ZIP Code.")
    return text


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _zone(origin_zip: str, destination_zip: str) -> str:
    """A plausible zone 01-08 from how far apart the ZIP Codes' first three digits are."""
    distance = abs(int(origin_zip[:3]) - int(destination_zip[:3]))
    return f"{min(1 + distance // 100, 8):02d}"


def _services(mail_classes: list[str] | None) -> tuple[pricing.Service, ...]:
    services: tuple[pricing.Service, ...] = pricing.USPS_DOMESTIC
    if mail_classes:
        services = tuple(s for s in services if s.code in mail_classes)
        if not services:
            raise UspsError(400, "SIM400", f"No price for mail class {', '.join(mail_classes)}.")
    return services


def _quote(service: pricing.Service, body: dict[str, Any]) -> pricing.Quote:
    """Price a mail class by the package's weight (lb) and dimensions (in) through the shared pricing."""
    kg = units.to_kg(_positive(body.get("weight"), "weight"), "lb")
    dims = tuple(units.to_cm(_positive(body.get(side), side), "in") for side in ("length", "width", "height"))
    quote = pricing.quote(service, pricing.billable_kg(kg, (dims[0], dims[1], dims[2])), "USD")
    # USPS has no fuel surcharge: the postage is the whole price.
    return pricing.Quote(service, "USD", quote.total, Decimal("0.00"), quote.billable_kg)


def _rate(quote: pricing.Quote, body: dict[str, Any], zone: str) -> dict[str, Any]:
    return {
        "SKU": SKUS[quote.service.code],
        "description": f"{quote.service.name} Machinable Single-piece",
        "priceType": str(body.get("priceType") or "COMMERCIAL"),
        "price": _number(quote.total),
        "weight": _number(units.from_kg(quote.billable_kg, "lb").quantize(Decimal("0.01"))),
        "dimWeight": 0,
        "fees": [],
        "startDate": "2025-01-19",
        "warnings": [],
        "mailClass": quote.service.code,
        "zone": zone,
        "rateIndicator": str(body.get("rateIndicator") or "SP"),
        "processingCategory": str(body.get("processingCategory") or "MACHINABLE"),
        "destinationEntryFacilityType": "NONE",
        "productName": quote.service.name,
    }


def _extras(codes: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for code in codes if isinstance(codes, list) else []:
        if not isinstance(code, int) or code not in EXTRA_SERVICES:
            raise UspsError(400, "SIM400", f"Unknown extra service {code!r}.")
        name, price = EXTRA_SERVICES[code]
        found.append(
            {
                "extraService": str(code),
                "name": name,
                "price": _number(price),
                "SKU": f"DX{code}",
                "warnings": [],
            }
        )
    return found


# -- OAuth and payments ----------------------------------------------------------------------------------
@bp.post("/oauth2/v3/token")
def oauth_token() -> flask.Response:
    """Issue a client-credentials token (credentials in a JSON or form body)."""

    def normal() -> flask.Response:
        config = sim().config
        body = flask.request.get_json(silent=True)
        values = body if isinstance(body, dict) else flask.request.form
        if values.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
        if (
            values.get("client_id") != config.usps_client_id
            or values.get("client_secret") != config.usps_client_secret
        ):
            return _oauth_error(401, "invalid_client", "Invalid client credentials")
        token, ttl = sim().issue_token(config.usps_token_ttl, CARRIER)
        return flask.jsonify(
            {
                "access_token": token,
                "token_type": "Bearer",
                "issued_at": int(sim().clock.now().timestamp() * 1000),
                "expires_in": ttl,
                "status": "approved",
                "scope": "addresses service-delivery-standards prices tracking labels payments",
                "issuer": "https://keyc.usps.com/realms/USPS",
                "client_id": config.usps_client_id,
            }
        )

    return _guard("oauth", normal)


def _oauth_error(status: int, error: str, description: str) -> flask.Response:
    response = flask.jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


@bp.post("/payments/v3/payment-authorization")
def payment_authorization() -> flask.Response:
    """Authorize label purchases: a PAYER and a LABEL_OWNER role, each with CRID, MID and the account."""
    _require_bearer()

    def normal() -> flask.Response:
        body = _object()
        roles = {r.get("roleName"): r for r in body.get("roles") or [] if isinstance(r, dict)}
        for name in ("PAYER", "LABEL_OWNER"):
            role = roles.get(name)
            if role is None:
                raise UspsError(400, "SIM400", f"The {name} role is required.")
            for field in ("CRID", "MID", "accountType", "accountNumber"):
                if not role.get(field):
                    raise UspsError(400, "SIM400", f"{name} {field} is required.")
        token = f"sim-payment-{secrets.token_urlsafe(24)}"
        payer = roles["PAYER"]
        sim().payment_tokens[token] = {
            "accountNumber": str(payer["accountNumber"]),
            "accountType": str(payer["accountType"]),
            "MID": str(roles["LABEL_OWNER"]["MID"]),
            "CRID": str(payer["CRID"]),
            "expires": sim().real_time() + PAYMENT_TOKEN_SECONDS,
        }
        return flask.jsonify({"paymentAuthorizationToken": token, "roles": list(roles.values())})

    return _guard("payment_authorization", normal)


# -- Prices and service standards -------------------------------------------------------------------------
@bp.post("/prices/v3/base-rates/search")
def base_rates() -> flask.Response:
    """Price one mail class, rate indicator and processing category."""
    _require_bearer()

    def normal() -> flask.Response:
        body = _object()
        origin, destination = (
            _zip(body.get("originZIPCode"), "originZIPCode"),
            _zip(body.get("destinationZIPCode"), "destinationZIPCode"),
        )
        if not body.get("mailClass"):
            raise UspsError(400, "SIM400", "mailClass is required.")
        quote = _quote(_services([str(body["mailClass"])])[0], body)
        return flask.jsonify(
            {
                "totalBasePrice": _number(quote.total),
                "rates": [_rate(quote, body, _zone(origin, destination))],
            }
        )

    return _guard("rate", normal)


@bp.post("/prices/v3/total-rates/search")
def total_rates() -> flask.Response:
    """Price every mail class (or the ones asked for), with the extra services asked for."""
    _require_bearer()

    def normal() -> flask.Response:
        body = _object()
        origin, destination = (
            _zip(body.get("originZIPCode"), "originZIPCode"),
            _zip(body.get("destinationZIPCode"), "destinationZIPCode"),
        )
        classes = body.get("mailClasses") or ([body["mailClass"]] if body.get("mailClass") else None)
        extras = _extras(body.get("extraServices"))
        extra_total = sum((Decimal(str(e["price"])) for e in extras), Decimal(0))
        options = []
        for service in _services(classes):
            quote = _quote(service, body)
            options.append(
                {
                    "totalBasePrice": _number(quote.total),
                    "totalPrice": _number(quote.total + extra_total),
                    "rates": [_rate(quote, body, _zone(origin, destination))],
                    "extraServices": extras,
                }
            )
        return flask.jsonify({"rateOptions": options})

    return _guard("rate", normal)


@bp.get("/service-standards/v3/estimates")
def estimates() -> flask.Response:
    """Delivery estimates per mail class for an acceptance date (``mailClass`` one class or ALL)."""
    _require_bearer()

    def normal() -> flask.Response:
        args = flask.request.args
        _zip(args.get("originZIPCode"), "originZIPCode")
        _zip(args.get("destinationZIPCode"), "destinationZIPCode")
        try:
            accepted = date.fromisoformat(args.get("acceptanceDate") or sim().clock.now().date().isoformat())
        except ValueError:
            raise UspsError(400, "SIM400", "acceptanceDate must be YYYY-MM-DD.") from None
        wanted = args.get("mailClass") or "ALL"
        services = _services(None if wanted == "ALL" else [wanted])
        now = sim().clock.now()
        accepted_at = (
            now if accepted == now.date() else datetime.combine(accepted, day_time(12, 0), tzinfo=UTC)
        )

        def scheduled(s: pricing.Service) -> str:
            # The world's carrier estimate when a world is set (docs/WORLDS.md), else the service's days.
            estimate = sim().quoted_estimate(CARRIER, s.code, "US", "US", accepted_at)
            if estimate is not None:
                return f"{estimate.date}T18:00:00Z"
            return f"{accepted + timedelta(days=s.transit_days)}T18:00:00Z"

        return flask.jsonify(
            [
                {
                    "mailClass": s.code,
                    "destinationType": "STREET",
                    "effectiveAcceptanceDate": accepted.isoformat(),
                    "serviceStandard": f" {s.transit_days}",
                    "serviceStandardMessage": f"{s.transit_days}-Day",
                    "delivery": {
                        "scheduledDeliveryDateTime": scheduled(s),
                        "guaranteedDelivery": s.code == "PRIORITY_MAIL_EXPRESS",
                    },
                }
                for s in services
            ]
        )

    return _guard("estimates", normal)


# -- Labels -----------------------------------------------------------------------------------------------
def _address(node: Any, role: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise UspsError(400, "SIM400", f"{role} is required.")
    for field in ("streetAddress", "city", "state", "ZIPCode"):
        if not node.get(field):
            raise UspsError(400, "SIM400", f"{role}.{field} is required.")
    if not (node.get("firstName") or node.get("firm")):
        raise UspsError(400, "SIM400", f"{role} needs firstName or firm.")
    _zip(node["ZIPCode"], f"{role}.ZIPCode")
    return node


def _name(node: dict[str, Any]) -> str:
    return " ".join(filter(None, (node.get("firstName"), node.get("lastName")))) or str(
        node.get("firm") or ""
    )


# labels_update_1.yaml ImageInfo: "Labels with customs forms only support formats of PDF, TIFF, ZPL203DPI,
# ZPL300DPI, LABEL_BROKER, and NONE".
CUSTOMS_FORM_IMAGE_TYPES = frozenset({"PDF", "TIFF", "ZPL203DPI", "ZPL300DPI", "LABEL_BROKER", "NONE"})


def _check_customs_form(body: dict[str, Any], image_type: str, returning: bool) -> None:
    """Refuse a ``customsForm`` USPS would: not an object, 1 to 30 contents lines, its image types.

    Accepted forms are not recorded: the sale is the same as without one.
    """
    form = body.get("customsForm")
    if form is None:
        return
    if not isinstance(form, dict):
        raise UspsError(400, "SIM400", "customsForm must be an object.")
    contents = form.get("contents")
    if not returning and not form.get("customsContentType"):
        raise UspsError(400, "SIM400", "customsForm.customsContentType is required.")
    if not returning or contents is not None:
        if not isinstance(contents, list) or not 1 <= len(contents) <= 30:
            raise UspsError(400, "SIM400", "customsForm.contents must list 1 to 30 items.")
        for item in contents:
            if not isinstance(item, dict) or not item.get("itemDescription"):
                raise UspsError(400, "SIM400", "customsForm.contents[].itemDescription is required.")
    if image_type not in CUSTOMS_FORM_IMAGE_TYPES:
        raise UspsError(400, "SIM400", f"imageType {image_type!r} is not supported with a customs form.")


@bp.post("/labels/v3/label")
def label() -> flask.Response:
    """Sell a label against the payment token; JSON reply when asked (``Accept``), else multipart."""
    _require_bearer()

    def normal() -> flask.Response:
        payer = _payer()
        body = _object()
        image_type = str((body.get("imageInfo") or {}).get("imageType") or "PDF").upper()
        _check_customs_form(body, image_type, bool(flask.g.get("usps_return_label")))
        # Label Broker with includeLabelBrokerPDF: the label as a PDF, and a QR code (PNG) beside it.
        broker = image_type == "LABEL_BROKER" and bool(
            (body.get("imageInfo") or {}).get("includeLabelBrokerPDF")
        )
        if broker:
            image_type = "PDF"
        if image_type not in IMAGE_TYPES:
            raise UspsError(400, "SIM400", f"imageType {image_type!r} is not supported.")
        fmt = IMAGE_TYPES[image_type]
        to_address = _address(body.get("toAddress"), "toAddress")
        from_address = _address(body.get("fromAddress"), "fromAddress")
        package = body.get("packageDescription")
        if not isinstance(package, dict) or not package.get("mailClass"):
            raise UspsError(400, "SIM400", "packageDescription.mailClass is required.")
        returning = bool(flask.g.get("usps_return_label"))
        mail_class = str(package["mailClass"])
        if returning:
            if mail_class not in RETURN_MAIL_CLASSES:
                raise UspsError(400, "SIM400", f"mailClass {mail_class!r} is not a return service.")
            package = {**package, "mailClass": RETURN_MAIL_CLASSES[mail_class]}
        if (
            str(package.get("weightUOM") or "lb").lower() != "lb"
            or str(package.get("dimensionsUOM") or "in").lower() != "in"
        ):
            raise UspsError(400, "SIM400", "weights are in lb and dimensions in in.")
        service = _services([str(package["mailClass"])])[0]
        quote = _quote(service, package)
        extras = _extras(package.get("extraServices"))
        zone = _zone(from_address["ZIPCode"], to_address["ZIPCode"])
        references = [r for r in package.get("customerReference") or [] if isinstance(r, dict)]
        reference = (
            str(references[0].get("referenceNumber"))
            if references and references[0].get("referenceNumber")
            else None
        )
        simulator = sim()
        [serial] = simulator.serials(numbers.USPS_PACKAGE, 1)
        number = numbers.usps_tracking_number(service.code, payer["MID"], serial)
        now = simulator.clock.now()
        total = quote.total + sum((Decimal(str(e["price"])) for e in extras), Decimal(0))
        record = sim_ledger.LabelRecord(
            carrier=CARRIER,
            tracking_number=number,
            reference=reference,
            requested_at=now.isoformat(),
            service=service.code,
            label_format=fmt,
            charge_amount=f"{total}",
            charge_currency="USD",
            account=payer["accountNumber"],
            mailer_id=str(payer["MID"]),
            package_tracking_numbers=[number],
            origin_country="US",
            origin_city=str(from_address.get("city") or ""),
            origin_state=str(from_address.get("state") or ""),
            origin_postal_code=str(from_address["ZIPCode"]),
            destination_country="US",
            destination_city=str(to_address.get("city") or ""),
            destination_state=str(to_address.get("state") or ""),
            destination_postal_code=str(to_address["ZIPCode"]),
            shipper_name=_name(from_address),
            recipient_name=_name(to_address),
            weight_kg=f"{quote.billable_kg}",
            scenario=progressions.choose_scenario(
                simulator.config.seed, number, simulator.config.exception_share, progressions.USPS_EXCEPTIONS
            ),
            label_base64=labels.render_base64(fmt, number, CARRIER),
            return_type=mail_class if returning else "",
        )
        simulator.ledger.record(record)
        flask.g.sold_tracking_number = number
        metadata = {
            "labelAddress": {
                k: to_address.get(k)
                for k in (
                    "streetAddress",
                    "secondaryAddress",
                    "city",
                    "state",
                    "ZIPCode",
                    "ZIPPlus4",
                    "firstName",
                    "lastName",
                    "firm",
                )
                if to_address.get(k)
            },
            "routingInformation": f"420{to_address['ZIPCode']}",
            "trackingNumber": number,
            "postage": _number(quote.total),
            "extraServices": [{"name": "USPS Tracking", "price": 0, "SKU": "DXTX0XXXXCX0000"}, *extras],
            "zone": zone,
            "commitment": {
                "name": f"{service.transit_days} Day{'s' if service.transit_days > 1 else ''}",
                # The world's carrier estimate when a world is set (docs/WORLDS.md).
                "scheduleDeliveryDate": (
                    simulator.estimated_delivery(record) or now + timedelta(days=service.transit_days)
                )
                .date()
                .isoformat(),
            },
            "weightUOM": "LB",
            "weight": _number(units.from_kg(quote.billable_kg, "lb").quantize(Decimal("0.01"))),
            "dimensionalWeight": 0,
            "fees": [],
            "bannerText": "USPS TRACKING # USPS Ship",
            "SKU": SKUS[service.code],
        }
        if LABEL_JSON in flask.request.headers.get("Accept", ""):
            image_key = "returnLabelImage" if returning else "labelImage"
            if broker:
                metadata["labelBrokerID"] = f"LB{serial:012d}"[:32]
                metadata["labelBrokerQR"] = labels.render_base64("PNG", number, CARRIER)
            return flask.jsonify({**metadata, image_key: record.label_base64})
        boundary = secrets.token_hex(8).upper()
        content = (
            f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{json.dumps(metadata)}\r\n"
            f"--{boundary}\r\nFile Name: label.{fmt.lower()}\r\nContent-Type: application/{fmt.lower()}\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{record.label_base64}\r\n--{boundary}--\r\n"
        )
        return flask.Response(content, status=200, mimetype=f"multipart/form-data; boundary={boundary}")

    return _guard("label", normal)


# labels_update_1.yaml /return-label: each return service, and the outbound mail class it is priced as here.
RETURN_MAIL_CLASSES = {
    "USPS_GROUND_ADVANTAGE_RETURN_SERVICE": "USPS_GROUND_ADVANTAGE",
    "PRIORITY_MAIL_RETURN_SERVICE": "PRIORITY_MAIL",
    "PRIORITY_MAIL_EXPRESS_RETURN_SERVICE": "PRIORITY_MAIL_EXPRESS",
}


@bp.post("/labels/v3/return-label")
def return_label() -> flask.Response:
    """Sell a return label (``ReturnLabelRequest``): the label endpoint's sale, in a return service."""
    flask.g.usps_return_label = True
    return label()


@bp.delete("/labels/v3/label/<tracking_number>")
def cancel(tracking_number: str) -> flask.Response:
    """Cancel a label: CANCELED before USPS has it, DISPUTED (a refund request) once it moved."""
    _require_bearer()

    def normal() -> flask.Response:
        payer = _payer()
        simulator = sim()
        record = simulator.ledger.get(tracking_number)
        if record is None or record.carrier != CARRIER or record.account != payer["accountNumber"]:
            raise UspsError(404, "SIM404", f"No label {tracking_number} was bought on this account.")
        if record.voided:
            raise UspsError(400, "SIM409", f"Label {tracking_number} was already canceled.")
        moved = [step for _, step in simulator.events_so_far(record) if step.code != "GX"]
        simulator.ledger.void(record.tracking_number, simulator.clock.now())
        if moved:
            return flask.jsonify(
                {
                    "trackingNumber": tracking_number,
                    "status": "DISPUTED",
                    "disputeId": f"SIM{secrets.randbelow(10**9):09d}",
                }
            )
        return flask.jsonify({"trackingNumber": tracking_number, "status": "CANCELED"})

    return _guard("void", normal)


# -- Tracking ---------------------------------------------------------------------------------------------
def tracking_event(when: datetime, step: progressions.Step) -> dict[str, Any]:
    """Return one v3r2 ``trackingEvents`` entry (the same for a poll and a push)."""
    event: dict[str, Any] = {
        "eventType": step.description,
        "eventTimestamp": when.isoformat(timespec="seconds"),
        "GMTTimestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "GMTOffset": "+00:00",
        "eventCode": step.code,
        "eventCity": step.place.city.upper(),
        "eventState": step.place.state,
        "eventZIPCode": step.place.postal_code,
        "eventCountry": step.place.country if step.place.country != "US" else "",
    }
    if step.delivered:
        event["recipientName"] = step.signatory
    return {k: v for k, v in event.items() if v != ""}


def tracking_detail(
    record: sim_ledger.LabelRecord,
    events: list[tuple[datetime, progressions.Step]],
    estimate: datetime | None = None,
) -> dict[str, Any]:
    """Return a v3r2 ``TrackingDetail`` with the events so far, newest first.

    ``estimate`` is the world's carrier estimate (``Simulator.estimated_delivery``) when a world is set."""
    sold = datetime.fromisoformat(record.requested_at)
    service = next((s for s in pricing.USPS_DOMESTIC if s.code == record.service), pricing.USPS_DOMESTIC[0])
    latest = events[-1][1] if events else None
    detail: dict[str, Any] = {
        "statusCode": "200",
        "trackingNumber": record.tracking_number,
        "mailClass": service.name,
        "originCity": record.origin_city.upper(),
        "originState": record.origin_state,
        "originZIP": record.origin_postal_code,
        "destinationCity": record.destination_city.upper(),
        "destinationState": record.destination_state,
        "destinationZIP": record.destination_postal_code,
        "status": latest.description if latest else "Pre-Shipment",
        "statusSummary": f"{latest.description} ({record.tracking_number})" if latest else "Label created",
        "trackingEvents": [tracking_event(when, step) for when, step in reversed(events)],
    }
    if not (latest and latest.delivered):
        expected = estimate or sold + timedelta(days=service.transit_days)
        detail["deliveryDateExpectation"] = {"expectedDeliveryDate": expected.date().isoformat()}
    return detail


@bp.post("/tracking/v3r2/tracking")
def track() -> flask.Response:
    """Track 1 to 35 numbers: 200 when all are known, 207 with per-number errors otherwise."""
    _require_bearer()

    def normal() -> flask.Response:
        body = _body()
        if not isinstance(body, list) or not 1 <= len(body) <= TRACK_BATCH_MAX:
            raise UspsError(400, "SIM400", "The body is a list of 1 to 35 {trackingNumber} objects.")
        simulator = sim()
        items, missing = [], False
        for entry in body:
            number = str((entry or {}).get("trackingNumber") or "").strip() if isinstance(entry, dict) else ""
            record = simulator.ledger.get(number) if number else None
            if record is None or record.carrier != CARRIER:
                missing = True
                items.append(
                    {
                        "statusCode": "404",
                        "trackingNumber": number,
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
                )
            else:
                items.append(
                    tracking_detail(
                        record, simulator.events_so_far(record), simulator.estimated_delivery(record)
                    )
                )
        response = flask.jsonify(items)
        response.status_code = 207 if missing else 200
        return response

    return _guard("track", normal)


def push_envelope(
    detail: dict[str, Any], timestamp: str, subscription_id: str = "sim-subscription"
) -> dict[str, Any]:
    """Return a Subscriptions - Tracking push: the detail travels as a JSON string in ``payload``."""
    return {
        "subscriptionId": subscription_id,
        "subscriptionType": "TRACKING",
        "timestamp": timestamp,
        "payload": json.dumps(detail, separators=(",", ":")),
    }


def push_signature(secret: str, envelope: dict[str, Any]) -> str:
    """Return ``X-HMAC``: Base64 HMAC-SHA256 of the timestamp and payload values concatenated."""
    message = (envelope["timestamp"] + envelope["payload"]).encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
