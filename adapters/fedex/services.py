"""FedEx Pickup, Address Validation and Ground End-of-Day Close: pure request builders and reply parsers.

Written from Pickup-Resource.json, Addresses-Resource.json and ShipmentCloseAPI-Resource.json. No I/O here.
Pickup is the adapter protocol's ``pickup``; address validation and the Ground close are FedEx-only
operations the adapter offers as plain methods (the protocol has no capability for them).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from adapters.fedex import mapping
from schemas import carrier, types

PICKUP_PATH = "/pickup/v1/pickups"
CANCEL_PICKUP_PATH = "/pickup/v1/pickups/cancel"
ADDRESS_PATH = "/address/v1/addresses/resolve"
GROUND_CLOSE_PATH = "/ship/v1/endofday/"

PICKUP_CARRIERS = frozenset({"FDXE", "FDXG"})


# -- Pickup -----------------------------------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    text = moment.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def pickup_request(
    request: carrier.PickupRequest, account_number: str, carrier_code: str = "FDXE"
) -> mapping.HttpCall:
    """Build a Create Pickup request: ready time with its offset, closing time local to the pickup."""
    if carrier_code not in PICKUP_CARRIERS:
        raise mapping.invalid(f"FedEx pickups are booked for FDXE or FDXG, not {carrier_code!r}")
    if request.ready_at.tzinfo is None or request.close_at.tzinfo is None:
        raise mapping.invalid("pickup ready and close times must be timezone-aware")
    if request.close_at <= request.ready_at:
        raise mapping.invalid("a pickup must close after it is ready")
    if request.parcel_count < 1:
        raise mapping.invalid("a pickup needs at least one parcel")
    address = request.address
    if not (address.state and address.postal_code and address.street_lines):
        raise mapping.invalid("a FedEx pickup address needs street, state and postal code")
    contact: dict[str, Any] = {}
    if address.company:
        contact["companyName"] = address.company[:35]
    if address.name:
        contact["personName"] = address.name[:70]
    phone = mapping.phone_digits(address)
    if phone:
        contact["phoneNumber"] = phone
    location_address: dict[str, Any] = {
        "streetLines": [line[:35] for line in address.street_lines[:3]],
        "city": address.city[:35],
        "stateOrProvinceCode": address.state.strip(),
        "postalCode": address.postal_code.strip(),
        "countryCode": address.country_code.upper(),
    }
    if address.residential is not None:
        location_address["residential"] = bool(address.residential)
    close_local = request.close_at.astimezone(request.ready_at.tzinfo)
    body: dict[str, Any] = {
        "associatedAccountNumber": {"value": account_number},
        "originDetail": {
            "pickupLocation": {"contact": contact, "address": location_address},
            "readyDateTimestamp": _stamp(request.ready_at),
            "customerCloseTime": close_local.strftime("%H:%M:%S"),
        },
        "packageCount": request.parcel_count,
        "carrierCode": carrier_code,
    }
    if len(request.tracking_numbers) == 1:
        body["trackingNumber"] = request.tracking_numbers[0]
    return mapping.HttpCall("POST", PICKUP_PATH, json=body)


def parse_pickup_response(
    body: Mapping[str, Any], request: carrier.PickupRequest, carrier_code: str = "FDXE"
) -> carrier.PickupResult:
    """Return the booked pickup's confirmation code, with what cancelling it needs.

    ``details``: ``carrier_code`` (FDXE or FDXG, as booked) and ``location``, the FedEx Express
    location that dispatches the courier (``output.location``), which Cancel Pickup requires for Express.
    """
    output = body.get("output")
    code = mapping.clean(output.get("pickupConfirmationCode")) if isinstance(output, Mapping) else ""
    if not code:
        raise mapping.malformed("no output.pickupConfirmationCode")
    details = {"carrier_code": carrier_code}
    location = mapping.clean(output.get("location")) if isinstance(output, Mapping) else ""
    if location:
        details["location"] = location
    return carrier.PickupResult(
        carrier=mapping.CARRIER, confirmation=code, ready_at=request.ready_at, details=details
    )


def cancel_pickup_request(
    request: carrier.PickupRequest, confirmation: str, details: Mapping[str, str], account_number: str
) -> mapping.HttpCall:
    """Build a Cancel Pickup request (Full_Schema_Cancel_Pickup) for a booked pickup.

    ``scheduledDate`` is the booked day (local to the pickup); FedEx Express needs the ``location``
    its Create Pickup answered, FedEx Ground needs ``carrierCode``.
    """
    code = confirmation.strip()
    if not code:
        raise mapping.invalid("a pickup without a confirmation code cannot be cancelled")
    carrier_code = details.get("carrier_code") or "FDXE"
    if carrier_code not in PICKUP_CARRIERS:
        raise mapping.invalid(f"FedEx pickups are booked for FDXE or FDXG, not {carrier_code!r}")
    location = (details.get("location") or "").strip()
    if carrier_code == "FDXE" and not location:
        raise mapping.invalid(
            "FedEx Express cancels a pickup only with the location its booking answered, which is not known"
        )
    body: dict[str, Any] = {
        "associatedAccountNumber": {"value": account_number},
        "pickupConfirmationCode": code,
        "scheduledDate": request.ready_at.date().isoformat(),
        "carrierCode": carrier_code,
    }
    if location:
        body["location"] = location
    return mapping.HttpCall("PUT", CANCEL_PICKUP_PATH, json=body)


def parse_cancel_pickup_response(body: Mapping[str, Any], confirmation: str) -> None:
    """Accept FedEx's answer to Cancel Pickup (``output.pickupConfirmationCode`` echoes the cancelled one)."""
    output = body.get("output")
    if not isinstance(output, Mapping):
        raise mapping.malformed("cancel pickup reply without output")
    echoed = mapping.clean(output.get("pickupConfirmationCode"))
    if echoed and echoed != confirmation.strip():
        raise mapping.malformed(f"cancel pickup reply names pickup {echoed!r}, not {confirmation.strip()!r}")


