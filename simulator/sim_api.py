"""Simulator-only endpoints under /_sim: the ledger, label lookup, faults, clock, pushes, fleet routes."""

from __future__ import annotations

from typing import Any

import flask

from simulator import config as sim_config
from simulator import driver
from simulator import faults as sim_faults
from simulator import state as sim_state

bp = flask.Blueprint("sim", __name__, url_prefix="/_sim")


def sim() -> sim_state.Simulator:
    return flask.current_app.extensions["handoff_simulator"]


def _bad_request(message: str) -> flask.Response:
    response = flask.jsonify({"error": message})
    response.status_code = 400
    return response


def _body() -> dict[str, Any]:
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        flask.abort(_bad_request("the body must be a JSON object"))
    return body


@bp.get("/health")
def health() -> flask.Response:
    """Say the simulator is up, with its simulated time."""
    return flask.jsonify({"status": "ok", "now": sim().clock.now().isoformat(), "seed": sim().config.seed})


@bp.get("/ledger")
def ledger() -> flask.Response:
    """Return every label sold (optionally ?carrier= and ?account=), and the references bought twice."""
    labels = sim().ledger.all()
    carrier = flask.request.args.get("carrier")
    if carrier:
        labels = [label for label in labels if label.carrier == carrier]
    account = flask.request.args.get("account")
    if account:
        labels = [label for label in labels if label.account == account]
    return flask.jsonify(
        {
            "labels": [label.public() for label in labels],
            "count": len(labels),
            "duplicate_references": sim().ledger.duplicates(),
            "active_duplicate_references": sim().ledger.duplicates(active_only=True),
        }
    )


@bp.get("/labels")
def labels_by_reference() -> flask.Response:
    """Answer "did this purchase happen?": the labels sold under ?reference= (optionally &carrier=)."""
    reference = flask.request.args.get("reference")
    if not reference:
        return _bad_request("the reference query parameter is required")
    found = sim().ledger.by_reference(reference, carrier=flask.request.args.get("carrier"))
    with_label = flask.request.args.get("with_label", "false").lower() == "true"
    return flask.jsonify(
        {
            "reference": reference,
            "found": bool(found),
            "labels": [label.public(with_label=with_label) for label in found],
        }
    )


@bp.get("/faults")
def get_faults() -> flask.Response:
    """Return the fault settings and how many faults were injected per carrier and kind."""
    return flask.jsonify(sim().faults.snapshot())


