"""Delivery-time model versions: what each was trained on, how accurate it measured, and its samples."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, new_id, utcnow


class EtaModel(Base):
    """One trained delivery-time model: a tenant's own, or pooled across tenants (``tenant_id`` None).

    ``document`` is ``rating.eta.Model.to_document()``. The accuracy is measured on a holdout: the
    latest fifth of the window's deliveries, predicted by a model fitted on the rest.
    """

    __tablename__ = "eta_models"
    __table_args__ = (sa.Index("ix_eta_models_tenant_trained", "tenant_id", "trained_at"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("etm"))
    tenant_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True
    )
    kind: Mapped[str] = mapped_column(sa.String(32), default="empirical_quantile")
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    window_from: Mapped[date] = mapped_column(sa.Date)
    window_to: Mapped[date] = mapped_column(sa.Date)
    deliveries: Mapped[int] = mapped_column(sa.Integer)
    holdout: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Mean absolute error of the p50 date, in business days, and the share of holdout deliveries on or
    # before the p80 date; None when the holdout had no delivery the model could predict.
    holdout_mae_days: Mapped[Decimal | None] = mapped_column(sa.Numeric(8, 3), nullable=True)
    holdout_p80_coverage: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 4), nullable=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)


class ShipmentPrediction(Base):
    """One prediction of a shipment's delivery: at booking, then again at each event and as days pass.

    Kept, never overwritten, so that ETA accuracy can be measured against what was said when; the
    latest is also copied onto the shipment's tracking row (``predicted_*``, ``delivery_risk``).
    """

    __tablename__ = "shipment_predictions"
    __table_args__ = (
        sa.Index("ix_shipment_predictions_shipment", "shipment_id", "made_at"),
        sa.Index("ix_shipment_predictions_tenant_made", "tenant_id", "made_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("prd"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    shipment_id: Mapped[str] = mapped_column(sa.ForeignKey("shipments.id", ondelete="CASCADE"))
    made_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    trigger: Mapped[str] = mapped_column(sa.String(16))  # booking | event | time
    milestone: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    p10: Mapped[date] = mapped_column(sa.Date)
    p50: Mapped[date] = mapped_column(sa.Date)
    p90: Mapped[date] = mapped_column(sa.Date)
    promise_date: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    # The carrier's own estimate when the prediction was made (the quoted rate's at booking, then the
    # latest the carrier sent): what the prediction is measured against.
    carrier_estimate: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    on_time_probability: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 4), nullable=True)
    basis: Mapped[str] = mapped_column(sa.String(32))
    samples: Mapped[int] = mapped_column(sa.Integer, default=0)
    model_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    factors: Mapped[list[str]] = mapped_column(JSONType, default=list)
