"""USPS v3 REST mapping: pure pairs that build USPS request bodies and parse USPS replies.

Written from USPS's published OpenAPI files (OAuth 3.0.6, Payments 3.1.14, Domestic Prices 3.4.24,
Service Standards 3.1.9, Labels 3.9.4, Tracking v3r2 3.2.2) and USPS's own examples. No I/O here.
Tracking codes follow ``schemas.carrier``: ``code`` is the Pub 199 Appendix G ``eventCode``,
``subcode`` is None; ``reasonCode``/``actionCode`` travel as attributes.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from adapters import base, checks
from adapters.usps import requirements
from schemas import carrier, money, types, units

CARRIER = "usps"
CURRENCY = "USD"

OAUTH_PATH = "/oauth2/v3/token"
PAYMENT_AUTH_PATH = "/payments/v3/payment-authorization"
BASE_RATES_PATH = "/prices/v3/base-rates/search"
TOTAL_RATES_PATH = "/prices/v3/total-rates/search"
ESTIMATES_PATH = "/service-standards/v3/estimates"
LABEL_PATH = "/labels/v3/label"
RETURN_LABEL_PATH = "/labels/v3/return-label"
# In a return spec's options: ask the label with a Label Broker QR code (Capability.RETURN_QR).
RETURN_QR_OPTION = "return_qr"
# labels_update_1.yaml BaseReturnsPackageDescription mailClass: the return service of each outbound class.
RETURN_MAIL_CLASSES = {
    "USPS_GROUND_ADVANTAGE": "USPS_GROUND_ADVANTAGE_RETURN_SERVICE",
    "PRIORITY_MAIL": "PRIORITY_MAIL_RETURN_SERVICE",
    "PRIORITY_MAIL_EXPRESS": "PRIORITY_MAIL_EXPRESS_RETURN_SERVICE",
}
CANCEL_PATH = "/labels/v3/label/{tracking_number}"
TRACK_PATH = "/tracking/v3r2/tracking"
SUBSCRIPTIONS_PATH = "/subscriptions-tracking/v3r2/subscriptions"
PICKUP_PATH = "/pickup/v3/carrier-pickup"
SCAN_FORM_PATH = "/scan-forms/v3/scan-form"
ADDRESS_PATH = "/addresses/v3/address"

# The one-body JSON form of a label reply (metadata plus Base64 images), instead of multipart.
LABEL_ACCEPT = "application/vnd.usps.labels+json"
TRACK_BATCH_MAX = 35
MAX_LABEL_WEIGHT_LB = Decimal(70)
# USPS domestic covers the states, DC, the territories and APO/FPO/DPO (US-addressed).
DOMESTIC_COUNTRIES = frozenset({"US", "PR", "VI", "GU", "AS", "MP", "FM", "MH", "PW"})

# "The label is created but not yet accepted" (Tracking sheet of USPS's error inventory): no events yet.
PRE_TRANSIT_ERROR_CODES = frozenset({"150001", "150003", "150009"})
UNCODED_EVENT = "UNCODED"

MAIL_CLASS_NAMES: dict[str, str] = {
    "USPS_GROUND_ADVANTAGE": "USPS Ground Advantage",
    "PRIORITY_MAIL": "Priority Mail",
    "PRIORITY_MAIL_EXPRESS": "Priority Mail Express",
    "PARCEL_SELECT": "Parcel Select",
    "PARCEL_SELECT_LIGHTWEIGHT": "Parcel Select Lightweight",
    "MEDIA_MAIL": "Media Mail",
    "LIBRARY_MAIL": "Library Mail",
    "BOUND_PRINTED_MATTER": "Bound Printed Matter",
    "USPS_CONNECT_LOCAL": "USPS Connect Local",
    "USPS_CONNECT_REGIONAL": "USPS Connect Regional",
    "USPS_CONNECT_MAIL": "USPS Connect Mail",
    "FIRST-CLASS_PACKAGE_SERVICE": "First-Class Package Service",
}

# Canonical shipment options -> USPS extra service codes (Labels/Prices ``ExtraService``).
OPTION_EXTRA_SERVICES: dict[str, int] = {"signature": 921, "adult_signature": 922}
INSURANCE_UP_TO_500 = 930
INSURANCE_OVER_500 = 931

IMAGE_TYPES: dict[carrier.LabelFormat, str] = {
    carrier.LabelFormat.PDF: "PDF",
    carrier.LabelFormat.PNG: "PNG",
    carrier.LabelFormat.GIF: "GIF",
    carrier.LabelFormat.ZPL: "ZPL203DPI",
}
# ImageInfo.imageType: "Labels with customs forms only support formats of PDF, TIFF, ZPL203DPI, ZPL300DPI,
# LABEL_BROKER, and NONE": such a label asked in PNG or GIF is bought as a PDF (the gateway converts).
CUSTOMS_FORM_IMAGE_TYPES = frozenset({"PDF", "TIFF", "ZPL203DPI", "ZPL300DPI", "LABEL_BROKER", "NONE"})
# Canonical content type -> DomesticCustomsForm.customsContentType.
CUSTOMS_CONTENT_TYPES: dict[str, str] = {
    "merchandise": "MERCHANDISE",
    "documents": "DOCUMENT",
    "gift": "GIFT",
    "sample": "COMMERCIAL_SAMPLE",
    "return": "RETURNED_GOODS",
}
# CustomsForm.AESITN: the exemption legend of "Shipments valued at $2,500 or less" (the check refuses more).
NO_EEI_LEGEND = "NO EEI 30.37(a)"
INVOICE_NUMBER_MAX = 15


@dataclass(frozen=True, slots=True)
class HttpCall:
    """A carrier HTTP call described as data, so building it stays pure and testable."""

    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Service:
    """What a label or a single price is bought as: mail class, rate indicator, processing category."""

    mail_class: str
    rate_indicator: str
    processing_category: str

    @classmethod
    def parse(cls, code: str, rate_indicator: str, processing_category: str) -> Service:
        """Read ``MAIL_CLASS`` or ``MAIL_CLASS/RATE_INDICATOR/PROCESSING_CATEGORY`` (the defaults fill gaps)."""
        parts = [p.strip() for p in code.strip().upper().split("/")]
        if not parts[0] or len(parts) > 3 or any(not p for p in parts):
            problem = base.Requirement("service", "service_unknown", f"not a USPS service code: {code!r}")
            raise base.InvalidShipment(CARRIER, [problem])
        return cls(
            parts[0],
            parts[1] if len(parts) > 1 else rate_indicator,
            parts[2] if len(parts) > 2 else processing_category,
        )


@dataclass(frozen=True, slots=True)
class Estimate:
    """A Service Standards estimate for one mail class."""

    mail_class: str
    days: int | None
    delivery: date | None
    guaranteed: bool
    notes: str | None = None


# -- helpers ----------------------------------------------------------------------------------------------


def malformed(detail: str) -> base.CarrierUnavailable:
    """Return the error for a reply we cannot read (the carrier may be mid-deploy: try later)."""
    return base.CarrierUnavailable(CARRIER, f"malformed USPS reply: {detail}", code="malformed_response")


def _clean(text: Any) -> str:
    return " ".join(str(text if text is not None else "").split())


def _as_list(node: Any) -> list[Any]:
    if node is None:
        return []
    return list(node) if isinstance(node, list) else [node]


def _ceil(value: Decimal, places: str = "0.01") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_CEILING)


def _number(value: Decimal) -> float | int:
    """A JSON number for USPS: whole values as integers, the rest as floats of at most 2 decimals."""
    return int(value) if value == value.to_integral_value() else float(value)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _usd(value: Any, what: str) -> money.Money:
    amount = _decimal(value)
    if amount is None:
        raise malformed(f"unreadable {what} {value!r}")
    return money.Money(amount, CURRENCY)


def _date(value: Any) -> date | None:
    """Read ``YYYY-MM-DD`` or the date part of a date-time; None when absent or unreadable."""
    text = _clean(value)
    if len(text) < 10:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _zip5(address: types.Address, role: str) -> str:
    digits = "".join(ch for ch in address.postal_code if ch.isdigit())
    if len(digits) not in (5, 9):
        raise base.CarrierRejected(CARRIER, f"{role} needs a 5- or 9-digit ZIP Code", code="invalid_request")
    return digits[:5]


def _zip4(address: types.Address) -> str | None:
    digits = "".join(ch for ch in address.postal_code if ch.isdigit())
    return digits[5:] if len(digits) == 9 else None


def _domestic(spec: types.ShipmentSpec) -> None:
    for role, address in (("origin", spec.origin), ("destination", spec.destination)):
        if address.country_code.upper() not in DOMESTIC_COUNTRIES:
            raise base.CarrierRejected(
                CARRIER,
                f"USPS domestic APIs only: {role} is in {address.country_code}",
                code="invalid_request",
            )
    if len(spec.parcels) != 1:
        raise base.CarrierRejected(
            CARRIER,
            "USPS prices and labels one package per request; split the shipment",
            code="invalid_request",
        )


def _package(parcel: types.Parcel) -> dict[str, float | int]:
    """Weight in pounds and dimensions in inches, rounded up to 0.01 (USPS bills by the started unit)."""
    weight = max(_ceil(units.from_kg(parcel.weight_kg, "lb")), Decimal("0.01"))
    length, width, height = (max(_ceil(units.from_cm(d, "in")), Decimal("0.01")) for d in parcel.sorted_dims)
    return {
        "weight": _number(weight),
        "length": _number(length),
        "width": _number(width),
        "height": _number(height),
    }


def _extra_services(spec: types.ShipmentSpec) -> list[int]:
    codes = [code for option, code in OPTION_EXTRA_SERVICES.items() if option in spec.options]
    value = _declared_value(spec)
    if "insurance" in spec.options and value is not None:
        codes.append(INSURANCE_UP_TO_500 if value <= 500 else INSURANCE_OVER_500)
    return sorted(set(codes))


def _declared_value(spec: types.ShipmentSpec) -> Decimal | None:
    values = [p.declared_value for p in spec.parcels if p.declared_value is not None]
    if not values:
        return None
    if any(v.currency != CURRENCY for v in values):
        raise base.CarrierRejected(CARRIER, "USPS takes declared values in USD", code="invalid_request")
    return sum((v.amount for v in values), Decimal(0))


def error_detail(body: Any) -> tuple[str | None, str]:
    """Return (first USPS error code, readable message) from an ``ErrorMessage`` body."""
    if not isinstance(body, Mapping):
        return None, ""
    envelope = body.get("error")
    if not isinstance(envelope, Mapping):
        return None, _clean(body.get("message") or body.get("error_description") or body.get("error"))
    errors = [e for e in _as_list(envelope.get("errors")) if isinstance(e, Mapping)]
    code = next((_clean(e.get("code")) for e in errors if _clean(e.get("code"))), None)
    parts = []
    for item in errors:
        text = ": ".join(filter(None, (_clean(item.get("title")), _clean(item.get("detail")))))
        parameter = (
            _clean((item.get("source") or {}).get("parameter"))
            if isinstance(item.get("source"), Mapping)
            else ""
        )
        if parameter:
            text = f"{text} ({parameter})" if text else parameter
        if text:
            parts.append(text)
    message = "; ".join(parts) or _clean(envelope.get("message"))
    return code or (_clean(envelope.get("code")) or None), message


def parse_error(status: int, body: Any) -> base.CarrierError:
    """Map a USPS error reply to CarrierUnavailable (retry later) or CarrierRejected (keep USPS's code)."""
    code, message = error_detail(body)
    message = message or f"HTTP {status}"
    if status == 429 or status >= 500:
        return base.CarrierUnavailable(CARRIER, message, code=code or f"http_{status}", http_status=status)
    return base.CarrierRejected(CARRIER, message, code=code or f"http_{status}", http_status=status)


# -- OAuth and payment authorization ---------------------------------------------------------------------


def oauth_request(client_id: str, client_secret: str) -> HttpCall:
    """Build the client-credentials token request (JSON body, as in USPS's own example)."""
    body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    return HttpCall("POST", OAUTH_PATH, json=body)


def parse_oauth_response(body: Mapping[str, Any]) -> tuple[str, float]:
    """Return (access token, lifetime in seconds); USPS writes ``expires_in`` as a number or a string."""
    try:
        token = str(body["access_token"])
        lifetime = float(body["expires_in"])
    except (KeyError, TypeError, ValueError) as exc:
        raise malformed("token reply without access_token/expires_in") from exc
    if not token:
        raise malformed("empty access_token")
    if str(body.get("status", "approved")).lower() == "revoked":
        raise base.CarrierRejected(CARRIER, "USPS revoked this app's credentials", code="token_revoked")
    return token, lifetime


def payment_authorization_request(config: Mapping[str, Any]) -> HttpCall:
    """Build the payment authorization: PAYER pays from the EPS account (or permit), LABEL_OWNER owns the labels."""
    account: dict[str, str] = {"accountType": str(config.get("account_type", "EPS"))}
    if account["accountType"] == "PERMIT":
        account["accountNumber"] = str(config["account_number"])
        account["permitNumber"] = str(config["account_number"])
        if config.get("permit_zip"):
            account["permitZIP"] = str(config["permit_zip"])
    else:
        account["accountNumber"] = str(config["account_number"])
    identity: dict[str, str] = {"CRID": str(config["crid"]), "MID": str(config["mid"])}
    if config.get("manifest_mid"):
        identity["manifestMID"] = str(config["manifest_mid"])
    roles = [{"roleName": name, **identity, **account} for name in ("PAYER", "LABEL_OWNER")]
    if config.get("price_type") == "CONTRACT":
        roles.append({"roleName": "RATE_HOLDER", **identity, **account})
    return HttpCall("POST", PAYMENT_AUTH_PATH, json={"roles": roles})


def parse_payment_authorization(body: Mapping[str, Any]) -> str:
    """Return the payment authorization token labels are bought with."""
    token = body.get("paymentAuthorizationToken")
    if not isinstance(token, str) or not token:
        raise malformed("payment authorization without paymentAuthorizationToken")
    return token


# -- Prices -----------------------------------------------------------------------------------------------


def _account_fields(config: Mapping[str, Any]) -> dict[str, str]:
    """The paying account, which commercial and contract prices depend on (retail prices do not)."""
    if config.get("price_type") == "RETAIL":
        return {}
    return {
        "accountType": str(config.get("account_type", "EPS")),
        "accountNumber": str(config["account_number"]),
    }


def base_rates_request(
    request: carrier.RateRequest, service: Service, config: Mapping[str, Any], mailing_date: date
) -> HttpCall:
    """Build ``base-rates/search``: the price of one mail class, rate indicator and processing category."""
    spec = request.spec
    _domestic(spec)
    body: dict[str, Any] = {
        "originZIPCode": _zip5(spec.origin, "origin"),
        "destinationZIPCode": _zip5(spec.destination, "destination"),
        **_package(spec.parcels[0]),
        "mailClass": service.mail_class,
        "processingCategory": service.processing_category,
        "rateIndicator": service.rate_indicator,
        "destinationEntryFacilityType": "NONE",
        "priceType": str(config.get("price_type", "COMMERCIAL")),
        "mailingDate": mailing_date.isoformat(),
        **_account_fields(config),
    }
    return HttpCall("POST", BASE_RATES_PATH, json=body)


def total_rates_request(
    request: carrier.RateRequest, config: Mapping[str, Any], mailing_date: date
) -> HttpCall:
    """Build ``total-rates/search``: every eligible price (of the requested mail classes) with extra services."""
    spec = request.spec
    _domestic(spec)
    body: dict[str, Any] = {
        "originZIPCode": _zip5(spec.origin, "origin"),
        "destinationZIPCode": _zip5(spec.destination, "destination"),
        **_package(spec.parcels[0]),
        "priceType": str(config.get("price_type", "COMMERCIAL")),
        "mailingDate": mailing_date.isoformat(),
        **_account_fields(config),
    }
    classes = sorted({s.split("/")[0].strip().upper() for s in request.services if s.strip()})
    if len(classes) == 1:
        body["mailClass"] = classes[0]
    elif classes:
        body["mailClasses"] = classes
    extras = _extra_services(spec)
    if extras:
        body["extraServices"] = extras
    value = _declared_value(spec)
    if value is not None:
        body["itemValue"] = _number(_ceil(value))
    return HttpCall("POST", TOTAL_RATES_PATH, json=body)


def _warnings(nodes: Any) -> list[str]:
    found = []
    for item in _as_list(nodes):
        if isinstance(item, Mapping):
            text = ": ".join(
                filter(None, (_clean(item.get("warningCode")), _clean(item.get("warningDescription"))))
            )
        else:
            text = _clean(item)
        if text:
            found.append(text)
    return found


def _rate_lines(rates: Iterable[Any], extras: Iterable[Any]) -> list[carrier.ChargeLine]:
    lines: list[carrier.ChargeLine] = []
    for rate in rates:
        if not isinstance(rate, Mapping) or _decimal(rate.get("price")) is None:
            continue
        description = _clean(rate.get("description") or rate.get("productName")) or "Postage"
        lines.append(
            carrier.ChargeLine(
                _clean(rate.get("SKU")) or "POSTAGE", description, _usd(rate["price"], "price")
            )
        )
        for fee in _as_list(rate.get("fees")):
            if isinstance(fee, Mapping) and _decimal(fee.get("price")) is not None:
                name = _clean(fee.get("name")) or "Fee"
                lines.append(
                    carrier.ChargeLine(_clean(fee.get("SKU")) or "FEE", name, _usd(fee["price"], "fee"))
                )
    for extra in extras:
        if isinstance(extra, Mapping) and _decimal(extra.get("price")) is not None:
            code = _clean(extra.get("extraService")) or _clean(extra.get("SKU")) or "EXTRA"
            name = _clean(extra.get("name")) or f"Extra service {code}"
            lines.append(carrier.ChargeLine(code, name, _usd(extra["price"], "extra service price")))
    return lines


def _balanced(lines: list[carrier.ChargeLine], total: money.Money) -> tuple[carrier.ChargeLine, ...]:
    """Lines that add up to ``total``: the rest on an OTHER line, or one TOTAL line when they exceed it."""
    summed = sum((line.amount.amount for line in lines), Decimal(0))
    rest = total.amount - summed
    if rest < 0:
        return (carrier.ChargeLine("TOTAL", "USPS quoted total", total),)
    if rest > 0:
        lines = [
            *lines,
            carrier.ChargeLine("OTHER", "Charges USPS did not itemise", money.Money(rest, CURRENCY)),
        ]
    return tuple(lines)


def _offer(
    option: Mapping[str, Any], fallback_class: str | None
) -> tuple[str, carrier.RateResult, str] | None:
    """Return (mail class, result without dates, variant key) for one ``rateOption``; None when unpriced."""
    rates = [r for r in _as_list(option.get("rates")) if isinstance(r, Mapping)]
    extras = [e for e in _as_list(option.get("extraServices")) if isinstance(e, Mapping)]
    lines = _rate_lines(rates, extras)
    total_value = option.get("totalPrice")
    if _decimal(total_value) is None:
        total_value = option.get("totalBasePrice")
    if _decimal(total_value) is None:
        if not lines:
            return None
        total = money.Money(sum((line.amount.amount for line in lines), Decimal(0)), CURRENCY)
    else:
        total = _usd(total_value, "total price")
    first = rates[0] if rates else {}
    mail_class = _clean(first.get("mailClass")).upper() or (fallback_class or "")
    if not mail_class:
        return None
    ingredients = [
        _clean(first.get(k)) for k in ("rateIndicator", "processingCategory", "destinationEntryFacilityType")
    ]
    variant = "/".join(ingredients) if all(ingredients) else _clean(first.get("SKU"))
    result = carrier.RateResult(
        carrier=CARRIER,
        service_code=mail_class,
        service_name=MAIL_CLASS_NAMES.get(mail_class) or _clean(first.get("productName")) or mail_class,
        total=total,
        charges=_balanced(lines, total),
        guaranteed=mail_class == "PRIORITY_MAIL_EXPRESS",
        negotiated=_clean(first.get("priceType")) in ("CONTRACT", "NSA"),
    )
    return mail_class, result, variant


def _labelable(option: Mapping[str, Any]) -> bool:
    """Drop offers a label from us cannot buy: destination-entry prices (we always send ``NONE``)."""
    for rate in _as_list(option.get("rates")):
        if isinstance(rate, Mapping) and _clean(rate.get("destinationEntryFacilityType")) not in ("", "NONE"):
            return False
    return True


def parse_rates_response(
    body: Mapping[str, Any], fallback_class: str | None = None
) -> list[carrier.RateResult]:
    """Return the offers of a ``base-rates/search`` or ``total-rates/search`` reply, cheapest first.

    A base-rates reply is one option (``totalBasePrice`` + ``rates``); a total-rates reply holds
    ``rateOptions[]``. When one mail class comes back priced several ways (rate indicators, SKUs),
    ``service_options`` tells the offers apart.
    """
    if "rateOptions" in body:
        options = [o for o in _as_list(body.get("rateOptions")) if isinstance(o, Mapping)]
    elif "rates" in body or "totalBasePrice" in body:
        options = [body]
    else:
        raise malformed("price reply without rateOptions, rates or totalBasePrice")
    offers = [offer for o in options if _labelable(o) and (offer := _offer(o, fallback_class)) is not None]
    counts: dict[str, int] = {}
    for mail_class, _, _ in offers:
        counts[mail_class] = counts.get(mail_class, 0) + 1
    results = []
    for mail_class, result, variant in offers:
        if counts[mail_class] > 1:
            result = _replace(result, service_options=variant or None)
        results.append(result)
    results.sort(key=lambda r: (r.total.amount, r.service_code, r.service_options or ""))
    return results


def _replace(result: carrier.RateResult, **changes: Any) -> carrier.RateResult:
    values = {name: getattr(result, name) for name in result.__dataclass_fields__}
    values.update(changes)
    return carrier.RateResult(**values)


def rate_warnings(body: Mapping[str, Any]) -> list[str]:
    """Return every warning a price reply carries (on rates and extra services)."""
    options = _as_list(body.get("rateOptions")) if "rateOptions" in body else [body]
    found: list[str] = []
    for option in options:
        if not isinstance(option, Mapping):
            continue
        for node in [*_as_list(option.get("rates")), *_as_list(option.get("extraServices"))]:
            if isinstance(node, Mapping):
                found.extend(w for w in _warnings(node.get("warnings")) if w not in found)
    return found


# -- Service standards -----------------------------------------------------------------------------------


def estimates_request(spec: types.ShipmentSpec, mail_classes: Sequence[str], acceptance: date) -> HttpCall:
    """Build ``GET /estimates`` for one mail class, or ``ALL`` when several were priced."""
    classes = sorted(set(mail_classes))
    params = {
        "originZIPCode": _zip5(spec.origin, "origin"),
        "destinationZIPCode": _zip5(spec.destination, "destination"),
        "acceptanceDate": acceptance.isoformat(),
        "mailClass": classes[0] if len(classes) == 1 else "ALL",
    }
    return HttpCall("GET", ESTIMATES_PATH, params=params)


def parse_estimates(body: Any) -> list[Estimate]:
    """Return the estimates of a Service Standards reply (``serviceStandard`` may be ``" 2"`` or ``2``)."""
    if not isinstance(body, list):
        raise malformed("service standards reply is not a list")
    found = []
    for item in body:
        if not isinstance(item, Mapping) or not _clean(item.get("mailClass")):
            continue
        days_text = _clean(item.get("serviceStandard"))
        node = item.get("delivery")
        delivery: Mapping[str, Any] = node if isinstance(node, Mapping) else {}
        found.append(
            Estimate(
                mail_class=_clean(item.get("mailClass")).upper(),
                days=int(days_text) if days_text.isdigit() else None,
                delivery=_date(delivery.get("scheduledDeliveryDateTime")),
                guaranteed=delivery.get("guaranteedDelivery") is True,
                notes=_clean(item.get("notes")) or None,
            )
        )
    return found


def with_estimates(
    results: Sequence[carrier.RateResult], estimates: Sequence[Estimate], weight_lb: Decimal
) -> list[carrier.RateResult]:
    """Attach transit days and delivery dates by mail class (the weight picks between 1-lb variants)."""
    weight_note = "WEIGHT_LESS_THAN_1_POUND" if weight_lb < 1 else "WEIGHT_GREATER_THAN_OR_EQUAL_TO_1_POUND"
    by_class: dict[str, Estimate] = {}
    for estimate in estimates:
        if estimate.notes not in (None, weight_note):
            continue
        by_class.setdefault(estimate.mail_class, estimate)
    out = []
    for result in results:
        found = by_class.get(result.service_code)
        if found is None:
            out.append(result)
            continue
        out.append(
            _replace(
                result,
                transit_days=found.days,
                estimated_delivery=found.delivery,
                guaranteed=result.guaranteed or found.guaranteed,
            )
        )
    return out


# -- Labels -----------------------------------------------------------------------------------------------


def _names(address: types.Address) -> dict[str, str]:
    out: dict[str, str] = {}
    if address.name:
        first, _, last = address.name.strip().partition(" ")
        out["firstName"] = first[:50]
        if last.strip():
            out["lastName"] = last.strip()[:50]
    if address.company:
        out["firm"] = address.company[:50]
    return out


# The Labels spec's own e-mail pattern: anything else would be refused with the whole label.
_EMAIL = re.compile(r"[a-zA-Z0-9_+&*-]+(?:\.[a-zA-Z0-9_+&*-]+)*@(?:[a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}")


def _label_address(address: types.Address, role: str) -> dict[str, Any]:
    lines = [line for line in address.street_lines if line.strip()]
    if not lines:
        raise base.CarrierRejected(CARRIER, f"{role} needs a street address", code="invalid_request")
    if not address.state or len(address.state.strip()) != 2:
        raise base.CarrierRejected(CARRIER, f"{role} needs a 2-letter state", code="invalid_request")
    names = _names(address)
    if not names:
        raise base.CarrierRejected(
            CARRIER, f"{role} needs a name or company for USPS", code="invalid_request"
        )
    out: dict[str, Any] = {
        "streetAddress": lines[0][:50],
        "city": address.city[:28],
        "state": address.state.strip().upper(),
        "ZIPCode": _zip5(address, role),
        **names,
    }
    if len(lines) > 1:
        out["secondaryAddress"] = " ".join(lines[1:])[:50]
    plus4 = _zip4(address)
    if plus4:
        out["ZIPPlus4"] = plus4
    digits = "".join(ch for ch in (address.phone or "") if ch.isdigit())
    if digits and 8 <= len(digits) <= 15 and digits[0] != "0":
        out["phone"] = digits
    if address.email and len(address.email) <= 50 and _EMAIL.fullmatch(address.email):
        out["email"] = address.email
    return out


def bought_format(request: carrier.LabelRequest) -> carrier.LabelFormat:
    """The format a label is bought in: the one asked, or PDF when a customs form rules that one out."""
    if (
        requirements.needs_customs_form(request.spec)
        and IMAGE_TYPES[request.label_format] not in CUSTOMS_FORM_IMAGE_TYPES
    ):
        return carrier.LabelFormat.PDF
    return request.label_format


def customs_form(spec: types.ShipmentSpec, reference: str) -> dict[str, Any] | None:
    """The ``customsForm`` of a label to or from APO/FPO/DPO or a territory; None when it needs none.

    From the declaration ``requirements.customs`` passed: its content type, one ``contents`` line per
    item (total value in USD, total weight in lb, HS tariff number, country of origin), the invoice number
    (the label's reference without one; left off when longer than USPS's 15 characters), the first tax id of each party as its reference, and the AES
    exemption legend. The incoterm has no field on USPS's domestic form.
    """
    declaration = spec.customs
    if declaration is None or not requirements.needs_customs_form(spec):
        return None
    contents = []
    for item in declaration.items:
        line: dict[str, Any] = {
            "itemDescription": _clean(item.description),
            "itemQuantity": item.quantity,
            "itemTotalValue": _number(requirements.item_value_usd(item)),
            "weightUOM": "lb",
            "itemTotalWeight": _number(requirements.item_weight_lb(item)),
            "countryofOrigin": item.origin_country.upper(),
        }
        if item.hs_code:
            line["HSTariffNumber"] = checks.hs_digits(item.hs_code)
        contents.append(line)
    form: dict[str, Any] = {
        "customsContentType": CUSTOMS_CONTENT_TYPES[declaration.content_type],
        "contents": contents,
        "AESITN": NO_EEI_LEGEND,
    }
    invoice = _clean(declaration.invoice_number or reference)
    if invoice and len(invoice) <= INVOICE_NUMBER_MAX:
        # Optional on the form: a number cut short would not match the invoice, so none is sent instead.
        form["invoiceNumber"] = invoice
    if declaration.exporter_tax_ids:
        form["exportersReference"] = checks.tax_id_number(declaration.exporter_tax_ids[0].number)
    if declaration.importer_tax_ids:
        form["importersReference"] = checks.tax_id_number(declaration.importer_tax_ids[0].number)
    return form


def label_request(
    request: carrier.LabelRequest, service: Service, mailing_date: date, config: Mapping[str, Any]
) -> HttpCall:
    """Build ``POST /labels/v3/label`` asking for the JSON reply form (label image Base64 in the body)."""
    spec = request.spec
    # Everything about the shipment itself is the check's: the gateway asks it before buying.
    base.refuse_unless_valid(CARRIER, requirements.check(spec, request.service_code))
    package = _package(spec.parcels[0])
    description: dict[str, Any] = {
        "mailClass": service.mail_class,
        "rateIndicator": service.rate_indicator,
        "processingCategory": service.processing_category,
        "destinationEntryFacilityType": "NONE",
        "weightUOM": "lb",
        "weight": package["weight"],
        "dimensionsUOM": "in",
        "length": package["length"],
        "width": package["width"],
        "height": package["height"],
        "mailingDate": mailing_date.isoformat(),
        "customerReference": [{"referenceNumber": request.reference[:30], "printReferenceNumber": False}],
    }
    extras = _extra_services(spec)
    if extras:
        description["extraServices"] = extras
    value = _declared_value(spec)
    if value is not None:
        description["packageOptions"] = {"packageValue": _number(_ceil(value))}
    # A customs form also needs a 4X6LABEL, the mailing date shown and no pay-on-use return label
    # (ImageInfo), all of which every label here has.
    body: dict[str, Any] = {
        "imageInfo": {
            "imageType": IMAGE_TYPES[bought_format(request)],
            "labelType": "4X6LABEL",
            "receiptOption": "NONE",
            "suppressPostage": False,
            "suppressMailDate": False,
            "returnLabel": False,
        },
        "toAddress": _label_address(spec.destination, "destination"),
        "fromAddress": _label_address(spec.origin, "origin"),
        "packageDescription": description,
    }
    form = customs_form(spec, request.reference)
    if form is not None:
        body["customsForm"] = form
    return HttpCall("POST", LABEL_PATH, json=body, headers={"Accept": LABEL_ACCEPT})


def return_label_request(request: carrier.LabelRequest, service: Service) -> HttpCall:
    """Build ``POST /labels/v3/return-label`` (``ReturnLabelRequest``), asking for the JSON reply form.

    The customer mails it (``fromAddress``: the spec's origin) back to the business (``toAddress``: its
    destination), in the return service of the mail class rated (``RETURN_MAIL_CLASSES``).
    """
    spec = request.spec
    base.refuse_unless_valid(CARRIER, requirements.check(spec, request.service_code))
    mail_class = RETURN_MAIL_CLASSES.get(service.mail_class)
    if mail_class is None:
        raise base.CarrierRejected(
            CARRIER,
            f"USPS sells return labels for {', '.join(sorted(RETURN_MAIL_CLASSES))} only, "
            f"not {service.mail_class}",
            code="returns_not_supported",
        )
    package = _package(spec.parcels[0])
    description: dict[str, Any] = {
        "mailClass": mail_class,
        "rateIndicator": service.rate_indicator,
        "processingCategory": service.processing_category,
        "weightUOM": "lb",
        "weight": package["weight"],
        "dimensionsUOM": "in",
        "length": package["length"],
        "width": package["width"],
        "height": package["height"],
        "customerReference": [{"referenceNumber": request.reference[:30], "printReferenceNumber": False}],
    }
    image_info: dict[str, Any] = {
        "imageType": IMAGE_TYPES[bought_format(request)],
        "labelType": "4X6LABEL",
        "receiptOption": "NONE",
        "suppressPostage": False,
    }
    if RETURN_QR_OPTION in spec.options:
        # ImageInfo: LABEL_BROKER "only supports labelType of '4X6LABEL' ... and receiptOption of 'NONE'";
        # with includeLabelBrokerPDF the reply holds the QR code (PNG) and the label (PDF).
        image_info.update(imageType="LABEL_BROKER", includeLabelBrokerPDF=True)
    body: dict[str, Any] = {
        "imageInfo": image_info,
        "toAddress": _label_address(spec.destination, "destination"),
        "fromAddress": _label_address(spec.origin, "origin"),
        "packageDescription": description,
    }
    # ReturnLabelRequest.customsForm (DomesticReturnsCustomsForm): e.g. a return sent from an APO address.
    form = customs_form(spec, request.reference)
    if form is not None:
        # ImageInfo: "Mail Date cannot be suppressed on Domestic Customs Forms".
        image_info["suppressMailDate"] = False
        body["customsForm"] = form
    return HttpCall("POST", RETURN_LABEL_PATH, json=body, headers={"Accept": LABEL_ACCEPT})


def parse_return_label_json(
    body: Mapping[str, Any], label_format: carrier.LabelFormat
) -> carrier.LabelResult:
    """Read the ``ReturnLabelVendorResponse`` (``returnLabelImage`` beside the ``ReturnLabelMetadata``).

    Asked with a QR code (``LABEL_BROKER``), it also holds ``labelBrokerQR`` (a PNG), kept as a
    ``qr_code`` document, and the label is the PDF stored at Label Broker.
    """
    if body.get("labelBrokerQR") is None:
        return parse_label_response(
            body, _b64(body.get("returnLabelImage"), "returnLabelImage"), label_format
        )
    image = body.get("returnLabelImage") or body.get("labelImage")
    result = parse_label_response(body, _b64(image, "returnLabelImage"), carrier.LabelFormat.PDF)
    qr = carrier.ShippingDocument(
        kind="qr_code", data=_b64(body["labelBrokerQR"], "labelBrokerQR"), format="PNG"
    )
    return dataclasses.replace(result, documents=(*result.documents, qr))


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value.strip():
        raise malformed(f"label reply without {what}")
    text = "".join(value.split())
    try:
        # Padding is restored when left off (USPS's own spec examples drop it).
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise malformed(f"{what} is not Base64") from exc


def parse_label_response(
    metadata: Mapping[str, Any], image: bytes, label_format: carrier.LabelFormat
) -> carrier.LabelResult:
    """Return the bought label from its metadata and decoded image (either reply form)."""
    number = _clean(metadata.get("trackingNumber"))
    if not number:
        raise malformed("label reply without trackingNumber")
    lines: list[carrier.ChargeLine] = []
    if _decimal(metadata.get("postage")) is not None:
        postage = _usd(metadata["postage"], "postage")
        lines.append(carrier.ChargeLine(_clean(metadata.get("SKU")) or "POSTAGE", "Postage", postage))
    for kind in ("extraServices", "fees"):
        for item in _as_list(metadata.get(kind)):
            if isinstance(item, Mapping) and _decimal(item.get("price")) is not None:
                name = _clean(item.get("name")) or ("Extra service" if kind == "extraServices" else "Fee")
                code = _clean(item.get("SKU")) or ("EXTRA" if kind == "extraServices" else "FEE")
                lines.append(carrier.ChargeLine(code, name, _usd(item["price"], name)))
    total = money.Money(sum((line.amount.amount for line in lines), Decimal(0)), CURRENCY) if lines else None
    return carrier.LabelResult(
        carrier=CARRIER,
        carrier_shipment_id=number,
        tracking_numbers=(number,),
        label=image,
        label_format=label_format,
        charges=total,
        charge_lines=tuple(line for line in lines if line.amount.amount != 0 or line.code == lines[0].code),
        labels=(image,),
    )


def parse_label_json(body: Mapping[str, Any], label_format: carrier.LabelFormat) -> carrier.LabelResult:
    """Read the ``application/vnd.usps.labels+json`` reply (``LabelVendorResponse``)."""
    return parse_label_response(body, _b64(body.get("labelImage"), "labelImage"), label_format)


def parse_label_multipart(
    content: bytes, content_type: str, label_format: carrier.LabelFormat
) -> carrier.LabelResult:
    """Read the default ``multipart/form-data`` reply: JSON ``labelMetadata`` then the Base64 image part."""
    metadata, image = multipart_metadata_and_image(content, content_type)
    return parse_label_response(metadata, image, label_format)


def multipart_metadata_and_image(content: bytes, content_type: str) -> tuple[Mapping[str, Any], bytes]:
    """Return the first JSON part and the first image part (receipts skipped) of a multipart reply.

    The spec says to ignore the image part's ``Content-Encoding``/``Content-Transfer-Encoding`` headers
    and Base64-decode its body.
    """
    metadata: Mapping[str, Any] | None = None
    image: bytes | None = None
    for headers, body in multipart_parts(content, content_type):
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        disposition = (headers.get("content-disposition", "") + headers.get("file name", "")).lower()
        if "receipt" in disposition:
            continue
        if kind == "application/json" and metadata is None:
            try:
                parsed = json.loads(body)
            except ValueError as exc:
                raise malformed("metadata part is not JSON") from exc
            if isinstance(parsed, Mapping):
                metadata = parsed
        elif kind != "application/json" and image is None:
            image = _b64(body.decode("ascii", errors="replace"), "image part")
    if metadata is None or image is None:
        raise malformed("multipart reply without metadata and image parts")
    return metadata, image


def multipart_parts(content: bytes, content_type: str) -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart body into (lower-cased headers, body) parts; tolerant of LF-only line ends."""
    match = re.search(r'boundary="?([^";]+)"?', content_type or "")
    text = content.replace(b"\r\n", b"\n")
    if match:
        boundary = match.group(1).encode()
    else:  # take it from the body's first line (USPS's sample has no header beside it)
        first = text.lstrip().split(b"\n", 1)[0]
        if not first.startswith(b"--"):
            raise malformed("multipart reply without a boundary")
        boundary = first[2:].strip()
    parts = []
    for chunk in text.split(b"--" + boundary):
        chunk = chunk.strip(b"\n")
        if not chunk or chunk.startswith(b"--"):
            continue
        head, sep, body = chunk.partition(b"\n\n")
        if not sep:
            continue
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", errors="replace").splitlines():
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        parts.append((headers, body.strip()))
    return parts


def cancel_request(tracking_number: str) -> HttpCall:
    """Build ``DELETE /labels/v3/label/{trackingNumber}`` (void, or a refund request once manifested)."""
    number = tracking_number.strip()
    if not number.isalnum():
        raise base.CarrierRejected(CARRIER, f"not a USPS tracking number: {number!r}", code="invalid_request")
    return HttpCall("DELETE", CANCEL_PATH.format(tracking_number=number))


def parse_cancel_response(
    body: Mapping[str, Any], request: carrier.VoidRequest, number: str
) -> carrier.VoidResult:
    """CANCELED: void, no charge. DISPUTED: already manifested, a refund request was filed (``disputeId``)."""
    status = _clean(body.get("status")).upper()
    if status not in ("CANCELED", "CANCELLED", "DISPUTED"):
        raise malformed(f"cancel reply with status {status or 'missing'}")
    if status == "DISPUTED":
        dispute = _clean(body.get("disputeId"))
        message = "refund requested (label already manifested)" + (
            f"; disputeId {dispute}" if dispute else ""
        )
    else:
        message = "label canceled; postage not charged"
    return carrier.VoidResult(
        carrier=CARRIER,
        carrier_shipment_id=request.carrier_shipment_id,
        voided=True,
        voided_tracking_numbers=(_clean(body.get("trackingNumber")) or number,),
        message=message,
    )


# -- Tracking ---------------------------------------------------------------------------------------------


def track_request(tracking_numbers: Sequence[str]) -> HttpCall:
    """Build the v3r2 batch: 1 to 35 tracking numbers of 4 to 34 characters."""
    numbers = [n.strip() for n in tracking_numbers]
    if not 1 <= len(numbers) <= TRACK_BATCH_MAX:
        raise base.CarrierRejected(CARRIER, "track 1 to 35 numbers per call", code="invalid_request")
    for number in numbers:
        if not 4 <= len(number) <= 34:
            raise base.CarrierRejected(
                CARRIER, f"USPS tracking numbers have 4 to 34 characters: {number!r}", code="invalid_request"
            )
    return HttpCall("POST", TRACK_PATH, json=[{"trackingNumber": n} for n in numbers])


_OFFSET = re.compile(r"^([+-])?(\d{1,2})(?::?(\d{2}))?$")


def _offset(value: Any) -> timezone | None:
    """Read ``GMTOffset``: ``-05:00``, ``-5:00``, ``-0500``, ``-5`` (hours) or ``-420`` (minutes)."""
    text = _clean(value)
    if not text:
        return None
    if re.fullmatch(r"[+-]?\d{3,}", text) and ":" not in text and len(text.lstrip("+-")) != 4:
        minutes = int(text)
        return timezone(timedelta(minutes=minutes)) if abs(minutes) < 24 * 60 else None
    match = _OFFSET.match(text)
    if not match:
        return None
    sign = -1 if match.group(1) == "-" else 1
    hours, minutes = int(match.group(2)), int(match.group(3) or 0)
    if hours > 23 or minutes > 59:
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _datetime(value: Any) -> datetime | None:
    """Read ISO 8601 and USPS's ``2024-04-04 14:03:12.041000+00:00`` form; naive when no zone is written."""
    text = _clean(value)
    if len(text) < 16:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def event_time(event: Mapping[str, Any]) -> tuple[datetime, dict[str, str]] | None:
    """Return the event's UTC time and what is uncertain about it; None when it has no readable time.

    ``GMTTimestamp`` first; else ``eventTimestamp`` with its own zone, or with ``GMTOffset``; else
    the local wall clock kept as UTC and flagged (``local_time_zone_known``). A date-only
    ``eventTimestamp`` becomes midnight, flagged ``time_known``.
    """
    gmt = _datetime(event.get("GMTTimestamp"))
    if gmt is not None:
        return (gmt.replace(tzinfo=UTC) if gmt.tzinfo is None else gmt.astimezone(UTC)), {}
    local = _datetime(event.get("eventTimestamp"))
    flags: dict[str, str] = {}
    if local is None:
        day = _date(event.get("eventTimestamp"))
        if day is None:
            return None
        local = datetime(day.year, day.month, day.day)
        flags["time_known"] = "false"
    if local.tzinfo is not None:
        return local.astimezone(UTC), flags
    zone = _offset(event.get("GMTOffset"))
    if zone is not None:
        return local.replace(tzinfo=zone).astimezone(UTC), flags
    flags["local_time_zone_known"] = "false"
    return local.replace(tzinfo=UTC), flags


def _event_location(event: Mapping[str, Any]) -> carrier.EventLocation | None:
    location = carrier.EventLocation(
        city=_clean(event.get("eventCity")) or None,
        state=_clean(event.get("eventState")) or None,
        postal_code=_clean(event.get("eventZIPCode") or event.get("eventZIP")) or None,
        country_code=_clean(event.get("eventCountry")) or None,
        description=_clean(event.get("firm")) or None,
    )
    return None if location == carrier.EventLocation() else location


def _event_attributes(event: Mapping[str, Any]) -> dict[str, str]:
    names = {
        "reasonCode": "reason_code",
        "actionCode": "action_code",
        "recipientName": "signatory",
        "name": "signatory",
        "eventPartner": "partner",
        "CODAmountDue": "cod_amount_due",
        "firm": "firm",
    }
    out: dict[str, str] = {}
    for key, name in names.items():
        text = _clean(event.get(key))
        if text and name not in out:
            out[name] = text
    if isinstance(event.get("veriPoint"), bool):
        out["veripoint"] = "true" if event["veriPoint"] else "false"
    return out


def event_id(tracking_number: str, code: str, occurred_at: datetime) -> str:
    """USPS sends no event id: (tracking number, eventCode, GMT time) names an event in polls and pushes alike."""
    return f"{tracking_number}:{code}:{occurred_at:%Y%m%dT%H%M%S}"


def delivery_expectation(detail: Mapping[str, Any]) -> date | None:
    """Return the best delivery date of a ``TrackingDetail``: predicted, expected, then guaranteed."""
    expectation = detail.get("deliveryDateExpectation")
    if not isinstance(expectation, Mapping):
        expectation = {}
    for key in ("predictedDeliveryDate", "expectedDeliveryDate", "guaranteedDeliveryDate"):
        found = _date(expectation.get(key))
        if found is not None:
            return found
    return _date(detail.get("expectedDeliveryDate"))


def detail_events(detail: Mapping[str, Any], tracking_number: str) -> list[carrier.RawTrackingEvent]:
    """Return every event of one ``TrackingDetail`` (v3r2 ``trackingEvents``, a push's ``trackingEvent``), oldest first."""
    number = _clean(detail.get("trackingNumber")) or tracking_number
    estimated = delivery_expectation(detail)
    nodes = _as_list(detail.get("trackingEvents")) + _as_list(detail.get("trackingEvent"))
    found: list[tuple[datetime, int, carrier.RawTrackingEvent]] = []
    for index, node in enumerate(nodes):
        if not isinstance(node, Mapping):
            continue
        timed = event_time(node)
        if timed is None:
            raise malformed(f"tracking event without a readable time for {number}")
        occurred, flags = timed
        code = _clean(node.get("eventCode")).upper() or UNCODED_EVENT
        attributes = {**_event_attributes(node), **flags}
        event = carrier.RawTrackingEvent(
            carrier=CARRIER,
            tracking_number=number,
            code=code,
            subcode=None,
            description=_clean(node.get("eventType")),
            occurred_at=occurred,
            location=_event_location(node),
            estimated_delivery=estimated,
            source_event_id=event_id(number, code, occurred),
            detail_code=_clean(node.get("reasonCode")) or None,
            raw=dict(node),
            attributes=attributes,
        )
        # USPS lists newest first: among equal times the later list position is the earlier event.
        found.append((occurred, -index, event))
    found.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in found]


