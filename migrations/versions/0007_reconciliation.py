"""reconciliation: invoices, invoice lines, discrepancies, runs (issue 8)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _ts(name: str, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, gateway.kernel.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("invoice_number", sa.String(length=64), nullable=False),
        sa.Column("invoice_date", sa.Date(), nullable=True),
        sa.Column("account_number", sa.String(length=64), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("billed_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", _json(), nullable=False),
        sa.Column("run_owner", sa.String(length=32), nullable=True),
        _ts("run_heartbeat", True),
        sa.Column("outbox_id", _BIGINT, nullable=True),
        sa.Column("report", _json(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("uploaded_by", sa.String(length=32), nullable=True),
        _ts("created_at", False),
        _ts("reconciled_at", True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_invoices_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("tenant_id", "content_hash", name="uq_invoices_tenant_content_hash"),
        sa.UniqueConstraint(
            "tenant_id", "carrier", "invoice_number", name="uq_invoices_tenant_carrier_number"
        ),
    )
    op.create_index("ix_invoices_tenant_created", "invoices", ["tenant_id", "created_at", "id"], unique=False)

    op.create_table(
        "invoice_lines",
        sa.Column("id", _BIGINT, nullable=False),
        sa.Column("invoice_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=True),
        sa.Column("charge_code", sa.String(length=32), nullable=False),
        sa.Column("charge_class", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("billed_weight", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("weight_unit", sa.String(length=3), nullable=True),
        sa.Column("weight_type", sa.String(length=16), nullable=True),
        sa.Column("length", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("width", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("height", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("dimension_unit", sa.String(length=3), nullable=True),
        sa.Column("zone", sa.String(length=8), nullable=True),
        sa.Column("service", sa.String(length=100), nullable=True),
        sa.Column("ship_date", sa.Date(), nullable=True),
        sa.Column("shipment_id", sa.String(length=32), nullable=True),
        sa.Column("recoverable_minor", sa.BigInteger(), nullable=False),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("resolution_note", sa.String(length=500), nullable=True),
        _ts("resolved_at", True),
        sa.Column("resolved_by", sa.String(length=32), nullable=True),
        sa.Column("credited_by_line_id", _BIGINT, nullable=True),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_lines_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    op.create_index(
        "ix_invoice_lines_invoice_tracking", "invoice_lines", ["invoice_id", "tracking_number"], unique=False
    )
    op.create_index(
        "ix_invoice_lines_tenant_tracking", "invoice_lines", ["tenant_id", "tracking_number"], unique=False
    )
    # Resolution first: only finance's decided lines are looked up by it (disputes, credits).
    op.create_index(
        "ix_invoice_lines_resolution", "invoice_lines", ["resolution", "tenant_id", "carrier"], unique=False
    )

    op.create_table(
        "invoice_discrepancies",
        sa.Column("id", _BIGINT, nullable=False),
        sa.Column("invoice_id", sa.String(length=32), nullable=False),
        sa.Column("line_id", _BIGINT, nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("shipment_id", sa.String(length=32), nullable=True),
        sa.Column("billed_minor", sa.BigInteger(), nullable=False),
        sa.Column("expected_minor", sa.BigInteger(), nullable=True),
        sa.Column("recoverable_minor", sa.BigInteger(), nullable=False),
        sa.Column("evidence", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_discrepancies_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_discrepancies")),
    )
    op.create_index(
        "ix_invoice_discrepancies_invoice_kind", "invoice_discrepancies", ["invoice_id", "kind"], unique=False
    )
    op.create_index("ix_invoice_discrepancies_line", "invoice_discrepancies", ["line_id"], unique=False)

    op.create_table(
        "invoice_column_mappings",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("mapping", _json(), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=True),
        _ts("updated_at", False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_invoice_column_mappings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "carrier", name=op.f("pk_invoice_column_mappings")),
    )

    op.create_table(
        "reconciliation_card_terms",
        sa.Column("id", _BIGINT, nullable=False),
        sa.Column("invoice_id", sa.String(length=32), nullable=False),
        sa.Column("card_id", sa.String(length=100), nullable=False),
        sa.Column("card_version", sa.Integer(), nullable=False),
        sa.Column("estimated_delivery", sa.Date(), nullable=True),
        sa.Column("guaranteed", sa.Boolean(), nullable=False),
        _ts("deadline_at", True),
        sa.Column("fuel_percent", sa.Numeric(precision=8, scale=4), nullable=True),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_reconciliation_card_terms_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_card_terms")),
    )
    op.create_index(
        "ix_reconciliation_card_terms_lookup",
        "reconciliation_card_terms",
        ["invoice_id", "card_id", "card_version"],
        unique=False,
    )

    op.create_table(
        "reconciliation_card_codes",
        sa.Column("id", _BIGINT, nullable=False),
        sa.Column("invoice_id", sa.String(length=32), nullable=False),
        sa.Column("card_id", sa.String(length=100), nullable=False),
        sa.Column("card_version", sa.Integer(), nullable=False),
        sa.Column("charge_class", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("fuel_base", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_reconciliation_card_codes_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_card_codes")),
    )
    op.create_index(
        "ix_reconciliation_card_codes_lookup",
        "reconciliation_card_codes",
        ["invoice_id", "card_id", "card_version", "charge_class"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_reconciliation_card_codes_lookup", table_name="reconciliation_card_codes")
    op.drop_table("reconciliation_card_codes")
    op.drop_index("ix_reconciliation_card_terms_lookup", table_name="reconciliation_card_terms")
    op.drop_table("reconciliation_card_terms")
    op.drop_table("invoice_column_mappings")
    op.drop_index("ix_invoice_discrepancies_line", table_name="invoice_discrepancies")
    op.drop_index("ix_invoice_discrepancies_invoice_kind", table_name="invoice_discrepancies")
    op.drop_table("invoice_discrepancies")
    op.drop_index("ix_invoice_lines_resolution", table_name="invoice_lines")
    op.drop_index("ix_invoice_lines_tenant_tracking", table_name="invoice_lines")
    op.drop_index("ix_invoice_lines_invoice_tracking", table_name="invoice_lines")
    op.drop_table("invoice_lines")
    op.drop_index("ix_invoices_tenant_created", table_name="invoices")
    op.drop_table("invoices")
