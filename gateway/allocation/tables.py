"""Allocation tables: versioned rule sets, the own fleet, an audit log, plans/simulations, decisions.

Rule sets are never edited in place: every write adds a ``allocation_rule_set_versions`` row and
moves ``current_version``. Depots and vehicles carry a ``version`` that every change increments;
the audit log keeps who changed what, when, with the before/after values. A plan row is both
the request and, once its RQ job is done, the result. ``shipment_allocations`` holds the current
decision per shipment (from an applied plan or an online booking decision).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gateway.kernel.models import Base
from gateway.kernel.types import JSONType, UTCDateTime, new_id, utcnow

PLAN_STATES = ("queued", "running", "done", "failed", "applied")
PLAN_KINDS = ("plan", "simulation")

_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


class RuleSet(Base):
    """A named set of ops rules; its documents live in ``RuleSetVersion``."""

    __tablename__ = "allocation_rule_sets"
    __table_args__ = (sa.Index("ix_allocation_rule_sets_tenant_active", "tenant_id", "active"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("rls"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    current_version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_by: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)  # api key id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RuleSetVersion(Base):
    """One immutable version of a rule set's document (schemas/json/allocation_rules.schema.json)."""

    __tablename__ = "allocation_rule_set_versions"
    __table_args__ = (
        sa.UniqueConstraint("rule_set_id", "version", name="uq_allocation_rule_set_versions_version"),
    )

    id: Mapped[int] = mapped_column(_BIGINT_ID, primary_key=True, autoincrement=True)
    rule_set_id: Mapped[str] = mapped_column(
        sa.ForeignKey("allocation_rule_sets.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(sa.Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_by: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Depot(Base):
    """Where the vans load and return; fleet costs are in its currency, days in its time zone."""

    __tablename__ = "allocation_depots"
    __table_args__ = (sa.Index("ix_allocation_depots_tenant_active", "tenant_id", "active"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("dep"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(200))
    latitude: Mapped[Decimal] = mapped_column(sa.Numeric(9, 6))
    longitude: Mapped[Decimal] = mapped_column(sa.Numeric(9, 6))
    opens: Mapped[int] = mapped_column(sa.Integer)  # minutes since local midnight
    closes: Mapped[int] = mapped_column(sa.Integer)
    timezone: Mapped[str] = mapped_column(sa.String(64))
    currency: Mapped[str] = mapped_column(sa.String(3))
    road_factor: Mapped[Decimal] = mapped_column(sa.Numeric(6, 3))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Vehicle(Base):
    """One van: capacity, shift, stop limit and costs (integer minor units of the depot's currency)."""

    __tablename__ = "allocation_vehicles"
    __table_args__ = (sa.Index("ix_allocation_vehicles_depot_active", "depot_id", "active"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("veh"))
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    depot_id: Mapped[str] = mapped_column(sa.ForeignKey("allocation_depots.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(200))
    capacity_kg: Mapped[Decimal] = mapped_column(sa.Numeric(12, 3))
    capacity_m3: Mapped[Decimal] = mapped_column(sa.Numeric(12, 4))
    shift_start: Mapped[int] = mapped_column(sa.Integer)  # minutes since local midnight
    shift_end: Mapped[int] = mapped_column(sa.Integer)
    max_stops: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    speed_kmh: Mapped[Decimal] = mapped_column(sa.Numeric(6, 2))
    currency: Mapped[str] = mapped_column(sa.String(3))
    cost_per_km_minor: Mapped[int] = mapped_column(sa.BigInteger)
    cost_per_hour_minor: Mapped[int] = mapped_column(sa.BigInteger)
    cost_per_day_minor: Mapped[int] = mapped_column(sa.BigInteger)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(Base):
    """Who changed which allocation setting, when, and what changed (before/after)."""

    __tablename__ = "allocation_audit_log"
    __table_args__ = (
        sa.Index("ix_allocation_audit_log_entity", "tenant_id", "entity_type", "entity_id"),
        sa.Index("ix_allocation_audit_log_tenant_created", "tenant_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(_BIGINT_ID, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    entity_type: Mapped[str] = mapped_column(sa.String(32))  # rule_set | depot | vehicle | plan
    entity_id: Mapped[str] = mapped_column(sa.String(32))
    action: Mapped[str] = mapped_column(sa.String(32))  # create | update | deactivate | apply
    version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    actor: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)  # api key id
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PlanRun(Base):
    """A batch plan or a what-if simulation: the request, its progress and, when done, the result."""

    __tablename__ = "allocation_plans"
    __table_args__ = (
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed', 'applied')", name="state"),
        sa.CheckConstraint("kind IN ('plan', 'simulation')", name="kind"),
        sa.Index("ix_allocation_plans_tenant_kind_day", "tenant_id", "kind", "day"),
        sa.Index("ix_allocation_plans_tenant_created", "tenant_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    depot_id: Mapped[str] = mapped_column(sa.ForeignKey("allocation_depots.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    day: Mapped[date] = mapped_column(sa.Date)
    state: Mapped[str] = mapped_column(sa.String(16), default="queued")
    stage: Mapped[str] = mapped_column(sa.String(64), default="queued")
    progress: Mapped[int] = mapped_column(sa.Integer, default=0)
    request: Mapped[dict[str, Any]] = mapped_column(JSONType)
    problem: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created_by: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    solve_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    applied_by: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)


class ShipmentAllocation(Base):
    """The current fleet-or-partner decision for one shipment, from a plan or an online booking."""

    __tablename__ = "shipment_allocations"
    __table_args__ = (sa.Index("ix_shipment_allocations_depot_day", "tenant_id", "depot_id", "day"),)

    shipment_id: Mapped[str] = mapped_column(
        sa.ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    depot_id: Mapped[str] = mapped_column(sa.ForeignKey("allocation_depots.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(sa.Date)
    source: Mapped[str] = mapped_column(sa.String(16))  # plan | online
    plan_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    assignee: Mapped[str] = mapped_column(sa.String(50))  # "fleet", a carrier, or "" when infeasible
    service: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    vehicle_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    sequence: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)  # stop number / insertion
    eta: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cost_minor: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    currency: Mapped[str | None] = mapped_column(sa.String(3), nullable=True)
    reason: Mapped[str] = mapped_column(sa.String(16))
    detail: Mapped[str] = mapped_column(sa.String(500))
    rule_ids: Mapped[list[str]] = mapped_column(JSONType)
    # Online decisions keep the package's location, size and window so later bookings can route
    # around it without reloading the shipment.
    package: Mapped[list[Any] | None] = mapped_column(JSONType, nullable=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RouteDriver(Base):
    """Who drives a van's route of an applied plan: the driver app's id and a name, and who said so.

    One row per (tenant, plan, van); assigning again replaces it, unassigning deletes it. Every change
    is in the allocation audit log (``entity_type`` plan, the van in ``changes``).
    """

    __tablename__ = "allocation_route_drivers"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "plan_id", "vehicle_id", name="uq_allocation_route_drivers_route"),
    )

    id: Mapped[int] = mapped_column(_BIGINT_ID, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    plan_id: Mapped[str] = mapped_column(sa.ForeignKey("allocation_plans.id", ondelete="CASCADE"))
    vehicle_id: Mapped[str] = mapped_column(sa.String(32))  # as in the plan's routes (no FK, as decisions)
    driver_id: Mapped[str] = mapped_column(sa.String(64))  # the id the driver app sends
    driver_name: Mapped[str] = mapped_column(sa.String(200))
    assigned_by: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)  # api key or console user
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
