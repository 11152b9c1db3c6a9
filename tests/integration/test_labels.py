"""Label purchase as background jobs, against the carrier simulator over real HTTP.

The simulator runs in a thread of the test process; its ledger is the proof of what was bought. Jobs
run the way production runs them: the outbox relays to RQ and an RQ worker executes them.
"""

from __future__ import annotations

import io
import json
import secrets
import threading
import time
from typing import Any

import pytest
import requests
import sqlalchemy as sa
import zxingcpp
from PIL import Image
from rq import SimpleWorker
from werkzeug.serving import make_server

from gateway import create_app
from gateway.jobs import outbox, worker
from gateway.jobs.tables import OutboxEntry
from gateway.kernel import models
from gateway.labels import render
from gateway.labels.tables import Label, LabelAttempt
from gateway.webhooks.tables import WebhookEvent
from simulator.app import create_app as create_simulator
from tests.helpers import shipment_body

pytestmark = pytest.mark.integration


class Sim:
    def __init__(self, url: str) -> None:
        self.url = url

    def ledger(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/_sim/ledger", timeout=5).json()

    def sold_for(self, reference: str) -> list[dict[str, Any]]:
        return requests.get(f"{self.url}/_sim/labels", params={"reference": reference}, timeout=5).json()[
            "labels"
        ]

    def faults(self, carriers: dict[str, Any], seed: int = 1) -> None:
        r = requests.post(f"{self.url}/_sim/faults", json={"seed": seed, "carriers": carriers}, timeout=5)
        assert r.status_code == 200, r.text

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/_sim/faults", timeout=5)


@pytest.fixture(scope="module")
def sim():
    # A seed of its own: a simulator with the e2e one's seed (11) would sell the same numbers into this
    # session's database, and the gateway now refuses a number another shipment holds.
    app = create_simulator({"seed": 1511, "timeout_sleep_seconds": 1.5})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Sim(f"http://127.0.0.1:{server.server_port}")
    server.shutdown()


@pytest.fixture(scope="module")
def label_app(settings, sim):
    # Own account numbers: the circuit breakers are per process and per account.
    ups_account = secrets.token_hex(3).upper()
    carriers = [
        {
            "adapter": "ups",
            "config": {
                "client_id": "sim-ups-client",
                "client_secret": "sim-ups-secret",
                "account_number": ups_account,
                "base_url": sim.url,
                "timeout_seconds": 0.5,
            },
        },
        {
            "adapter": "dhl_express",
            "config": {
                "username": "sim-dhl-user",
                "password": "sim-dhl-password",
                "account_number": str(900000000 + secrets.randbelow(99999999)),
                "base_url": f"{sim.url}/sndpt",
                "timeout_seconds": 0.5,
            },
        },
    ]
    app = create_app(
        {
            **settings,
            "CARRIERS": json.dumps(carriers),
            "LABEL_LOOKUP_SETTLE_SECONDS": 0,
            "LABEL_RETRY_BASE_SECONDS": 0.05,
            "LABEL_RETRY_CAP_SECONDS": 0.2,
            "LABEL_BUSY_RETRY_SECONDS": 0.05,
        }
    )
    yield app
    app.extensions["handoff"].dispose()


@pytest.fixture
def lclient(label_app):
    return label_app.test_client()


@pytest.fixture
def tenant(label_app):
    from gateway.kernel import auth

    container = label_app.extensions["handoff"]
    with container.sessions() as session:
        slug = f"t-{secrets.token_hex(5)}"
        row = models.Tenant(name=slug, slug=slug)
        session.add(row)
        session.flush()
        _, key = auth.create_key(
            session, row.id, ("platform", "ops"), pepper=label_app.config["SECRET_PEPPER"]
        )
        session.commit()
        return {"id": row.id, "headers": {"Authorization": f"Bearer {key}"}}


def _rated_shipment(client, tenant, carrier: str = "ups", **overrides: Any) -> str:
    body = shipment_body(reference=f"ORD-{secrets.token_hex(4)}", **overrides)
    if carrier == "fleet":  # the fleet's card prices by distance: give it coordinates in its metro area
        body["origin"].update(latitude="40.7895", longitude="-74.0565")
        body["destination"].update(latitude="40.7606", longitude="-73.9790")
    if carrier == "dhl_express":  # DHL Express needs a phone number for both parties
        body["origin"]["phone"] = "+1 201-555-0100"
        body["destination"]["phone"] = "+1 212-555-0199"
    created = client.post("/v1/shipments", json=body, headers=tenant["headers"])
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    rate = next(r for r in body["rates"]["rates"] if r["carrier"] == carrier)
    selected = client.post(
        f"/v1/shipments/{body['id']}/rate", json={"rate_id": rate["id"]}, headers=tenant["headers"]
    )
    assert selected.status_code == 200, selected.get_json()
    return body["id"]


def _run_jobs(app, until, timeout: float = 20.0) -> None:
    """Relay due outbox rows and drain RQ until ``until()`` holds (what the scheduler and workers do)."""
    container = app.extensions["handoff"]
    deadline = time.monotonic() + timeout
    while True:
        outbox.relay(container)
        worker.run(app, burst=True, worker_class=SimpleWorker)
        if until():
            return
        if time.monotonic() > deadline:
            raise AssertionError("jobs did not settle in time")
        time.sleep(0.1)


def _status(client, tenant, shipment_id: str) -> str:
    return client.get(f"/v1/shipments/{shipment_id}", headers=tenant["headers"]).get_json()["status"]


def _settled(client, tenant, *shipment_ids: str):
    return lambda: all(
        _status(client, tenant, s) not in ("label_requested", "purchasing") for s in shipment_ids
    )


def test_a_label_request_answers_202_with_a_job_and_buys_exactly_one_label(label_app, lclient, tenant, sim):
    shipment_id = _rated_shipment(lclient, tenant)
    resp = lclient.post(
        f"/v1/shipments/{shipment_id}/label", json={"label_format": "pdf"}, headers=tenant["headers"]
    )
    assert resp.status_code == 202, resp.get_json()
    job = resp.get_json()
    assert job["state"] == "queued" and job["shipment_status"] == "label_requested"
    assert resp.headers["Location"].endswith(f"/v1/jobs/{job['id']}")
    with label_app.extensions["handoff"].sessions() as session:
        entry = session.get(
            OutboxEntry,
            session.execute(
                sa.select(OutboxEntry.id)
                .where(OutboxEntry.args.is_not(None))
                .order_by(OutboxEntry.id.desc())
                .limit(1)
            ).scalar_one(),
        )
    assert entry.job == "gateway.labels.jobs.purchase"

    _run_jobs(label_app, _settled(lclient, tenant, shipment_id))

    done = lclient.get(f"/v1/jobs/{job['id']}", headers=tenant["headers"]).get_json()
    assert done["state"] == "succeeded" and done["attempts"] == 1 and done["last_error"] is None
    shipment = lclient.get(f"/v1/shipments/{shipment_id}", headers=tenant["headers"]).get_json()
    assert shipment["status"] == "purchased"
    assert shipment["tracking_number"] == done["label"]["tracking_number"]
    sold = sim.sold_for(shipment_id)
    assert [s["tracking_number"] for s in sold] == [shipment["tracking_number"]]
    assert done["attempt_log"][0]["reference"] == shipment_id
    assert done["attempt_log"][0]["outcome"] == "succeeded"


def test_the_same_idempotency_key_returns_the_same_job_and_a_second_request_without_one_is_409(
    label_app, lclient, tenant
):
    shipment_id = _rated_shipment(lclient, tenant)
    url = f"/v1/shipments/{shipment_id}/label"
    headers = {**tenant["headers"], "Idempotency-Key": f"buy-{shipment_id}"}
    first = lclient.post(url, json={}, headers=headers)
    again = lclient.post(url, json={}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"

    in_flight = lclient.post(url, json={}, headers=tenant["headers"])
    assert in_flight.status_code == 409
    assert in_flight.headers["Content-Type"] == "application/problem+json"
    assert in_flight.get_json()["type"].endswith("/label-in-progress")
    assert in_flight.get_json()["job_id"] == first.get_json()["id"]

    _run_jobs(label_app, _settled(lclient, tenant, shipment_id))
    bought = lclient.post(url, json={}, headers=tenant["headers"])
    assert bought.status_code == 409
    assert bought.get_json()["type"].endswith("/label-already-purchased")
    assert bought.get_json()["tracking_number"]
    replay = lclient.post(url, json={}, headers=headers)
    assert replay.status_code == 202 and replay.get_json()["id"] == first.get_json()["id"]


def test_a_label_cannot_be_requested_before_a_rate_is_selected(lclient, tenant):
    created = lclient.post("/v1/shipments", json=shipment_body(), headers=tenant["headers"]).get_json()
    resp = lclient.post(f"/v1/shipments/{created['id']}/label", json={}, headers=tenant["headers"])
    assert resp.status_code == 409 and resp.get_json()["type"].endswith("/shipment-not-rated")


def test_another_tenants_shipment_and_job_are_not_found(label_app, lclient, tenant):
    from gateway.kernel import auth

    shipment_id = _rated_shipment(lclient, tenant)
    job = lclient.post(f"/v1/shipments/{shipment_id}/label", json={}, headers=tenant["headers"]).get_json()
    container = label_app.extensions["handoff"]
    with container.sessions() as session:
        other = models.Tenant(name="other", slug=f"o-{secrets.token_hex(5)}")
        session.add(other)
        session.flush()
        _, key = auth.create_key(session, other.id, ("platform", "ops"), pepper="")
        session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    assert lclient.post(f"/v1/shipments/{shipment_id}/label", json={}, headers=headers).status_code == 404
    assert lclient.get(f"/v1/jobs/{job['id']}", headers=headers).status_code == 404
    assert lclient.get(f"/v1/shipments/{shipment_id}/label", headers=headers).status_code == 404
    _run_jobs(label_app, _settled(lclient, tenant, shipment_id))


def test_the_downloaded_label_is_stored_with_its_checksum_and_converts(label_app, lclient, tenant, sim):
    shipment_id = _rated_shipment(lclient, tenant)
    lclient.post(
        f"/v1/shipments/{shipment_id}/label", json={"label_format": "PDF"}, headers=tenant["headers"]
    )
    _run_jobs(label_app, _settled(lclient, tenant, shipment_id))
    with label_app.extensions["handoff"].sessions() as session:
        label = session.execute(sa.select(Label).where(Label.shipment_id == shipment_id)).scalar_one()
    # UPS sells GIF, PNG or ZPL: a PDF request is bought as an image and converted on download.
    assert label.format == "PNG" and label.checksum.startswith("sha256:")
    original = lclient.get(f"/v1/shipments/{shipment_id}/label", headers=tenant["headers"])
    assert original.status_code == 200 and original.mimetype == "image/png"
    assert original.headers["ETag"] == f'"{label.checksum}"'
    pdf = lclient.get(f"/v1/shipments/{shipment_id}/label?format=pdf", headers=tenant["headers"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    zpl = lclient.get(f"/v1/shipments/{shipment_id}/label?format=zpl", headers=tenant["headers"])
    assert zpl.status_code == 200 and zpl.data.startswith(b"^XA")


def test_a_zpl_label_is_not_converted_and_says_which_formats_exist(label_app, lclient, tenant):
    shipment_id = _rated_shipment(lclient, tenant)
    lclient.post(
        f"/v1/shipments/{shipment_id}/label", json={"label_format": "zpl"}, headers=tenant["headers"]
    )
    _run_jobs(label_app, _settled(lclient, tenant, shipment_id))
    zpl = lclient.get(f"/v1/shipments/{shipment_id}/label", headers=tenant["headers"])
    assert zpl.status_code == 200 and zpl.data.startswith(b"^XA")
    pdf = lclient.get(f"/v1/shipments/{shipment_id}/label?format=pdf", headers=tenant["headers"])
    assert pdf.status_code == 406
    assert pdf.get_json()["type"].endswith("/label-format-unavailable")
    assert pdf.get_json()["available_formats"] == ["zpl"]


def test_the_own_fleet_label_is_made_locally_with_a_scannable_barcode(label_app, lclient, tenant, sim):
    shipment_id = _rated_shipment(lclient, tenant, carrier="fleet")
    lclient.post(
        f"/v1/shipments/{shipment_id}/label", json={"label_format": "pdf"}, headers=tenant["headers"]
    )
    _run_jobs(label_app, _settled(lclient, tenant, shipment_id))
    shipment = lclient.get(f"/v1/shipments/{shipment_id}", headers=tenant["headers"]).get_json()
    assert shipment["status"] == "purchased"
    assert sim.sold_for(shipment_id) == []  # nothing bought outside
    for fmt in ("pdf", "png"):
        doc = lclient.get(f"/v1/shipments/{shipment_id}/label?format={fmt}", headers=tenant["headers"])
        assert doc.status_code == 200
        png = render.pdf_to_png(doc.data) if fmt == "pdf" else doc.data
        scanned = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
        assert scanned == [shipment["tracking_number"]]
    zpl = lclient.get(f"/v1/shipments/{shipment_id}/label?format=zpl", headers=tenant["headers"])
    assert f"^FD{shipment['tracking_number']}^FS".encode() in zpl.data


def test_a_carrier_rejection_fails_the_shipment_with_the_carriers_message_and_is_not_retried(
    label_app, lclient, tenant, sim
):
    # UPS refuses a purchase for a service code it does not know.
    shipment_id = _rated_shipment(lclient, tenant)
    with label_app.extensions["handoff"].sessions() as session:
        session.execute(
            sa.update(models.Shipment).where(models.Shipment.id == shipment_id).values(service="ZZ")
        )
        session.commit()
    job = lclient.post(f"/v1/shipments/{shipment_id}/label", json={}, headers=tenant["headers"]).get_json()
    _run_jobs(label_app, _settled(lclient, tenant, shipment_id))
    failed = lclient.get(f"/v1/jobs/{job['id']}", headers=tenant["headers"]).get_json()
    assert failed["state"] == "failed" and failed["shipment_status"] == "failed"
    assert failed["attempts"] == 1
    assert failed["last_error"]["code"] and failed["last_error"]["message"]
    assert failed["attempt_log"][0]["outcome"] == "rejected"
    assert sim.sold_for(shipment_id) == []
    dead = lclient.get("/v1/jobs/dead-letter", headers=tenant["headers"]).get_json()["data"]
    assert job["id"] in [j["id"] for j in dead]


def test_an_answer_lost_after_the_carrier_charged_is_found_by_reference_not_bought_again(
    label_app, lclient, tenant, sim
):
    shipment_id = _rated_shipment(lclient, tenant)
    sim.faults({"ups": {"charged_timeout": 1.0, "operations": ["ship"]}})
    try:
        job = lclient.post(
            f"/v1/shipments/{shipment_id}/label", json={}, headers=tenant["headers"]
        ).get_json()
        container = label_app.extensions["handoff"]
        outbox.relay(container)
        worker.run(label_app, burst=True, worker_class=SimpleWorker)
    finally:
        sim.clear_faults()
    waiting = lclient.get(f"/v1/jobs/{job['id']}", headers=tenant["headers"]).get_json()
    assert waiting["shipment_status"] == "purchasing"
    assert waiting["last_error"]["code"] == "outcome_unknown"
    assert waiting["attempt_log"][-1]["outcome"] == "unknown"
    _run_jobs(label_app, _settled(lclient, tenant, shipment_id))

    sold = sim.sold_for(shipment_id)
    assert len(sold) == 1 and sold[0]["response_lost"] is True
    done = lclient.get(f"/v1/jobs/{job['id']}", headers=tenant["headers"]).get_json()
    assert done["state"] == "succeeded" and done["shipment_status"] == "purchased"
    assert done["label"]["tracking_number"] == sold[0]["tracking_number"]
    assert done["label"]["source"] == "lookup"
    assert [a["operation"] for a in done["attempt_log"]] == ["purchase", "lookup"]
    assert done["attempt_log"][0]["outcome"] == "found"
    document = lclient.get(f"/v1/shipments/{shipment_id}/label", headers=tenant["headers"])
    assert document.status_code == 404
    assert document.get_json()["type"].endswith("/label-document-unavailable")


def test_a_timeout_without_a_sale_is_looked_up_then_bought_once(label_app, lclient, tenant, sim):
    shipment_id = _rated_shipment(lclient, tenant)
    sim.faults({"ups": {"timeout": 1.0, "operations": ["ship"]}})
    try:
        job = lclient.post(
            f"/v1/shipments/{shipment_id}/label", json={}, headers=tenant["headers"]
        ).get_json()
        outbox.relay(label_app.extensions["handoff"])
        worker.run(label_app, burst=True, worker_class=SimpleWorker)
    finally:
        sim.clear_faults()
    _run_jobs(label_app, _settled(lclient, tenant, shipment_id))
    done = lclient.get(f"/v1/jobs/{job['id']}", headers=tenant["headers"]).get_json()
    assert done["state"] == "succeeded" and done["attempts"] == 2
    assert [(a["operation"], a["outcome"]) for a in done["attempt_log"]] == [
        ("purchase", "not_found"),
        ("lookup", "not_found"),
        ("purchase", "succeeded"),
    ]
    assert len(sim.sold_for(shipment_id)) == 1


def test_an_unavailable_carrier_is_retried_with_backoff(label_app, lclient, tenant, sim):
    shipment_id = _rated_shipment(lclient, tenant)
    sim.faults({"ups": {"error_5xx": 1.0, "operations": ["ship"]}})
    try:
        job = lclient.post(
            f"/v1/shipments/{shipment_id}/label", json={}, headers=tenant["headers"]
        ).get_json()
        outbox.relay(label_app.extensions["handoff"])
        worker.run(label_app, burst=True, worker_class=SimpleWorker)
        waiting = lclient.get(f"/v1/jobs/{job['id']}", headers=tenant["headers"]).get_json()
        assert waiting["state"] == "running" and waiting["next_attempt_at"] is not None
        assert waiting["attempt_log"][0]["outcome"] == "unavailable"
    finally:
        sim.clear_faults()
    _run_jobs(label_app, _settled(lclient, tenant, shipment_id))
    done = lclient.get(f"/v1/jobs/{job['id']}", headers=tenant["headers"]).get_json()
    assert done["state"] == "succeeded" and done["attempts"] >= 2
    assert len(sim.sold_for(shipment_id)) == 1


def test_a_lost_answer_at_a_carrier_without_lookup_parks_for_review_and_ops_resolve_it(
    label_app, lclient, tenant, sim
):
    shipment_id = _rated_shipment(lclient, tenant, carrier="dhl_express")
    sim.faults({"dhl_express": {"charged_timeout": 1.0, "operations": ["ship"]}})
    try:
        job = lclient.post(
            f"/v1/shipments/{shipment_id}/label", json={}, headers=tenant["headers"]
        ).get_json()
        outbox.relay(label_app.extensions["handoff"])
        worker.run(label_app, burst=True, worker_class=SimpleWorker)
    finally:
        sim.clear_faults()
    _run_jobs(label_app, _settled(lclient, tenant, shipment_id))
    parked = lclient.get(f"/v1/jobs/{job['id']}", headers=tenant["headers"]).get_json()
    assert parked["state"] == "needs_review", parked["last_error"]
    assert parked["shipment_status"] == "needs_review"
    assert (
        parked["last_error"]["code"] == "outcome_unknown" and shipment_id in parked["last_error"]["message"]
    )
    assert parked["attempt_log"][0]["outcome"] == "unknown"
    sold = sim.sold_for(shipment_id)
    assert len(sold) == 1  # it was bought: buying again would have made two
    again = lclient.post(f"/v1/shipments/{shipment_id}/label", json={}, headers=tenant["headers"])
    assert again.status_code == 409

    dead = lclient.get("/v1/jobs/dead-letter", headers=tenant["headers"]).get_json()["data"]
    assert job["id"] in [j["id"] for j in dead]
    resolved = lclient.post(
        f"/v1/jobs/{job['id']}/resolve",
        json={
            "outcome": "purchased",
            "tracking_number": sold[0]["tracking_number"],
            "note": "found in MyDHL",
        },
        headers=tenant["headers"],
    )
    assert resolved.status_code == 200, resolved.get_json()
    assert resolved.get_json()["state"] == "succeeded"
    shipment = lclient.get(f"/v1/shipments/{shipment_id}", headers=tenant["headers"]).get_json()
    assert shipment["status"] == "purchased" and shipment["tracking_number"] == sold[0]["tracking_number"]


def test_ops_requeue_a_failed_job_and_it_runs_again(label_app, lclient, tenant, sim):
    shipment_id = _rated_shipment(lclient, tenant)
    with label_app.extensions["handoff"].sessions() as session:
        session.execute(
            sa.update(models.Shipment).where(models.Shipment.id == shipment_id).values(service="ZZ")
        )
        session.commit()
    job = lclient.post(f"/v1/shipments/{shipment_id}/label", json={}, headers=tenant["headers"]).get_json()
    _run_jobs(label_app, _settled(lclient, tenant, shipment_id))
    assert _status(lclient, tenant, shipment_id) == "failed"
    with label_app.extensions["handoff"].sessions() as session:
        session.execute(
            sa.update(models.Shipment).where(models.Shipment.id == shipment_id).values(service="03")
        )
        session.commit()
    not_yet = lclient.post(
        f"/v1/jobs/{job['id']}/resolve", json={"outcome": "not_purchased"}, headers=tenant["headers"]
    )
    assert not_yet.status_code == 409
    requeued = lclient.post(
        f"/v1/jobs/{job['id']}/requeue", json={"note": "fixed service"}, headers=tenant["headers"]
    )
    assert requeued.status_code == 200, requeued.get_json()
    assert requeued.get_json()["state"] == "queued"
    _run_jobs(label_app, _settled(lclient, tenant, shipment_id))
    done = lclient.get(f"/v1/jobs/{job['id']}", headers=tenant["headers"]).get_json()
    assert done["state"] == "succeeded" and done["resolution"][0]["action"] == "requeue"
    assert len(sim.sold_for(shipment_id)) == 1


def test_purchase_attaches_early_tracking_events_and_emits_label_purchased(label_app, lclient, tenant, sim):
    shipment_id = _rated_shipment(lclient, tenant)
    lclient.post(f"/v1/shipments/{shipment_id}/label", json={}, headers=tenant["headers"])
    _run_jobs(label_app, _settled(lclient, tenant, shipment_id))
    with label_app.extensions["handoff"].sessions() as session:
        label = session.execute(sa.select(Label).where(Label.shipment_id == shipment_id)).scalar_one()
        attempts = (
            session.execute(sa.select(LabelAttempt).where(LabelAttempt.shipment_id == shipment_id))
            .scalars()
            .all()
        )
    assert label.cost_minor is not None and label.currency == "USD"
    assert [a.outcome for a in attempts] == ["succeeded"]


def _buy(label_app, client, tenant, carrier: str = "ups", label_format: str = "pdf") -> str:
    shipment_id = _rated_shipment(client, tenant, carrier=carrier)
    resp = client.post(
        f"/v1/shipments/{shipment_id}/label", json={"label_format": label_format}, headers=tenant["headers"]
    )
    assert resp.status_code == 202, resp.get_json()
    _run_jobs(label_app, _settled(client, tenant, shipment_id))
    assert _status(client, tenant, shipment_id) == "purchased"
    return shipment_id


def test_a_ups_label_is_voided_at_the_carrier_and_recorded_for_reconciliation(
    label_app, lclient, tenant, sim
):
    shipment_id = _buy(label_app, lclient, tenant)
    voided = lclient.post(f"/v1/shipments/{shipment_id}/void", json={}, headers=tenant["headers"])
    assert voided.status_code == 200, voided.get_json()
    body = voided.get_json()
    assert body["status"] == "voided" and body["voided_at"]
    assert [s["voided"] for s in sim.sold_for(shipment_id)] == [True]
    assert _status(lclient, tenant, shipment_id) == "voided"
    with label_app.extensions["handoff"].sessions() as session:
        label = session.execute(sa.select(Label).where(Label.shipment_id == shipment_id)).scalar_one()
    assert label.status == "voided" and label.voided_at is not None and label.void_state == "carrier"
    again = lclient.post(f"/v1/shipments/{shipment_id}/void", json={}, headers=tenant["headers"])
    assert again.status_code == 200 and again.get_json()["voided_at"] == body["voided_at"]
    rebuy = lclient.post(f"/v1/shipments/{shipment_id}/label", json={}, headers=tenant["headers"])
    assert rebuy.status_code == 409


def test_a_dhl_express_label_cannot_be_voided_and_the_answer_says_why(label_app, lclient, tenant, sim):
    shipment_id = _buy(label_app, lclient, tenant, carrier="dhl_express")
    refused = lclient.post(f"/v1/shipments/{shipment_id}/void", json={}, headers=tenant["headers"])
    assert refused.status_code == 422
    problem = refused.get_json()
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert problem["type"].endswith("/label-void-unsupported") and problem["carrier"] == "dhl_express"
    assert _status(lclient, tenant, shipment_id) == "purchased"
    assert [s["voided"] for s in sim.sold_for(shipment_id)] == [False]


def test_voiding_without_a_label_is_a_conflict_and_a_fleet_label_voids_locally(label_app, lclient, tenant):
    draft = _rated_shipment(lclient, tenant)
    nothing = lclient.post(f"/v1/shipments/{draft}/void", json={}, headers=tenant["headers"])
    assert nothing.status_code == 409 and nothing.get_json()["type"].endswith("/label-not-purchased")
    fleet = _buy(label_app, lclient, tenant, carrier="fleet")
    voided = lclient.post(f"/v1/shipments/{fleet}/void", json={}, headers=tenant["headers"])
    assert voided.status_code == 200 and voided.get_json()["status"] == "voided"


def test_a_batch_shows_progress_and_offers_one_merged_pdf_when_done(label_app, lclient, tenant, sim):
    ids = [
        _rated_shipment(lclient, tenant),
        _rated_shipment(lclient, tenant, carrier="fleet"),
        _rated_shipment(lclient, tenant),
    ]
    created = lclient.post(
        "/v1/batches", json={"shipment_ids": ids, "label_format": "pdf"}, headers=tenant["headers"]
    )
    assert created.status_code == 202, created.get_json()
    batch = created.get_json()
    assert batch["state"] == "running" and batch["total"] == 3
    assert batch["progress"]["queued"] == 3 and batch["labels_pdf"] is None
    assert [j["shipment_id"] for j in batch["jobs"]] == ids
    early = lclient.get(f"/v1/batches/{batch['id']}/labels.pdf", headers=tenant["headers"])
    assert early.status_code == 409 and early.get_json()["type"].endswith("/batch-not-done")

    _run_jobs(label_app, _settled(lclient, tenant, *ids))
    done = lclient.get(f"/v1/batches/{batch['id']}", headers=tenant["headers"]).get_json()
    assert (
        done["state"] == "done" and done["progress"]["succeeded"] == 3 and done["progress"]["percent"] == 100
    )
    merged = lclient.get(done["labels_pdf"], headers=tenant["headers"])
    assert merged.status_code == 200 and merged.mimetype == "application/pdf"
    assert render.page_count(merged.data) == 3
    # The fleet label (second) keeps its scannable barcode inside the merged document.
    fleet_number = lclient.get(f"/v1/shipments/{ids[1]}", headers=tenant["headers"]).get_json()[
        "tracking_number"
    ]
    pages = Image.open(io.BytesIO(render.pdf_to_png(merged.data)))
    assert fleet_number in [r.text for r in zxingcpp.read_barcodes(pages)]


def test_a_batch_with_a_shipment_that_cannot_get_a_label_queues_nothing(label_app, lclient, tenant):
    bought = _buy(label_app, lclient, tenant)
    fresh = _rated_shipment(lclient, tenant)
    resp = lclient.post(
        "/v1/batches", json={"shipment_ids": [fresh, bought, "shp_nope"]}, headers=tenant["headers"]
    )
    assert resp.status_code == 409  # well-formed ids the tenant's shipments refuse
    errors = resp.get_json()["errors"]
    assert set(errors) == {"shipment_ids.1", "shipment_ids.2"}
    assert _status(lclient, tenant, fresh) == "draft"
    too_many = lclient.post(
        "/v1/batches", json={"shipment_ids": [f"shp_{i}" for i in range(1001)]}, headers=tenant["headers"]
    )
    assert too_many.status_code == 422


def test_subscribers_get_label_purchased_and_label_failed_events(label_app, lclient, tenant):
    endpoint = lclient.post(
        "/v1/webhook-endpoints",
        json={
            "url": "https://platform.example.com/hooks",
            "event_types": ["label.purchased", "label.failed"],
        },
        headers=tenant["headers"],
    )
    assert endpoint.status_code == 201, endpoint.get_json()
    bought = _buy(label_app, lclient, tenant)
    refused = _rated_shipment(lclient, tenant)
    with label_app.extensions["handoff"].sessions() as session:
        session.execute(sa.update(models.Shipment).where(models.Shipment.id == refused).values(service="ZZ"))
        session.commit()
    lclient.post(f"/v1/shipments/{refused}/label", json={}, headers=tenant["headers"])
    _run_jobs(label_app, _settled(lclient, tenant, refused))
    with label_app.extensions["handoff"].sessions() as session:
        events = {
            (e.type, e.data["shipment_id"]): e.data
            for e in session.execute(
                sa.select(WebhookEvent).where(WebhookEvent.tenant_id == tenant["id"])
            ).scalars()
        }
    purchased = events[("label.purchased", bought)]
    assert (
        purchased["tracking_number"]
        == lclient.get(f"/v1/shipments/{bought}", headers=tenant["headers"]).get_json()["tracking_number"]
    )
    assert purchased["cost"]["currency"] == "USD"
    failed = events[("label.failed", refused)]
    assert failed["status"] == "failed" and failed["error"]["retryable"] is False
