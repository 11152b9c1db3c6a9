"""Issue 16: a carrier is added in its own package, with no line of gateway code written for it.

The example adapter (``tests/plugins/handoff_example_adapter``) is an out-of-tree distribution. It is
installed into a temporary directory put on ``sys.path``, found through its ``handoff.adapters`` entry
point, enabled by ``CARRIERS``, and then, through the public HTTP API only: it rates, a shipment is
booked with its rate, its label is bought, and a push it signs reaches ``/v1/callbacks/example``, is
read by its own parser with its own code table and shows up in the canonical timeline.

The installation lays the distribution out as an installer does (the package, and a ``.dist-info``
with the metadata and the entry points its ``pyproject.toml`` declares). That needs no build backend
and no network: ``pip install --no-build-isolation`` cannot build a wheel in this venv (setuptools 65
without the ``wheel`` package).
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import shutil
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rq import SimpleWorker

from adapters import registry
from gateway import create_app
from gateway.jobs import outbox, worker
from gateway.kernel import auth, models
from tests.helpers import shipment_body

pytestmark = pytest.mark.integration

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "handoff_example_adapter"
SECRET = "example-push-secret"
CONFIG = {"api_key": "example-api-key", "price_per_parcel": "3.25", "currency": "USD"}


def install(source: Path, target: Path) -> None:
    """Install the distribution at ``source`` into ``target``: its packages and a ``.dist-info``."""
    pyproject = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    for package in pyproject["tool"]["setuptools"]["packages"]:
        shutil.copytree(source / package, target / package, ignore=shutil.ignore_patterns("__pycache__"))
    dist_info = target / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n", encoding="utf-8"
    )
    groups = [
        "\n".join([f"[{group}]", *(f"{name} = {value}" for name, value in entries.items())])
        for group, entries in project.get("entry-points", {}).items()
    ]
    (dist_info / "entry_points.txt").write_text("\n\n".join(groups) + "\n", encoding="utf-8")
    (dist_info / "INSTALLER").write_text("tests\n", encoding="utf-8")


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    target = tmp_path_factory.mktemp("site-packages")
    install(PLUGIN, target)
    sys.path.append(str(target))  # after the venv's site-packages: the installed plugin's entry point wins
    importlib.invalidate_caches()
    registry.reload()
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        sys.modules.pop("handoff_example_adapter", None)
        importlib.invalidate_caches()
        registry.reload()


@pytest.fixture(scope="module")
def plugin_app(plugin: Path, settings: dict[str, Any]) -> Iterator[Any]:
    carriers = [{"adapter": "example", "id": "example", "config": CONFIG}]
    application = create_app(
        {
            **settings,
            "CARRIERS": json.dumps(carriers),
            "CALLBACK_SECRETS": json.dumps({"example": SECRET}),
            "RATE_CACHE_TTL_SECONDS": 0,
        }
    )
    yield application
    application.extensions["handoff"].dispose()


def tenant_headers(application: Any) -> dict[str, str]:
    with application.extensions["handoff"].sessions() as session:
        slug = f"t-{uuid.uuid4().hex[:10]}"
        tenant = models.Tenant(name=slug, slug=slug)
        session.add(tenant)
        session.flush()
        _row, key = auth.create_key(
            session, tenant.id, ("platform", "ops"), pepper=application.config["SECRET_PEPPER"]
        )
        session.commit()
    return {"Authorization": f"Bearer {key}"}


def run_jobs(application: Any, until: Any, timeout: float = 20.0) -> None:
    """Relay due outbox rows and drain RQ until ``until()`` holds (what the scheduler and workers do)."""
    container = application.extensions["handoff"]
    deadline = time.monotonic() + timeout
    while True:
        outbox.relay(container)
        worker.run(application, burst=True, worker_class=SimpleWorker)
        if until():
            return
        if time.monotonic() > deadline:
            raise AssertionError("jobs did not settle in time")
        time.sleep(0.1)


def signed_push(client: Any, carrier: str, payload: dict[str, Any]) -> Any:
    """Sign a push as the carrier does: HMAC-SHA256 of "<unix timestamp>." + body, with the shared secret."""
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"X-Handoff-Timestamp": stamp, "X-Handoff-Signature": f"sha256={digest}"}
    return client.post(
        f"/v1/callbacks/{carrier}", data=body, headers=headers, content_type="application/json"
    )


def buy_example_label(application: Any, client: Any, headers: dict[str, str]) -> dict[str, Any]:
    """Book a shipment, select the plugin's rate and buy its label through the API; the shipment."""
    created = client.post(
        "/v1/shipments", json=shipment_body(reference=f"EX-{uuid.uuid4().hex[:8]}"), headers=headers
    )
    assert created.status_code == 201, created.get_json()
    shipment: dict[str, Any] = created.get_json()
    rate = next(r for r in shipment["rates"]["rates"] if r["carrier"] == "example")
    selected = client.post(
        f"/v1/shipments/{shipment['id']}/rate", json={"rate_id": rate["id"]}, headers=headers
    )
    assert selected.status_code == 200, selected.get_json()

    job = client.post(f"/v1/shipments/{shipment['id']}/label", json={"label_format": "zpl"}, headers=headers)
    assert job.status_code == 202, job.get_json()

    def bought() -> bool:
        status = client.get(f"/v1/shipments/{shipment['id']}", headers=headers).get_json()["status"]
        return status not in ("label_requested", "purchasing")

    run_jobs(application, bought)
    return shipment


