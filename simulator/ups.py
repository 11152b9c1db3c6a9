"""The UPS REST subset: OAuth, Rating, Shipping, Void, Label Recovery, Tracking and Track Alert.

Paths, headers and JSON field names follow UPS's published OpenAPI specs (see
../shared/carriers/ups/). Error codes not published by UPS are the simulator's own and are listed
in docs/SIMULATOR.md; the envelope shape is always UPS's ``{"response": {"errors": [...]}}``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import flask

from schemas import units
from simulator import injection, labels, numbers, pricing, progressions, world
from simulator import ledger as sim_ledger
from simulator import state as sim_state

bp = flask.Blueprint("ups", __name__)

CARRIER = "ups"
VERSION = re.compile(r"^v\d{1,4}$")
REQUEST_OPTIONS = {
    "rate": "Rate",
    "shop": "Shop",
    "ratetimeintransit": "Ratetimeintransit",
    "shoptimeintransit": "Shoptimeintransit",
}
LABEL_FORMATS = {"GIF": "GIF", "PNG": "PNG", "ZPL": "ZPL", "EPL": "EPL2", "SPL": "SPL"}
WEIGHT_UNITS = {"KGS": "kg", "LBS": "lb"}
LENGTH_UNITS = {"CM": "cm", "IN": "in"}
# Versions from v2403 on always return PackageResults and PackageLevelResults as arrays.
ARRAY_VERSION = 2403
SUBSCRIPTION_DAYS = 14


class UpsError(Exception):
    """A request UPS would refuse, with its HTTP status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def sim() -> sim_state.Simulator:
    return flask.current_app.extensions["handoff_simulator"]


def error_response(status: int, code: str, message: str) -> flask.Response:
    """Return UPS's error envelope."""
    response = flask.jsonify({"response": {"errors": [{"code": code, "message": message}]}})
    response.status_code = status
    return response


@bp.errorhandler(UpsError)
def _ups_error(exc: UpsError) -> flask.Response:
    return error_response(exc.status, exc.code, exc.message)


def _unavailable() -> flask.Response:
    return error_response(503, "SIM503", "The service is temporarily unavailable. Please try again later.")


def _malformed() -> flask.Response:
    return flask.Response('{"response": {"status": "ok", "resul', status=200, mimetype="application/json")


def _guard(operation: str, normal: injection.Respond) -> flask.Response:
    return injection.guarded(sim(), CARRIER, operation, normal, _unavailable, _malformed)


def _require_bearer() -> None:
    header = flask.request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token or not sim().token_is_valid(token.strip()):
        raise UpsError(401, "250002", "Invalid Authentication Information.")


def _require_headers(*names: str) -> None:
    for name in names:
        if not flask.request.headers.get(name):
            raise UpsError(400, "SIM400", f"Missing required header: {name}")


def _check_version(version: str) -> int:
    if not VERSION.match(version):
        raise UpsError(400, "SIM404", f"Invalid version {version!r} in path")
    return int(version[1:])


def _json_body(root: str) -> dict[str, Any]:
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get(root), dict):
        raise UpsError(400, "SIM400", f"The request body must be JSON with a {root} object")
    return body[root]


