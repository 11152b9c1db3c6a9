"""Rate card operations: upload versions, list them, activate one, and dry-run a candidate.

A version is uploaded as ``draft`` (validated against ``schemas/json/rate_card.schema.json``
and compiled, so a card that would fail to price is refused up front). Activating a version
makes it the one in force for its carrier service from its effective date: the version it
replaces is retired at once when the new one starts on or before the old one did (or has
already started); otherwise the old one keeps pricing until the day before and its
``effective_to`` is clipped so the two never overlap. Every change is written to
``rating_audit`` with the API key that made it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.rates import _local, markups, specs, tables
from gateway.rates import ops_tables as rating_ops
from rating import cards, errors, markup, quote
from schemas import money

_INDEX = re.compile(r"\[(\d+)\]")


# --- validation ------------------------------------------------------------------------------


def field_errors(doc: Any) -> dict[str, list[str]]:
    """Return a card's problems keyed by dotted JSON path (``surcharges.0.percent``); {} when valid."""
    out: dict[str, list[str]] = {}
    for problem in cards.validate(doc):
        field, sep, message = problem.partition(": ")
        if not sep:
            field, message = "(card)", problem
        key = "_schema" if field == "(card)" else _INDEX.sub(r".\1", field)
        out.setdefault(key, []).append(message)
    return out


