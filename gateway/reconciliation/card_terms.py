"""The facts of the rate card versions an invoice's shipments were quoted under, as rows the checks join.

The card step of a run is the one place that reads Python objects: the few rate card versions
the invoice's shipments were quoted under (their fuel percentage, guaranteed flag, time zone and
which quote code prices which charge class) become rows of ``reconciliation_card_terms`` and
``reconciliation_card_codes`` so the checks stay joins.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.rates import tables as rating_tables
from gateway.reconciliation import tables
from gateway.reconciliation._sql import LN, QS, Context
from gateway.reconciliation.parsers import charges
from rating import cards

log = logging.getLogger(__name__)


_SAMPLE_DOCS: dict[tuple[str, int], dict[str, Any]] | None = None


def _sample_docs() -> dict[tuple[str, int], dict[str, Any]]:
    global _SAMPLE_DOCS
    if _SAMPLE_DOCS is None:
        docs = {}
        for name in cards.sample_names():
            doc = json.loads(
                resources.files("rating").joinpath(f"cards/{name}.json").read_text(encoding="utf-8")
            )
            docs[(doc["id"], int(doc["version"]))] = doc
        _SAMPLE_DOCS = docs
    return _SAMPLE_DOCS


def _card_doc(session: Session, tenant_id: str, card_id: str, version: int) -> dict[str, Any] | None:
    doc = session.execute(
        sa.select(rating_tables.RateCardVersion.document).where(
            rating_tables.RateCardVersion.tenant_id == tenant_id,
            rating_tables.RateCardVersion.card_id == card_id,
            rating_tables.RateCardVersion.version == version,
        )
    ).scalar_one_or_none()
    return doc if doc is not None else _sample_docs().get((card_id, version))


def commit_deadline(day: date, timezone: str) -> datetime:
    """The end of ``day`` in the card's time zone, in UTC: a guaranteed service must deliver before it."""
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "America"
        tz = ZoneInfo("UTC")
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


def load_card_terms(session: Session, ctx: Context) -> int:
    """Write the facts of every card version this invoice's shipments were quoted under; return how many."""
    qs = QS
    combos = session.execute(
        sa.select(qs.c.card_id, qs.c.card_version, qs.c.estimated_delivery)
        .distinct()
        .select_from(LN)
        .join(qs, qs.c.shipment_id == LN.c.shipment_id)
        .where(LN.c.invoice_id == ctx.invoice_id, qs.c.card_id.is_not(None), qs.c.card_version.is_not(None))
    ).all()
    by_card: dict[tuple[str, int], list[date | None]] = {}
    for card_id, version, estimated in combos:
        by_card.setdefault((card_id, version), []).append(estimated)
    terms: list[dict[str, Any]] = []
    codes: list[dict[str, Any]] = []
    for (card_id, version), days in by_card.items():
        doc = _card_doc(session, ctx.tenant_id, card_id, version)
        if doc is None:
            log.warning("card of a quote snapshot not found", extra={"card_id": card_id, "version": version})
            continue
        card = cards.parse(doc)
        fuel = card.fuel_surcharges[0] if card.fuel_surcharges else None
        timezone = (doc.get("transit") or {}).get("timezone") or "UTC"
        for day in days:
            terms.append(
                {
                    "invoice_id": ctx.invoice_id,
                    "card_id": card_id,
                    "card_version": version,
                    "estimated_delivery": day,
                    "guaranteed": card.guaranteed,
                    "deadline_at": commit_deadline(day, timezone) if day is not None else None,
                    "fuel_percent": fuel.percent if fuel else None,
                }
            )
        applies = fuel.applies_to if fuel else frozenset()
        rows = [(charges.BASE, cards.BASE)] + [(s.kind, s.code) for s in card.surcharges]
        for cls, code in rows:
            codes.append(
                {
                    "invoice_id": ctx.invoice_id,
                    "card_id": card_id,
                    "card_version": version,
                    "charge_class": cls,
                    "code": code,
                    "fuel_base": code in applies,
                }
            )
    if terms:
        session.execute(sa.insert(tables.CardTerm), terms)
    if codes:
        session.execute(sa.insert(tables.CardCode), codes)
    return len(by_card)
