"""Closing a carrier's day: collect the shipments, store the manifest, call the carrier's close, render.

A close is written so that no outcome is lost:

1. The manifest and its shipments are committed ``pending`` in their own transaction *before* the
   carrier is called. A shipment is on one manifest only (``manifest_shipments`` is keyed by
   shipment), so two closes never list it twice and a second close of the day finds only what is new.
2. The carrier is called where its adapter declares a close (``Capability.CLOSE_DAY``, and
   ``closes_day_for`` the day's services): today the FedEx Ground end-of-day close (a day holding
   Ground shipments) and the USPS SCAN form (the day's tracking numbers). Elsewhere (UPS, DHL Express)
   the gateway's manifest is the record (``kind`` ``gateway``, no carrier document).
3. The answer is committed in another transaction: ``closed`` with the carrier's reference, alerts and
   document and the gateway's PDF; ``failed`` with the carrier's code and message. A new POST for the
   same carrier, account and day retries a failed manifest (with any shipment bought since), and so
   does one for a manifest left ``pending`` longer than ``STALE_PENDING`` (a crash mid-call).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters import base as adapters
from gateway.accounts import connections as accounts
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import rowcount, utcnow
from gateway.labels.tables import Label
from gateway.manifests import _members, documents
from gateway.manifests.tables import Manifest, ManifestShipment
from schemas import carrier as carriers
from schemas import types

if TYPE_CHECKING:
    from gateway.kernel.container import Container

STALE_PENDING = timedelta(minutes=10)  # a pending close older than this was interrupted: retry it
MAX_SHIPMENTS = 10_000  # one close lists at most this many; the rest wait for the next close
EARLIEST = date(1970, 1, 1)  # no label is older; earlier days would overflow some time zones


# -- the carrier account ----------------------------------------------------------------------------------


def resolve_adapter(
    container: Container, carrier: str, account: str | None, registry: Any = None
) -> tuple[str, adapters.Adapter]:
    """The enabled adapter (id, instance) of this carrier; a 422 when there is none or several.

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
        return account, adapter
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
    return found[0]


def _has_close(adapter: adapters.Adapter) -> bool:
    return adapter.supports(adapters.Capability.CLOSE_DAY)


def day_of(data: dict[str, Any]) -> tuple[date, str]:
    """The day to close (default today in the time zone) and the zone; a future day is refused."""
    zone = data.get("time_zone") or "UTC"
    today = utcnow().astimezone(ZoneInfo(zone)).date()
    day: date = data.get("date") or today
    if day > today:
        raise Problem("validation-error", "The day is in the future.", errors={"date": ["in the future"]})
    if day < EARLIEST:
        raise Problem("validation-error", "The day is before 1970.", errors={"date": ["before 1970"]})
    return day, zone


