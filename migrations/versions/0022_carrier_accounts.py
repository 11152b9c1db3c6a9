"""carrier accounts per tenant (issue 18, item 1)

``carrier_accounts``: a tenant's own carrier connections, non-secret options in clear and secrets
sealed with a per-row data key (wrapped by CREDENTIALS_KEYS). ``carrier_account_policies``: whether
a tenant may use the operator's accounts (no row: allowed). ``shipments.carrier_account_id``: the
tenant account a selected rate was quoted on (labels are bought and voided on it).

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("shipments") as batch:
        batch.add_column(sa.Column("carrier_account_id", sa.String(length=32), nullable=True))
    op.create_table(
        "carrier_accounts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("account_number", sa.String(length=64), nullable=True),
        sa.Column("options", _JSON, nullable=False),
        sa.Column("secrets_ciphertext", sa.Text(), nullable=False),
        sa.Column("wrapped_key", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("secret_fields", _JSON, nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_carrier_accounts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_accounts")),
    )
    op.create_index("ix_carrier_accounts_tenant_carrier", "carrier_accounts", ["tenant_id", "carrier"])
    op.create_table(
        "carrier_account_policies",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("operator_accounts", sa.Boolean(), nullable=False),
        sa.Column("updated_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_carrier_account_policies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_carrier_account_policies")),
    )


def downgrade() -> None:
    op.drop_table("carrier_account_policies")
    op.drop_index("ix_carrier_accounts_tenant_carrier", table_name="carrier_accounts")
    op.drop_table("carrier_accounts")
    with op.batch_alter_table("shipments") as batch:
        batch.drop_column("carrier_account_id")