def _as_list(value: Any) -> list[Any]:
    """UPS accepts a single object wherever it accepts an array."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _decimal(value: Any, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise UpsError(400, "SIM400", f"Invalid {what}: {value!r}") from None
    if not number.is_finite() or number <= 0:
        raise UpsError(400, "SIM400", f"Invalid {what}: {value!r}")
    return number


def _address(party: Any, role: str) -> dict[str, Any]:
    address = _get(party, "Address")
    country = _get(address, "CountryCode")
    if not isinstance(country, str) or len(country) != 2:
        raise UpsError(400, "SIM400", f"Missing or invalid {role} CountryCode")
    return address


def _packages(shipment: dict[str, Any]) -> tuple[Decimal, tuple[Decimal, Decimal, Decimal] | None, str, int]:
    """Return total kg, the first package's dims in cm, the request's weight unit and the package count."""
    packages = _as_list(shipment.get("Package"))
    if not packages:
        raise UpsError(400, "SIM400", "Missing required element: Package")
    total = Decimal(0)
    dims: tuple[Decimal, Decimal, Decimal] | None = None
    unit_code = "KGS"
    for package in packages:
        weight = _get(package, "PackageWeight")
        unit_code = str(_get(weight, "UnitOfMeasurement", "Code") or "LBS").upper()
        if unit_code not in WEIGHT_UNITS:
            raise UpsError(400, "SIM400", f"Invalid PackageWeight UnitOfMeasurement Code {unit_code!r}")
        total += units.to_kg(
            _decimal(_get(weight, "Weight"), "PackageWeight Weight"), WEIGHT_UNITS[unit_code]
        )
        box = _get(package, "Dimensions")
        if dims is None and isinstance(box, dict):
            length_unit = str(_get(box, "UnitOfMeasurement", "Code") or "IN").upper()
            if length_unit not in LENGTH_UNITS:
                raise UpsError(400, "SIM400", f"Invalid Dimensions UnitOfMeasurement Code {length_unit!r}")
            length, width, height = (
                units.to_cm(_decimal(box.get(side), f"Dimensions {side}"), LENGTH_UNITS[length_unit])
                for side in ("Length", "Width", "Height")
            )
            dims = (length, width, height)
    return total, dims, unit_code, len(packages)


def _money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"CurrencyCode": currency, "MonetaryValue": f"{amount}"}


def _billing_weight(kg: Decimal, unit_code: str, width: int | None = None) -> dict[str, Any]:
    value = kg if unit_code == "KGS" else units.from_kg(kg, "lb").quantize(Decimal("0.1"))
    description = "Kilograms" if unit_code == "KGS" else "Pounds"
    text = f"{value:0{width}.1f}" if width else f"{value}"
    return {"UnitOfMeasurement": {"Code": unit_code, "Description": description}, "Weight": text}


NEGOTIATED_SHARE = Decimal("0.88")


def _negotiated(shipment: dict[str, Any], quote: pricing.Quote) -> Decimal | None:
    """Return the account's negotiated total when the request asked for negotiated rates."""
    if _get(shipment, "ShipmentRatingOptions", "NegotiatedRatesIndicator") is None:
        return None
    return (quote.total * NEGOTIATED_SHARE).quantize(quote.total)


def _response_block(request: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"ResponseStatus": {"Code": "1", "Description": "Success"}}
    context = _get(request, "Request", "TransactionReference", "CustomerContext")
    if context:
        block["TransactionReference"] = {"CustomerContext": context}
    return block


def _rated_shipment(
    quote: pricing.Quote,
    unit_code: str,
    packages: int,
    now: datetime,
    with_transit: bool,
    negotiated: Decimal | None = None,
    estimate: world.Estimate | None = None,
) -> dict[str, Any]:
    currency = quote.currency
    zero = Decimal(0).quantize(quote.total)
    per_package = {
        "TransportationCharges": _money(quote.transport, currency),
        "ServiceOptionsCharges": _money(zero, currency),
        "TotalCharges": _money(quote.total, currency),
    }
    rated: dict[str, Any] = {
        "Service": {"Code": quote.service.code, "Description": quote.service.name},
        "RatedShipmentAlert": [
            {"Code": "110971", "Description": "Your invoice may vary from the displayed reference rates"}
        ],
        "BillingWeight": _billing_weight(quote.billable_kg, unit_code),
        "TransportationCharges": _money(quote.transport, currency),
        "BaseServiceCharge": _money(quote.transport, currency),
        "ItemizedCharges": [
            {
                "Code": "375",
                "Description": "FUEL SURCHARGE",
                "CurrencyCode": currency,
                "MonetaryValue": f"{quote.fuel}",
            }
        ],
        "ServiceOptionsCharges": _money(quote.fuel, currency),
        "TotalCharges": _money(quote.total, currency),
        "RatedPackage": [dict(per_package) for _ in range(packages)],
        "GuaranteedDelivery": {"BusinessDaysInTransit": str(quote.service.transit_days)},
    }
    if negotiated is not None:
        rated["NegotiatedRateCharges"] = {"TotalCharge": _money(negotiated, currency)}
    if with_transit:
        # The world's carrier estimate when a world is set (docs/WORLDS.md), else the service's days.
        arrival = estimate.at if estimate else now + timedelta(days=quote.service.transit_days)
        days = estimate.days if estimate else quote.service.transit_days
        rated["TimeInTransit"] = {
            "PickupDate": now.strftime("%Y%m%d"),
            "ServiceSummary": {
                "Service": {"Description": quote.service.name},
                "EstimatedArrival": {
                    "Arrival": {"Date": arrival.strftime("%Y%m%d"), "Time": "230000"},
                    "BusinessDaysInTransit": str(days),
                    "Pickup": {"Date": now.strftime("%Y%m%d"), "Time": "180000"},
                    "DayOfWeek": arrival.strftime("%A").upper(),
                },
            },
        }
    return rated