def window(day: date, zone: str) -> tuple[datetime, datetime]:
    """The UTC instants of the local day."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tz)


# -- collect and claim ------------------------------------------------------------------------------------


def _candidates(
    session: Session, tenant_id: str, adapter: adapters.Adapter, day: date, zone: str
) -> list[tuple[Label, models.Shipment]]:
    """The day's bought labels of this carrier account not on any manifest yet, oldest first.

    A label records the account it was bought on as the adapter's ``account_id`` (the carrier's
    account number); a label recorded before accounts were kept names none and counts as this one.
    """
    start, end = window(day, zone)
    listed = sa.select(ManifestShipment.shipment_id).where(ManifestShipment.shipment_id == Label.shipment_id)
    query = (
        sa.select(Label, models.Shipment)
        .join(models.Shipment, models.Shipment.id == Label.shipment_id)
        .where(
            Label.tenant_id == tenant_id,
            models.Shipment.tenant_id == tenant_id,
            Label.carrier == adapter.name,
            sa.or_(Label.account == adapter.account_id, Label.account.is_(None)),
            Label.status == "purchased",
            Label.purchased_at >= start,
            Label.purchased_at < end,
            models.Shipment.cancelled_at.is_(None),
            models.Shipment.status != "cancelled",
            ~sa.exists(listed),
        )
        .order_by(Label.purchased_at, Label.id)
        .limit(MAX_SHIPMENTS)
    )
    return [(label, shipment) for label, shipment in session.execute(query).unique().all()]


def _retryable(session: Session, tenant_id: str, carrier: str, account: str, day: date) -> Manifest | None:
    stale = utcnow() - STALE_PENDING
    return session.execute(
        sa.select(Manifest)
        .where(
            Manifest.tenant_id == tenant_id,
            Manifest.carrier == carrier,
            Manifest.account == account,
            Manifest.manifest_date == day,
            sa.or_(
                Manifest.state == "failed",
                sa.and_(Manifest.state == "pending", Manifest.called_at < stale),
            ),
        )
        .order_by(Manifest.created_at)
        .limit(1)
    ).scalar_one_or_none()


def _kind(adapter: adapters.Adapter, found: list[tuple[Label, models.Shipment]], row: Manifest | None) -> str:
    """carrier when the carrier's close is called: the adapter says which days it closes (FedEx: Ground)."""
    if not _has_close(adapter):
        return "gateway"
    if row is not None and row.kind == "carrier":
        return "carrier"
    return "carrier" if adapter.closes_day_for([label.service or "" for label, _ in found]) else "gateway"


def _claim(
    container: Container, tenant_id: str, adapter: adapters.Adapter, account: str, day: date, zone: str
) -> Manifest:
    """Commit the manifest ``pending`` with its shipments before any carrier call."""
    carrier = adapter.name
    with container.sessions() as session:
        row = _retryable(session, tenant_id, carrier, account, day)
        found = _candidates(session, tenant_id, adapter, day, zone)
        if row is None and not found:
            raise Problem(
                "manifest-empty",
                f"No {carrier} shipment of account {account} bought on {day.isoformat()} ({zone}) is waiting "
                "for a manifest: every one is on a manifest already, or none was bought.",
                extra={"carrier": carrier, "account": account, "date": day.isoformat()},
            )
        now = utcnow()
        if row is None:
            row = Manifest(
                tenant_id=tenant_id,
                carrier=carrier,
                account=account,
                kind=_kind(adapter, found, None),
                state="pending",
                manifest_date=day,
                time_zone=zone,
                attempts=1,
                called_at=now,
                carrier_alerts=[],
                totals={},
            )
            session.add(row)
            session.flush()
            first = 1
        else:
            claimed = session.execute(
                sa.update(Manifest)
                .where(Manifest.id == row.id, Manifest.attempts == row.attempts)
                .values(
                    state="pending",
                    kind=_kind(adapter, found, row),
                    attempts=row.attempts + 1,
                    called_at=now,
                    updated_at=now,
                )
            )
            if rowcount(claimed) != 1:
                session.rollback()
                raise Problem(
                    "conflict", f"Manifest {row.id} is being closed by another request; retry shortly."
                )
            first = 1 + (
                session.execute(
                    sa.select(sa.func.count())
                    .select_from(ManifestShipment)
                    .where(ManifestShipment.manifest_id == row.id)
                ).scalar_one()
            )
        for i, (label, shipment) in enumerate(found):
            session.add(
                _members.member(
                    tenant_id,
                    row.id,
                    first + i,
                    shipment,
                    tracking_number=label.tracking_number,
                    service=label.service or shipment.service,
                    cost_minor=label.cost_minor,
                    currency=label.currency,
                )
            )
        session.execute(
            sa.update(Manifest).where(Manifest.id == row.id).values(shipment_count=first - 1 + len(found))
        )
        try:
            session.commit()
        except IntegrityError:  # a concurrent close took some of these shipments first
            session.rollback()
            raise Problem(
                "conflict", f"Another {carrier} close for {day.isoformat()} is under way; retry shortly."
            ) from None
        session.refresh(row)
        session.expunge(row)
        return row