# -- Address validation -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddressCheck:
    """FedEx's reading of one address: its standardised form, classification and resolution flags."""

    address: types.Address
    classification: str  # BUSINESS, RESIDENTIAL, MIXED or UNKNOWN
    resolved: bool
    attributes: Mapping[str, str] = field(default_factory=dict)
    messages: tuple[str, ...] = ()


def address_request(addresses: list[types.Address]) -> mapping.HttpCall:
    """Build an Address Validation request for one or more addresses."""
    if not addresses:
        raise mapping.invalid("no address to validate")
    items = []
    for address in addresses:
        node: dict[str, Any] = {
            "streetLines": [line[:35] for line in address.street_lines[:3]] or [""],
            "city": address.city,
            "postalCode": address.postal_code,
            "countryCode": address.country_code.upper(),
        }
        if address.state:
            node["stateOrProvinceCode"] = address.state.strip()
        items.append({"address": node})
    return mapping.HttpCall("POST", ADDRESS_PATH, json={"addressesToValidate": items})


def _postal_code(node: Mapping[str, Any], fallback: str) -> str:
    parsed = node.get("parsedPostalCode")
    if isinstance(parsed, Mapping) and mapping.clean(parsed.get("base")):
        add_on = mapping.clean(parsed.get("addOn"))
        return mapping.clean(parsed.get("base")) + (f"-{add_on}" if add_on else "")
    token = node.get("postalCodeToken")
    if isinstance(token, Mapping) and mapping.clean(token.get("value")):
        return mapping.clean(token.get("value"))
    return mapping.clean(node.get("postalCode")) or fallback


