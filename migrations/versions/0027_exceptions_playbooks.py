"""predictions in flight, exception playbooks and the exception queue (issue 21, items 2 and 4)

``shipment_predictions``: every prediction of a shipment's delivery (at booking, at each event, as
days pass), kept for ETA accuracy. ``shipment_tracking`` gains the latest prediction, its risk and
``reassess_due`` (set when a new event re-derives the status). ``playbooks``: versioned per-tenant
playbooks. ``shipment_exceptions``: exceptions with owner, timer, actions and resolution.

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TS = gateway.kernel.types.UTCDateTime


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
    )


def _shipment_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["shipment_id"], ["shipments.id"], name=op.f(f"fk_{table}_shipment_id_shipments"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "shipment_predictions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("made_at", _TS(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("milestone", sa.String(length=32), nullable=True),
        sa.Column("p10", sa.Date(), nullable=False),
        sa.Column("p50", sa.Date(), nullable=False),
        sa.Column("p90", sa.Date(), nullable=False),
        sa.Column("promise_date", sa.Date(), nullable=True),
        sa.Column("carrier_estimate", sa.Date(), nullable=True),
        sa.Column("on_time_probability", sa.Numeric(5, 4), nullable=True),
        sa.Column("basis", sa.String(length=32), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.String(length=32), nullable=True),
        sa.Column("factors", _JSON, nullable=False),
        _tenant_fk("shipment_predictions"),
        _shipment_fk("shipment_predictions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_predictions")),
    )
    op.create_index("ix_shipment_predictions_shipment", "shipment_predictions", ["shipment_id", "made_at"])
    op.create_index("ix_shipment_predictions_tenant_made", "shipment_predictions", ["tenant_id", "made_at"])

    with op.batch_alter_table("shipment_tracking") as batch:
        batch.add_column(sa.Column("reassess_due", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch.add_column(sa.Column("predicted_at", _TS(timezone=True), nullable=True))
        batch.add_column(sa.Column("predicted_p10", sa.Date(), nullable=True))
        batch.add_column(sa.Column("predicted_p50", sa.Date(), nullable=True))
        batch.add_column(sa.Column("predicted_p90", sa.Date(), nullable=True))
        batch.add_column(sa.Column("delivery_risk", sa.Numeric(5, 4), nullable=True))
        batch.create_index("ix_shipment_tracking_reassess", ["reassess_due", "predicted_at"])

    op.create_table(
        "playbooks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", _JSON, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", _TS(timezone=True), nullable=False),
        _tenant_fk("playbooks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbooks")),
        sa.UniqueConstraint("tenant_id", "version", name="uq_playbooks_tenant_version"),
    )

    op.create_table(
        "shipment_exceptions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("milestone", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TS(timezone=True), nullable=False),
        sa.Column("due_at", _TS(timezone=True), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("escalated_at", _TS(timezone=True), nullable=True),
        sa.Column("playbook_version", sa.Integer(), nullable=True),
        sa.Column("actions", _JSON, nullable=False),
        sa.Column("detail", _JSON, nullable=False),
        sa.Column("resolved_at", _TS(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_shipment_exceptions_status")),
        _tenant_fk("shipment_exceptions"),
        _shipment_fk("shipment_exceptions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_exceptions")),
    )
    op.create_index(
        "ix_shipment_exceptions_tenant_status", "shipment_exceptions", ["tenant_id", "status", "created_at"]
    )
    op.create_index("ix_shipment_exceptions_shipment", "shipment_exceptions", ["shipment_id", "status"])
    op.create_index("ix_shipment_exceptions_due", "shipment_exceptions", ["status", "due_at"])


def downgrade() -> None:
    op.drop_table("shipment_exceptions")
    op.drop_table("playbooks")
    with op.batch_alter_table("shipment_tracking") as batch:
        batch.drop_index("ix_shipment_tracking_reassess")
        for name in ("delivery_risk", "predicted_p90", "predicted_p50", "predicted_p10", "predicted_at"):
            batch.drop_column(name)
        batch.drop_column("reassess_due")
    op.drop_index("ix_shipment_predictions_tenant_made", "shipment_predictions")
    op.drop_index("ix_shipment_predictions_shipment", "shipment_predictions")
    op.drop_table("shipment_predictions")
