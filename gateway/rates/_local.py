"""The cards priced locally: the tenant's active versions (compiled once, cached), or the bundled samples.

A tenant is quoted from the samples on a fresh install, until it first activates a card.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.rates import tables
from rating import cards

SOURCE_CONTRACT = "contract"
SOURCE_SAMPLE = "sample"

# Card documents never change once uploaded, so compiled cards are kept per row id (and the
# row's effective dates, which activation may set or clip).
_COMPILED: dict[tuple[str, date, date | None], cards.RateCard] = {}
_COMPILED_MAX = 2000
_SAMPLES: list[cards.RateCard] | None = None


def _samples() -> list[cards.RateCard]:
    global _SAMPLES
    if _SAMPLES is None:
        _SAMPLES = cards.load_samples()
    return _SAMPLES


def compiled(row: tables.RateCardVersion) -> cards.RateCard:
    """Return the compiled card of a stored version, in force on the row's effective dates.

    Cached: documents never change. The row's dates win over the document's because
    activation may set them, and clips a predecessor's end when a successor takes over.
    """
    key = (row.id, row.effective_from, row.effective_to)
    card = _COMPILED.get(key)
    if card is None:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        card = cards.parse(row.document)
        if (card.effective_from, card.effective_to) != (row.effective_from, row.effective_to):
            card = dataclasses.replace(card, effective_from=row.effective_from, effective_to=row.effective_to)
        _COMPILED[key] = card
    return card


def local_cards(session: Session, tenant_id: str, on: date) -> tuple[list[cards.RateCard], str]:
    """Return the cards to price locally and where they came from (contract, or sample on a fresh install).

    A tenant leaves the samples when it first activates a card; uploading drafts to dry-run
    them does not change what it is quoted. Only the ids and dates of the active versions are
    read on each call; a document is loaded (and compiled once) only when it is not cached.
    """
    v = tables.RateCardVersion
    heads = session.execute(
        sa.select(v.id, v.effective_from, v.effective_to).where(
            v.tenant_id == tenant_id, v.status == "active"
        )
    ).all()
    if not heads:
        any_card = session.execute(
            sa.select(v.id).where(v.tenant_id == tenant_id, v.status != "draft").limit(1)
        ).first()
        if any_card is None:
            return cards.effective(_samples(), on), SOURCE_SAMPLE
        return [], SOURCE_CONTRACT
    found: list[cards.RateCard] = []
    missing: list[str] = []
    for row_id, start, end in heads:
        card = _COMPILED.get((row_id, start, end))
        if card is None:
            missing.append(row_id)
        else:
            found.append(card)
    if missing:
        found.extend(compiled(r) for r in session.execute(sa.select(v).where(v.id.in_(missing))).scalars())
    return cards.effective(found, on), SOURCE_CONTRACT
