"""Apply an injected fault to one carrier call."""

from __future__ import annotations

from collections.abc import Callable

import flask

from simulator import state as sim_state

Respond = Callable[[], flask.Response]


def guarded(
    sim: sim_state.Simulator,
    carrier: str,
    operation: str,
    normal: Respond,
    unavailable: Respond,
    malformed: Respond,
) -> flask.Response:
    """Answer normally, or fail as the fault injector decides.

    - error_5xx: the carrier's own 5xx answer, nothing done;
    - timeout: nothing done, and the answer comes only after the client has given up;
    - malformed: a body the client cannot parse, nothing done;
    - charged_timeout (purchases only): the label is sold and recorded, but its answer is late.
    """
    fault = sim.faults.decide(carrier, operation)
    if fault is None:
        return normal()
    if fault == "error_5xx":
        return unavailable()
    if fault == "malformed":
        return malformed()
    if fault == "timeout":
        sim.sleep(sim.config.timeout_sleep_seconds)
        return flask.Response("upstream timed out", status=504, mimetype="text/plain")
    response = normal()
    sold = flask.g.get("sold_tracking_number")
    if sold:
        sim.ledger.mark_response_lost(sold)
    sim.sleep(sim.config.timeout_sleep_seconds)
    return response