def _item_warning(item: Mapping[str, Any]) -> tuple[str | None, str]:
    code, message = error_detail(item)
    status = _clean(item.get("statusCode"))
    text = ": ".join(filter(None, (code or (f"HTTP {status}" if status else None), message)))
    return code, text or "USPS returned no tracking detail"


def parse_track_response(body: Any, tracking_numbers: Sequence[str]) -> dict[str, carrier.TrackResult]:
    """Return one TrackResult per requested number from a 200 (``TrackingDetails``) or 207 reply.

    A failure item (``statusCode`` other than 200) becomes a result with no events and its error as a
    warning, so one unknown number never hides the others'. USPS's own warning-free pre-transit codes
    (150001, 150003, 150009) read "not yet in USPS's hands".
    """
    if not isinstance(body, list):
        raise malformed("tracking reply is not a list")
    results: dict[str, carrier.TrackResult] = {}
    for index, item in enumerate(body):
        if not isinstance(item, Mapping):
            continue
        fallback = tracking_numbers[index] if index < len(tracking_numbers) else ""
        number = _clean(item.get("trackingNumber")) or fallback
        if not number:
            continue
        status = _clean(item.get("statusCode")) or "200"
        if status != "200" or isinstance(item.get("error"), Mapping):
            _, warning = _item_warning(item)
            results[number] = carrier.TrackResult(CARRIER, number, (), None, (warning,))
            continue
        warnings = []
        summary = _clean(item.get("statusSummary")) or _clean(item.get("status"))
        events = detail_events(item, number)
        if not events and summary:
            warnings.append(f"no events yet: {summary}")
        results[number] = carrier.TrackResult(
            CARRIER, number, tuple(events), delivery_expectation(item), tuple(warnings)
        )
    for number in tracking_numbers:
        results.setdefault(
            number.strip(),
            carrier.TrackResult(
                CARRIER, number.strip(), (), None, ("USPS returned nothing for this number",)
            ),
        )
    return results


