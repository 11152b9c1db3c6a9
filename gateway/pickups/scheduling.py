"""Pickup use cases: schedule (stored first, then the carrier), read, list and cancel; tenant-scoped.

Scheduling calls the carrier inside the request, written so that no outcome is lost:

1. The row is committed ``pending`` (with ``called_at`` and ``attempts`` bumped) in its own
   transaction *before* the carrier is called. With an Idempotency-Key the row carries
   ``request_key`` (SHA-256 of the key and the request), unique per tenant, so a retry finds it.
2. The carrier's answer is committed in another transaction: ``scheduled`` with the confirmation
   number; ``failed`` with the carrier's code and message when it refused, or when the call was
   refused before any work (our circuit breaker, a 429 or 503: nothing was booked); otherwise (a
   timeout, a garbled answer, a crash) the row stays ``pending``: the pickup may exist.
3. A retry with the same key answers a ``scheduled`` row as it is, calls the carrier again for a
   ``failed`` row (the same row, ``attempts`` + 1), and refuses a ``pending`` one (409): booking
   again could send two couriers.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters import base as adapters
from adapters import registry as adapter_registry
from gateway.accounts import connections as accounts
from gateway.kernel import paging
from gateway.kernel.errors import Problem
from gateway.kernel.types import rowcount, utcnow
from gateway.pickups.tables import Pickup
from schemas import carrier as carrier_types
from schemas import types

if TYPE_CHECKING:
    from gateway.kernel.container import Container

# Carrier answers that mean nothing was done (the call was refused before any work).
_NOT_SENT_CODES = frozenset({"circuit_open", "http_429", "http_503"})


def request_key(idempotency_key: str, fingerprint: str) -> str:
    """The row key of a keyed request: its Idempotency-Key and the request it came with."""
    return hashlib.sha256(f"{idempotency_key}\x00{fingerprint}".encode()).hexdigest()


# -- the carrier account ----------------------------------------------------------------------------------


def resolve_adapter(
    container: Container, carrier: str, account: str | None, registry: Any = None
) -> tuple[str, adapters.Adapter]:
    """The enabled adapter (id, instance) that books this carrier's pickups; a 422 when there is none.

    ``registry``: the operator's accounts for the tenant's mode (``accounts.operator_registry_of``).
    """
    registry = container.carriers if registry is None else registry
    if account is not None:
        try:
            adapter = registry.get(account)
        except adapters.AdapterError:
            adapter = None
        if adapter is None or adapter.name != carrier:
            raise Problem(
                "validation-error",
                f"No enabled {carrier} account {account!r}.",
                errors={"account": [f"not an enabled {carrier} account"]},
            )
        found = [(account, adapter)]
    else:
        found = [(key, registry.get(key)) for key in registry if registry.get(key).name == carrier]
    if not found:
        raise Problem(
            "validation-error", f"Carrier {carrier!r} is not enabled.", errors={"carrier": ["not enabled"]}
        )
    if len(found) > 1:
        ids = ", ".join(key for key, _ in found)
        raise Problem(
            "validation-error",
            f"Carrier {carrier!r} has several accounts ({ids}): name one in account.",
            errors={"account": ["required: the carrier has several accounts"]},
        )
    key, adapter = found[0]
    if not adapter.supports(adapters.Capability.PICKUP):
        raise Problem(
            "validation-error",
            f"Carrier {carrier!r} offers no pickups through its API: book the collection with {carrier} directly.",
            errors={"carrier": [f"{carrier} has no pickup capability"]},
        )
    return key, adapter


def _address(data: dict[str, Any]) -> types.Address:
    return types.Address(
        country_code=data["country_code"],
        postal_code=(data.get("postal_code") or "").strip(),
        city=data["city"],
        street_lines=tuple(data.get("street_lines") or ()),
        state=data.get("state"),
        name=data.get("name"),
        company=data.get("company"),
        phone=data.get("phone"),
        email=data.get("email"),
        residential=data.get("residential"),
    )


def carrier_request(row: Pickup, adapter: adapters.Adapter) -> carrier_types.PickupRequest:
    """The canonical request for a stored pickup, with ready and close times in its own time zone."""
    zone = ZoneInfo(row.time_zone)
    return carrier_types.PickupRequest(
        account=adapter.account_id,
        address=_address(row.address),
        ready_at=row.ready_at.astimezone(zone),
        close_at=row.close_at.astimezone(zone),
        parcel_count=row.parcel_count,
        tracking_numbers=tuple(row.tracking_numbers or ()),
    )


# -- schedule ---------------------------------------------------------------------------------------------


def _new_row(tenant_id: str, key: str | None, carrier: str, account: str, data: dict[str, Any]) -> Pickup:
    zone = ZoneInfo(data["time_zone"])
    day: date = data["date"]
    ready_at = datetime.combine(day, time.fromisoformat(data["ready_time"]), zone)
    close_at = datetime.combine(day, time.fromisoformat(data["close_time"]), zone)
    if day < utcnow().astimezone(zone).date():
        raise Problem("validation-error", "The pickup day is in the past.", errors={"date": ["in the past"]})
    weight = data.get("total_weight")
    address = {k: v for k, v in data["address"].items() if k not in ("latitude", "longitude")}
    return Pickup(
        tenant_id=tenant_id,
        request_key=key,
        carrier=carrier,
        account=account,
        state="pending",
        address=address,
        pickup_date=day,
        time_zone=data["time_zone"],
        ready_at=ready_at,
        close_at=close_at,
        parcel_count=data["parcel_count"],
        total_weight=weight["value"] if weight else None,
        weight_unit=weight["unit"] if weight else None,
        instructions=data.get("instructions"),
        tracking_numbers=list(data.get("tracking_numbers") or []),
        attempts=1,
        called_at=utcnow(),
    )


def _claim(
    container: Container, tenant_id: str, key: str | None, carrier: str, account: str, data: dict[str, Any]
) -> tuple[Pickup, bool]:
    """Commit the row ``pending`` before the call; (row, call the carrier?)."""
    with container.sessions() as session:
        if key is not None:
            existing = session.execute(
                sa.select(Pickup).where(Pickup.tenant_id == tenant_id, Pickup.request_key == key)
            ).scalar_one_or_none()
            if existing is not None:
                return _retry(session, existing)
        row = _new_row(tenant_id, key, carrier, account, data)
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # a concurrent request with the same key stored it first
            session.rollback()
            existing = session.execute(
                sa.select(Pickup).where(Pickup.tenant_id == tenant_id, Pickup.request_key == key)
            ).scalar_one()
            return _retry(session, existing)
        return row, True


def _retry(session: Session, row: Pickup) -> tuple[Pickup, bool]:
    if row.state in ("scheduled", "cancelled"):
        return row, False
    if row.state == "pending":
        raise Problem(
            "conflict",
            f"Pickup {row.id}: the carrier's answer to this booking is unknown ({row.carrier_message or 'in progress'}); "
            f"it may be booked. Ask {row.carrier} before booking again with a new Idempotency-Key.",
        )
    claimed = session.execute(
        sa.update(Pickup)
        .where(Pickup.id == row.id, Pickup.state == "failed", Pickup.attempts == row.attempts)
        .values(state="pending", attempts=row.attempts + 1, called_at=utcnow(), updated_at=utcnow())
    )
    session.commit()
    if rowcount(claimed) != 1:
        raise Problem("idempotency-in-progress", headers={"Retry-After": "1"})
    session.refresh(row)
    return row, True


def _record(container: Container, pickup_id: str, **values: Any) -> Pickup:
    with container.sessions() as session:
        session.execute(sa.update(Pickup).where(Pickup.id == pickup_id).values(updated_at=utcnow(), **values))
        session.commit()
        row = session.get(Pickup, pickup_id)
        assert row is not None
        return row


def schedule(
    container: Container,
    tenant_id: str,
    data: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> Pickup:
    """Book a pickup: store it, call the carrier, record the answer; carrier failures are problems."""
    account, adapter = resolve_adapter(
        container, data["carrier"], data.get("account"), accounts.operator_registry_of(container, tenant_id)
    )
    key = request_key(idempotency_key, fingerprint) if idempotency_key else None
    row, call = _claim(container, tenant_id, key, adapter.name, account, data)
    if not call:
        return row
    try:
        result = adapter.pickup(carrier_request(row, adapter))
    except adapters.CarrierRejected as exc:
        _record(container, row.id, state="failed", carrier_code=exc.code, carrier_message=exc.message)
        raise Problem(
            "carrier-rejected",
            f"{row.carrier} refused pickup {row.id}: {exc.message}",
            error_source="carrier",
        ) from exc
    except adapters.CarrierError as exc:
        sent = exc.code not in _NOT_SENT_CODES
        _record(
            container,
            row.id,
            state="pending" if sent else "failed",
            carrier_code=exc.code,
            carrier_message=exc.message,
        )
        kept = (
            "kept pending (it may be booked: ask the carrier)" if sent else "kept failed (nothing was booked)"
        )
        raise Problem(
            "carrier-unavailable",
            f"{row.carrier} did not book pickup {row.id}: {exc.message}. The pickup is {kept}; "
            "retry with the same Idempotency-Key.",
            error_source="carrier",
            headers={"Retry-After": "30"},
        ) from exc
    values: dict[str, Any] = {
        "state": "scheduled",
        "confirmation": result.confirmation,
        "carrier_details": dict(result.details) or None,
        "carrier_code": None,
        "carrier_message": None,
    }
    if result.ready_at is not None:  # the carrier may book another day than the one asked (USPS)
        zone = ZoneInfo(row.time_zone)
        booked = result.ready_at.astimezone(zone).date()
        if booked != row.pickup_date:
            values["pickup_date"] = booked
            values["ready_at"] = datetime.combine(booked, row.ready_at.astimezone(zone).timetz())
            values["close_at"] = datetime.combine(booked, row.close_at.astimezone(zone).timetz())
    return _record(container, row.id, **values)


# -- read and list ----------------------------------------------------------------------------------------


def get_pickup(session: Session, tenant_id: str, pickup_id: str) -> Pickup:
    """A tenant's pickup; another tenant's id is simply not found."""
    row = session.execute(
        sa.select(Pickup).where(Pickup.id == pickup_id, Pickup.tenant_id == tenant_id)
    ).scalar_one_or_none()
    if row is None:
        raise Problem("not-found", f"No pickup {pickup_id!r}.")
    return row


def list_pickups(
    session: Session,
    tenant_id: str,
    *,
    limit: int,
    cursor: str | None = None,
    carrier: str | None = None,
    date: date | None = None,
    state: str | None = None,
) -> tuple[list[Pickup], str | None]:
    """One page of a tenant's pickups, newest first, and the next cursor."""
    query = sa.select(Pickup).where(Pickup.tenant_id == tenant_id)
    if carrier:
        query = query.where(Pickup.carrier == carrier)
    if date:
        query = query.where(Pickup.pickup_date == date)
    if state:
        query = query.where(Pickup.state == state)
    rows, next_cursor = paging.newest_first(session, query, Pickup, limit=limit, cursor=cursor)
    return list(rows), next_cursor