def parse_address_response(body: Mapping[str, Any], addresses: list[types.Address]) -> list[AddressCheck]:
    """Return one AddressCheck per resolved address, in request order; names and phones are kept."""
    output = body.get("output")
    if not isinstance(output, Mapping) or not isinstance(output.get("resolvedAddresses"), list):
        raise mapping.malformed("no output.resolvedAddresses")
    alerts = tuple(mapping.alert_texts(output.get("alerts")))
    checks: list[AddressCheck] = []
    for index, node in enumerate(output["resolvedAddresses"]):
        if not isinstance(node, Mapping):
            continue
        given = addresses[index] if index < len(addresses) else types.Address("", "", "")
        classification = mapping.clean(node.get("classification")).upper() or "UNKNOWN"
        raw_attributes = node.get("attributes")
        if not isinstance(raw_attributes, Mapping):
            raw_attributes = {}
        attributes = {
            str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw_attributes.items()
        }
        lines = tuple(mapping.clean(line) for line in mapping.as_list(node.get("streetLinesToken")) if line)
        residential = {"RESIDENTIAL": True, "BUSINESS": False}.get(classification)
        messages = tuple(
            mapping.clean(m)
            if not isinstance(m, Mapping)
            else mapping.clean(m.get("message") or m.get("code"))
            for m in mapping.as_list(node.get("customerMessage"))
        )
        checks.append(
            AddressCheck(
                address=types.Address(
                    country_code=mapping.clean(node.get("countryCode")) or given.country_code,
                    postal_code=_postal_code(node, given.postal_code),
                    city=mapping.clean(node.get("city")) or given.city,
                    street_lines=lines or given.street_lines,
                    state=mapping.clean(node.get("stateOrProvinceCode")) or given.state,
                    name=given.name,
                    company=given.company,
                    phone=given.phone,
                    email=given.email,
                    residential=residential if residential is not None else given.residential,
                ),
                classification=classification,
                resolved=attributes.get("Resolved") == "true",
                attributes=attributes,
                messages=tuple(m for m in messages if m) + alerts,
            )
        )
    return checks


# -- Ground end-of-day close ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CloseDocument:
    """One document of a Ground close (the OP-950 manifest), decoded."""

    type: str
    content: bytes
    copies: int = 1


@dataclass(frozen=True, slots=True)
class GroundClose:
    """The answer to a Ground end-of-day close: its documents and FedEx's alerts."""

    documents: tuple[CloseDocument, ...]
    alerts: tuple[str, ...] = ()


def ground_close_request(account_number: str, close_date: date | None = None) -> mapping.HttpCall:
    """Build the PUT that closes the day's FedEx Ground shipments (close type GCDR)."""
    day = close_date or datetime.now(UTC).date()
    body = {
        "accountNumber": {"value": account_number},
        "closeReqType": "GCDR",
        "groundServiceCategory": "GROUND",
        "closeDate": day.isoformat(),
    }
    return mapping.HttpCall("PUT", GROUND_CLOSE_PATH, json=body)


def parse_ground_close_response(body: Mapping[str, Any]) -> GroundClose:
    """Return the close documents (base64 parts joined) and alerts of a Ground close reply."""
    output = body.get("output")
    if not isinstance(output, Mapping):
        raise mapping.malformed("no output in the Ground close reply")
    documents = []
    for doc in mapping.as_list(output.get("closeDocuments")):
        if not isinstance(doc, Mapping):
            continue
        parts = sorted(
            (p for p in mapping.as_list(doc.get("parts")) if isinstance(p, Mapping)),
            key=lambda p: int(p.get("documentPartSequenceNumber") or 0),
        )
        try:
            content = b"".join(base64.b64decode(str(p.get("image") or ""), validate=True) for p in parts)
        except (binascii.Error, ValueError) as exc:
            raise mapping.malformed("close document part is not base64") from exc
        documents.append(
            CloseDocument(
                type=mapping.clean(doc.get("type")) or "OP_950",
                content=content,
                copies=int(doc.get("copiesToPrint") or 1),
            )
        )
    return GroundClose(tuple(documents), tuple(mapping.alert_texts(output.get("alerts"))))
