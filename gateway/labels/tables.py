"""Label tables: bought labels, the purchase jobs behind them, every carrier attempt with its evidence, batches.

* ``labels``: one row per shipment that has a label (the shared contract other areas read:
  reconciliation compares invoices against it). ``status`` is ``purchased`` or ``voided``.
* ``label_jobs``: the job resource a platform polls (``GET /v1/jobs/{id}``): one per purchase request.
* ``label_attempts``: every carrier call made for a job (purchase, lookup by reference, void), written
  *before* the call and completed after it, so an attempt left ``started`` is an outcome nobody saw.
* ``label_batches``: up to 1,000 purchase jobs requested together, with a merged PDF once done.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, new_id, utcnow

LABEL_STATUSES = ("purchased", "voided")
# queued: waiting for a worker (shipment label_requested); running: a worker holds it (purchasing);
# succeeded (purchased), failed (rejected / gave up, nothing bought), needs_review (outcome unknown).
JOB_STATES = ("queued", "running", "succeeded", "failed", "needs_review")
TERMINAL_JOB_STATES = ("succeeded", "failed", "needs_review")
# started: written before the carrier call; the rest once its outcome is known.
ATTEMPT_OUTCOMES = (
    "started",
    "succeeded",
    "rejected",
    "unavailable",
    "unknown",
    "found",
    "not_found",
    "dismissed",
)
BATCH_STATES = ("running", "done")


class Label(Base):
    """A bought label and where its document is stored."""

    __tablename__ = "labels"
    __table_args__ = (
        sa.CheckConstraint("status IN ('purchased', 'voided')", name="status"),
        sa.Index("ix_labels_tenant_purchased", "tenant_id", "purchased_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("lbl"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    shipment_id: Mapped[str] = mapped_column(sa.ForeignKey("shipments.id", ondelete="CASCADE"), unique=True)
    carrier: Mapped[str] = mapped_column(sa.String(50))
    service: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    tracking_number: Mapped[str] = mapped_column(sa.String(64), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="purchased")
    # What the carrier charged (or, when it did not say, the frozen quote's cost), in minor units.
    cost_minor: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    currency: Mapped[str | None] = mapped_column(sa.String(3), nullable=True)
    format: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)  # PDF | PNG | ZPL | GIF ...
    storage_key: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    checksum: Mapped[str | None] = mapped_column(sa.String(71), nullable=True)  # "sha256:<hex>"
    purchased_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Beyond the shared contract: what a void and a dispute need.
    carrier_shipment_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    tracking_numbers: Mapped[list[str]] = mapped_column(JSONType, default=list)  # one per parcel
    source: Mapped[str] = mapped_column(sa.String(16), default="carrier")  # carrier | lookup | local | ops
    job_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    void_state: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)  # carrier | local
    # The carrier account the label was bought on (the adapter's account id; None for the own fleet):
    # with tenant and carrier, who produced the tracking number.
    account: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


class LabelJob(Base):
    """One purchase request for a shipment: the job resource, its state and its last error."""

    __tablename__ = "label_jobs"
    __table_args__ = (
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'succeeded', 'failed', 'needs_review')", name="state"
        ),
        sa.Index("ix_label_jobs_tenant_state", "tenant_id", "state", "created_at"),
        sa.Index("ix_label_jobs_shipment", "shipment_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("job"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    shipment_id: Mapped[str] = mapped_column(sa.ForeignKey("shipments.id", ondelete="CASCADE"))
    batch_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("label_batches.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16), default="label_purchase")
    state: Mapped[str] = mapped_column(sa.String(16), default="queued")
    label_format: Mapped[str] = mapped_column(sa.String(8), default="PDF")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)  # carrier purchase calls made
    last_error_code: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    outbox_id: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Ops decisions on failed / needs-review jobs (requeue, resolve), newest last.
    resolution: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)


class LabelAttempt(Base):
    """One carrier call for a job, recorded before it is made: the evidence for reviews and disputes."""

    __tablename__ = "label_attempts"
    __table_args__ = (sa.Index("ix_label_attempts_shipment", "shipment_id", "id"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("label_jobs.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    shipment_id: Mapped[str] = mapped_column(sa.ForeignKey("shipments.id", ondelete="CASCADE"))
    operation: Mapped[str] = mapped_column(sa.String(16))  # purchase | lookup | void
    carrier: Mapped[str] = mapped_column(sa.String(50))
    reference: Mapped[str] = mapped_column(sa.String(64))  # what we sent the carrier: our shipment id
    outcome: Mapped[str] = mapped_column(sa.String(16), default="started")
    error_code: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    error_message: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    http_status: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LabelBatch(Base):
    """Purchase jobs requested together; progress is counted from its jobs."""

    __tablename__ = "label_batches"
    __table_args__ = (sa.Index("ix_label_batches_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("bat"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    label_format: Mapped[str] = mapped_column(sa.String(8), default="PDF")
    total: Mapped[int] = mapped_column(sa.Integer)
    state: Mapped[str] = mapped_column(sa.String(16), default="running")
    merged_storage_key: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    merged_checksum: Mapped[str | None] = mapped_column(sa.String(71), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
