"""one canonical carrier code for the own fleet (issue 15)

The own fleet was ``own_fleet`` on the sample rate card (and so on every shipment, label and
rate booked at that card's rate) but ``fleet`` in the driver app, the contracts, allocation,
callbacks and reconciliation, so driver events for those shipments were parked and never
attached. From now on it is ``fleet`` everywhere; this turns stored ``own_fleet`` into ``fleet``.

Tables whose unique key includes the carrier are updated only where no ``fleet`` row holds the
same key. Left over after that (a tenant that configured both spellings): markups and invoice
column mappings are deleted (the ``fleet`` row already configures that scope and is the one that
applies); rate card versions are retired (their version numbers are taken); invoices and mapping
overrides keep ``own_fleet`` as history. Stored JSON that is read again is rewritten too: the
rate card documents (the priced card's carrier comes from its document) and the rate shop answers
kept per shipment (allocation reads their carriers as partner offers).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OLD, NEW = "own_fleet", "fleet"

# Tables with a carrier column and no unique key over it.
PLAIN = (
    "carrier_exchanges",
    "tracking_callback_inbox",
    "tracking_parked_events",
    "shipments",
    "labels",
    "label_attempts",
    "rate_quotes",
    "shipment_quote_snapshots",
    "shipment_tracking",
    "tracking_events",
    "invoice_lines",
    "invoice_discrepancies",
)
# Tables whose unique key includes the carrier: the key's other columns, and what to do with
# a row left over because a ``fleet`` row already holds its key.
KEYED: dict[str, tuple[tuple[str, ...], str]] = {
    "tenant_markups": (("tenant_id", "service_code"), "delete"),
    "invoice_column_mappings": (("tenant_id",), "delete"),
    "rate_card_versions": (("tenant_id", "service_code", "version"), "retire"),
    "invoices": (("tenant_id", "invoice_number"), "keep"),
    "tracking_mapping_overrides": (("tenant_id", "code", "subcode", "version"), "keep"),
}
BATCH = 500


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _rename_plain(bind: sa.Connection, name: str) -> None:
    t = sa.table(name, sa.column("carrier"))
    bind.execute(sa.update(t).where(t.c.carrier == OLD).values(carrier=NEW))


def _rename_keyed(bind: sa.Connection, name: str, others: Sequence[str], leftover: str) -> None:
    t = sa.table(name, *(sa.column(c) for c in ("carrier", *others)))
    taken = sa.table(name, *(sa.column(c) for c in ("carrier", *others))).alias("taken")
    clash = sa.exists().where(taken.c.carrier == NEW, *(taken.c[c] == t.c[c] for c in others))
    bind.execute(sa.update(t).where(t.c.carrier == OLD, ~clash).values(carrier=NEW))
    if leftover == "delete":
        bind.execute(sa.delete(t).where(t.c.carrier == OLD))
    elif leftover == "retire":
        r = sa.table(name, sa.column("carrier"), sa.column("status"), sa.column("retired_at"))
        bind.execute(
            sa.update(r)
            .where(r.c.carrier == OLD, r.c.status != "retired")
            .values(status="retired", retired_at=datetime.now(UTC))
        )


def _renamed(value: Any) -> tuple[Any, bool]:
    """Return value with every ``"carrier": "own_fleet"`` made ``fleet``, and whether anything changed."""
    if isinstance(value, dict):
        changed = False
        out = {}
        for k, v in value.items():
            if k == "carrier" and v == OLD:
                out[k], changed = NEW, True
            else:
                out[k], c = _renamed(v)
                changed = changed or c
        return out, changed
    if isinstance(value, list):
        items = [_renamed(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    return value, False


def _rewrite_json(
    bind: sa.Connection, name: str, key: str, column: str, *, renamed_only: bool = False
) -> None:
    t = sa.table(name, sa.column(key), sa.column(column, _json()), sa.column("carrier"))
    query = sa.select(t.c[key], t.c[column]).where(sa.cast(t.c[column], sa.Text).like(f"%{OLD}%"))
    if renamed_only:  # rows whose carrier column was renamed above (leftovers keep their document)
        query = query.where(t.c.carrier == NEW)
    rows = bind.execute(query.order_by(t.c[key])).all()  # only the rows that mention own_fleet
    for start in range(0, len(rows), BATCH):
        updates = []
        for row_key, document in rows[start : start + BATCH]:
            new, changed = _renamed(document)
            if changed:
                updates.append({"k": row_key, "v": new})
        if updates:
            bind.execute(
                sa.update(t)
                .where(t.c[key] == sa.bindparam("k"))
                .values({column: sa.bindparam("v", type_=_json())}),
                updates,
            )


def upgrade() -> None:
    bind = op.get_bind()
    for name in PLAIN:
        _rename_plain(bind, name)
    for name, (others, leftover) in KEYED.items():
        _rename_keyed(bind, name, others, leftover)
    _rewrite_json(bind, "rate_card_versions", "id", "document", renamed_only=True)
    _rewrite_json(bind, "shipment_rate_results", "shipment_id", "result")


def downgrade() -> None:
    # Nothing to undo: ``fleet`` is what the driver app, allocation and reconciliation always used,
    # so turning rows back into ``own_fleet`` would only detach them again.
    pass