@bp.post("/faults")
def set_faults() -> flask.Response:
    """Set per-carrier fault rates: {"seed"?: int, "carriers": {"ups": {"error_5xx": 0.5}}, "reset"?: bool}."""
    body = _body()
    carriers = body.get("carriers", {})
    seed = body.get("seed")
    if not isinstance(carriers, dict) or not all(name in sim_config.CARRIERS for name in carriers):
        return _bad_request(f"carriers must be an object keyed by {list(sim_config.CARRIERS)}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        return _bad_request("seed must be an integer")
    try:
        if body.get("reset"):
            sim().faults.clear()
        sim().faults.configure(carriers, seed=seed)
    except sim_faults.FaultConfigError as exc:
        return _bad_request(str(exc))
    return flask.jsonify(sim().faults.snapshot())


@bp.delete("/faults")
def clear_faults() -> flask.Response:
    """Remove every fault."""
    sim().faults.clear()
    return flask.jsonify(sim().faults.snapshot())


@bp.post("/clock")
def advance_clock() -> flask.Response:
    """Jump simulated time forward: {"advance_seconds": N} or {"advance_hours": N}."""
    body = _body()
    seconds = body.get("advance_seconds", 0) + 3600 * body.get("advance_hours", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        return _bad_request("advance_seconds/advance_hours must be non-negative numbers")
    now = sim().clock.advance(float(seconds))
    return flask.jsonify({"now": now.isoformat()})


@bp.post("/push/tick")
def push_tick() -> flask.Response:
    """Deliver every push that is due now, without waiting for the background pusher."""
    pusher = flask.current_app.extensions["handoff_simulator_pusher"]
    return flask.jsonify({"sent": pusher.tick()})


@bp.get("/pushes")
def pushes() -> flask.Response:
    """Return every push attempt so far (kind, URL, HTTP status or error, payload)."""
    kind = flask.request.args.get("kind")
    records = [p for p in list(sim().pushes) if kind is None or p.kind == kind]
    return flask.jsonify({"pushes": [vars(p) for p in records], "count": len(records)})


@bp.post("/ups/expire-tokens")
@bp.post("/expire-tokens")
def expire_tokens() -> flask.Response:
    """Revoke every bearer token (UPS, FedEx, USPS), so the next call answers 401."""
    return flask.jsonify({"expired": sim().expire_tokens()})


@bp.post("/fleet/routes")
def start_route() -> flask.Response:
    """Start an own-fleet route whose driver events are pushed over the simulated day."""
    body = _body()
    stops = body.get("stops")
    if not body.get("route_id") or not body.get("driver_id"):
        return _bad_request("route_id and driver_id are required")
    if not isinstance(stops, list) or not stops:
        return _bad_request("stops must be a non-empty list")
    for stop in stops:
        if (
            not isinstance(stop, dict)
            or not stop.get("tracking_number")
            or "latitude" not in stop
            or "longitude" not in stop
        ):
            return _bad_request("every stop needs tracking_number, latitude and longitude")
        if stop.get("outcome") not in (None, "delivered", "attempt"):
            return _bad_request("a stop's outcome is delivered or attempt")
        if stop.get("reason") not in (None, *driver.ATTEMPT_REASONS):
            return _bad_request(f"a stop's reason is one of {list(driver.ATTEMPT_REASONS)}")
        if stop.get("handed_to") not in (None, *driver.HANDED_TO):
            return _bad_request(f"a stop's handed_to is one of {list(driver.HANDED_TO)}")
    route: dict[str, Any] = {
        "route_id": str(body["route_id"]),
        "driver_id": str(body["driver_id"]),
        "vehicle_id": body.get("vehicle_id"),
        "depot": body.get("depot") or {},
        "stops": stops,
        "started_at": sim().clock.now().isoformat(),
    }
    sim().routes[route["route_id"]] = route
    events = driver.route_events(route, sim().config.seed, sim().config.exception_share)
    response = flask.jsonify({"route_id": route["route_id"], "events": events})
    response.status_code = 201
    return response


@bp.post("/reset")
def reset() -> flask.Response:
    """Forget every label, token, subscription, push, route and fault."""
    sim().reset()
    return flask.jsonify({"status": "reset"})


@bp.get("/world")
def world_info() -> flask.Response:
    """Return the world in use (docs/WORLDS.md), or null without one."""
    current = sim().world
    if current is None:
        return flask.jsonify({"world": None})
    return flask.jsonify({"world": current.name, "description": current.description, "file": current.raw})


@bp.get("/world/<tracking_number>")
def world_outcome(tracking_number: str) -> flask.Response:
    """Return what the world decided for one label: transit, delays, failed attempt, times, carrier estimate."""
    label = sim().ledger.get(tracking_number)
    if label is None:
        response = flask.jsonify({"error": f"no label {tracking_number}"})
        response.status_code = 404
        return response
    current, outcome = sim().world, sim().world_outcome(label)
    if current is None or outcome is None:
        return _bad_request("no world is set (start the simulator with --world)")
    return flask.jsonify(
        {
            "tracking_number": label.tracking_number,
            "world": current.name,
            "ship_date": outcome.ship_date.isoformat(),
            "transit_days": outcome.transit_days,
            "congestion_days": outcome.congestion_days,
            "disruption_days": outcome.disruption_days,
            "disruption": outcome.disruption,
            "address_type": outcome.address_type,
            "window": outcome.window,
            "failed_attempt": outcome.failed_attempt,
            "first_attempt_at": outcome.first_attempt_at.isoformat(),
            "delivered_at": outcome.delivered_at.isoformat(),
            "carrier_estimate": {
                "days": outcome.estimate.days,
                "date": outcome.estimate.date.isoformat(),
                "at": outcome.estimate.at.isoformat(),
            },
        }
    )