def pre_transit_result(error: base.CarrierError, tracking_number: str) -> carrier.TrackResult | None:
    """A whole-call error that only says "no events (yet)" for this number: an empty result with the warning.

    That is a 1500xx pre-transit code, or a 404 (USPS does not know the number, or not yet).
    """
    if error.code in PRE_TRANSIT_ERROR_CODES or error.http_status == 404:
        return carrier.TrackResult(CARRIER, tracking_number, (), None, (f"{error.code}: {error.message}",))
    return None


# -- Tracking subscriptions -------------------------------------------------------------------------------


def subscription_request(
    listener_url: str,
    secret: str,
    admin_emails: Sequence[str],
    *,
    mid: str | None = None,
    tracking_number: str | None = None,
    event_types: Sequence[str] = ("ALL_UPDATES",),
    https_only: bool = True,
) -> HttpCall:
    """Build a Subscriptions - Tracking v3r2 subscription for a MID or one tracking number.

    USPS posts only to https listeners; ``https_only=False`` is for the simulator and tests.
    """
    if (mid is None) == (tracking_number is None):
        raise base.CarrierRejected(
            CARRIER, "subscribe either a MID or a tracking number", code="invalid_request"
        )
    if len(secret) != 32:
        raise base.CarrierRejected(
            CARRIER, "the webhook secret must have 32 characters", code="invalid_request"
        )
    schemes = ("https://",) if https_only else ("https://", "http://")
    if not listener_url.startswith(schemes) or len(listener_url) > 200:
        raise base.CarrierRejected(
            CARRIER, "the listener URL must be https and at most 200 characters", code="invalid_request"
        )
    if not 1 <= len(admin_emails) <= 3:
        raise base.CarrierRejected(CARRIER, "give 1 to 3 admin e-mail contacts", code="invalid_request")
    filters: dict[str, Any] = {"trackingEventTypes": list(event_types)}
    if mid is not None:
        filters["MID"] = mid
    else:
        filters["trackingNumber"] = tracking_number
    body = {
        "listenerURL": listener_url,
        "secret": secret,
        "adminNotification": [{"email": email} for email in admin_emails],
        "status": "ENABLED",
        "filterProperties": filters,
    }
    return HttpCall("POST", SUBSCRIPTIONS_PATH, json=body)


