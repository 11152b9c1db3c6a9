"""API schemas for allocation, one module per resource: rule sets, the own fleet, the audit log,
plans, the drivers of their routes, simulations, decisions. The schemas the routes use are re-exported here."""

from __future__ import annotations

from gateway.allocation.schemas.audit import (
    AllocationAuditPageSchema,
    AllocationAuditQuerySchema,
)
from gateway.allocation.schemas.decisions import (
    AllocationSchema,
)
from gateway.allocation.schemas.drivers import (
    RouteDriverSchema,
    RouteDriverWriteSchema,
)
from gateway.allocation.schemas.fleet import (
    DepotListSchema,
    DepotSchema,
    DepotUpdateSchema,
    DepotWriteSchema,
    VehicleListQuerySchema,
    VehicleListSchema,
    VehicleSchema,
    VehicleUpdateSchema,
    VehicleWriteSchema,
)
from gateway.allocation.schemas.plans import (
    ApplyResultSchema,
    PlanListSchema,
    PlanRequestSchema,
    PlanSchema,
    RunListQuerySchema,
)
from gateway.allocation.schemas.rules import (
    AllocationListQuerySchema,
    RuleCheckSchema,
    RuleSetListSchema,
    RuleSetSchema,
    RuleSetUpdateSchema,
    RuleSetWriteSchema,
    RuleSetWrittenSchema,
)
from gateway.allocation.schemas.simulations import (
    SimulationRequestSchema,
    SimulationSchema,
)

__all__ = [
    "AllocationAuditPageSchema",
    "AllocationAuditQuerySchema",
    "AllocationListQuerySchema",
    "AllocationSchema",
    "ApplyResultSchema",
    "DepotListSchema",
    "DepotSchema",
    "DepotUpdateSchema",
    "DepotWriteSchema",
    "PlanListSchema",
    "PlanRequestSchema",
    "PlanSchema",
    "RouteDriverSchema",
    "RouteDriverWriteSchema",
    "RuleCheckSchema",
    "RuleSetListSchema",
    "RuleSetSchema",
    "RuleSetUpdateSchema",
    "RuleSetWriteSchema",
    "RuleSetWrittenSchema",
    "RunListQuerySchema",
    "SimulationRequestSchema",
    "SimulationSchema",
    "VehicleListQuerySchema",
    "VehicleListSchema",
    "VehicleSchema",
    "VehicleUpdateSchema",
    "VehicleWriteSchema",
]