def _quotes(shipment: dict[str, Any], service_code: str | None) -> tuple[list[pricing.Quote], str, int]:
    origin = _address(shipment.get("ShipFrom") or shipment.get("Shipper"), "Shipper")["CountryCode"].upper()
    destination = _address(shipment.get("ShipTo"), "ShipTo")["CountryCode"].upper()
    kg, dims, unit_code, count = _packages(shipment)
    services = pricing.ups_services(origin, destination)
    if service_code is not None:
        services = tuple(s for s in services if s.code == service_code)
        if not services:
            raise UpsError(
                400, "111100", "The requested service is unavailable between the selected locations."
            )
    billable = pricing.billable_kg(kg, dims)
    currency = pricing.currency_for(origin)
    return [pricing.quote(service, billable, currency) for service in services], unit_code, count


# -- OAuth ---------------------------------------------------------------------------------------
@bp.post("/security/v1/oauth/token")
def oauth_token() -> flask.Response:
    """Issue a client-credentials bearer token (HTTP Basic client id and secret)."""

    def normal() -> flask.Response:
        config = sim().config
        auth = flask.request.headers.get("Authorization", "")
        scheme, _, encoded = auth.partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id, secret = "", ""
        if scheme.lower() != "basic" or not (
            hmac.compare_digest(client_id, config.ups_client_id)
            and hmac.compare_digest(secret, config.ups_client_secret)
        ):
            return error_response(401, "10401", "ClientId is Invalid")
        if flask.request.form.get("grant_type") != "client_credentials":
            return error_response(400, "10400", "Invalid/Missing grant_type")
        token, ttl = sim().issue_token()
        now = sim().clock.now()
        return flask.jsonify(
            {
                "token_type": "Bearer",
                "issued_at": str(int(now.timestamp() * 1000)),
                "client_id": client_id,
                "access_token": token,
                "scope": "",
                "expires_in": str(ttl),
                "refresh_count": "0",
                "status": "approved",
            }
        )

    return _guard("oauth", normal)


# -- Rating --------------------------------------------------------------------------------------
@bp.post("/api/rating/<version>/<requestoption>")
def rate(version: str, requestoption: str) -> flask.Response:
    """Rate one service (Rate) or every service (Shop), optionally with time in transit."""
    _require_bearer()
    _check_version(version)
    option = REQUEST_OPTIONS.get(requestoption.lower())
    if option is None:
        raise UpsError(400, "SIM400", f"Invalid requestoption {requestoption!r}")

    def normal() -> flask.Response:
        request = _json_body("RateRequest")
        shipment = request.get("Shipment")
        if not isinstance(shipment, dict):
            raise UpsError(400, "SIM400", "Missing required element: Shipment")
        single = option in ("Rate", "Ratetimeintransit")
        service_code = _get(shipment, "Service", "Code") if single else None
        if single and not service_code:
            raise UpsError(400, "SIM400", "Missing required element: Shipment Service Code")
        quotes, unit_code, count = _quotes(shipment, service_code)
        now = sim().clock.now()
        with_transit = option.endswith("timeintransit")
        origin = _address(shipment.get("ShipFrom") or shipment.get("Shipper"), "Shipper")["CountryCode"]
        destination = _address(shipment.get("ShipTo"), "ShipTo")["CountryCode"]
        return flask.jsonify(
            {
                "RateResponse": {
                    "Response": {
                        **_response_block(request),
                        "Alert": [
                            {
                                "Code": "110971",
                                "Description": "Your invoice may vary from the displayed reference rates",
                            }
                        ],
                    },
                    "RatedShipment": [
                        _rated_shipment(
                            q,
                            unit_code,
                            count,
                            now,
                            with_transit,
                            _negotiated(shipment, q),
                            sim().quoted_estimate(CARRIER, q.service.code, origin, destination, now),
                        )
                        for q in quotes
                    ],
                }
            }
        )

    return _guard("rate", normal)