def subscription_read_request(subscription_id: str) -> HttpCall:
    """Build ``GET …/subscriptions/{subscriptionId}``."""
    return HttpCall("GET", f"{SUBSCRIPTIONS_PATH}/{_path_segment(subscription_id)}")


def subscription_delete_request(subscription_id: str, etag: str) -> HttpCall:
    """Build ``DELETE …/subscriptions/{subscriptionId}`` with ``If-Match`` set to the ETag a GET returned
    (the spec requires it on every DELETE and PUT)."""
    if not etag.strip():
        raise malformed("subscription reply without an ETag to delete with")
    return HttpCall(
        "DELETE", f"{SUBSCRIPTIONS_PATH}/{_path_segment(subscription_id)}", headers={"If-Match": etag.strip()}
    )


def _path_segment(value: str) -> str:
    cleaned = value.strip()
    if not cleaned or not cleaned.replace("-", "").replace("_", "").isalnum():
        raise base.CarrierRejected(CARRIER, "not a subscription id", code="invalid_request")
    return cleaned


def parse_subscription(body: Any) -> carrier.PushSubscription:
    """Read a ``TrackingSubscription`` (a subscription without ``status`` is ENABLED, the default)."""
    if not isinstance(body, Mapping):
        raise malformed("subscription reply is not a JSON object")
    subscription = body.get("subscriptionId")
    if subscription in (None, ""):
        raise malformed("subscription reply without subscriptionId")
    status = str(body.get("status") or "ENABLED").strip().lower()
    reason = body.get("statusReason")
    listener = body.get("listenerURL")
    return carrier.PushSubscription(
        id=str(subscription),
        status=status,
        listener_url=str(listener) if listener else None,
        reason=str(reason).strip() if reason else None,
    )