# -- the carrier's close ----------------------------------------------------------------------------------


def _address(a: models.Address) -> types.Address:
    return types.Address(
        country_code=a.country_code,
        postal_code=a.postal_code or "",
        city=a.city,
        street_lines=tuple(line for line in (a.street1, a.street2, a.street3) if line),
        state=a.state,
        name=a.name,
        company=a.company,
        phone=a.phone,
        email=a.email,
    )


def _call_carrier(
    container: Container, adapter: adapters.Adapter, row: Manifest
) -> tuple[dict[str, Any], tuple[bytes, str] | None]:
    """Call the carrier's close; (values for the row, the carrier's document and its type)."""
    with container.sessions() as session:
        listed = documents.members(session, row.id)
        origin = None
        if listed:
            shipment = session.get(models.Shipment, listed[0].shipment_id)
            origin = _address(shipment.origin) if shipment is not None else None
    numbers = tuple(m.tracking_number for m in listed if m.tracking_number)
    closed = adapter.close_day(carriers.DayCloseRequest(row.manifest_date, numbers, origin))
    values = {
        "carrier_reference": closed.reference[:64] if closed.reference else None,
        "carrier_alerts": [a[:500] for a in closed.alerts][:20],
    }
    document = (closed.document, closed.document_type or "document") if closed.document else None
    return values, document


def _record(container: Container, manifest_id: str, **values: Any) -> None:
    with container.sessions() as session:
        session.execute(
            sa.update(Manifest).where(Manifest.id == manifest_id).values(updated_at=utcnow(), **values)
        )
        session.commit()


def _finish(
    container: Container, manifest_id: str, values: dict[str, Any], carrier_doc: tuple[bytes, str] | None
) -> Manifest:
    """Record the close, store the documents, mark the manifest closed."""
    with container.sessions() as session:
        row = session.get(Manifest, manifest_id)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)
        listed = documents.members(session, row.id)
        row.totals = _members.totals(listed)
        row.shipment_count = len(listed)
        row.state = "closed"
        row.closed_at = utcnow()
        row.carrier_code = row.carrier_message = None
        if carrier_doc is not None:
            documents.store_carrier_document(container, row, *carrier_doc)
        documents.render_and_store(container, session, row)
        session.commit()
        session.refresh(row)
        session.expunge(row)
        return row


def close(container: Container, tenant_id: str, data: dict[str, Any]) -> Manifest:
    """Close a carrier account's day: store the manifest, call the carrier's close, render the document."""
    account, adapter = resolve_adapter(
        container, data["carrier"], data.get("account"), accounts.operator_registry_of(container, tenant_id)
    )
    day, zone = day_of(data)
    row = _claim(container, tenant_id, adapter, account, day, zone)
    values: dict[str, Any] = {}
    carrier_doc = None
    if row.kind == "carrier":
        try:
            values, carrier_doc = _call_carrier(container, adapter, row)
        except adapters.CarrierRejected as exc:
            _record(
                container,
                row.id,
                state="failed",
                carrier_code=(exc.code or "")[:64] or None,
                carrier_message=exc.message,
            )
            raise Problem(
                "carrier-rejected",
                f"{row.carrier} refused to close manifest {row.id}: {exc.message}. It is kept failed; "
                "POST again for the same day to retry.",
                error_source="carrier",
                extra={"manifest_id": row.id},
            ) from exc
        except adapters.CarrierError as exc:
            _record(
                container,
                row.id,
                state="failed",
                carrier_code=(exc.code or "")[:64] or None,
                carrier_message=exc.message,
            )
            raise Problem(
                "carrier-unavailable",
                f"{row.carrier} did not close manifest {row.id}: {exc.message}. It is kept failed with its "
                "shipments; POST again for the same day to retry.",
                error_source="carrier",
                headers={"Retry-After": "30"},
                extra={"manifest_id": row.id},
            ) from exc
    return _finish(container, row.id, values, carrier_doc)
