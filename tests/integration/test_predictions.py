"""Delivery-time predictions on rates: learned from the tenant's deliveries, else pooled, else the estimate.

History is made the way the gateway records it: shipments booked through the API, a bought UPS Ground
label each, and a derived tracking status ``delivered`` some business days later. The daily
``retrain_eta`` job fits and measures the model; ``POST /v1/rates`` then reads every rate with it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from gateway import create_app
from gateway.jobs import worker
from gateway.kernel import models
from gateway.labels import tables as label_tables
from gateway.predictions import jobs as prediction_jobs
from gateway.tracking.tables import ShipmentTracking
from rating import eta
from tests.helpers import shipment_body

pytestmark = pytest.mark.integration

# 10 of every 20 Ground deliveries take 1 business day, 6 take 2, 3 take 3, 1 takes 5.
PATTERN = [1] * 10 + [2] * 6 + [3] * 3 + [5]


@pytest.fixture(scope="module")
def eta_app(settings: dict[str, Any]) -> Any:
    app = create_app({**settings, "CARRIERS": json.dumps([]), "ETA_MIN_SAMPLES": 20})
    yield app
    app.extensions["handoff"].dispose()


def _rate_body(**extra: Any) -> dict[str, Any]:
    body = shipment_body()
    del body["reference"]
    body.update(extra)
    return body


def _deliver_history(app: Any, client: Any, tenant: Any, transit_days: list[int]) -> None:
    """Book shipments and record each as a UPS Ground label delivered ``transit_days`` later."""
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=8)  # well inside the 90-day window
    start = datetime.combine(monday, datetime.min.time(), UTC) + timedelta(hours=15)
    container = app.extensions["handoff"]
    ids = []
    for _ in transit_days:
        created = client.post(
            "/v1/shipments", json=shipment_body(reference=f"H-{uuid.uuid4().hex[:8]}"), headers=tenant.headers
        )
        assert created.status_code == 201, created.get_json()
        ids.append(created.get_json()["id"])
    with container.sessions() as session:
        for i, (shipment_id, days) in enumerate(zip(ids, transit_days, strict=True)):
            bought = start + timedelta(days=7 * (i // 10) + (i % 10) // 2)  # two a day, Monday to Friday
            delivered_day = eta.add_business_days(bought.date(), days)
            delivered = datetime.combine(delivered_day, datetime.min.time(), UTC) + timedelta(hours=14)
            ups_ground_label(session, tenant.tenant_id, shipment_id, bought, delivered)
        session.commit()


def ups_ground_label(
    session: Any, tenant_id: str, shipment_id: str, bought: datetime, delivered: datetime | None = None
) -> str:
    """Record a booked shipment as bought on UPS Ground at ``bought`` (delivered at ``delivered``, when
    given, as its derived tracking status); return its tracking number."""
    number = "1Z" + uuid.uuid4().hex[:16].upper()
    session.execute(
        sa.update(models.Shipment)
        .where(models.Shipment.id == shipment_id)
        .values(status="purchased", carrier="ups", service="03", tracking_number=number)
    )
    session.add(
        label_tables.Label(
            tenant_id=tenant_id,
            shipment_id=shipment_id,
            carrier="ups",
            service="03",
            tracking_number=number,
            status="purchased",
            cost_minor=1000,
            currency="USD",
            purchased_at=bought,
        )
    )
    if delivered is not None:
        session.add(
            ShipmentTracking(
                shipment_id=shipment_id,
                tenant_id=tenant_id,
                carrier="ups",
                tracking_number=number,
                milestone="delivered",
                delivered_at=delivered,
                status_at=delivered,
            )
        )
    return number


def _retrain(app: Any) -> None:
    app.extensions["handoff"].queue("default").enqueue(prediction_jobs.retrain_eta)
    worker.run(app, burst=True, worker_class=SimpleWorker)


def _ground(client: Any, tenant: Any, **extra: Any) -> dict[str, Any]:
    resp = client.post("/v1/rates", json=_rate_body(**extra), headers=tenant.headers)
    assert resp.status_code == 200, resp.get_json()
    [ground] = [r for r in resp.get_json()["rates"] if r["carrier"] == "ups" and r["service_code"] == "03"]
    return ground


def test_without_history_every_rate_carries_its_estimate_as_the_prediction_and_says_so(
    eta_app: Any, make_tenant: Any
) -> None:
    client = eta_app.test_client()
    tenant = make_tenant(("platform",))
    resp = client.post("/v1/rates", json=_rate_body(), headers=tenant.headers).get_json()

    assert resp["rates"]
    estimated = [r for r in resp["rates"] if r["prediction"]["basis"] == "carrier_estimate"]
    # Another test's deliveries may have trained a pooled model for UPS Ground; no history exists for
    # the other services.
    assert estimated and {r["carrier"] for r in estimated} >= {"dhl_express"}
    for rate in estimated:
        prediction = rate["prediction"]
        assert prediction["p50"] == prediction["p80"] == prediction["p95"] == rate["estimated_delivery"]
        assert prediction["on_time_probability"] is None and prediction["model"] is None


def test_rates_are_predicted_from_the_tenants_deliveries_with_the_chance_of_meeting_the_promise(
    eta_app: Any, make_tenant: Any
) -> None:
    client = eta_app.test_client()
    tenant = make_tenant(("platform", "ops"))
    _deliver_history(eta_app, client, tenant, PATTERN * 3)  # 60 deliveries
    _retrain(eta_app)

    models_listed = client.get("/v1/eta-models", headers=tenant.headers)
    assert models_listed.status_code == 200, models_listed.get_json()
    own = [m for m in models_listed.get_json()["data"] if not m["pooled"]]
    assert own and own[0]["deliveries"] == 60 and own[0]["holdout"] == 12
    # Measured on the 12 latest deliveries, predicted by a model of the 48 before them.
    assert Decimal(0) <= Decimal(own[0]["holdout_p80_coverage"]) <= Decimal(1)
    assert Decimal(own[0]["holdout_mae_days"]) >= Decimal(0)
    # What the OpenAPI document promises for them is what is sent: decimal strings, never numbers.
    declared = client.get("/openapi.json").get_json()["components"]["schemas"]["EtaModel"]["properties"]
    for name in ("holdout_mae_days", "holdout_p80_coverage"):
        kinds = [declared[name].get("type")] + [k.get("type") for k in declared[name].get("anyOf", [])]
        assert "string" in kinds and "number" not in kinds, declared[name]

    today = datetime.now(UTC).date()
    promise = eta.add_business_days(today, 2)
    ground = _ground(client, tenant, promise_date=promise.isoformat())

    prediction = ground["prediction"]
    assert (prediction["basis"], prediction["samples"], prediction["model"]) == ("history", 60, own[0]["id"])
    assert prediction["p50"] == eta.add_business_days(today, 1).isoformat()
    assert prediction["p80"] == eta.add_business_days(today, 2).isoformat()
    assert prediction["p95"] == eta.add_business_days(today, 3).isoformat()
    assert float(prediction["on_time_probability"]) == 0.8  # 16 of every 20 take at most 2 business days


def test_a_tenant_without_deliveries_is_predicted_with_the_pooled_model_unless_pooling_is_off(
    eta_app: Any, make_tenant: Any, settings: dict[str, Any]
) -> None:
    client = eta_app.test_client()
    history, newcomer = make_tenant(("platform",)), make_tenant(("platform",))
    _deliver_history(eta_app, client, history, PATTERN * 2)
    _retrain(eta_app)

    pooled = _ground(client, newcomer)["prediction"]
    # The pooled model may be the gradient-boosted challenger when it measured better on every
    # tenant's deliveries so far (tests/integration/test_predictions_gbm.py): either reads them.
    assert pooled["basis"] in ("history", "gbm") and pooled["samples"] >= 40

    private = create_app({**settings, "CARRIERS": json.dumps([]), "ETA_POOLED": False})
    try:
        alone = _ground(private.test_client(), newcomer)["prediction"]
    finally:
        private.extensions["handoff"].dispose()
    assert alone["basis"] == "carrier_estimate" and alone["model"] is None
