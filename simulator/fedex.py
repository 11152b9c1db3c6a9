"""The FedEx REST subset: OAuth, Rates and Transit Times, Ship, Cancel and Track, under ``/fedex``.

Paths, field names and the error envelope (``{"transactionId", "errors": [{"code", "message"}]}``)
follow FedEx's published OpenAPI files (../shared/carriers/fedex/). The adapter's ``base_url`` points
at ``<simulator>/fedex``, so FedEx's ``/oauth/token`` never collides with another carrier's path.
Amounts are JSON numbers, as FedEx sends them; tracking numbers are 12 digits with FedEx's check digit.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import flask

from schemas import units
from simulator import injection, labels, numbers, pricing, progressions, world
from simulator import ledger as sim_ledger
from simulator import state as sim_state

bp = flask.Blueprint("fedex", __name__, url_prefix="/fedex")

CARRIER = "fedex"
# FedEx imageType -> (simulator label format, docType FedEx answers with).
IMAGE_TYPES = {
    "PDF": ("PDF", "PDF"),
    "PNG": ("PNG", "PNG"),
    "ZPLII": ("ZPL", "ZPLII"),
    "EPL2": ("EPL", "EPL2"),
}
WEIGHT_UNITS = {"KG": "kg", "LB": "lb"}
LENGTH_UNITS = {"CM": "cm", "IN": "in"}
# The account's own price (rateType ACCOUNT) against the published LIST price.
ACCOUNT_SHARE = Decimal("0.88")
DAY_WORDS = ("ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE", "TEN")
GROUND = frozenset({"FEDEX_GROUND", "FEDEX_INTERNATIONAL_CONNECT_PLUS", "FEDEX_REGIONAL_ECONOMY"})


class FedexError(Exception):
    """A request FedEx would refuse, with its HTTP status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def sim() -> sim_state.Simulator:
    return flask.current_app.extensions["handoff_simulator"]


def error_response(status: int, code: str, message: str) -> flask.Response:
    """Return FedEx's error envelope."""
    response = flask.jsonify(
        {"transactionId": str(uuid.uuid4()), "errors": [{"code": code, "message": message}]}
    )
    response.status_code = status
    return response


@bp.errorhandler(FedexError)
def _fedex_error(exc: FedexError) -> flask.Response:
    return error_response(exc.status, exc.code, exc.message)


def _unavailable() -> flask.Response:
    return error_response(
        503,
        "SERVICE.UNAVAILABLE.ERROR",
        "The service is currently unavailable and we are working to resolve.",
    )


def _malformed() -> flask.Response:
    return flask.Response(
        '{"transactionId": "x", "output": {"rateRe', status=200, mimetype="application/json"
    )


def _guard(operation: str, normal: injection.Respond) -> flask.Response:
    return injection.guarded(sim(), CARRIER, operation, normal, _unavailable, _malformed)


def _reply(output: dict[str, Any]) -> flask.Response:
    return flask.jsonify(
        {
            "transactionId": str(uuid.uuid4()),
            "customerTransactionId": flask.request.headers.get("x-customer-transaction-id", ""),
            "output": output,
        }
    )


def _require_bearer() -> None:
    scheme, _, token = flask.request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token or not sim().token_is_valid(token.strip(), CARRIER):
        raise FedexError(
            401, "NOT.AUTHORIZED.ERROR", "Access token expired. Please modify your request and try again."
        )


def _body() -> dict[str, Any]:
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        raise FedexError(400, "INVALID.INPUT.EXCEPTION", "Invalid field value in the input")
    return body


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _account(body: dict[str, Any]) -> str:
    account = _get(body, "accountNumber", "value")
    if not isinstance(account, str) or not account.isdigit() or len(account) != 9:
        raise FedexError(400, "ACCOUNT.NUMBER.MISMATCH", "The account number in the request is invalid.")
    return account


