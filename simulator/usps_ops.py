"""USPS Carrier Pickup, SCAN forms and Addresses 3.0, under ``/usps`` beside ``simulator.usps``.

Written from carrier-pickup_3.yaml, scan-form_1.yaml and addresses-v3r2_2.yaml; error codes and messages
are USPS's own, from api-examples/API-Error-Consolidated-List.xlsx (02xxxx pickup, 16xxxx SCAN form,
01xxxx addresses). A SCAN form takes only labels the ledger sold, not cancelled and on no other form
(listed by tracking number, or every open label of a MID); it is recorded in ``Simulator.warehouse``.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import date, timedelta
from typing import Any

import flask

from simulator import labels, numbers, usps
from simulator import warehouse as sim_warehouse

bp = flask.Blueprint("usps_ops", __name__, url_prefix="/usps")

CARRIER = usps.CARRIER
UspsError = usps.UspsError
PACKAGE_TYPES = frozenset(
    {
        "FIRST-CLASS_PACKAGE_SERVICE",
        "PRIORITY_MAIL_EXPRESS",
        "PRIORITY_MAIL",
        "RETURNS",
        "USPS_GROUND_ADVANTAGE",
        "INTERNATIONAL",
        "OTHER",
    }
)
PACKAGE_LOCATIONS = frozenset(
    {
        "FRONT_DOOR",
        "BACK_DOOR",
        "SIDE_DOOR",
        "KNOCK_ON_DOOR",
        "MAIL_ROOM",
        "OFFICE",
        "PORCH",
        "RECEPTION",
        "MAILBOX",
        "OTHER",
    }
)


@bp.errorhandler(UspsError)
def _usps_error(exc: UspsError) -> flask.Response:
    return usps.error_response(exc.status, exc.code, exc.detail, exc.api)


def _iso_date(value: Any, code: str, detail: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise UspsError(400, code, detail) from None


# -- Carrier pickup ------------------------------------------------------------------------------------------
@bp.post("/pickup/v3/carrier-pickup")
def schedule_pickup() -> flask.Response:
    """Schedule a carrier pickup (Monday to Saturday, not in the past, one active pickup per address and day)."""
    usps._require_bearer()

    def normal() -> flask.Response:
        body = usps._object()
        for name in ("pickupDate", "pickupAddress", "packages", "estimatedWeight", "pickupLocation"):
            if body.get(name) in (None, "", []):
                raise UspsError(400, "020003", f"Invalid pickup details: {name} is required.")
        simulator = usps.sim()
        day = _iso_date(
            body["pickupDate"], "020003", "Invalid pickup details: pickupDate must be YYYY-MM-DD."
        )
        today = simulator.clock.now().date()
        if day < today:
            raise UspsError(400, "020016", "Pickup date is in the past.")
        if day > today + timedelta(days=365):
            raise UspsError(400, "020017", "Pickups can only be scheduled one year in the future.")
        if day.weekday() == 6:
            raise UspsError(400, "020018", "Pickup Request cannot be scheduled on requested day.")
        where = body["pickupAddress"]
        address = where.get("address") if isinstance(where, dict) else None
        if not isinstance(address, dict):
            raise UspsError(400, "020003", "Invalid pickup details: pickupAddress.address is required.")
        for name in ("streetAddress", "city", "state"):
            if not address.get(name):
                raise UspsError(400, "020003", f"Invalid pickup details: address.{name} is required.")
        zip5 = usps._zip(address.get("ZIPCode"), "address.ZIPCode")
        contact = where.get("contact")
        if not isinstance(contact, list) or not 1 <= len(contact) <= 2:
            raise UspsError(400, "020003", "Invalid pickup details: one or two contact methods are required.")
        for method in contact:
            email = method.get("email") if isinstance(method, dict) else None
            cell = method.get("cellNumber") or method.get("phone") if isinstance(method, dict) else None
            if email is not None and "@" not in str(email):
                raise UspsError(400, "020021", "Email address is invalid.")
            if cell is not None and not (str(cell).isdigit() and len(str(cell)) == 10):
                raise UspsError(400, "020006", "Phone number is invalid.")
            if email is None and cell is None:
                raise UspsError(
                    400, "020003", "Invalid pickup details: a contact needs an email or a number."
                )
        packages = body["packages"]
        count = 0
        for package in packages if isinstance(packages, list) else [None]:
            if not isinstance(package, dict) or str(package.get("packageType")) not in PACKAGE_TYPES:
                raise UspsError(400, "020003", "Invalid pickup details: packageType is invalid.")
            number = package.get("packageCount")
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise UspsError(400, "020003", "Invalid pickup details: packageCount is invalid.")
            count += number
        usps._positive(body["estimatedWeight"], "estimatedWeight")
        location = body["pickupLocation"]
        if not isinstance(location, dict) or str(location.get("packageLocation")) not in PACKAGE_LOCATIONS:
            raise UspsError(400, "020004", "Invalid pickup location.")
        if location["packageLocation"] == "OTHER" and not location.get("specialInstructions"):
            raise UspsError(
                400, "020020", "Pickup location of Other requires additional information in comments."
            )
        street = (
            " ".join(str(address.get(k) or "") for k in ("streetAddress", "secondaryAddress")).strip().upper()
        )
        if any(
            p.carrier == CARRIER
            and not p.cancelled
            and p.date == day.isoformat()
            and p.street == street
            and p.postal_code == zip5
            for p in simulator.warehouse.all_pickups()
        ):
            raise UspsError(400, "020001", "Pickup already exists for this address.")
        [serial] = simulator.serials(numbers.USPS_PICKUP)
        pickup = simulator.warehouse.book(
            sim_warehouse.Pickup(
                carrier=CARRIER,
                confirmation=f"WTC{serial:08d}",
                account="",
                date=day.isoformat(),
                location=str(address.get("city") or "").upper(),
                postal_code=zip5,
                street=street,
                package_count=count,
                booked_at=simulator.clock.now().isoformat(),
            )
        )
        response = flask.jsonify(
            {
                "confirmationNumber": pickup.confirmation,
                "pickupDate": pickup.date,
                "carrierPickupRequest": body,
            }
        )
        response.headers["ETag"] = simulator.warehouse.tag(CARRIER, pickup.confirmation, _etag())
        return response

    return usps._guard("pickup", normal)


def _etag() -> str:
    return f'"{secrets.token_hex(8)}"'


# Not-found, stale-ETag and already-cancelled answers: USPS's error inventory has no codes for them, so
# these are the simulator's own.
PICKUP_NOT_FOUND = "SIM404P"
PICKUP_ETAG_STALE = "SIM412P"
PICKUP_CANCELLED = "SIM400P"


def _booked(confirmation: str) -> sim_warehouse.Pickup:
    pickup = usps.sim().warehouse.pickup(CARRIER, confirmation)
    if pickup is None:
        raise UspsError(404, PICKUP_NOT_FOUND, f"No carrier pickup with confirmation number {confirmation}.")
    return pickup


@bp.get("/pickup/v3/carrier-pickup/<confirmation>")
def get_pickup(confirmation: str) -> flask.Response:
    """A scheduled pickup, with a fresh ETag (the one a DELETE or PUT must quote in If-Match)."""
    usps._require_bearer()

    def normal() -> flask.Response:
        pickup = _booked(confirmation)
        response = flask.jsonify([{"confirmationNumber": pickup.confirmation, "pickupDate": pickup.date}])
        response.headers["ETag"] = usps.sim().warehouse.tag(CARRIER, pickup.confirmation, _etag())
        return response

    return usps._guard("pickup_lookup", normal)


@bp.delete("/pickup/v3/carrier-pickup/<confirmation>")
def cancel_pickup(confirmation: str) -> flask.Response:
    """Cancel a scheduled pickup; If-Match must carry its current ETag, which the cancel uses up."""
    usps._require_bearer()

    def normal() -> flask.Response:
        pickup = _booked(confirmation)
        if pickup.cancelled:
            raise UspsError(400, PICKUP_CANCELLED, "The carrier pickup has already been cancelled.")
        etag = flask.request.headers.get("If-Match", "").strip()
        if not etag:
            raise UspsError(400, PICKUP_ETAG_STALE, "The If-Match header with the pickup's ETag is required.")
        simulator = usps.sim()
        if not simulator.warehouse.spend_tag(CARRIER, pickup.confirmation, etag):
            raise UspsError(412, PICKUP_ETAG_STALE, "The ETag is not the pickup's current one: GET it again.")
        pickup.cancelled, pickup.cancelled_at = True, simulator.clock.now().isoformat()
        return flask.Response(status=200)

    return usps._guard("pickup_cancel", normal)


# -- SCAN form -----------------------------------------------------------------------------------------------
def _efn(mid: str, serial: int) -> str:
    """A 22-digit manifest number (EFN): 94750, the MID, a serial and the IMpb check digit."""
    body = f"94750{(mid + '0' * 9)[:9]}{serial:07d}"
    return body + numbers.usps_check_digit(body)


def _form_labels(shipment: dict[str, Any], simulator: Any) -> list[str]:
    """The tracking numbers a SCAN form will list, or a USPS refusal."""
    if "trackingNumbers" in shipment:
        listed = shipment["trackingNumbers"]
        if not isinstance(listed, list) or not listed or len(listed) > 40000:
            raise UspsError(400, "SIM400", "shipment.trackingNumbers holds 1 to 40000 tracking numbers.")
        found = []
        for raw in listed:
            number = str(raw).strip()
            record = simulator.ledger.get(number)
            if record is None or record.carrier != CARRIER:
                raise UspsError(400, "160039", f"barcode {number} does not exist")
            if record.voided:
                raise UspsError(
                    400,
                    "160397",
                    f"barcode {number} has been canceled and is not eligible to be added to a SCAN Form",
                )
            efn = simulator.warehouse.closed_by(number)
            if efn is not None:
                raise UspsError(
                    400, "160040", f"barcode {number} is already part of another SCAN Form with efn {efn}"
                )
            if number not in found:
                found.append(number)
        return found
    mid = str(shipment.get("MID") or shipment.get("manifestMID") or "")
    if not (mid.isdigit() and len(mid) in (6, 9)):
        raise UspsError(400, "160035", "Invalid manifestMID: must be between 6 and 9 characters.")
    found = [
        record.tracking_number
        for record in simulator.ledger.all()
        if record.carrier == CARRIER
        and record.tracking_number[5:14].startswith(mid)
        and not record.voided
        and simulator.warehouse.closed_by(record.tracking_number) is None
    ]
    if not found:
        raise UspsError(
            400, "160037", "The SCAN Form could not be created because no labels met the given criteria"
        )
    return found


@bp.post("/scan-forms/v3/scan-form")
def scan_form() -> flask.Response:
    """Create a PS Form 5630 for the listed (or a MID's) open labels: 201 with the EFN and the form image."""
    usps._require_bearer()

    def normal() -> flask.Response:
        body = usps._object()
        for name in (
            "mailingDate",
            "entryFacilityZIPCode",
            "destinationEntryFacilityType",
            "fromAddress",
            "shipment",
        ):
            if body.get(name) in (None, "", {}):
                raise UspsError(400, "SIM400", f"{name} is required.")
        simulator = usps.sim()
        mailing = _iso_date(body["mailingDate"], "160034", "mailingDate must be YYYY-MM-DD.")
        today = simulator.clock.now().date()
        # One day of slack: the mailer's day may still be yesterday in its own time zone.
        if mailing < today - timedelta(days=1) or mailing > today + timedelta(days=30):
            raise UspsError(
                400, "160034", "mailingDate cannot be in the past or more than 30 days in the future"
            )
        usps._zip(body["entryFacilityZIPCode"], "entryFacilityZIPCode")
        sender = body["fromAddress"]
        if not isinstance(sender, dict):
            raise UspsError(400, "SIM400", "fromAddress must be an object.")
        for name in ("streetAddress", "city", "state", "ZIPCode"):
            if not sender.get(name):
                raise UspsError(400, "SIM400", f"fromAddress.{name} is required.")
        if not (sender.get("firm") or (sender.get("firstName") and sender.get("lastName"))):
            raise UspsError(400, "160168", "must provide either first and last name or firm")
        shipment = body["shipment"]
        if not isinstance(shipment, dict):
            raise UspsError(400, "SIM400", "shipment must be an object.")
        listed = _form_labels(shipment, simulator)
        [serial] = simulator.serials(numbers.USPS_SCAN_FORM)
        efn = _efn(listed[0][5:14], serial)
        try:
            simulator.warehouse.close(
                sim_warehouse.Close(
                    carrier=CARRIER,
                    reference=efn,
                    account="",
                    date=mailing.isoformat(),
                    tracking_numbers=listed,
                    at=simulator.clock.now().isoformat(),
                )
            )
        except ValueError:  # a concurrent form took one of them first
            raise UspsError(400, "160040", "a barcode is already part of another SCAN Form") from None
        metadata = {
            "form": "5630",
            "imageType": str(body.get("imageType") or "PDF"),
            "labelType": "8.5x11LABEL",
            "mailingDate": mailing.isoformat(),
            "overwriteMailingDate": bool(body.get("overwriteMailingDate", False)),
            "entryFacilityZIPCode": body["entryFacilityZIPCode"],
            "destinationEntryFacilityType": body["destinationEntryFacilityType"],
            "shipment": shipment,
            "fromAddress": sender,
            "manifestNumber": efn,
            "trackingNumbers": listed,
        }
        image = labels._pdf(efn, CARRIER, f"PS FORM 5630 SCAN FORM {len(listed)} ITEMS")
        encoded = base64.b64encode(image).decode("ascii")
        if usps.LABEL_JSON in flask.request.headers.get("Accept", ""):
            response = flask.jsonify({**metadata, "SCANFormImage": encoded})
            response.status_code = 201
            return response
        boundary = secrets.token_hex(8).upper()
        content = (
            f"--{boundary}\r\nContent-Type: application/json\r\n"
            f'Content-Disposition: form-data; name="Scan Form Response"\r\n\r\n{json.dumps(metadata)}\r\n'
            f"--{boundary}\r\nContent-Type: application/pdf\r\n"
            f'Content-Disposition: form-data; filename="label.pdf"; name="label"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--{boundary}--\r\n"
        )
        return flask.Response(content, status=201, mimetype=f"multipart/form-data; boundary={boundary}")

    return usps._guard("scan_form", normal)


# -- Addresses -----------------------------------------------------------------------------------------------
@bp.get("/addresses/v3/address")
def address() -> flask.Response:
    """Standardise a US address: DPV confirmation and the business flag by ``simulator.warehouse.classify``."""
    usps._require_bearer()

    def normal() -> flask.Response:
        args = flask.request.args
        street = (args.get("streetAddress") or "").strip()
        state = (args.get("state") or "").strip().upper()
        if not street:
            raise UspsError(400, "010001", "Invalid Address")
        if len(state) != 2 or not state.isalpha():
            raise UspsError(400, "010003", "Invalid State Code")
        zip5 = (args.get("ZIPCode") or "").strip()
        if zip5 and not (len(zip5) == 5 and zip5.isdigit()):
            raise UspsError(400, "010002", "Invalid ZIP Code")
        city = (args.get("city") or "").strip().upper()
        if not zip5 and not city:
            raise UspsError(400, "010004", "Invalid City")
        secondary = (args.get("secondaryAddress") or "").strip().upper()
        lines = [street.upper(), *([secondary] if secondary else [])]
        kind = sim_warehouse.classify(lines)
        if kind is None:
            raise UspsError(404, "010005", "Address Not Found")
        zip5 = zip5 or "00000"
        node: dict[str, Any] = {
            "streetAddress": street.upper(),
            "streetAddressAbbreviation": street.upper()[:50],
            "city": city or "UNKNOWN",
            "state": state,
            "ZIPCode": zip5,
            "ZIPPlus4": sim_warehouse.plus4(lines, zip5),
        }
        if secondary:
            node["secondaryAddress"] = secondary
        reply: dict[str, Any] = {
            "address": node,
            "additionalInfo": {
                "deliveryPoint": sim_warehouse.plus4(lines, "dp")[:2],
                "carrierRoute": "C001",
                "DPVConfirmation": "Y",
                "DPVCMRA": "N",
                "business": "Y" if kind == sim_warehouse.COMMERCIAL else "N",
                "centralDeliveryPoint": "N",
                "vacant": "N",
            },
            "corrections": [],
            "matches": [{"code": "31", "text": "Single Response - exact match"}],
            "warnings": [],
        }
        if args.get("firm"):
            reply["firm"] = str(args["firm"]).upper()[:50]
        return flask.jsonify(reply)

    return usps._guard("address", normal)