# -- Shipping ------------------------------------------------------------------------------------
def _reference(shipment: dict[str, Any], request: dict[str, Any]) -> str | None:
    """Return the shipper's reference: shipment level, else first package, else the customer context."""
    for ref in _as_list(shipment.get("ReferenceNumber")):
        if _get(ref, "Value"):
            return str(ref["Value"])
    for package in _as_list(shipment.get("Package")):
        for ref in _as_list(_get(package, "ReferenceNumber")):
            if _get(ref, "Value"):
                return str(ref["Value"])
    context = _get(request, "Request", "TransactionReference", "CustomerContext")
    return str(context) if context else None


@bp.post("/api/shipments/<version>/ship")
def ship(version: str) -> flask.Response:
    """Sell a label: 1Z tracking numbers with a valid check digit and a base64 label image."""
    _require_bearer()
    number = _check_version(version)

    def normal() -> flask.Response:
        request = _json_body("ShipmentRequest")
        if not _get(request, "Request", "RequestOption"):
            raise UpsError(400, "SIM400", "Missing required element: Request RequestOption")
        shipment = request.get("Shipment")
        if not isinstance(shipment, dict):
            raise UpsError(400, "SIM400", "Missing required element: Shipment")
        shipper = shipment.get("Shipper") or {}
        shipper_number = _get(shipper, "ShipperNumber")
        if not shipper_number:
            raise UpsError(400, "120100", "Missing or invalid shipper number")
        for role in ("Shipper", "ShipTo"):
            if not _get(shipment, role, "Name"):
                raise UpsError(400, "SIM400", f"Missing required element: {role} Name")
        service_code = _get(shipment, "Service", "Code")
        if not service_code:
            raise UpsError(400, "SIM400", "Missing required element: Service Code")
        return_type = str(_get(shipment, "ReturnService", "Code") or "")
        if return_type and not all(_get(p, "Description") for p in _as_list(shipment.get("Package"))):
            # Shipping.yaml Package Description: "Required for shipment with return service".
            raise UpsError(400, "SIM400", "Missing required element: Package Description (return service)")
        fmt = str(_get(request, "LabelSpecification", "LabelImageFormat", "Code") or "GIF").upper()
        if fmt not in LABEL_FORMATS:
            raise UpsError(
                400, "SIM400", f"Invalid LabelImageFormat Code {fmt!r}: use GIF, PNG, ZPL, EPL or SPL"
            )
        quotes, unit_code, count = _quotes(shipment, str(service_code))
        quote = quotes[0]
        negotiated = _negotiated(shipment, quote)
        charged = negotiated if negotiated is not None else quote.total
        simulator = sim()
        package_numbers = [
            numbers.ups_tracking_number(str(shipper_number), str(service_code), serial)
            for serial in simulator.serials(numbers.UPS_PACKAGE, count)
        ]
        origin = _address(shipment.get("ShipFrom") or shipper, "Shipper")
        destination = _address(shipment.get("ShipTo"), "ShipTo")
        reference = _reference(shipment, request)
        now = simulator.clock.now()
        graphic = labels.render_base64(fmt, package_numbers[0], CARRIER)
        label = sim_ledger.LabelRecord(
            carrier=CARRIER,
            tracking_number=package_numbers[0],
            reference=reference,
            requested_at=now.isoformat(),
            service=str(service_code),
            label_format=fmt,
            charge_amount=f"{charged}",
            charge_currency=quote.currency,
            account=str(shipper_number),
            package_tracking_numbers=package_numbers,
            origin_country=origin["CountryCode"].upper(),
            origin_city=str(origin.get("City") or ""),
            origin_state=str(origin.get("StateProvinceCode") or ""),
            origin_postal_code=str(origin.get("PostalCode") or ""),
            destination_country=destination["CountryCode"].upper(),
            destination_city=str(destination.get("City") or ""),
            destination_state=str(destination.get("StateProvinceCode") or ""),
            destination_postal_code=str(destination.get("PostalCode") or ""),
            shipper_name=str(shipper.get("Name") or ""),
            recipient_name=str(_get(shipment, "ShipTo", "Name") or ""),
            weight_kg=f"{quote.billable_kg}",
            scenario=progressions.choose_scenario(
                simulator.config.seed,
                package_numbers[0],
                simulator.config.exception_share,
                progressions.UPS_EXCEPTIONS,
            ),
            label_base64=graphic,
            return_type=return_type,
        )
        simulator.ledger.record(label)
        flask.g.sold_tracking_number = label.tracking_number
        package_results = []
        for tracking_number in package_numbers:
            image = labels.render_base64(fmt, tracking_number, CARRIER)
            shipping_label: dict[str, Any] = {
                "ImageFormat": {"Code": fmt, "Description": LABEL_FORMATS[fmt]},
                "GraphicImage": image,
            }
            if fmt in ("GIF", "PNG"):
                html = f'<html><body><img src="label{tracking_number}.{fmt.lower()}"></body></html>'
                shipping_label["HTMLImage"] = base64.b64encode(html.encode()).decode("ascii")
            package_results.append(
                {
                    "TrackingNumber": tracking_number,
                    "BaseServiceCharge": _money(quote.transport, quote.currency),
                    "ServiceOptionsCharges": _money(quote.fuel, quote.currency),
                    "ShippingLabel": shipping_label,
                }
            )
        results: dict[str, Any] = {
            "ShipmentCharges": {
                "BaseServiceCharge": _money(quote.transport, quote.currency),
                "TransportationCharges": _money(quote.transport, quote.currency),
                "ItemizedCharges": [
                    {
                        "Code": "375",
                        "Description": "FUEL SURCHARGE",
                        "CurrencyCode": quote.currency,
                        "MonetaryValue": f"{quote.fuel}",
                    }
                ],
                "ServiceOptionsCharges": _money(quote.fuel, quote.currency),
                "TotalCharges": _money(quote.total, quote.currency),
            },
            # Shipping.yaml fixes this Weight at exactly 8 characters (Rating allows up to 5).
            "BillingWeight": _billing_weight(quote.billable_kg, unit_code, width=8),
            **(
                {"NegotiatedRateCharges": {"TotalCharge": _money(negotiated, quote.currency)}}
                if negotiated
                else {}
            ),
            "ShipmentIdentificationNumber": package_numbers[0],
            "PackageResults": package_results if number >= ARRAY_VERSION or count > 1 else package_results[0],
        }
        return flask.jsonify(
            {"ShipmentResponse": {"Response": _response_block(request), "ShipmentResults": results}}
        )

    return _guard("ship", normal)


