"""Labels when you need them: ``POST …/label?wait=N`` and signed, expiring label download links.

The simulator runs in a thread (a seed of its own, 1811); the RQ worker runs in the test's main
thread while the waiting request runs in another, as a worker process would beside a web server.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from werkzeug.serving import make_server

from gateway import create_app
from gateway.labels import signed_urls
from simulator.app import create_app as create_simulator
from tests.integration.test_labels import Sim, _rated_shipment, _run_jobs, _settled

pytestmark = pytest.mark.integration

URL_SECRET = "test-label-url-secret-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def sim():
    app = create_simulator({"seed": 1811, "timeout_sleep_seconds": 1.5})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Sim(f"http://127.0.0.1:{server.server_port}")
    server.shutdown()


@pytest.fixture(scope="module")
def label_app(settings, sim):
    carriers = [
        {
            "adapter": "ups",
            "config": {
                "client_id": "sim-ups-client",
                "client_secret": "sim-ups-secret",
                "account_number": secrets.token_hex(3).upper(),
                "base_url": sim.url,
                "timeout_seconds": 0.5,
            },
        }
    ]
    app = create_app(
        {
            **settings,
            "CARRIERS": json.dumps(carriers),
            "LABEL_LOOKUP_SETTLE_SECONDS": 0,
            "LABEL_RETRY_BASE_SECONDS": 0.05,
            "LABEL_RETRY_CAP_SECONDS": 0.2,
            "LABEL_BUSY_RETRY_SECONDS": 0.05,
            "LABEL_URL_SECRET": URL_SECRET,
            "LABEL_URL_TTL_SECONDS": 600,
        }
    )
    yield app
    app.extensions["handoff"].dispose()


@pytest.fixture
def client(label_app):
    return label_app.test_client()


@pytest.fixture
def tenant(label_app):
    return _tenant(label_app)


def _tenant(app) -> dict[str, Any]:
    from gateway.kernel import auth, models

    with app.extensions["handoff"].sessions() as session:
        slug = f"t-{secrets.token_hex(5)}"
        row = models.Tenant(name=slug, slug=slug)
        session.add(row)
        session.flush()
        _, key = auth.create_key(session, row.id, ("platform", "ops"), pepper=app.config["SECRET_PEPPER"])
        session.commit()
        return {"id": row.id, "headers": {"Authorization": f"Bearer {key}"}}


def _request_while_worker_runs(app, client, url: str, **kwargs: Any):
    """POST in a thread (the web request) while the worker drains the queue here, like a worker process."""
    answer: dict[str, Any] = {}

    def post() -> None:
        answer["response"] = client.post(url, **kwargs)

    thread = threading.Thread(target=post)
    thread.start()
    _run_jobs(app, lambda: not thread.is_alive(), timeout=60)
    thread.join()
    return answer["response"]


def _bought(app, client, tenant, label_format: str = "pdf") -> tuple[str, dict[str, Any]]:
    shipment_id = _rated_shipment(client, tenant)
    resp = _request_while_worker_runs(
        app,
        client,
        f"/v1/shipments/{shipment_id}/label?wait=30",
        json={"label_format": label_format},
        headers=tenant["headers"],
    )
    assert resp.status_code == 200, resp.get_json()
    return shipment_id, resp.get_json()["label"]


# -- wait ------------------------------------------------------------------------------------------


def test_waiting_returns_the_bought_label_with_200(label_app, client, tenant, sim):
    shipment_id = _rated_shipment(client, tenant)
    resp = _request_while_worker_runs(
        label_app,
        client,
        f"/v1/shipments/{shipment_id}/label?wait=30",
        json={"label_format": "pdf"},
        headers=tenant["headers"],
    )
    assert resp.status_code == 200, resp.get_json()
    job = resp.get_json()
    assert job["state"] == "succeeded" and job["shipment_status"] == "purchased"
    assert resp.headers["Location"].endswith(f"/v1/jobs/{job['id']}")
    label = job["label"]
    assert [s["tracking_number"] for s in sim.sold_for(shipment_id)] == [label["tracking_number"]]
    assert label["url"] and label["url_expires_at"]
    # The same answer a later GET of the job gives.
    later = client.get(f"/v1/jobs/{job['id']}", headers=tenant["headers"]).get_json()
    assert later["state"] == "succeeded" and later["label"]["tracking_number"] == label["tracking_number"]


def test_without_wait_or_when_the_wait_ends_first_the_answer_is_the_202(label_app, client, tenant):
    shipment_id = _rated_shipment(client, tenant)
    started = time.monotonic()
    # No worker runs: the job cannot finish within the wait.
    resp = client.post(
        f"/v1/shipments/{shipment_id}/label?wait=1", json={"label_format": "pdf"}, headers=tenant["headers"]
    )
    assert time.monotonic() - started >= 1
    assert resp.status_code == 202, resp.get_json()
    job = resp.get_json()
    assert job["state"] == "queued" and job["label"] is None
    assert resp.headers["Location"].endswith(f"/v1/jobs/{job['id']}")

    other = _rated_shipment(client, tenant)
    plain = client.post(f"/v1/shipments/{other}/label", json={}, headers=tenant["headers"])
    assert plain.status_code == 202 and plain.get_json()["state"] == "queued"
    _run_jobs(label_app, _settled(client, tenant, shipment_id, other))


def test_a_wait_over_the_documented_maximum_is_a_422_and_queues_nothing(label_app, client, tenant):
    shipment_id = _rated_shipment(client, tenant)
    for wait in ("31", "-1", "soon"):
        resp = client.post(
            f"/v1/shipments/{shipment_id}/label?wait={wait}", json={}, headers=tenant["headers"]
        )
        assert resp.status_code == 422, resp.get_json()
        assert resp.headers["Content-Type"] == "application/problem+json"
        assert resp.get_json()["type"].endswith("/validation-error")
    shipment = client.get(f"/v1/shipments/{shipment_id}", headers=tenant["headers"]).get_json()
    assert shipment["status"] != "label_requested"


def test_a_failed_purchase_answers_what_a_later_get_of_the_job_gives(label_app, client, tenant, sim):
    import sqlalchemy as sa

    from gateway.kernel import models

    shipment_id = _rated_shipment(client, tenant)
    with label_app.extensions["handoff"].sessions() as session:  # UPS refuses an unknown service code
        session.execute(
            sa.update(models.Shipment).where(models.Shipment.id == shipment_id).values(service="ZZ")
        )
        session.commit()
    resp = _request_while_worker_runs(
        label_app, client, f"/v1/shipments/{shipment_id}/label?wait=30", json={}, headers=tenant["headers"]
    )
    assert resp.status_code == 200, resp.get_json()
    job = resp.get_json()
    assert job["state"] == "failed" and job["label"] is None
    assert job["last_error"]["code"] and job["last_error"]["message"]
    later = client.get(f"/v1/jobs/{job['id']}", headers=tenant["headers"]).get_json()
    # The outbox row behind the job may have been marked done in between: bookkeeping, not the answer.
    assert later.pop("outbox_state") in ("enqueued", "done") and job.pop("outbox_state") in (
        "enqueued",
        "done",
    )
    assert later == job
    assert sim.sold_for(shipment_id) == []


def test_a_replayed_idempotency_key_waits_too_and_answers_the_finished_job(label_app, client, tenant):
    shipment_id = _rated_shipment(client, tenant)
    url = f"/v1/shipments/{shipment_id}/label"
    headers = {**tenant["headers"], "Idempotency-Key": f"wait-{shipment_id}"}
    first = client.post(f"{url}?wait=1", json={}, headers=headers)
    assert first.status_code == 202
    _run_jobs(label_app, _settled(client, tenant, shipment_id))
    again = client.post(f"{url}?wait=5", json={}, headers=headers)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["label"]["url"]
    plain_replay = client.post(url, json={}, headers=headers)
    assert plain_replay.status_code == 202 and plain_replay.headers["Idempotent-Replayed"] == "true"


# -- signed links ----------------------------------------------------------------------------------


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _query(signed: signed_urls.Signed) -> str:
    return urlencode({k: v for k, v in signed.url_values().items() if k not in ("label_id", "ext")})


def _with(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return f"{parts.path}?{urlencode(query)}"


def test_a_label_carries_a_signed_link_that_downloads_without_an_api_key(label_app, client, tenant):
    shipment_id, label = _bought(label_app, client, tenant)
    assert label["url"].startswith("http://localhost/label-files/")
    downloaded = client.get(_path(label["url"]))  # no Authorization header
    assert downloaded.status_code == 200, downloaded.get_json()
    keyed = client.get(f"/v1/shipments/{shipment_id}/label", headers=tenant["headers"])
    assert downloaded.mimetype == keyed.mimetype == f"image/{label['format'].lower()}"
    assert downloaded.data == keyed.data
    assert downloaded.headers["ETag"] == f'"{label["checksum"]}"'
    assert downloaded.headers["Cache-Control"].startswith("private, max-age=")
    # Every representation of the label carries one: the label read and the void answer too.
    job = client.get("/v1/jobs?state=succeeded", headers=tenant["headers"]).get_json()["data"][0]
    assert client.get(_path(job["label"]["url"])).status_code == 200
    voided = client.post(f"/v1/shipments/{shipment_id}/void", headers=tenant["headers"])
    assert voided.status_code == 200 and voided.get_json()["url"]
    assert client.get(_path(voided.get_json()["url"])).headers["X-Label-Status"] == "voided"


def test_an_altered_link_is_refused_with_403(label_app, client, tenant):
    _, label = _bought(label_app, client, tenant)
    url = label["url"]
    query = parse_qs(urlsplit(url).query)
    signature = query["signature"][0]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    later = str(int(query["expires"][0]) + 3600)
    other_tenant = _tenant(label_app)["id"]
    altered = [
        _with(url, signature=flipped),
        _with(url, expires=later),
        _with(url, tenant=other_tenant),
        _path(url).replace(".png?", ".pdf?"),
        _path(url).split("?")[0],
    ]
    for path in altered:
        resp = client.get(path)
        assert resp.status_code == 403, (path, resp.get_json())
        assert resp.headers["Content-Type"] == "application/problem+json"
        assert resp.get_json()["type"].endswith("/forbidden")


def test_an_expired_link_is_410_and_a_link_signed_for_another_tenant_finds_nothing(label_app, client, tenant):
    _, label = _bought(label_app, client, tenant)
    query = parse_qs(urlsplit(label["url"]).query)
    expired = signed_urls.sign(
        label_app.config, query["tenant"][0], label["id"], "png", now=time.time() - 3600
    )
    assert expired is not None
    resp = client.get(f"/label-files/{label['id']}.png?" + _query(expired))
    assert resp.status_code == 410, resp.get_json()
    assert resp.get_json()["type"].endswith("/gone")

    # A genuine signature for another tenant does not reach this tenant's label.
    other = _tenant(label_app)["id"]
    theirs = signed_urls.sign(label_app.config, other, label["id"], "png")
    assert theirs is not None
    resp = client.get(f"/label-files/{label['id']}.png?" + _query(theirs))
    assert resp.status_code == 404 and resp.get_json()["type"].endswith("/not-found")


def test_a_link_signed_with_another_key_is_refused(label_app, client, tenant):
    _, label = _bought(label_app, client, tenant)
    query = {k: v[0] for k, v in parse_qs(urlsplit(label["url"]).query).items()}
    forged = signed_urls.signature(b"not-our-key", query["tenant"], label["id"], "png", query["expires"])
    resp = client.get(f"/label-files/{label['id']}.png?" + urlencode(query | {"signature": forged}))
    assert resp.status_code == 403


def test_the_signing_key_comes_from_the_setting_or_pepper_and_production_without_either_signs_nothing():
    assert signed_urls.signing_key({"LABEL_URL_SECRET": "s3cret"}) == b"s3cret"
    from_pepper = signed_urls.signing_key({"SECRET_PEPPER": "pepper", "ENV": "production"})
    assert from_pepper and b"pepper" not in from_pepper
    assert signed_urls.signing_key({"ENV": "test"})
    assert signed_urls.signing_key({"ENV": "production"}) is None
    assert signed_urls.sign({"ENV": "production"}, "ten_1", "lbl_1", "pdf") is None


def test_the_openapi_document_shows_wait_the_200_and_the_signed_link_route(label_app, client):
    spec = client.get("/openapi.json").get_json()
    post = spec["paths"]["/v1/shipments/{shipment_id}/label"]["post"]
    wait = next(p for p in post["parameters"] if p["name"] == "wait")
    assert wait["in"] == "query" and wait["schema"]["maximum"] == 30
    assert {"200", "202"} <= set(post["responses"])
    link = spec["paths"]["/label-files/{label_id}.{ext}"]["get"]
    assert link["security"] == []
    assert {"200", "403", "404", "410"} <= set(link["responses"])
    label = spec["components"]["schemas"]["Label"]["properties"]
    assert {"url", "url_expires_at"} <= set(label)
