"""Standing push subscriptions per carrier account: made once, checked on a schedule, replaced when lost.

Some carriers push every package of an account once the account is subscribed (USPS Subscriptions -
Tracking, by MID: ``Capability.TRACK_PUSH_ACCOUNT``), rather than number by number as UPS Track Alert.
``keep`` makes sure each such account, the operator's (``CARRIERS``) and each tenant's own, has exactly one
enabled subscription posting to ``{PUBLIC_BASE_URL}/v1/callbacks/{carrier}``:

- none yet: subscribe, and keep the carrier's id;
- one we made: read it back; enabled stays, suspended (USPS could not reach us) or disabled is deleted
  and made again, and the carrier's reason is logged and kept;
- the listener moved (``PUBLIC_BASE_URL`` changed), or the account was disabled or deleted: the old one
  is deleted at the carrier where we still can, and the row goes.

A carrier failure for one account is kept on its row (``last_error``) and tried again on the next run;
it never stops the others. Polling goes on beside the pushes either way (``gateway.tracking.polling``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adapters import base
from adapters import registry as adapter_registry
from gateway.accounts import connections as accounts
from gateway.accounts.tables import CarrierAccount
from gateway.exchanges import service as exchanges
from gateway.kernel import config
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.tracking.tables import PushSubscription

if TYPE_CHECKING:
    from gateway.kernel.container import Container

log = logging.getLogger(__name__)

CAPABILITY = base.Capability.TRACK_PUSH_ACCOUNT


@dataclass(frozen=True)
class Target:
    """One account that should have a standing subscription."""

    carrier: str
    account_key: str  # the operator's registry id, or the tenant's carrier account id
    tenant_id: str | None
    adapter: base.Adapter


def listener_base(settings: Mapping[str, Any]) -> str | None:
    """The public base the carriers post to (``PUBLIC_BASE_URL``); None when it is not set."""
    configured = str(config.read(settings, "PUBLIC_BASE_URL") or "").strip().rstrip("/")
    return configured or None


def listener_url(base_url: str, carrier: str) -> str:
    return f"{base_url}/v1/callbacks/{carrier}"


def targets(session: Session, container: Container) -> list[Target]:
    """Every enabled account whose carrier pushes by account: the operator's, then each tenant's own."""
    found: list[Target] = []
    for prefix, operator in (("", container.carriers), ("test:", container.test_carriers)):
        for key in operator:
            adapter = operator.get(key)
            if adapter.supports(CAPABILITY):
                found.append(Target(adapter.name, f"{prefix}{key}", None, adapter))
    pushing = [
        name
        for name in adapter_registry.available()
        if (cls := adapter_registry.known(name)) is not None and CAPABILITY in cls.capabilities
    ]
    if pushing:
        rows = session.execute(
            sa.select(CarrierAccount)
            .where(CarrierAccount.enabled.is_(True), CarrierAccount.carrier.in_(pushing))
            .order_by(CarrierAccount.created_at, CarrierAccount.id)
        ).scalars()
        for row in rows:
            try:
                adapter = accounts.account_adapter(container, row)
            except (Problem, base.AdapterError):  # its stored configuration no longer loads: skip it
                log.warning("carrier account unusable for push subscriptions", extra={"account_id": row.id})
                continue
            found.append(Target(row.carrier, row.id, row.tenant_id, adapter))
    return found


def keep(session: Session, wanted: Iterable[Target], base_url: str, retired: Any = None) -> dict[str, int]:
    """Make every target's subscription current; drop rows of accounts no longer wanted.

    ``retired(row)`` returns the adapter to delete a dropped row's subscription with (None: it cannot be
    deleted from here). Returns counts by outcome: created, kept, replaced, dropped, failed.
    """
    counts = {"created": 0, "kept": 0, "replaced": 0, "dropped": 0, "failed": 0}
    rows = {(r.carrier, r.account_key): r for r in session.execute(sa.select(PushSubscription)).scalars()}
    seen: set[tuple[str, str]] = set()
    for target in wanted:
        key = (target.carrier, target.account_key)
        seen.add(key)
        outcome = _keep_one(session, target, rows.get(key), listener_url(base_url, target.carrier))
        counts[outcome] += 1
    for key, row in rows.items():
        if key in seen:
            continue
        adapter = retired(row) if retired is not None and row.subscription_id else None
        if adapter is not None and row.subscription_id:
            try:
                with exchanges.scope(tenant_id=row.tenant_id):
                    adapter.cancel_account_pushes(row.subscription_id)
            except base.AdapterError as exc:
                row.last_error, row.checked_at = _error(exc), utcnow()
                counts["failed"] += 1
                continue
        session.delete(row)
        counts["dropped"] += 1
    session.flush()
    return counts


def _keep_one(session: Session, target: Target, row: PushSubscription | None, listener: str) -> str:
    adapter = target.adapter
    outcome = "created"
    try:
        with exchanges.scope(tenant_id=target.tenant_id):
            if row is not None and row.subscription_id:
                current = (
                    adapter.account_push_subscription(row.subscription_id)
                    if row.listener_url == listener
                    else None
                )
                if current is not None and current.active:
                    row.status, row.status_reason, row.last_error = current.status, None, None
                    row.checked_at = utcnow()
                    return "kept"
                if current is not None or row.listener_url != listener:
                    log.warning(
                        "carrier push subscription replaced",
                        extra={
                            "carrier": target.carrier,
                            "account": target.account_key,
                            "status": current.status if current else "listener moved",
                            "reason": current.reason if current else None,
                        },
                    )
                    if current is not None:
                        row.status_reason = current.reason
                    adapter.cancel_account_pushes(row.subscription_id)
                outcome = "replaced"
            created = adapter.subscribe_account_pushes(listener)
    except base.AdapterError as exc:
        log.warning(
            "carrier push subscription failed",
            extra={"carrier": target.carrier, "account": target.account_key, "error": _error(exc)},
        )
        if row is None:
            row = PushSubscription(
                carrier=target.carrier, account_key=target.account_key, tenant_id=target.tenant_id
            )
            row.listener_url, row.status = listener, "failed"
            session.add(row)
        row.last_error, row.checked_at = _error(exc), utcnow()
        return "failed"
    if row is None:
        row = PushSubscription(
            carrier=target.carrier, account_key=target.account_key, tenant_id=target.tenant_id
        )
        session.add(row)
    row.subscription_id, row.listener_url = created.id, listener
    row.status, row.last_error, row.checked_at = created.status, None, utcnow()
    if outcome == "created":
        row.status_reason = None
    log.info(
        "carrier push subscription made",
        extra={"carrier": target.carrier, "account": target.account_key, "subscription_id": created.id},
    )
    return outcome


def _error(exc: base.AdapterError) -> str:
    return str(exc)[:500]


def run(session: Session, container: Container) -> dict[str, int] | None:
    """Keep every account's subscription (the scheduled job's body); None when no listener is configured."""
    base_url = listener_base(container.settings)
    wanted = targets(session, container)
    if base_url is None:
        if wanted:
            log.warning(
                "PUBLIC_BASE_URL is not set: carriers that push by account cannot be subscribed",
                extra={"accounts": len(wanted)},
            )
        return None

    def retired(row: PushSubscription) -> base.Adapter | None:
        if row.tenant_id is None:
            return None  # an operator account no longer configured: nothing to call it with
        account = session.get(CarrierAccount, row.account_key)
        try:
            return accounts.account_adapter(container, account) if account is not None else None
        except Problem:  # its stored configuration no longer loads (a retired encryption key)
            return None

    return keep(session, wanted, base_url, retired)


def adapters_for_push(
    session: Session, container: Container, carrier: str, body: bytes
) -> list[base.Adapter]:
    """The tenant account whose subscription a push names, if any: its own secret may verify the push."""
    receiver = adapter_registry.receiver(carrier)
    subscription_id = receiver.push_subscription_id(body) if receiver is not None else None
    if not subscription_id:
        return []
    row = session.execute(
        sa.select(PushSubscription).where(
            PushSubscription.carrier == carrier,
            PushSubscription.subscription_id == subscription_id,
            PushSubscription.tenant_id.is_not(None),
        )
    ).scalar_one_or_none()
    account = session.get(CarrierAccount, row.account_key) if row is not None else None
    if account is None or not account.enabled:
        return []
    try:
        return [accounts.account_adapter(container, account)]
    except Problem:  # its stored configuration no longer loads: it vouches for nothing
        return []