@bp.delete("/api/shipments/<version>/void/cancel/<shipmentidentificationnumber>")
def void(version: str, shipmentidentificationnumber: str) -> flask.Response:
    """Void a label that has not been picked up yet ("already voided" also answers success)."""
    _require_bearer()
    number = _check_version(version)

    def normal() -> flask.Response:
        simulator = sim()
        label = simulator.ledger.get(shipmentidentificationnumber)
        if label is None or label.carrier != CARRIER or label.tracking_number != shipmentidentificationnumber:
            raise UpsError(400, "190100", "No shipment found within the allowed void period")
        if not label.voided:
            picked_up = [step for _, step in simulator.events_so_far(label) if step.type != "M"]
            if picked_up:
                raise UpsError(400, "190117", "The shipment has already been picked up and cannot be voided")
            simulator.ledger.void(label.tracking_number, simulator.clock.now())
        voided = {"Code": "1", "Description": "Voided"}
        package_results = [
            {"TrackingNumber": tn, "Status": dict(voided)} for tn in label.package_tracking_numbers
        ]
        return flask.jsonify(
            {
                "VoidShipmentResponse": {
                    "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
                    "SummaryResult": {"Status": {"Code": "1", "Description": "Success"}},
                    "PackageLevelResults": package_results
                    if number >= ARRAY_VERSION or len(package_results) > 1
                    else package_results[0],
                }
            }
        )

    return _guard("void", normal)


@bp.post("/api/labels/<version>/recovery")
def label_recovery(version: str) -> flask.Response:
    """Recover a label by tracking number or by the shipper's reference (the "did it happen?" check)."""
    _require_bearer()
    _check_version(version)

    def normal() -> flask.Response:
        request = _json_body("LabelRecoveryRequest")
        simulator = sim()
        tracking_number = request.get("TrackingNumber")
        reference = _get(request, "ReferenceValues", "ReferenceNumber", "Value")
        if tracking_number:
            found = [label for label in [simulator.ledger.get(str(tracking_number))] if label is not None]
        elif reference:
            found = simulator.ledger.by_reference(str(reference), carrier=CARRIER)
        else:
            raise UpsError(400, "SIM400", "Missing required element: TrackingNumber or ReferenceValues")
        found = [label for label in found if label.carrier == CARRIER and not label.voided]
        if not found:
            raise UpsError(400, "120541", "No label was found for the given tracking number or reference")
        label = found[-1]
        fmt = str(
            _get(request, "LabelSpecification", "LabelImageFormat", "Code") or label.label_format
        ).upper()
        if fmt not in LABEL_FORMATS:
            fmt = label.label_format
        results = [
            {
                "TrackingNumber": tn,
                "LabelImage": {
                    "LabelImageFormat": {"Code": fmt},
                    "GraphicImage": labels.render_base64(fmt, tn, CARRIER),
                },
            }
            for tn in label.package_tracking_numbers
        ]
        return flask.jsonify(
            {
                "LabelRecoveryResponse": {
                    "Response": _response_block(request),
                    "ShipmentIdentificationNumber": label.tracking_number,
                    "LabelResults": results,
                }
            }
        )

    return _guard("label_recovery", normal)


