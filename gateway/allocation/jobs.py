"""RQ jobs for allocation: a batch plan and a what-if simulation, queued through the outbox.

Both are idempotent: a run that is already done (or failed) is skipped, and one interrupted
mid-solve (worker killed, re-driven by the sweeper) starts again from its stored request.
"""

from __future__ import annotations

from gateway.allocation import plans, simulations
from gateway.jobs import context, registry


@registry.job
def run_plan(plan_id: str) -> str:
    """Build the plan's day, solve it and store the result; return the outcome."""
    with context.app_context() as container:
        return plans.run_plan(container, plan_id)


@registry.job
def run_simulation(simulation_id: str) -> str:
    """Solve a day with the candidate and the active configuration and store the comparison."""
    with context.app_context() as container:
        return simulations.run_simulation(container, simulation_id)