# -- cancel -----------------------------------------------------------------------------------------------


def cancel(container: Container, tenant_id: str, pickup_id: str) -> Pickup:
    """Cancel a pickup at the carrier (a failed one, never booked, is withdrawn here only)."""
    with container.sessions() as session:
        row = get_pickup(session, tenant_id, pickup_id)
    if row.state == "cancelled":
        return row
    if row.state == "failed":
        return _record(container, row.id, state="cancelled", cancelled_at=utcnow())
    known = adapter_registry.known(row.carrier)
    where = (known.pickup_cancel_elsewhere if known is not None else "") or f"with {row.carrier} directly"
    if row.state == "pending":
        raise Problem(
            "conflict",
            f"Pickup {row.id}: the carrier's answer to this booking is unknown, so there is no confirmation "
            f"number to cancel. Ask {row.carrier} whether a pickup is booked for {row.pickup_date} and "
            f"cancel it {where}.",
        )
    try:
        adapter = accounts.operator_registry_of(container, row.tenant_id).get(row.account)
    except adapters.AdapterError:
        raise Problem(
            "conflict",
            f"The {row.carrier} account {row.account!r} is no longer enabled: cancel pickup "
            f"{row.confirmation} {where}.",
        ) from None
    try:
        adapter.cancel_pickup(
            carrier_request(row, adapter), row.confirmation or "", row.carrier_details or {}
        )
    except adapters.CapabilityNotSupported:
        raise Problem(
            "conflict",
            f"{row.carrier}'s API cannot cancel pickups here: cancel confirmation {row.confirmation} "
            f"(pickup on {row.pickup_date}) {where}. The pickup stays scheduled.",
        ) from None
    except adapters.CarrierRejected as exc:
        _record(container, row.id, carrier_code=exc.code, carrier_message=exc.message)
        raise Problem(
            "carrier-rejected",
            f"{row.carrier} refused to cancel pickup {row.id}: {exc.message}",
            error_source="carrier",
        ) from exc
    except adapters.CarrierError as exc:
        _record(container, row.id, carrier_code=exc.code, carrier_message=exc.message)
        raise Problem(
            "carrier-unavailable",
            f"{row.carrier} did not cancel pickup {row.id}: {exc.message}. It stays scheduled; retry.",
            error_source="carrier",
            headers={"Retry-After": "30"},
        ) from exc
    return _record(
        container, row.id, state="cancelled", cancelled_at=utcnow(), carrier_code=None, carrier_message=None
    )