def test_the_installed_plugin_is_found_through_its_entry_point(plugin: Path) -> None:
    assert registry.available()["example"] == "handoff_example_adapter:ExampleAdapter"
    cls = registry.adapter_class("example")
    assert cls.__module__ == "handoff_example_adapter"
    assert Path(sys.modules[cls.__module__].__file__ or "").is_relative_to(plugin)
    assert registry.receiver("example") is cls
    assert registry.code_table("example").lookup("OUT") is not None


def test_the_plugin_rates_books_labels_and_tracks_through_the_public_api(plugin_app: Any) -> None:
    client = plugin_app.test_client()
    headers = tenant_headers(plugin_app)

    quote_body = shipment_body()
    del quote_body["reference"]
    quoted = client.post("/v1/rates", json=quote_body, headers=headers)
    assert quoted.status_code == 200, quoted.get_json()
    [live] = [r for r in quoted.get_json()["rates"] if r["carrier"] == "example"]
    assert live["total_cost"]["amount"] in ("3.25", "3.2500")

    shipment = buy_example_label(plugin_app, client, headers)
    labelled = client.get(f"/v1/shipments/{shipment['id']}", headers=headers).get_json()
    assert labelled["carrier"] == "example"
    number = labelled["tracking_number"]
    assert number and number.startswith("EX")

    at = "2026-11-20T09:15:00+01:00"
    pushed = signed_push(
        client, "example", {"parcel": number, "status": "OUT", "at": at, "id": "e-1", "where": "Newark"}
    )
    assert pushed.status_code == 202, pushed.get_json()
    odd = signed_push(client, "example", {"parcel": number, "status": "NEW_CODE", "at": at, "id": "e-2"})
    assert odd.status_code == 202
    worker.run(plugin_app, burst=True, worker_class=SimpleWorker)

    timeline = client.get(f"/v1/shipments/{shipment['id']}/events", headers=headers).get_json()
    assert timeline["milestone"] == "out_for_delivery"
    events = {e["raw"]["code"]: e for e in timeline["events"]}
    assert events["OUT"]["canonical"]["milestone"] == "out_for_delivery"
    assert events["OUT"]["occurred_at"].startswith("2026-11-20T08:15:00")
    assert events["OUT"]["location"]["city"] == "Newark"
    assert events["NEW_CODE"]["mapping"] == "unmapped"  # unknown codes are kept, never defaulted


def test_the_plugin_checks_addresses_and_closes_its_day_through_the_public_api(plugin_app: Any) -> None:
    # Address validation and manifests know no carrier by name: the plugin declares them and is served.
    client = plugin_app.test_client()
    headers = tenant_headers(plugin_app)
    address = {
        "street_lines": ["26601 Aliso Creek Road"],
        "city": "Aliso Viejo",
        "state": "CA",
        "postal_code": "92656",
        "country_code": "US",
    }
    checked = client.post(
        "/v1/addresses/validate", json={"carrier": "example", "address": address}, headers=headers
    )
    assert checked.status_code == 200, checked.get_json()
    found = checked.get_json()
    assert (found["adapter"], found["classification"], found["valid"]) == ("example", "residential", True)
    assert found["address"]["street_lines"] == ["26601 ALISO CREEK ROAD"]

    labelled = client.get(
        f"/v1/shipments/{buy_example_label(plugin_app, client, headers)['id']}", headers=headers
    ).get_json()
    made = client.post("/v1/manifests", json={"carrier": "example"}, headers=headers)
    assert made.status_code == 201, made.get_json()
    (manifest,) = made.get_json()["data"]
    assert (manifest["kind"], manifest["state"], manifest["shipment_count"]) == ("carrier", "closed", 1)
    assert manifest["carrier_reference"].startswith("EXC-") and manifest["carrier_reference"].endswith("-1")
    assert manifest["carrier_document"]["type"] == "HANDOVER"
    handover = client.get(manifest["carrier_document"]["url"], headers=headers)
    assert handover.status_code == 200 and labelled["tracking_number"].encode() in handover.data
