"""end-of-day manifests (issue 19 item 4)

``manifests``: one row per carrier account's closed day (FedEx Ground close, USPS SCAN form, or the
gateway's own manifest for UPS and DHL Express) or per van dispatched, written before the carrier is
called. ``manifest_shipments``: the shipments each lists, one manifest per shipment.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _ts(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, gateway.kernel.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "manifests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("manifest_date", sa.Date(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.String(length=32), nullable=True),
        sa.Column("vehicle_id", sa.String(length=32), nullable=True),
        sa.Column("vehicle_name", sa.String(length=200), nullable=True),
        sa.Column("shipment_count", sa.Integer(), nullable=False),
        sa.Column("totals", _JSON, nullable=False),
        sa.Column("carrier_reference", sa.String(length=64), nullable=True),
        sa.Column("carrier_alerts", _JSON, nullable=False),
        sa.Column("carrier_code", sa.String(length=64), nullable=True),
        sa.Column("carrier_message", sa.Text(), nullable=True),
        sa.Column("carrier_document_type", sa.String(length=32), nullable=True),
        sa.Column("carrier_document_key", sa.String(length=300), nullable=True),
        sa.Column("carrier_document_checksum", sa.String(length=71), nullable=True),
        sa.Column("document_key", sa.String(length=300), nullable=True),
        sa.Column("document_checksum", sa.String(length=71), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("called_at", True),
        _ts("closed_at", True),
        _ts("created_at", False),
        _ts("updated_at", False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_manifests_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manifests")),
    )
    op.create_index(
        "ix_manifests_tenant_id_created_at_id", "manifests", ["tenant_id", "created_at", "id"], unique=False
    )
    op.create_index(
        "ix_manifests_tenant_scope",
        "manifests",
        ["tenant_id", "carrier", "account", "manifest_date"],
        unique=False,
    )
    op.create_table(
        "manifest_shipments",
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("manifest_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=True),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("service", sa.String(length=50), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("postal_code", sa.String(length=20), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("weight", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("weight_unit", sa.String(length=8), nullable=True),
        sa.Column("cost_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("stop", _JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["manifest_id"],
            ["manifests.id"],
            name=op.f("fk_manifest_shipments_manifest_id_manifests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_manifest_shipments_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_manifest_shipments_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shipment_id", name=op.f("pk_manifest_shipments")),
    )
    op.create_index(
        "ix_manifest_shipments_manifest_id_position",
        "manifest_shipments",
        ["manifest_id", "position"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_manifest_shipments_manifest_id_position", table_name="manifest_shipments")
    op.drop_table("manifest_shipments")
    op.drop_index("ix_manifests_tenant_scope", table_name="manifests")
    op.drop_index("ix_manifests_tenant_id_created_at_id", table_name="manifests")
    op.drop_table("manifests")