def _inexact_numbers(node: Any, path: str = "") -> dict[str, list[str]]:
    """Name any JSON number with a fraction the schema let through (it could not be stored exactly)."""
    if isinstance(node, Decimal | float):
        return {path or "_schema": ["must not be a fractional JSON number; write decimals as strings"]}
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found = _inexact_numbers(value, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return {}


# --- reading ---------------------------------------------------------------------------------


def _versions(session: Session, tenant_id: str, card_id: str | None = None) -> list[tables.RateCardVersion]:
    q = sa.select(tables.RateCardVersion).where(tables.RateCardVersion.tenant_id == tenant_id)
    if card_id is not None:
        q = q.where(tables.RateCardVersion.card_id == card_id)
    return list(
        session.execute(q.order_by(tables.RateCardVersion.card_id, tables.RateCardVersion.version)).scalars()
    )


def get_version(session: Session, tenant_id: str, card_id: str, version: int) -> tables.RateCardVersion:
    """Return one version of the tenant's card, or 404 (another tenant's card is 404 too)."""
    row = session.execute(
        sa.select(tables.RateCardVersion).where(
            tables.RateCardVersion.tenant_id == tenant_id,
            tables.RateCardVersion.card_id == card_id,
            tables.RateCardVersion.version == version,
        )
    ).scalar_one_or_none()
    if row is None:
        raise Problem("not-found", f"No rate card {card_id!r} version {version}.")
    return row


def in_force(row: tables.RateCardVersion, on: date) -> bool:
    """Whether this version prices shipments on ``on``."""
    return (
        row.status == "active"
        and row.effective_from <= on
        and (row.effective_to is None or on <= row.effective_to)
    )


def present_version(row: tables.RateCardVersion, *, today: date | None = None) -> dict[str, Any]:
    """Shape a version without its document."""
    today = today or utcnow().date()
    return {
        "id": row.id,
        "card_id": row.card_id,
        "version": row.version,
        "carrier": row.carrier,
        "service_code": row.service_code,
        "service_name": row.service_name,
        "currency": row.currency,
        "status": row.status,
        "in_force": in_force(row, today),
        "effective_from": row.effective_from,
        "effective_to": row.effective_to,
        "uploaded_by": row.uploaded_by,
        "created_at": row.created_at,
        "activated_at": row.activated_at,
        "retired_at": row.retired_at,
    }


def present_version_detail(session: Session, row: tables.RateCardVersion) -> dict[str, Any]:
    """Shape a version with its document and its audit history."""
    history = session.execute(
        sa.select(rating_ops.RatingAuditEntry)
        .where(
            rating_ops.RatingAuditEntry.tenant_id == row.tenant_id,
            rating_ops.RatingAuditEntry.card_version_id == row.id,
        )
        .order_by(rating_ops.RatingAuditEntry.at, rating_ops.RatingAuditEntry.id)
    ).scalars()
    return {
        **present_version(row),
        "document": row.document,
        "history": [
            {"action": h.action, "by": h.actor_key_id, "at": h.at, "detail": h.detail} for h in history
        ],
    }


def list_cards(session: Session, tenant_id: str) -> list[dict[str, Any]]:
    """Return each card family of the tenant with its versions (no documents)."""
    today = utcnow().date()
    grouped: dict[str, list[tables.RateCardVersion]] = {}
    for row in _versions(session, tenant_id):
        grouped.setdefault(row.card_id, []).append(row)
    return [_present_card(card_id, rows, today) for card_id, rows in grouped.items()]


def get_card(session: Session, tenant_id: str, card_id: str) -> dict[str, Any]:
    """Return one card family with its versions, or 404."""
    rows = _versions(session, tenant_id, card_id)
    if not rows:
        raise Problem("not-found", f"No rate card {card_id!r}.")
    return _present_card(card_id, rows, utcnow().date())


def _present_card(card_id: str, rows: list[tables.RateCardVersion], today: date) -> dict[str, Any]:
    latest = rows[-1]
    now_in_force = [r.version for r in rows if in_force(r, today)]
    return {
        "card_id": card_id,
        "carrier": latest.carrier,
        "service_code": latest.service_code,
        "service_name": latest.service_name,
        "latest_version": latest.version,
        "version_in_force": max(now_in_force) if now_in_force else None,
        "versions": [present_version(r, today=today) for r in rows],
    }


# --- upload ----------------------------------------------------------------------------------


def _audit(
    session: Session,
    tenant_id: str,
    action: str,
    row: tables.RateCardVersion | None,
    actor_key_id: str | None,
    at: datetime,
    **detail: Any,
) -> None:
    session.add(
        rating_ops.RatingAuditEntry(
            tenant_id=tenant_id,
            action=action,
            card_version_id=None if row is None else row.id,
            actor_key_id=actor_key_id,
            at=at,
            detail={"card_id": row.card_id, "version": row.version, **detail} if row is not None else detail,
        )
    )


def upload(
    session: Session, tenant_id: str, doc: dict[str, Any], actor_key_id: str
) -> tables.RateCardVersion:
    """Validate a card document and store it as a draft version; 422 names every bad field."""
    problems = field_errors(doc) or _inexact_numbers(doc)
    if problems:
        raise Problem("validation-error", "The rate card has invalid fields; see errors.", errors=problems)
    card = cards.parse(doc)

    family = session.execute(
        sa.select(tables.RateCardVersion.carrier, tables.RateCardVersion.service_code)
        .where(tables.RateCardVersion.tenant_id == tenant_id, tables.RateCardVersion.card_id == card.id)
        .limit(1)
    ).first()
    if family is not None and tuple(family) != (card.carrier, card.service_code):
        raise Problem(
            "validation-error",
            f"Card {card.id!r} prices {family[0]} {family[1]}; a version cannot move it to another service.",
            errors={"service.code": [f"card {card.id!r} is {family[0]} {family[1]}"]},
        )
    other = session.execute(
        sa.select(tables.RateCardVersion.card_id)
        .where(
            tables.RateCardVersion.tenant_id == tenant_id,
            tables.RateCardVersion.carrier == card.carrier,
            tables.RateCardVersion.service_code == card.service_code,
            tables.RateCardVersion.card_id != card.id,
        )
        .limit(1)
    ).first()
    if other is not None:
        raise Problem(
            "validation-error",
            f"{card.carrier} {card.service_code} is priced by card {other[0]!r}; upload a new version of it.",
            errors={"id": [f"{card.carrier} {card.service_code} already has card {other[0]!r}"]},
        )
    exists = session.execute(
        sa.select(tables.RateCardVersion.id).where(
            tables.RateCardVersion.tenant_id == tenant_id,
            tables.RateCardVersion.card_id == card.id,
            tables.RateCardVersion.version == card.version,
        )
    ).first()
    if exists is not None:
        raise Problem(
            "conflict",
            f"Card {card.id!r} already has version {card.version}; versions never change, upload a new one.",
            errors={"version": ["already uploaded"]},
        )
    now = utcnow()
    row = tables.RateCardVersion(
        tenant_id=tenant_id,
        card_id=card.id,
        carrier=card.carrier,
        service_code=card.service_code,
        service_name=card.service_name,
        version=card.version,
        currency=card.currency,
        effective_from=card.effective_from,
        effective_to=card.effective_to,
        status="draft",
        document=doc,
        uploaded_by=actor_key_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    _audit(session, tenant_id, "card.uploaded", row, actor_key_id, now)
    session.flush()
    return row


# --- activation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """An activated version and what happened to the versions it replaces."""

    row: tables.RateCardVersion
    retired: list[tables.RateCardVersion]
    ending: list[tables.RateCardVersion]  # still in force until their clipped effective_to


def activate(
    session: Session,
    tenant_id: str,
    card_id: str,
    version: int,
    actor_key_id: str,
    *,
    effective_from: date | None = None,
    effective_to: date | None = None,
    effective_to_given: bool = False,
) -> Activation:
    """Put a version in force from its effective date and retire (or end) the one it replaces."""
    row = get_version(session, tenant_id, card_id, version)
    doc_from = date.fromisoformat(row.document["effective_from"])
    doc_to = date.fromisoformat(row.document["effective_to"]) if row.document.get("effective_to") else None
    start = effective_from or doc_from
    end = effective_to if effective_to_given else doc_to
    if end is not None and end < start:
        raise Problem(
            "validation-error",
            "effective_to is before effective_from.",
            errors={"effective_to": [f"must not be before {start.isoformat()}"]},
        )
    if row.status == "active" and (row.effective_from, row.effective_to) == (start, end):
        return Activation(row, [], [])  # already so: a retry changes nothing

    now = utcnow()
    today = now.date()
    if end is not None and end < today:
        raise Problem(
            "validation-error",
            "This version would never be in force: its effective_to is in the past.",
            errors={"effective_to": [f"{end.isoformat()} is before today ({today.isoformat()})"]},
        )
    # Lock the service's active versions so two activations cannot both keep theirs.
    others = list(
        session.execute(
            sa.select(tables.RateCardVersion)
            .where(
                tables.RateCardVersion.tenant_id == tenant_id,
                tables.RateCardVersion.carrier == row.carrier,
                tables.RateCardVersion.service_code == row.service_code,
                tables.RateCardVersion.status == "active",
                tables.RateCardVersion.id != row.id,
            )
            .order_by(tables.RateCardVersion.version)
            .with_for_update()
        ).scalars()
    )
    retired, ending = [], []
    day_before = start - timedelta(days=1)
    for old in others:
        over = old.effective_to is not None and old.effective_to < today
        if over or old.effective_from >= start or start <= today:
            # Replaced from today (or already over): retired now. If it was in force before the
            # new start, its record ends the day before; a version the new one fully covers keeps
            # its dates, which are moot once retired.
            if old.effective_from < start and (old.effective_to is None or old.effective_to > day_before):
                old.effective_to = day_before
            old.status = "retired"
            old.retired_at = now
            retired.append(old)
            _audit(session, tenant_id, "card.retired", old, actor_key_id, now, superseded_by=row.version)
        else:
            # The new version starts later: the old one keeps pricing until the day before.
            if old.effective_to is None or old.effective_to > day_before:
                old.effective_to = day_before
            ending.append(old)
            _audit(
                session,
                tenant_id,
                "card.ends",
                old,
                actor_key_id,
                now,
                superseded_by=row.version,
                effective_to=old.effective_to.isoformat(),
            )
    row.status = "active"
    row.effective_from = start
    row.effective_to = end
    row.activated_at = now
    row.retired_at = None
    _audit(
        session,
        tenant_id,
        "card.activated",
        row,
        actor_key_id,
        now,
        effective_from=start.isoformat(),
        effective_to=None if end is None else end.isoformat(),
        replaces=[o.version for o in others],
    )
    session.flush()
    return Activation(row, retired, ending)


def present_activation(session: Session, a: Activation) -> dict[str, Any]:
    return {
        **present_version_detail(session, a.row),
        "retired": [present_version(r) for r in a.retired],
        "ending": [present_version(r) for r in a.ending],
    }


# --- dry run ---------------------------------------------------------------------------------


def _price(
    card: cards.RateCard, shipment: models.Shipment, m: markup.Markup | None
) -> tuple[quote.Quote | None, dict[str, Any]]:
    """Price a stored shipment as it was handed over (its creation time); never raises."""
    side: dict[str, Any] = {
        "card_version": card.version,
        "total_cost": None,
        "total_sell": None,
        "ineligible": None,
    }
    try:
        result = quote.price(card, specs.spec_from_shipment(shipment), shipment.created_at, markup=m)
    except (errors.RatingError, money.CurrencyError) as exc:
        side["ineligible"] = {"reason": "cannot_price", "detail": str(exc)}
        return None, side
    if isinstance(result, quote.Ineligible):
        side["ineligible"] = {"reason": result.reason.value, "detail": result.detail}
        return None, side
    side["total_cost"] = {"amount": result.total_cost.amount, "currency": result.currency}
    side["total_sell"] = {"amount": result.total_sell.amount, "currency": result.currency}
    return result, side


def dry_run(session: Session, tenant_id: str, card_id: str, version: int, last: int) -> dict[str, Any]:
    """Price the tenant's last ``last`` shipments under a candidate version and the version in force."""
    row = get_version(session, tenant_id, card_id, version)
    candidate = _local.compiled(row)
    today = utcnow().date()
    active_rows = session.execute(
        sa.select(tables.RateCardVersion).where(
            tables.RateCardVersion.tenant_id == tenant_id,
            tables.RateCardVersion.carrier == row.carrier,
            tables.RateCardVersion.service_code == row.service_code,
            tables.RateCardVersion.status == "active",
        )
    ).scalars()
    in_force_now = cards.effective([_local.compiled(r) for r in active_rows], today)
    current = in_force_now[0] if in_force_now else None
    m = markup.choose(markups.table(session, tenant_id), row.carrier, row.service_code)

    shipments = session.execute(
        sa.select(models.Shipment)
        .where(models.Shipment.tenant_id == tenant_id)
        .order_by(models.Shipment.created_at.desc(), models.Shipment.id.desc())
        .limit(last)
    ).scalars()
    zero = Decimal(0)
    sums = {"old_cost": zero, "new_cost": zero, "old_sell": zero, "new_sell": zero}
    counts = {"shipments": 0, "compared": 0, "only_current": 0, "only_candidate": 0, "neither": 0}
    out = []
    for s in shipments:
        counts["shipments"] += 1
        old_q, old_side = _price(current, s, m) if current is not None else (None, None)
        new_q, new_side = _price(candidate, s, m)
        difference = None
        if old_q is not None and new_q is not None and old_q.currency == new_q.currency:
            counts["compared"] += 1
            sums["old_cost"] += old_q.total_cost.amount
            sums["new_cost"] += new_q.total_cost.amount
            sums["old_sell"] += old_q.total_sell.amount
            sums["new_sell"] += new_q.total_sell.amount
            difference = {
                "cost": {
                    "amount": new_q.total_cost.amount - old_q.total_cost.amount,
                    "currency": new_q.currency,
                },
                "sell": {
                    "amount": new_q.total_sell.amount - old_q.total_sell.amount,
                    "currency": new_q.currency,
                },
            }
        elif old_q is not None:
            counts["only_current"] += 1
        elif new_q is not None:
            counts["only_candidate"] += 1
        else:
            counts["neither"] += 1
        out.append(
            {
                "shipment_id": s.id,
                "reference": s.reference,
                "created_at": s.created_at,
                "current": old_side,
                "candidate": new_side,
                "difference": difference,
            }
        )
    cur = candidate.currency

    def m_(amount: Decimal) -> dict[str, Any]:
        return {"amount": amount, "currency": cur}

    return {
        "card_id": row.card_id,
        "candidate_version": row.version,
        "current_version": None if current is None else current.version,
        "carrier": row.carrier,
        "service_code": row.service_code,
        "markup_applied": m is not None,
        **counts,
        "totals": {
            "current_cost": m_(sums["old_cost"]),
            "candidate_cost": m_(sums["new_cost"]),
            "difference_cost": m_(sums["new_cost"] - sums["old_cost"]),
            "current_sell": m_(sums["old_sell"]),
            "candidate_sell": m_(sums["new_sell"]),
            "difference_sell": m_(sums["new_sell"] - sums["old_sell"]),
        },
        "results": out,
    }