# -- Tracking ------------------------------------------------------------------------------------
def _activity(when: datetime, step: progressions.Step) -> dict[str, Any]:
    address = {
        "city": step.place.city,
        "stateProvince": step.place.state,
        "countryCode": step.place.country,
        "country": step.place.country,
    }
    if step.delivered and step.place.postal_code:
        address["postalCode"] = step.place.postal_code
    status = {
        "type": step.type,
        "code": step.code,
        "description": step.description,
        "simplifiedTextDescription": step.description,
    }
    if step.status_code:
        status["statusCode"] = step.status_code
    return {
        "location": {"address": address},
        "status": status,
        "date": when.strftime("%Y%m%d"),
        "time": when.strftime("%H%M%S"),
        "gmtDate": when.strftime("%Y%m%d"),
        "gmtTime": when.strftime("%H%M%S"),
        "gmtOffset": "+00:00",
        "logicalScan": step.type in ("M", "MV"),
    }


def package_view(
    label: sim_ledger.LabelRecord, tracking_number: str, return_signature: bool
) -> dict[str, Any]:
    """Return the Track API ``package`` object for one package of a label."""
    simulator = sim()
    events = simulator.events_so_far(label)
    activities = [_activity(when, step) for when, step in reversed(events)]
    sold = datetime.fromisoformat(label.requested_at)
    delivered = [(when, step) for when, step in events if step.delivered]
    package: dict[str, Any] = {
        "trackingNumber": tracking_number,
        "activity": activities,
        "packageCount": len(label.package_tracking_numbers),
        "service": {"code": label.service, "description": label.service},
        "referenceNumber": [{"type": "SHIPMENT", "number": label.reference}] if label.reference else [],
        "weight": {"unitOfMeasurement": "KGS", "weight": label.weight_kg},
        "packageAddress": [
            {
                "type": "ORIGIN",
                "name": label.shipper_name,
                "address": {"city": label.origin_city, "countryCode": label.origin_country},
            },
            {
                "type": "DESTINATION",
                "name": label.recipient_name,
                "address": {"city": label.destination_city, "countryCode": label.destination_country},
            },
        ],
    }
    if activities:
        package["currentStatus"] = dict(activities[0]["status"])
        package["statusCode"] = activities[0]["status"].get("statusCode", "")
        package["statusDescription"] = activities[0]["status"]["description"]
    if delivered:
        when, step = delivered[-1]
        package["deliveryDate"] = [{"type": "DEL", "date": when.strftime("%Y%m%d")}]
        package["deliveryTime"] = {"type": "DEL", "endTime": when.strftime("%H%M%S")}
        info: dict[str, Any] = {"location": "Front Door", "receivedBy": step.signatory}
        if return_signature:
            info["signature"] = {"image": labels.render_base64("GIF", tracking_number, CARRIER)}
        package["deliveryInformation"] = info
        package["ucixStatus"] = "C"
    else:
        # The world's carrier estimate when a world is set (docs/WORLDS.md), else the next day.
        scheduled = simulator.estimated_delivery(label) or sold + timedelta(days=1)
        package["deliveryDate"] = [{"type": "SDD", "date": scheduled.strftime("%Y%m%d")}]
        package["deliveryTime"] = {"type": "EOD", "endTime": "230000"}
        package["ucixStatus"] = "O"
    return package


