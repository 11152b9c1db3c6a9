"""FedEx Pickup, Address Validation and Ground End-of-Day Close, under ``/fedex`` beside ``simulator.fedex``.

Written from Pickup-Resource.json, Addresses-Resource.json and ShipmentCloseAPI-Resource.json: the same
bearer token, error envelope and fault injection as the rest of the FedEx subset. Pickups and closes are
recorded in ``Simulator.warehouse``; a Ground close takes every open (not voided, not yet closed) FedEx
Ground label the account bought up to the close date, and refuses when there is none.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Any

import flask

from simulator import fedex, labels, numbers
from simulator import warehouse as sim_warehouse

bp = flask.Blueprint("fedex_ops", __name__, url_prefix="/fedex")

CARRIER = fedex.CARRIER
PICKUP_CARRIERS = frozenset({"FDXE", "FDXG"})
# FedEx services a Ground close takes.
GROUND_SERVICES = frozenset({"FEDEX_GROUND", "GROUND_HOME_DELIVERY"})
# FedEx publishes no code for "nothing to close" in ShipmentCloseAPI-Resource.json: this one is the simulator's.
NOTHING_TO_CLOSE = "GROUNDCLOSE.SHIPMENTS.NOTFOUND"
FedexError = fedex.FedexError


@bp.errorhandler(FedexError)
def _fedex_error(exc: FedexError) -> flask.Response:
    return fedex.error_response(exc.status, exc.code, exc.message)


def _account_of(body: dict[str, Any], key: str) -> str:
    account = fedex._get(body, key, "value")
    account = str(account) if isinstance(account, (str, int)) and not isinstance(account, bool) else ""
    if not account.isdigit() or len(account) != 9:
        raise FedexError(400, "ACCOUNT.NUMBER.MISMATCH", "The account number in the request is invalid.")
    return account


def _date(value: Any, code: str, message: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise FedexError(400, code, message) from None


# -- Pickup --------------------------------------------------------------------------------------------------
@bp.post("/pickup/v1/pickups")
def create_pickup() -> flask.Response:
    """Book a courier: a confirmation code and the FedEx location that will send it."""
    fedex._require_bearer()

    def normal() -> flask.Response:
        body = fedex._body()
        account = _account_of(body, "associatedAccountNumber")
        carrier_code = body.get("carrierCode")
        if not isinstance(carrier_code, str) or carrier_code not in PICKUP_CARRIERS:
            raise FedexError(400, "CARRIERCODE.INVALID", "carrierCode must be FDXE or FDXG.")
        origin = body.get("originDetail")
        address = fedex._get(origin, "pickupLocation", "address")
        if not isinstance(address, dict) or not address.get("streetLines") or not address.get("postalCode"):
            raise FedexError(
                400, "PICKUPLOCATION.ADDRESS.REQUIRED", "originDetail.pickupLocation.address is required."
            )
        contact = fedex._get(origin, "pickupLocation", "contact")
        contact = contact if isinstance(contact, dict) else {}
        if not (contact.get("personName") or contact.get("companyName")) or not contact.get("phoneNumber"):
            raise FedexError(
                400, "PICKUPLOCATION.CONTACT.REQUIRED", "A contact name and phone number are required."
            )
        ready = fedex._get(origin, "readyDateTimestamp")
        try:
            ready_at = datetime.fromisoformat(str(ready).replace("Z", "+00:00"))
        except ValueError:
            raise FedexError(
                400, "PICKUP.READYDATETIME.INVALID", "readyDateTimestamp must be a date and time."
            ) from None
        close_time = str(fedex._get(origin, "customerCloseTime") or "")
        if len(close_time) != 8 or close_time[2] != ":" or close_time[5] != ":":
            raise FedexError(400, "PICKUP.CLOSETIME.INVALID", "customerCloseTime must be HH:MM:SS.")
        count = body.get("packageCount", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise FedexError(400, "PACKAGECOUNT.INVALID", "packageCount must be at least 1.")
        simulator = fedex.sim()
        if ready_at.date() < simulator.clock.now().date():
            raise FedexError(400, "PICKUP.READYDATE.PAST", "The pickup date cannot be in the past.")
        [serial] = simulator.serials(numbers.FEDEX_PICKUP)
        city = "".join(ch for ch in str(address.get("city") or "") if ch.isalpha()).upper()
        location = (city + "XXX")[:3] + ("A" if carrier_code == "FDXE" else "G")
        pickup = simulator.warehouse.book(
            sim_warehouse.Pickup(
                carrier=CARRIER,
                confirmation=str(serial),
                account=account,
                date=ready_at.date().isoformat(),
                location=location,
                postal_code=str(address.get("postalCode")),
                street=" ".join(str(line) for line in address["streetLines"]),
                package_count=count,
                booked_at=simulator.clock.now().isoformat(),
            )
        )
        return fedex._reply(
            {
                "pickupConfirmationCode": pickup.confirmation,
                "message": "Courier on the way",
                "location": pickup.location,
                "alerts": [],
            }
        )

    return fedex._guard("pickup", normal)


@bp.put("/pickup/v1/pickups/cancel")
def cancel_pickup() -> flask.Response:
    """Cancel a booked pickup by its confirmation code and scheduled date."""
    fedex._require_bearer()

    def normal() -> flask.Response:
        body = fedex._body()
        account = _account_of(body, "associatedAccountNumber")
        code = str(body.get("pickupConfirmationCode") or "").strip()
        if not code:
            raise FedexError(400, "PICKUPCONFIRMATIONCODE.REQUIRED", "pickupConfirmationCode is required.")
        scheduled = _date(
            body.get("scheduledDate"), "SCHEDULEDDATE.INVALID", "scheduledDate must be YYYY-MM-DD."
        )
        simulator = fedex.sim()
        pickup = simulator.warehouse.pickup(CARRIER, code)
        if pickup is None or pickup.account != account or pickup.date != scheduled.isoformat():
            raise FedexError(
                404, "PICKUP.NOTFOUND", "No pickup with this confirmation code is scheduled for that date."
            )
        if pickup.cancelled:
            raise FedexError(400, "PICKUP.ALREADY.CANCELLED", "The pickup has already been cancelled.")
        pickup.cancelled, pickup.cancelled_at = True, simulator.clock.now().isoformat()
        return fedex._reply(
            {
                "pickupConfirmationCode": pickup.confirmation,
                "cancelConfirmationMessage": "Requested pickup has been cancelled Successfully.",
                "alerts": [],
            }
        )

    return fedex._guard("pickup_cancel", normal)


# -- Address validation --------------------------------------------------------------------------------------
def _resolved(node: Any) -> dict[str, Any]:
    address = node.get("address") if isinstance(node, dict) else None
    if not isinstance(address, dict) or not isinstance(address.get("streetLines"), list):
        raise FedexError(
            400, "ADDRESS.STREETLINES.REQUIRED", "addressesToValidate[].address.streetLines is required."
        )
    lines = [str(line).strip().upper() for line in address["streetLines"] if str(line).strip()]
    postal = str(address.get("postalCode") or "").strip()
    country = str(address.get("countryCode") or "US").upper()
    kind = sim_warehouse.classify(lines) if country == "US" else None
    resolved = kind is not None and len(postal) >= 5 and postal[:5].isdigit()
    base = postal[:5] if resolved else postal
    add_on = sim_warehouse.plus4(lines, base) if resolved else ""
    classification = {"residential": "RESIDENTIAL", "commercial": "BUSINESS"}.get(kind or "", "UNKNOWN")
    return {
        "streetLinesToken": lines,
        "city": str(address.get("city") or "").upper(),
        "stateOrProvinceCode": str(address.get("stateOrProvinceCode") or "").upper(),
        "countryCode": country,
        "customerMessage": [] if resolved else [{"code": "STANDARDIZED.ADDRESS.NOTFOUND"}],
        "cityToken": [{"changed": False, "value": str(address.get("city") or "").upper()}],
        "postalCodeToken": {"changed": bool(add_on), "value": f"{base}-{add_on}" if add_on else base},
        "parsedPostalCode": {"base": base, "addOn": add_on, "deliveryPoint": ""},
        "classification": classification,
        "postOfficeBox": False,
        "normalizedStatusNameDPV": resolved,
        "standardizedStatusNameMatchSource": "Postal",
        "resolutionMethodName": "USPS_VALIDATE",
        "ruralRouteHighwayContract": False,
        "generalDelivery": False,
        "attributes": {
            "POBox": False,
            "ResolutionInput": "RAW_ADDRESS",
            "DPV": resolved,
            "ResolutionMethod": "USPS_VALIDATE",
            "CountrySupported": country == "US",
            "ValidlyFormed": bool(lines),
            "Matched": resolved,
            "Resolved": resolved,
            "Inserted": False,
            "ZIP4Match": resolved,
            "StreetAddress": resolved,
            "AddressType": "STANDARDIZED" if resolved else "RAW",
            "MultipleMatches": False,
        },
    }


@bp.post("/address/v1/addresses/resolve")
def resolve_addresses() -> flask.Response:
    """Standardise and classify up to 100 addresses (``simulator.warehouse.classify``)."""
    fedex._require_bearer()

    def normal() -> flask.Response:
        body = fedex._body()
        items = body.get("addressesToValidate")
        if not isinstance(items, list) or not items or len(items) > 100:
            raise FedexError(
                400, "ADDRESSESTOVALIDATE.REQUIRED", "addressesToValidate holds 1 to 100 addresses."
            )
        return fedex._reply({"resolvedAddresses": [_resolved(item) for item in items], "alerts": []})

    return fedex._guard("address", normal)


# -- Ground end-of-day close ---------------------------------------------------------------------------------
def _op950(account: str, day: date, numbers_closed: list[str]) -> bytes:
    title = f"OP-950 GROUND MANIFEST {day.isoformat()} ACCOUNT {account}: {len(numbers_closed)} PACKAGES"
    return labels._pdf(" ".join(numbers_closed[:8]), CARRIER, title)


@bp.put("/ship/v1/endofday/")
def ground_close() -> flask.Response:
    """Close the account's open Ground labels (GCDR) and return the OP-950 manifest in two parts."""
    fedex._require_bearer()

    def normal() -> flask.Response:
        body = fedex._body()
        account = _account_of(body, "accountNumber")
        if body.get("closeReqType") != "GCDR":
            raise FedexError(400, "CLOSEREQTYPE.INVALID", "closeReqType must be GCDR for a Ground close.")
        if body.get("groundServiceCategory", "GROUND") != "GROUND":
            raise FedexError(400, "GROUNDSERVICECATEGORY.INVALID", "groundServiceCategory must be GROUND.")
        day = _date(body.get("closeDate"), "AVAILABILITY.SHIP.DATE.INVALID", "Ship date is invalid.")
        simulator = fedex.sim()
        open_labels = [
            label.tracking_number
            for label in simulator.ledger.all()
            if label.carrier == CARRIER
            and label.account == account
            and label.service in GROUND_SERVICES
            and not label.voided
            and label.requested_at[:10] <= day.isoformat()
            and simulator.warehouse.closed_by(label.tracking_number) is None
        ]
        if not open_labels:
            raise FedexError(
                400, NOTHING_TO_CLOSE, "No open FedEx Ground shipments were found to close for this account."
            )
        cycle = f"{day.strftime('%Y%m%d')}{len(simulator.warehouse.closes) + 1:08d}"
        simulator.warehouse.close(
            sim_warehouse.Close(
                carrier=CARRIER,
                reference=cycle,
                account=account,
                date=day.isoformat(),
                tracking_numbers=open_labels,
                at=simulator.clock.now().isoformat(),
            )
        )
        document = _op950(account, day, open_labels)
        half = len(document) // 2
        parts = [
            {"documentPartSequenceNumber": index, "image": base64.b64encode(chunk).decode("ascii")}
            for index, chunk in ((2, document[half:]), (1, document[:half]))  # FedEx does not promise order
        ]
        return fedex._reply(
            {
                "alerts": [],
                "closeDocuments": [
                    {
                        "type": "OP_950",
                        "shippingCycle": cycle,
                        "shippingDocumentDisposition": "RETURNED",
                        "resolution": 200,
                        "copiesToPrint": 1,
                        "parts": parts,
                    }
                ],
            }
        )

    return fedex._guard("ground_close", normal)
