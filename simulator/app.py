"""The simulator's Flask application factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask

from simulator import config as sim_config
from simulator import state as sim_state


def create_app(
    config: sim_config.SimConfig | dict[str, Any] | None = None,
    *,
    real_time: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    post: Callable[..., Any] | None = None,
) -> flask.Flask:
    """Build the simulator app; tests may inject the real-time source, sleep and HTTP post."""
    from simulator import (
        dhl,
        fedex,
        fedex_ops,
        push,
        sim_api,
        ups,
        ups_address,
        usps,
        usps_ops,
        usps_subscriptions,
        warehouse,
    )

    settings = sim_config.from_mapping(config)
    app = flask.Flask(__name__)
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]  # Flask's default provider has it; the base type not
    simulator = sim_state.Simulator(settings, real_time=real_time, sleep=sleep)
    app.extensions["handoff_simulator"] = simulator
    app.extensions["handoff_simulator_pusher"] = push.Pusher(simulator, post=post)
    app.register_blueprint(ups.bp)
    app.register_blueprint(dhl.bp)
    app.register_blueprint(fedex.bp)
    app.register_blueprint(usps.bp)
    app.register_blueprint(fedex_ops.bp)
    app.register_blueprint(usps_ops.bp)
    app.register_blueprint(usps_subscriptions.bp)
    app.register_blueprint(usps_subscriptions.sim_bp)
    app.register_blueprint(ups_address.bp)
    app.register_blueprint(warehouse.bp)
    app.register_blueprint(sim_api.bp)
    return app