@bp.get("/api/track/v1/details/<inquiryNumber>")
def track(inquiryNumber: str) -> flask.Response:
    """Return the activity of one package so far, most recent first."""
    _require_bearer()
    _require_headers("transId", "transactionSrc")

    def normal() -> flask.Response:
        label = sim().ledger.get(inquiryNumber)
        if label is None or label.carrier != CARRIER:
            raise UpsError(404, "TW0001", "Tracking Information Not Found")
        return_signature = flask.request.args.get("returnSignature", "false").lower() == "true"
        package = package_view(label, inquiryNumber, return_signature)
        return flask.jsonify(
            {"trackResponse": {"shipment": [{"inquiryNumber": inquiryNumber, "package": [package]}]}}
        )

    return _guard("track", normal)


@bp.get("/api/track/v1/reference/details/<referenceNumber>")
def track_by_reference(referenceNumber: str) -> flask.Response:
    """Return the packages shipped under a shipper reference."""
    _require_bearer()
    _require_headers("transId", "transactionSrc")

    def normal() -> flask.Response:
        found = sim().ledger.by_reference(referenceNumber, carrier=CARRIER)
        if not found:
            raise UpsError(404, "TW0001", "Tracking Information Not Found")
        packages = [package_view(label, label.tracking_number, False) for label in found]
        return flask.jsonify(
            {"trackResponse": {"shipment": [{"inquiryNumber": referenceNumber, "package": packages}]}}
        )

    return _guard("track", normal)


# -- Track Alert ---------------------------------------------------------------------------------
def _subscribe(version: str, body: dict[str, Any], destination: dict[str, Any] | None) -> flask.Response:
    numbers_requested = body.get("trackingNumberList")
    if not isinstance(numbers_requested, list) or not numbers_requested:
        raise UpsError(
            400, "VSS100", "trackingNumberList is required. The Subscription request has been rejected."
        )
    if len(numbers_requested) > 100:
        raise UpsError(
            400, "VSS220", "More than 100 tracking numbers. The Subscription request has been rejected."
        )
    simulator = sim()
    now = simulator.clock.now()
    valid, invalid = [], []
    for number in numbers_requested:
        if isinstance(number, str) and numbers.UPS_TRACKING.match(number.strip()):
            valid.append(number.strip())
        else:
            invalid.append(str(number))
    for number in valid:
        simulator.subscriptions[number] = sim_state.Subscription(
            tracking_number=number,
            version=version,
            subscribed_at=now,
            expires_at=now + timedelta(days=SUBSCRIPTION_DAYS),
            url=(destination or {}).get("url"),
            credential=(destination or {}).get("credential"),
            credential_type=(destination or {}).get("credentialType"),
        )
    return flask.jsonify({"validTrackingNumbers": valid, "invalidTrackingNumbers": invalid})


@bp.post("/api/track/v1/subscription/standard/package")
def subscribe_v1() -> flask.Response:
    """Track Alert v1: subscribe packages, with the webhook URL and credential in the request."""
    _require_bearer()
    _require_headers("transId", "transactionSrc")

    def normal() -> flask.Response:
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict):
            raise UpsError(400, "VSS000", "Invalid request body. The Subscription request has been rejected.")
        if not body.get("locale"):
            raise UpsError(400, "VSS300", "Locale is required. The Subscription request has been rejected.")
        destination = body.get("destination")
        if not isinstance(destination, dict) or not destination.get("url"):
            raise UpsError(
                400, "VSS600", "Destination URL is missing. The Subscription request has been rejected."
            )
        if not destination.get("credential"):
            raise UpsError(
                400, "VSS700", "Credential is missing. The Subscription request has been rejected."
            )
        if not destination.get("credentialType"):
            raise UpsError(
                400, "VSS800", "Credential type is missing. The Subscription request has been rejected."
            )
        return _subscribe("v1", body, destination)

    return _guard("subscribe", normal)


@bp.post("/api/track/<version>/subscription/<sub_type>/package")
def subscribe_v2(version: str, sub_type: str) -> flask.Response:
    """Track Alert v2: subscribe packages; the webhook and its credentials are configured out of band."""
    _require_bearer()
    _require_headers("transId", "transactionSrc")
    if version != "v2" or sub_type not in ("standard", "enhanced"):
        raise UpsError(404, "VSS404", f"Unknown subscription path {version}/{sub_type}")

    def normal() -> flask.Response:
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict):
            raise UpsError(400, "VSS000", "Invalid request body. The Subscription request has been rejected.")
        if not body.get("locale"):
            raise UpsError(400, "VSS300", "Locale is required. The Subscription request has been rejected.")
        return _subscribe("v2", body, None)

    return _guard("subscribe", normal)