# -- Carrier pickup ---------------------------------------------------------------------------------------


def pickup_request(request: carrier.PickupRequest, weight_lb_per_parcel: Decimal) -> HttpCall:
    """Build ``POST /pickup/v3/carrier-pickup`` for the day of ``ready_at``.

    USPS needs a contact (an e-mail, or a 10-digit US cell number) and an estimated total weight;
    the canonical request carries no weight, so the account's per-parcel estimate stands in.
    """
    address = request.address
    if address.country_code.upper() not in DOMESTIC_COUNTRIES:
        raise base.CarrierRejected(CARRIER, "USPS picks up in the US only", code="invalid_request")
    if request.parcel_count < 1:
        raise base.CarrierRejected(CARRIER, "a pickup needs at least one parcel", code="invalid_request")
    located = _label_address(address, "pickup address")
    names: dict[str, Any] = {k: located.pop(k) for k in ("firstName", "lastName", "firm") if k in located}
    contact: list[dict[str, str]] = []
    if "email" in located:
        contact.append({"email": located.pop("email")})
    digits = "".join(ch for ch in (address.phone or "") if ch.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    located.pop("phone", None)
    if len(digits) == 10:
        contact.append({"cellNumber": digits})
    if not contact:
        raise base.CarrierRejected(
            CARRIER, "a USPS pickup needs an e-mail or a 10-digit phone number", code="invalid_request"
        )
    weight = _ceil(weight_lb_per_parcel * request.parcel_count, "0.1")
    body = {
        "pickupDate": request.ready_at.date().isoformat(),
        "pickupAddress": {**names, "address": located, "contact": contact},
        "packages": [{"packageType": "OTHER", "packageCount": request.parcel_count}],
        "estimatedWeight": _number(weight),
        "pickupLocation": {"packageLocation": "FRONT_DOOR"},
    }
    return HttpCall("POST", PICKUP_PATH, json=body)


def parse_pickup_response(body: Mapping[str, Any], request: carrier.PickupRequest) -> carrier.PickupResult:
    """Return the confirmation number and the day USPS booked (which may differ from the one asked)."""
    number = _clean(body.get("confirmationNumber"))
    if not number:
        raise malformed("pickup reply without confirmationNumber")
    booked = _date(body.get("pickupDate"))
    ready = request.ready_at
    if booked is not None and booked != ready.date():
        ready = datetime.combine(booked, ready.timetz())
    return carrier.PickupResult(carrier=CARRIER, confirmation=number, ready_at=ready)


def _pickup_path(confirmation: str) -> str:
    number = confirmation.strip()
    if not number or not all(ch.isalnum() for ch in number):
        raise base.CarrierRejected(
            CARRIER, f"not a USPS pickup confirmation number: {confirmation!r}", code="invalid_request"
        )
    return f"{PICKUP_PATH}/{number}"


def pickup_lookup_request(confirmation: str) -> HttpCall:
    """Build ``GET /pickup/v3/carrier-pickup/{confirmationNumber}``: its ``ETag`` allows one cancel or update."""
    return HttpCall("GET", _pickup_path(confirmation))


def pickup_cancel_request(confirmation: str, etag: str) -> HttpCall:
    """Build ``DELETE /pickup/v3/carrier-pickup/{confirmationNumber}`` with ``If-Match`` set to the ETag."""
    if not etag.strip():
        raise malformed("pickup reply without an ETag to cancel with")
    return HttpCall("DELETE", _pickup_path(confirmation), headers={"If-Match": etag.strip()})


# -- SCAN form (end-of-day manifest) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScanForm:
    """A PS Form 5630: the manifest number (EFN) that stands for every label linked, and the form image."""

    manifest_number: str
    tracking_numbers: tuple[str, ...]
    image: bytes | None
    mailing_date: date | None = None


def scan_form_request(
    address: types.Address, mailing_date: date, tracking_numbers: Sequence[str] = (), mid: str | None = None
) -> HttpCall:
    """Build ``POST /scan-forms/v3/scan-form`` for listed labels, or every open label of a MID."""
    numbers = [n.strip() for n in tracking_numbers if n.strip()]
    if bool(numbers) == bool(mid):
        raise base.CarrierRejected(CARRIER, "a SCAN form lists labels or names a MID", code="invalid_request")
    shipment: dict[str, Any] = {"trackingNumbers": numbers} if numbers else {"MID": mid}
    body = {
        "form": "5630",
        "imageType": "PDF",
        "labelType": "8.5x11LABEL",
        "mailingDate": mailing_date.isoformat(),
        "overwriteMailingDate": False,
        "entryFacilityZIPCode": _zip5(address, "entry facility"),
        "destinationEntryFacilityType": "NONE",
        "shipment": shipment,
        "fromAddress": {
            k: v for k, v in _label_address(address, "SCAN form address").items() if k != "email"
        },
    }
    return HttpCall("POST", SCAN_FORM_PATH, json=body, headers={"Accept": LABEL_ACCEPT})


def parse_scan_form(metadata: Mapping[str, Any], image: bytes | None) -> ScanForm:
    """Return the manifest number and the labels it covers (``trackingNumbers``, else the request's)."""
    number = _clean(metadata.get("manifestNumber"))
    if not number:
        raise malformed("SCAN form reply without manifestNumber")
    numbers = [_clean(n) for n in _as_list(metadata.get("trackingNumbers")) if _clean(n)]
    if not numbers:
        node = metadata.get("shipment")
        shipment: Mapping[str, Any] = node if isinstance(node, Mapping) else {}
        numbers = [_clean(n) for n in _as_list(shipment.get("trackingNumbers")) if _clean(n)]
    return ScanForm(number, tuple(numbers), image, _date(metadata.get("mailingDate")))


def parse_scan_form_json(body: Mapping[str, Any]) -> ScanForm:
    """Read the ``application/vnd.usps.labels+json`` reply (``SCANFormVendorResponse``)."""
    image = body.get("SCANFormImage")
    return parse_scan_form(body, _b64(image, "SCANFormImage") if image else None)


# -- Addresses --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddressCheck:
    """USPS's standardised form of an address and what it says about the delivery point.

    ``deliverable`` is the DPV confirmation: ``Y`` confirmed, ``S``/``D`` confirmed without (or with a
    missing) secondary number, ``N`` not a delivery point; None when USPS did not say.
    """

    address: types.Address
    dpv_confirmation: str | None
    business: bool | None
    vacant: bool | None
    corrections: tuple[str, ...] = ()
    matches: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def deliverable(self) -> bool | None:
        """Return whether USPS confirmed the delivery point (``Y``, ``S`` or ``D``)."""
        return None if self.dpv_confirmation is None else self.dpv_confirmation in ("Y", "S", "D")


def address_request(address: types.Address) -> HttpCall:
    """Build ``GET /addresses/v3/address`` (street and state required; the rest when known)."""
    lines = [line.strip() for line in address.street_lines if line.strip()]
    if not lines or not address.state:
        raise base.CarrierRejected(
            CARRIER, "USPS checks addresses with a street and a state", code="invalid_request"
        )
    params = {"streetAddress": lines[0], "state": address.state.strip().upper()}
    if len(lines) > 1:
        params["secondaryAddress"] = " ".join(lines[1:])
    if address.city:
        params["city"] = address.city
    digits = "".join(ch for ch in address.postal_code if ch.isdigit())
    if len(digits) in (5, 9):
        params["ZIPCode"] = digits[:5]
    if len(digits) == 9:
        params["ZIPPlus4"] = digits[5:]
    if address.company:
        params["firm"] = address.company
    return HttpCall("GET", ADDRESS_PATH, params=params)


def _yes_no(value: Any) -> bool | None:
    text = _clean(value).upper()
    return True if text == "Y" else False if text == "N" else None


def _notes(nodes: Any) -> tuple[str, ...]:
    found = []
    for item in _as_list(nodes):
        if isinstance(item, Mapping):
            text = ": ".join(filter(None, (_clean(item.get("code")), _clean(item.get("text")))))
        else:
            text = _clean(item)
        if text:
            found.append(text)
    return tuple(found)


def parse_address_response(body: Mapping[str, Any], original: types.Address) -> AddressCheck:
    """Return the standardised address (names, phone and e-mail kept from ``original``) and USPS's verdict."""
    node = body.get("address")
    if not isinstance(node, Mapping) or not _clean(node.get("ZIPCode")):
        raise malformed("address reply without address.ZIPCode")
    info_node = body.get("additionalInfo")
    info: Mapping[str, Any] = info_node if isinstance(info_node, Mapping) else {}
    zip5, plus4 = _clean(node.get("ZIPCode")), _clean(node.get("ZIPPlus4"))
    lines = tuple(t for t in (_clean(node.get("streetAddress")), _clean(node.get("secondaryAddress"))) if t)
    standardised = types.Address(
        country_code=original.country_code,
        postal_code=f"{zip5}-{plus4}" if plus4 else zip5,
        city=_clean(node.get("city")) or original.city,
        street_lines=lines or original.street_lines,
        state=_clean(node.get("state")) or original.state,
        name=original.name,
        company=_clean(body.get("firm")) or original.company,
        phone=original.phone,
        email=original.email,
        residential=None if _yes_no(info.get("business")) is None else not _yes_no(info.get("business")),
        latitude=original.latitude,
        longitude=original.longitude,
    )
    return AddressCheck(
        address=standardised,
        dpv_confirmation=_clean(info.get("DPVConfirmation")).upper() or None,
        business=_yes_no(info.get("business")),
        vacant=_yes_no(info.get("vacant")),
        corrections=_notes(body.get("corrections")),
        matches=_notes(body.get("matches")),
        warnings=_notes(body.get("warnings")),
    )
