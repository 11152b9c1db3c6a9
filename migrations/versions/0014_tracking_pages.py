"""public tracking pages (issue 19 item 6)

``tracking_links``: one unguessable link per shipment (the token, and its SHA-256 it is looked up
by); every shipment that exists when this runs gets one here, later ones with their first flush.
``tenant_branding``: the name, colour and logo a tenant's tracking pages show.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from alembic import op

import gateway.kernel.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_BATCH = 1000


def _ts(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, gateway.kernel.types.UTCDateTime(timezone=True), nullable=nullable)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "tracking_links",
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        _ts("created_at", False),
        _ts("expires_at", True),
        _ts("revoked_at", True),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_tracking_links_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        _tenant_fk("tracking_links"),
        sa.PrimaryKeyConstraint("shipment_id", name=op.f("pk_tracking_links")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_tracking_links_token_sha256")),
    )
    op.create_index(op.f("ix_tracking_links_tenant_id"), "tracking_links", ["tenant_id"], unique=False)
    op.create_table(
        "tenant_branding",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("colour", sa.String(length=7), nullable=False),
        sa.Column("logo_url", sa.String(length=500), nullable=True),
        _ts("updated_at", False),
        _tenant_fk("tenant_branding"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_branding")),
    )
    _backfill_links()


def _backfill_links() -> None:
    """Give every existing shipment a link (tokens from the secrets module, never from SQL)."""
    bind = op.get_bind()
    shipments = sa.table("shipments", sa.column("id", sa.String), sa.column("tenant_id", sa.String))
    links = sa.table(
        "tracking_links",
        sa.column("shipment_id", sa.String),
        sa.column("tenant_id", sa.String),
        sa.column("token", sa.String),
        sa.column("token_sha256", sa.String),
        sa.column("created_at", gateway.kernel.types.UTCDateTime(timezone=True)),
    )
    now = gateway.kernel.types.utcnow()
    after = ""
    while True:
        rows = bind.execute(
            sa.select(shipments.c.id, shipments.c.tenant_id)
            .where(shipments.c.id > after)
            .order_by(shipments.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        values = []
        for shipment_id, tenant_id in rows:
            token = secrets.token_urlsafe(24)
            values.append(
                {
                    "shipment_id": shipment_id,
                    "tenant_id": tenant_id,
                    "token": token,
                    "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
                    "created_at": now,
                }
            )
        bind.execute(links.insert(), values)
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_table("tenant_branding")
    op.drop_index(op.f("ix_tracking_links_tenant_id"), table_name="tracking_links")
    op.drop_table("tracking_links")