def _positive(value: Any, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        number = Decimal(0)
    if not number.is_finite() or number <= 0:
        raise FedexError(400, "INVALID.INPUT.EXCEPTION", f"Invalid field value in the input: {what}")
    return number


def _country(party: Any, role: str) -> str:
    country = _get(party, "address", "countryCode")
    if not isinstance(country, str) or len(country) != 2:
        raise FedexError(400, "COUNTRY.CODE.INVALID", f"The {role} country code is invalid or missing.")
    return country.upper()


def _packages(shipment: dict[str, Any]) -> tuple[Decimal, tuple[Decimal, Decimal, Decimal] | None, str, int]:
    """Return total kg, the first package's dims in cm, the request's weight unit and the package count."""
    items = shipment.get("requestedPackageLineItems")
    if not isinstance(items, list) or not items:
        raise FedexError(
            400,
            "PACKAGE.LINEITEMS.REQUIRED",
            "requestedPackageLineItems is required: add at least one package.",
        )
    total, dims, unit = Decimal(0), None, "KG"
    for item in items:
        unit = str(_get(item, "weight", "units") or "").upper()
        if unit not in WEIGHT_UNITS:
            raise FedexError(400, "WEIGHT.UNITS.INVALID", "Weight units must be KG or LB.")
        total += units.to_kg(_positive(_get(item, "weight", "value"), "weight.value"), WEIGHT_UNITS[unit])
        box = _get(item, "dimensions")
        if dims is None and isinstance(box, dict):
            length_unit = str(box.get("units") or "").upper()
            if length_unit not in LENGTH_UNITS:
                raise FedexError(400, "DIMENSION.UNITS.INVALID", "Dimension units must be CM or IN.")
            length, width, height = (
                units.to_cm(_positive(box.get(side), f"dimensions.{side}"), LENGTH_UNITS[length_unit])
                for side in ("length", "width", "height")
            )
            dims = (length, width, height)
    return total, dims, unit, len(items)


def _quotes(shipment: dict[str, Any], recipient: Any) -> tuple[list[pricing.Quote], str, str, str]:
    origin = _country(shipment.get("shipper"), "shipper")
    destination = _country(recipient, "recipient")
    kg, dims, unit, _count = _packages(shipment)
    services = pricing.fedex_services(origin, destination)
    wanted = shipment.get("serviceType")
    if wanted:
        services = tuple(s for s in services if s.code == wanted)
        if not services:
            raise FedexError(
                400,
                "SERVICE.TYPE.INVALID",
                "The service type is not available between the origin and destination.",
            )
    billable = pricing.billable_kg(kg, dims)
    currency = pricing.currency_for(origin)
    return [pricing.quote(s, billable, currency) for s in services], unit, origin, destination


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _account_price(quote: pricing.Quote) -> tuple[Decimal, Decimal, Decimal]:
    """Return the account's (base, fuel, net) price: the list price with the account discount."""
    base = (quote.transport * ACCOUNT_SHARE).quantize(quote.transport)
    fuel = (quote.fuel * ACCOUNT_SHARE).quantize(quote.fuel)
    return base, fuel, base + fuel


def _rated(rate_type: str, base: Decimal, fuel: Decimal, quote: pricing.Quote, unit: str) -> dict[str, Any]:
    net = base + fuel
    weight = (
        quote.billable_kg if unit == "KG" else units.from_kg(quote.billable_kg, "lb").quantize(Decimal("0.1"))
    )
    return {
        "rateType": rate_type,
        "ratedWeightMethod": "ACTUAL",
        "totalDiscounts": 0,
        "totalBaseCharge": _number(base),
        "totalNetCharge": _number(net),
        "totalNetFedExCharge": _number(net),
        "totalNetChargeWithDutiesAndTaxes": _number(net),
        "shipmentRateDetail": {
            "fuelSurchargePercent": _number(pricing.FUEL_SHARE * 100),
            "totalSurcharges": _number(fuel),
            "surCharges": [{"type": "FUEL", "description": "Fuel Surcharge", "amount": _number(fuel)}],
            "totalBillingWeight": {"units": unit, "value": _number(weight)},
            "currency": quote.currency,
        },
        "currency": quote.currency,
    }


# The simulator's duties and taxes: a flat share of the declared customs value (no tariff tables).
DUTY_SHARE = Decimal("0.19")


def _duties(shipment: dict[str, Any]) -> Decimal | None:
    """Estimated duties and taxes for the commodities a rate request declares, or None without any."""
    commodities = _get(shipment, "customsClearanceDetail", "commodities")
    if not isinstance(commodities, list) or not commodities:
        return None
    total = Decimal(0)
    for commodity in commodities:
        amount = _get(commodity, "customsValue", "amount")
        try:
            total += Decimal(str(amount))
        except (ArithmeticError, ValueError):
            raise FedexError(
                400, "COMMODITY.CUSTOMSVALUE.INVALID", "customsValue.amount must be a number."
            ) from None
    return (total * DUTY_SHARE).quantize(Decimal("0.01"))


def _days(days: int) -> str:
    return f"{DAY_WORDS[days - 1]}_DAY{'S' if days > 1 else ''}"


def _rate_detail(
    quote: pricing.Quote,
    unit: str,
    now: datetime,
    list_only: bool,
    estimate: world.Estimate | None = None,
) -> dict[str, Any]:
    base, fuel, _net = _account_price(quote)
    details = [_rated("LIST", quote.transport, quote.fuel, quote, unit)]
    if not list_only:
        details.insert(0, _rated("ACCOUNT", base, fuel, quote, unit))
    # The world's carrier estimate when a world is set (docs/WORLDS.md), else the service's days.
    days = min(estimate.days, len(DAY_WORDS)) if estimate else quote.service.transit_days
    arrival = estimate.at if estimate else now + timedelta(days=days)
    detail: dict[str, Any] = {
        "serviceType": quote.service.code,
        "serviceName": quote.service.name,
        "packagingType": "YOUR_PACKAGING",
        "ratedShipmentDetails": details,
        "operationalDetail": {"transitTime": _days(days), "ineligibleForMoneyBackGuarantee": False},
    }
    if quote.service.code in GROUND:
        detail["commit"] = {
            "transitDays": {"minimumTransitTime": _days(days), "description": f"{days} Business Days"},
            "daysInTransit": _days(days),
        }
    else:
        stamp = arrival.strftime("%Y-%m-%dT10:30:00")
        detail["operationalDetail"]["deliveryDate"] = stamp
        detail["commit"] = {
            "dateDetail": {"dayOfWeek": arrival.strftime("%a").upper(), "dayFormat": stamp},
            "daysInTransit": _days(days),
        }
    return detail


# -- OAuth ---------------------------------------------------------------------------------------
@bp.post("/oauth/token")
def oauth_token() -> flask.Response:
    """Issue a client-credentials token; the API key and secret key travel in the form body."""

    def normal() -> flask.Response:
        config = sim().config
        form = flask.request.form
        if form.get("grant_type") != "client_credentials":
            return error_response(400, "BAD.REQUEST.ERROR", "Missing or invalid grant_type.")
        if (
            form.get("client_id") != config.fedex_client_id
            or form.get("client_secret") != config.fedex_client_secret
        ):
            return error_response(401, "NOT.AUTHORIZED.ERROR", "The given client credentials were not valid.")
        token, ttl = sim().issue_token(config.fedex_token_ttl, CARRIER)
        return flask.jsonify(
            {"access_token": token, "token_type": "bearer", "expires_in": ttl, "scope": "CXS"}
        )

    return _guard("oauth", normal)


# -- Rates and transit times ---------------------------------------------------------------------
@bp.post("/rate/v1/rates/quotes")
def rate() -> flask.Response:
    """Quote every service between the two addresses (or the one asked for), with transit times."""
    _require_bearer()

    def normal() -> flask.Response:
        body = _body()
        _account(body)
        shipment = body.get("requestedShipment")
        if not isinstance(shipment, dict):
            raise FedexError(400, "INVALID.INPUT.EXCEPTION", "requestedShipment is required.")
        quotes, unit, origin, destination = _quotes(shipment, shipment.get("recipient"))
        list_only = shipment.get("rateRequestType") == ["LIST"]
        now = sim().clock.now()
        duties = _duties(shipment)
        details = [
            _rate_detail(
                q,
                unit,
                now,
                list_only,
                sim().quoted_estimate(CARRIER, q.service.code, origin, destination, now),
            )
            for q in quotes
        ]
        if duties is not None:
            for detail in details:
                for rated in detail["ratedShipmentDetails"]:
                    rated["totalDutiesAndTaxes"] = _number(duties)
                    rated["totalNetChargeWithDutiesAndTaxes"] = _number(
                        Decimal(str(rated["totalNetCharge"])) + duties
                    )
        return _reply(
            {
                "alerts": [
                    {
                        "code": "VIRTUAL.RESPONSE",
                        "alertType": "NOTE",
                        "message": "This is a Virtual Response.",
                    }
                ],
                "quoteDate": now.strftime("%Y-%m-%d"),
                "rateReplyDetails": details,
            }
        )

    return _guard("rate", normal)


# -- Ship ----------------------------------------------------------------------------------------
def _reference(items: list[Any]) -> str | None:
    for item in items:
        for ref in item.get("customerReferences") or [] if isinstance(item, dict) else []:
            if isinstance(ref, dict) and ref.get("value"):
                return str(ref["value"])
    return None


def _party(party: Any, role: str) -> tuple[str, dict[str, Any]]:
    contact = _get(party, "contact") or {}
    if not (contact.get("personName") or contact.get("companyName")):
        raise FedexError(400, f"{role.upper()}CONTACT.NAME.REQUIRED", f"The {role} contact name is required.")
    if not contact.get("phoneNumber"):
        raise FedexError(
            400, f"{role.upper()}CONTACT.PHONENUMBER.REQUIRED", f"The {role} phone number is required."
        )
    address = _get(party, "address") or {}
    if not address.get("streetLines"):
        raise FedexError(
            400, f"{role.upper()}.ADDRESS.STREETLINES.REQUIRED", f"The {role} street is required."
        )
    return str(contact.get("personName") or contact.get("companyName")), address


def _return_type(shipment: dict[str, Any]) -> str:
    """The returnType of a RETURN_SHIPMENT (Shipment-Resource.json ReturnShipmentDetail); "" when none."""
    special = shipment.get("shipmentSpecialServices") or {}
    if "RETURN_SHIPMENT" not in (special.get("specialServiceTypes") or []):
        return ""
    return_type = _get(special, "returnShipmentDetail", "returnType")
    if return_type not in ("PENDING", "PRINT_RETURN_LABEL"):
        raise FedexError(
            400,
            "RETURNTYPE.INVALID",
            "returnShipmentDetail.returnType must be PENDING or PRINT_RETURN_LABEL.",
        )
    return str(return_type)


@bp.post("/ship/v1/shipments")
def ship() -> flask.Response:
    """Sell a label: one 12-digit tracking number per package, base64 labels in the asked image type."""
    _require_bearer()

    def normal() -> flask.Response:
        body = _body()
        account = _account(body)
        shipment = body.get("requestedShipment")
        if not isinstance(shipment, dict):
            raise FedexError(400, "INVALID.INPUT.EXCEPTION", "requestedShipment is required.")
        recipients = shipment.get("recipients")
        recipient = recipients[0] if isinstance(recipients, list) and recipients else None
        shipper_name, origin = _party(shipment.get("shipper"), "shipper")
        recipient_name, destination = _party(recipient, "recipient")
        if not shipment.get("serviceType"):
            raise FedexError(400, "SERVICE.TYPE.REQUIRED", "serviceType is required.")
        image_type = str(_get(shipment, "labelSpecification", "imageType") or "").upper()
        if image_type not in IMAGE_TYPES:
            raise FedexError(400, "LABEL.IMAGETYPE.INVALID", "imageType must be PDF, PNG, ZPLII or EPL2.")
        fmt, doc_type = IMAGE_TYPES[image_type]
        if body.get("labelResponseOptions") not in ("LABEL", "URL_ONLY"):
            raise FedexError(
                400, "LABELRESPONSEOPTIONS.INVALID", "labelResponseOptions must be LABEL or URL_ONLY."
            )
        quotes, _unit, origin_country, destination_country = _quotes(shipment, recipient)
        # A commercial invoice asked for (shippingDocumentSpecification) is generated from the commodities.
        wants_invoice = "COMMERCIAL_INVOICE" in (
            _get(shipment, "shippingDocumentSpecification", "shippingDocumentTypes") or []
        )
        if wants_invoice and not _get(shipment, "customsClearanceDetail", "commodities"):
            raise FedexError(
                400, "COMMODITY.DESCRIPTION.REQUIRED", "customsClearanceDetail.commodities are required."
            )
        quote = quotes[0]
        base, fuel, net = _account_price(quote)
        items = shipment["requestedPackageLineItems"]
        simulator = sim()
        package_numbers = [
            numbers.fedex_tracking_number(serial)
            for serial in simulator.serials(numbers.FEDEX_PACKAGE, len(items))
        ]
        now = simulator.clock.now()
        label = sim_ledger.LabelRecord(
            carrier=CARRIER,
            tracking_number=package_numbers[0],
            reference=_reference(items),
            requested_at=now.isoformat(),
            service=str(shipment["serviceType"]),
            label_format=fmt,
            charge_amount=f"{net}",
            charge_currency=quote.currency,
            account=account,
            package_tracking_numbers=package_numbers,
            origin_country=origin_country,
            origin_city=str(origin.get("city") or ""),
            origin_state=str(origin.get("stateOrProvinceCode") or ""),
            origin_postal_code=str(origin.get("postalCode") or ""),
            destination_country=destination_country,
            destination_city=str(destination.get("city") or ""),
            destination_state=str(destination.get("stateOrProvinceCode") or ""),
            destination_postal_code=str(destination.get("postalCode") or ""),
            shipper_name=shipper_name,
            recipient_name=recipient_name,
            weight_kg=f"{quote.billable_kg}",
            scenario=progressions.choose_scenario(
                simulator.config.seed,
                package_numbers[0],
                simulator.config.exception_share,
                progressions.FEDEX_EXCEPTIONS,
            ),
            label_base64=labels.render_base64(fmt, package_numbers[0], CARRIER),
            return_type=_return_type(shipment),
        )
        simulator.ledger.record(label)
        flask.g.sold_tracking_number = label.tracking_number
        url_only = body.get("labelResponseOptions") == "URL_ONLY"
        pieces = []
        for number in package_numbers:
            document: dict[str, Any] = {"contentType": "LABEL", "copiesToPrint": 1, "docType": doc_type}
            if url_only:
                document["url"] = f"{flask.request.host_url}fedex/document/{number}"
            else:
                document["encodedLabel"] = labels.render_base64(fmt, number, CARRIER)
            pieces.append(
                {
                    "masterTrackingNumber": package_numbers[0],
                    "trackingNumber": number,
                    "deliveryTimestamp": (
                        simulator.estimated_delivery(label)
                        or now + timedelta(days=quote.service.transit_days)
                    ).strftime("%Y-%m-%d"),
                    "netChargeAmount": _number(net / len(package_numbers)),
                    "customerReferences": [
                        {"customerReferenceType": "CUSTOMER_REFERENCE", "value": label.reference or ""}
                    ],
                    "packageDocuments": [document],
                }
            )
        list_total = quote.total
        transaction = {
            "masterTrackingNumber": package_numbers[0],
            "serviceType": quote.service.code,
            "serviceName": quote.service.name,
            "shipDatestamp": now.strftime("%Y-%m-%d"),
            "pieceResponses": pieces,
            "completedShipmentDetail": {
                "carrierCode": "FDXG" if quote.service.code in GROUND else "FDXE",
                "masterTrackingId": {"trackingIdType": "FEDEX", "trackingNumber": package_numbers[0]},
                "shipmentRating": {
                    "actualRateType": "PAYOR_ACCOUNT_PACKAGE",
                    "shipmentRateDetails": [
                        {
                            "rateType": "PAYOR_ACCOUNT_PACKAGE",
                            "totalBaseCharge": _number(base),
                            "totalSurcharges": _number(fuel),
                            "totalNetCharge": _number(net),
                            "currency": quote.currency,
                        },
                        {
                            "rateType": "PAYOR_LIST_PACKAGE",
                            "totalBaseCharge": _number(quote.transport),
                            "totalSurcharges": _number(quote.fuel),
                            "totalNetCharge": _number(list_total),
                            "currency": quote.currency,
                        },
                    ],
                },
            },
        }
        if wants_invoice:
            transaction["shipmentDocuments"] = [
                {
                    "contentType": "COMMERCIAL_INVOICE",
                    "copiesToPrint": 1,
                    "docType": "PDF",
                    "encodedLabel": labels.invoice_base64(package_numbers[0], CARRIER),
                }
            ]
        return _reply({"transactionShipments": [transaction]})

    return _guard("ship", normal)


@bp.put("/ship/v1/shipments/cancel")
def cancel() -> flask.Response:
    """Cancel a shipment that FedEx has not picked up yet (cancelledShipment false once it moved)."""
    _require_bearer()

    def normal() -> flask.Response:
        body = _body()
        account = _account(body)
        number = str(body.get("trackingNumber") or "").strip()
        if not number:
            raise FedexError(400, "TRACKING.TRACKINGNUMBER.EMPTY", "Please provide a tracking number.")
        simulator = sim()
        label = simulator.ledger.get(number)
        if label is None or label.carrier != CARRIER or label.account not in ("", account):
            raise FedexError(
                404, "TRACKING.TRACKINGNUMBER.NOTFOUND", "Tracking number cannot be found for this account."
            )
        if label.voided:
            return _reply(
                {
                    "cancelledShipment": False,
                    "cancelledHistory": False,
                    "alerts": [
                        {
                            "code": "SHIPMENT.ALREADY.CANCELLED",
                            "alertType": "WARNING",
                            "message": "The shipment has already been cancelled.",
                        }
                    ],
                }
            )
        moved = [step for _, step in simulator.events_so_far(label) if step.code != "OC"]
        if moved:
            return _reply(
                {
                    "cancelledShipment": False,
                    "cancelledHistory": False,
                    "alerts": [
                        {
                            "code": "SHIPMENT.CANCEL.FAILED",
                            "alertType": "WARNING",
                            "message": "The shipment has already been picked up and cannot be cancelled.",
                        }
                    ],
                }
            )
        simulator.ledger.void(label.tracking_number, simulator.clock.now())
        return _reply(
            {
                "cancelledShipment": True,
                "cancelledHistory": True,
                "message": "Shipment is successfully cancelled",
            }
        )

    return _guard("void", normal)


# -- Track ---------------------------------------------------------------------------------------
def scan_event(when: datetime, step: progressions.Step) -> dict[str, Any]:
    """Return one Track API ``scanEvents`` entry (the same for a poll and a push)."""
    location: dict[str, str] = {"countryCode": step.place.country} if step.place.country else {}
    if step.place.city:
        location["city"] = step.place.city.upper()
    if step.place.state:
        location["stateOrProvinceCode"] = step.place.state
    if step.place.postal_code:
        location["postalCode"] = step.place.postal_code
    event: dict[str, Any] = {
        "date": when.isoformat(timespec="seconds"),
        "eventType": step.code,
        "eventDescription": step.description,
        "derivedStatusCode": step.code,
        "derivedStatus": step.description,
        "scanLocation": location,
        "locationType": "CUSTOMER" if step.delivered else "FEDEX_FACILITY",
        **step.extra,
    }
    if step.place.service_area and step.code != "OC":
        event["locationId"] = step.place.service_area
    return event


def track_result(
    label: sim_ledger.LabelRecord,
    number: str,
    events: list[tuple[datetime, progressions.Step]],
    estimate: datetime | None = None,
) -> dict[str, Any]:
    """Return one ``trackResults`` entry: the scans so far (newest first), dates and proof of delivery.

    ``estimate`` is the world's carrier estimate (``Simulator.estimated_delivery``) when a world is set."""
    sold = datetime.fromisoformat(label.requested_at)
    estimated = estimate or sold + timedelta(hours=19)
    result: dict[str, Any] = {
        "trackingNumberInfo": {
            "trackingNumber": number,
            "trackingNumberUniqueId": f"12029~{number}~FDEG",
            "carrierCode": "FDXE",
        },
        "dateAndTimes": [{"type": "SHIP", "dateTime": sold.isoformat(timespec="seconds")}],
        "scanEvents": [scan_event(when, step) for when, step in reversed(events)],
    }
    if events:
        _when, latest = events[-1]
        result["latestStatusDetail"] = {
            "code": latest.code,
            "derivedCode": latest.code,
            "statusByLocale": latest.description,
            "description": latest.description,
        }
    delivered = [(when, step) for when, step in events if step.delivered]
    if delivered:
        when, step = delivered[-1]
        result["dateAndTimes"].insert(
            0, {"type": "ACTUAL_DELIVERY", "dateTime": when.isoformat(timespec="seconds")}
        )
        result["deliveryDetails"] = {
            "receivedByName": step.signatory,
            "signedByName": step.signatory,
            "locationDescription": "Front Desk",
            "deliveryAttempts": "0",
        }
        result["availableImages"] = [{"type": "SIGNATURE_PROOF_OF_DELIVERY", "size": "SMALL"}]
    elif not label.voided:
        result["dateAndTimes"].insert(
            0, {"type": "ESTIMATED_DELIVERY", "dateTime": estimated.isoformat(timespec="seconds")}
        )
    return result


@bp.post("/track/v1/trackingnumbers")
def track() -> flask.Response:
    """Track up to 30 numbers; an unknown number is a per-number error inside a 200 reply."""
    _require_bearer()

    def normal() -> flask.Response:
        body = _body()
        infos = body.get("trackingInfo")
        if not isinstance(infos, list) or not infos:
            raise FedexError(400, "TRACKING.TRACKINGNUMBER.EMPTY", "Please provide tracking number.")
        if len(infos) > 30:
            raise FedexError(400, "TRACKING.TRACKINGNUMBER.LIMIT", "At most 30 tracking numbers per request.")
        simulator = sim()
        complete = []
        for info in infos:
            number = str(_get(info, "trackingNumberInfo", "trackingNumber") or "").strip()
            label = simulator.ledger.get(number) if number else None
            if label is None or label.carrier != CARRIER:
                result: dict[str, Any] = {
                    "trackingNumberInfo": {"trackingNumber": number, "trackingNumberUniqueId": ""},
                    "error": {
                        "code": "TRACKING.TRACKINGNUMBER.NOTFOUND",
                        "message": "Tracking number cannot be found. Please correct the tracking number and try again.",
                    },
                }
            else:
                result = track_result(
                    label,
                    number,
                    simulator.events_so_far(label),
                    simulator.estimated_delivery(label),
                )
            complete.append({"trackingNumber": number, "trackResults": [result]})
        return _reply({"completeTrackResults": complete})

    return _guard("track", normal)


@bp.get("/document/<tracking_number>")
def document(tracking_number: str) -> flask.Response:
    """Serve a label document sold with ``labelResponseOptions: URL_ONLY`` (FedEx hosts it for a while)."""
    label = sim().ledger.get(tracking_number)
    if label is None or label.carrier != CARRIER:
        raise FedexError(404, "DOCUMENT.NOTFOUND", "The requested document was not found.")
    mimetypes = {"PDF": "application/pdf", "PNG": "image/png"}
    return flask.Response(
        labels.render(label.label_format, tracking_number, CARRIER),
        mimetype=mimetypes.get(label.label_format, "text/plain"),
    )
