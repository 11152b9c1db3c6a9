"""labels: label purchase jobs, outbox, attempts, stored labels, batches, voids (issue 7)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import gateway.kernel.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job", sa.String(length=200), nullable=False),
        sa.Column(
            "args",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("queue", sa.String(length=50), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("enqueued_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rq_job_id", sa.String(length=80), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index("ix_outbox_state_available_at", "outbox", ["state", "available_at"], unique=False)

    op.create_table(
        "label_batches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("label_format", sa.String(length=8), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("merged_storage_key", sa.String(length=300), nullable=True),
        sa.Column("merged_checksum", sa.String(length=71), nullable=True),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_label_batches_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_batches")),
    )
    with op.batch_alter_table("label_batches", schema=None) as batch_op:
        batch_op.create_index("ix_label_batches_tenant_created", ["tenant_id", "created_at"], unique=False)

    op.create_table(
        "label_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("label_format", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error_code", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("outbox_id", sa.BigInteger(), nullable=True),
        sa.Column("next_attempt_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "resolution",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'succeeded', 'failed', 'needs_review')",
            name=op.f("ck_label_jobs_state"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["label_batches.id"],
            name=op.f("fk_label_jobs_batch_id_label_batches"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_label_jobs_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_label_jobs_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_jobs")),
    )
    with op.batch_alter_table("label_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_jobs_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index("ix_label_jobs_shipment", ["shipment_id", "created_at"], unique=False)
        batch_op.create_index(
            "ix_label_jobs_tenant_state", ["tenant_id", "state", "created_at"], unique=False
        )

    op.create_table(
        "labels",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("service", sa.String(length=50), nullable=True),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cost_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=True),
        sa.Column("storage_key", sa.String(length=300), nullable=True),
        sa.Column("checksum", sa.String(length=71), nullable=True),
        sa.Column("purchased_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("voided_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("carrier_shipment_id", sa.String(length=64), nullable=True),
        sa.Column(
            "tracking_numbers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("void_state", sa.String(length=16), nullable=True),
        sa.CheckConstraint("status IN ('purchased', 'voided')", name=op.f("ck_labels_status")),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_labels_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_labels_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
        sa.UniqueConstraint("shipment_id", name=op.f("uq_labels_shipment_id")),
    )
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.create_index("ix_labels_tenant_purchased", ["tenant_id", "purchased_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_labels_tracking_number"), ["tracking_number"], unique=False)

    op.create_table(
        "label_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("shipment_id", sa.String(length=32), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=100), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("started_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", gateway.kernel.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["label_jobs.id"],
            name=op.f("fk_label_attempts_job_id_label_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_label_attempts_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_label_attempts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_attempts")),
    )
    with op.batch_alter_table("label_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_attempts_job_id"), ["job_id"], unique=False)
        batch_op.create_index("ix_label_attempts_shipment", ["shipment_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("label_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_label_attempts_shipment")
        batch_op.drop_index(batch_op.f("ix_label_attempts_job_id"))
    op.drop_table("label_attempts")
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_labels_tracking_number"))
        batch_op.drop_index("ix_labels_tenant_purchased")
    op.drop_table("labels")
    with op.batch_alter_table("label_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_label_jobs_tenant_state")
        batch_op.drop_index("ix_label_jobs_shipment")
        batch_op.drop_index(batch_op.f("ix_label_jobs_batch_id"))
    op.drop_table("label_jobs")
    with op.batch_alter_table("label_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_label_batches_tenant_created")
    op.drop_table("label_batches")
    op.drop_index("ix_outbox_state_available_at", table_name="outbox")
    op.drop_table("outbox")
