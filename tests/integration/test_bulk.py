"""Bulk booking: one JSON or CSV upload, booked row by row by an outbox job, results per row."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from gateway.bulk import jobs as bulk_jobs
from gateway.bulk import uploads
from gateway.jobs import context, registry, worker
from gateway.jobs.tables import OutboxEntry
from gateway.kernel import models
from gateway.shipments import book
from tests.helpers import shipment_body

pytestmark = pytest.mark.integration

URL = "/v1/shipments/bulk"


def run_jobs(app: Any) -> None:
    worker.run(app, burst=True, worker_class=SimpleWorker)


def upload(client: Any, tenant: Any, rows: list[Any], **headers: str) -> Any:
    return client.post(URL, json={"shipments": rows}, headers={**tenant.headers, **headers})


def bulk(client: Any, tenant: Any, bulk_id: str, **query: Any) -> dict[str, Any]:
    resp = client.get(f"{URL}/{bulk_id}", query_string=query, headers=tenant.headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def shipment_count(app: Any, tenant_id: str) -> int:
    with app.extensions["handoff"].sessions() as session:
        return session.scalar(
            sa.select(sa.func.count())
            .select_from(models.Shipment)
            .where(models.Shipment.tenant_id == tenant_id)
        )


def test_json_upload_books_rows_and_reports_errors_per_row(client, app, platform):
    bad = shipment_body("BAD-1")
    del bad["destination"]["city"]
    bad["parcels"][0]["weight"]["value"] = "-1"
    rows = [shipment_body("BULK-1"), {**shipment_body("BULK-2"), "key": "order-2"}, bad, 17]
    resp = upload(client, platform, rows, **{"Idempotency-Key": "bulk-json-1"})
    assert resp.status_code == 202, resp.get_json()
    queued = resp.get_json()
    assert queued["id"].startswith("blk_")
    assert resp.headers["Location"].endswith(f"{URL}/{queued['id']}")
    assert queued["format"] == "json"
    # A row that is no object fails at once; the others wait for the job.
    assert queued["progress"]["total"] == 4
    assert queued["counts"] == {"booked": 0, "failed": 1, "pending": 3}

    run_jobs(app)

    done = bulk(client, platform, queued["id"])
    assert done["state"] == "done"
    assert done["progress"] == {"done": 4, "total": 4, "percent": 100.0}
    assert done["counts"] == {"booked": 2, "failed": 2, "pending": 0}
    first, second, third, fourth = done["rows"]
    assert (first["row"], first["state"], first["key"]) == (1, "booked", None)
    assert (second["state"], second["key"]) == ("booked", "order-2")
    shipment = client.get(f"/v1/shipments/{second['shipment_id']}", headers=platform.headers).get_json()
    assert shipment["reference"] == "BULK-2"
    assert shipment["status"] == "draft"
    assert "rates" in shipment  # booked by the booking use case: quoted like POST /v1/shipments
    assert third["state"] == "failed" and third["shipment_id"] is None
    assert set(third["errors"]) == {"destination.city", "parcels.0.weight.value"}
    assert fourth["state"] == "failed" and list(fourth["errors"]) == ["_schema"]
    assert shipment_count(app, platform.tenant_id) == 2

    # The same Idempotency-Key replays the 202: no second upload.
    again = upload(client, platform, rows, **{"Idempotency-Key": "bulk-json-1"})
    assert again.status_code == 202 and again.get_json()["id"] == queued["id"]


CSV_HEADER = [
    "key",
    "reference",
    "origin_name",
    "origin_street1",
    "origin_city",
    "origin_state",
    "origin_postal_code",
    "origin_country_code",
    "destination_name",
    "destination_street1",
    "destination_street2",
    "destination_city",
    "destination_state",
    "destination_postal_code",
    "destination_country_code",
    "destination_residential",
    "weight",
    "weight_unit",
    "length",
    "width",
    "height",
    "dimension_unit",
    "declared_value",
    "declared_currency",
    "service_level",
    "metadata.channel",
]


def csv_line(reference: str, **cells: str) -> list[str]:
    row = {
        "key": "",
        "reference": reference,
        "origin_name": "Warehouse 1",
        "origin_street1": "500 Industrial Way",
        "origin_city": "Secaucus",
        "origin_state": "NJ",
        "origin_postal_code": "07094",
        "origin_country_code": "US",
        "destination_name": "Jane Doe",
        "destination_street1": "21 W 52nd St",
        "destination_street2": "Apt 4",
        "destination_city": "New York",
        "destination_state": "NY",
        "destination_postal_code": "10019",
        "destination_country_code": "US",
        "destination_residential": "true",
        "weight": "2.5",
        "weight_unit": "lb",
        "length": "12",
        "width": "9",
        "height": "4",
        "dimension_unit": "in",
        "declared_value": "49.99",
        "declared_currency": "USD",
        "service_level": "",
        "metadata.channel": "shopify",
        **cells,
    }
    return [row[name] for name in CSV_HEADER]


def csv_body(lines: list[list[str]], header: list[str] = CSV_HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(lines)
    return out.getvalue().encode()


def post_csv(client: Any, tenant: Any, data: bytes) -> Any:
    return client.post(URL, data=data, headers={**tenant.headers, "Content-Type": "text/csv"})


def test_csv_upload_books_flat_rows_and_names_columns_in_errors(client, app, platform):
    lines = [
        csv_line("CSV-1", key="csv-1", service_level="express"),
        csv_line("CSV-2", weight="heavy", destination_country_code="XX"),
        csv_line("CSV-3"),
    ]
    resp = post_csv(client, platform, csv_body(lines))
    assert resp.status_code == 202, resp.get_json()
    bulk_id = resp.get_json()["id"]
    assert resp.get_json()["format"] == "csv"
    run_jobs(app)

    done = bulk(client, platform, bulk_id)
    assert done["counts"] == {"booked": 2, "failed": 1, "pending": 0}
    one, two, three = done["rows"]
    shipment = client.get(f"/v1/shipments/{one['shipment_id']}", headers=platform.headers).get_json()
    assert shipment["reference"] == "CSV-1"
    assert shipment["service_level"] == "express"
    assert shipment["metadata"] == {"channel": "shopify"}
    assert shipment["destination"]["street_lines"] == ["21 W 52nd St", "Apt 4"]
    assert shipment["destination"]["residential"] is True
    assert shipment["parcels"][0]["weight"] == {"value": "2.5", "unit": "lb"}
    assert shipment["parcels"][0]["declared_value"] == {"amount": "49.99", "currency": "USD"}
    assert two["state"] == "failed"
    assert set(two["errors"]) == {"parcels.0.weight.value", "destination.country_code"}
    assert two["columns"] == {
        "parcels.0.weight.value": "weight",
        "destination.country_code": "destination_country_code",
    }
    assert three["state"] == "booked"


def test_whole_file_errors_are_422_now(client, platform):
    bad_header = csv_body([csv_line("H-1")[:-1]], header=[*CSV_HEADER[:-1], "colour"])
    resp = post_csv(client, platform, bad_header)
    assert resp.status_code == 422
    assert resp.get_json()["errors"] == {f"header.{len(CSV_HEADER) - 1}": ["unknown column 'colour'"]}

    missing = post_csv(client, platform, b"reference,weight\nR-1,1\n")
    assert missing.status_code == 422
    assert "header.origin_city" in missing.get_json()["errors"]

    not_utf8 = post_csv(client, platform, "reference\nCAFÉ\n".encode("latin-1"))
    assert not_utf8.status_code == 422

    assert upload(client, platform, []).status_code == 422
    wrong_shape = client.post(URL, json=[shipment_body()], headers=platform.headers)
    assert wrong_shape.status_code == 422
    assert wrong_shape.get_json()["errors"] == {"shipments": ["required: a list of shipments"]}
    extra = client.post(URL, json={"shipments": [shipment_body()], "dry_run": True}, headers=platform.headers)
    assert extra.status_code == 422
    assert extra.get_json()["errors"] == {"dry_run": ["Unknown field."]}
    not_json = client.post(URL, data="{", headers={**platform.headers, "Content-Type": "application/json"})
    assert not_json.status_code == 400
    text = client.post(URL, data="hello", headers={**platform.headers, "Content-Type": "text/plain"})
    assert text.status_code == 415


def test_a_rerun_after_a_crash_books_no_row_twice(client, app, platform, monkeypatch):
    rows = [shipment_body(f"CRASH-{i}") for i in range(5)]
    bulk_id = upload(client, platform, rows).get_json()["id"]
    container = app.extensions["handoff"]
    real_book = book.book
    calls: list[str] = []

    def crash_on_the_fourth(session: Any, tenant_id: str, data: dict[str, Any], **kw: Any) -> Any:
        calls.append(data["reference"])
        if data["reference"] == "CRASH-3":
            raise RuntimeError("worker killed")
        return real_book(session, tenant_id, data, **kw)

    monkeypatch.setattr(book, "book", crash_on_the_fourth)
    with app.app_context(), pytest.raises(RuntimeError):
        uploads.run(container, bulk_id, budget_seconds=60, chunk=2)
    # The first chunk (rows 1-2) committed; the second (rows 3-4) rolled back whole.
    halfway = bulk(client, platform, bulk_id)
    assert halfway["state"] == "running"
    assert halfway["progress"]["done"] == 2
    assert shipment_count(app, platform.tenant_id) == 2

    monkeypatch.setattr(book, "book", real_book)
    context.set_app(app)
    assert bulk_jobs.run(bulk_id) == "done"
    assert bulk_jobs.run(bulk_id) == "done"  # the job twice: nothing more to book
    done = bulk(client, platform, bulk_id)
    assert done["counts"] == {"booked": 5, "failed": 0, "pending": 0}
    assert shipment_count(app, platform.tenant_id) == 5
    refs = {
        client.get(f"/v1/shipments/{r['shipment_id']}", headers=platform.headers).get_json()["reference"]
        for r in done["rows"]
    }
    assert refs == {f"CRASH-{i}" for i in range(5)}


def test_given_keys_book_once_across_uploads(client, app, platform):
    rows = [{**shipment_body(f"KEY-{i}"), "key": f"order-{i}"} for i in range(3)]
    first = upload(client, platform, rows).get_json()["id"]
    run_jobs(app)
    second = upload(client, platform, [*rows, {**shipment_body("KEY-9"), "key": "order-0"}]).get_json()["id"]
    run_jobs(app)

    before = {r["key"]: r["shipment_id"] for r in bulk(client, platform, first)["rows"]}
    again = bulk(client, platform, second)
    assert again["counts"] == {"booked": 3, "failed": 1, "pending": 0}
    for row in again["rows"][:3]:
        assert row["replayed"] is True
        assert row["shipment_id"] == before[row["key"]]
    assert again["rows"][3]["errors"] == {"key": ["the same key as row 1"]}
    assert (again["rows"][3]["key"], again["rows"][3]["shipment_id"]) == ("order-0", None)
    assert shipment_count(app, platform.tenant_id) == 3


def test_json_numbers_stay_exact_and_odd_rows_fail_alone(client, app, platform):
    exact = shipment_body("EXACT-1")
    exact["parcels"][0]["weight"]["value"] = 2.125  # a JSON number: the API parses it as a Decimal
    odd = {"reference": ["x"], "origin": 1.5e300, "parcels": [[None]], "metadata": {"a": 1}}
    data = json.dumps({"shipments": [exact, odd]})
    bulk_id = client.post(URL, data=data, headers={**platform.headers, "Content-Type": "application/json"})
    run_jobs(app)
    done = bulk(client, platform, bulk_id.get_json()["id"])
    booked, failed = done["rows"]
    shipment = client.get(f"/v1/shipments/{booked['shipment_id']}", headers=platform.headers).get_json()
    assert shipment["parcels"][0]["weight"]["value"] == "2.125"
    assert failed["state"] == "failed"
    assert failed["errors"] == {
        "destination": ["Missing data for required field."],
        "metadata.a.value": ["Not a valid string."],
        "origin._schema": ["Invalid input type."],
        "parcels.0._schema": ["Invalid input type."],
        "reference": ["Not a valid string."],
    }


def test_progress_is_stored_per_chunk_and_rows_are_paged(client, app, platform):
    rows = [shipment_body(f"PAGE-{i}") for i in range(5)]
    rows[3] = {"reference": "PAGE-3"}
    bulk_id = upload(client, platform, rows).get_json()["id"]
    assert bulk(client, platform, bulk_id)["state"] == "queued"
    with app.app_context():
        assert uploads.run(app.extensions["handoff"], bulk_id, budget_seconds=0, chunk=2) is False
    running = bulk(client, platform, bulk_id)
    assert running["state"] == "running"
    assert running["progress"] == {"done": 2, "total": 5, "percent": 40.0}
    assert running["counts"] == {"booked": 2, "failed": 0, "pending": 3}

    run_jobs(app)
    page = bulk(client, platform, bulk_id, limit=2)
    assert [r["row"] for r in page["rows"]] == [1, 2]
    page = bulk(client, platform, bulk_id, limit=2, cursor=page["next_cursor"])
    assert [r["row"] for r in page["rows"]] == [3, 4]
    page = bulk(client, platform, bulk_id, limit=2, cursor=page["next_cursor"])
    assert [r["row"] for r in page["rows"]] == [5] and page["next_cursor"] is None
    failed = bulk(client, platform, bulk_id, state="failed")
    assert [r["row"] for r in failed["rows"]] == [4]
    bad = client.get(f"{URL}/{bulk_id}?cursor=abc", headers=platform.headers)
    assert bad.status_code == 400


def test_uploads_are_tenant_scoped(client, app, platform, make_tenant):
    bulk_id = upload(client, platform, [shipment_body("MINE")]).get_json()["id"]
    other = make_tenant(("platform",))
    assert client.get(f"{URL}/{bulk_id}", headers=other.headers).status_code == 404
    assert client.get(f"{URL}/blk_nothing", headers=platform.headers).status_code == 404


def test_ten_thousand_rows_at_most(client, app, platform, monkeypatch):
    body = shipment_body("MANY")
    rows = [{**body, "reference": f"MANY-{i}"} for i in range(10_000)]
    data = json.dumps({"shipments": rows})
    assert len(data) > 1024 * 1024  # beyond the app's default body limit: uploads have their own

    accepted = client.post(URL, data=data, headers={**platform.headers, "Content-Type": "application/json"})
    assert accepted.status_code == 202, accepted.get_json()
    assert accepted.get_json()["progress"] == {"done": 0, "total": 10_000, "percent": 0.0}

    one_more = json.dumps({"shipments": [*rows, body]})
    refused = client.post(
        URL, data=one_more, headers={**platform.headers, "Content-Type": "application/json"}
    )
    assert refused.status_code == 413
    assert refused.get_json()["type"].endswith("/payload-too-large")

    monkeypatch.setitem(app.extensions["handoff"].settings, "BULK_MAX_BYTES", 10_000)
    too_big = client.post(URL, data=data, headers={**platform.headers, "Content-Type": "application/json"})
    assert too_big.status_code == 413
    abandon(app, accepted.get_json()["id"])


def abandon(app: Any, bulk_id: str) -> None:
    """Mark the accepted upload's job dead (its RQ job then does nothing when it runs).

    The test never books the 10,000 rows; left queued, they were booked by whichever later test of this
    process ran a burst worker, which took that test a minute and a half.
    """
    with app.extensions["handoff"].sessions() as session:
        waiting = session.execute(
            sa.select(OutboxEntry).where(
                OutboxEntry.job == registry.name_of(bulk_jobs.run),
                OutboxEntry.state.in_(("pending", "enqueued")),
            )
        ).scalars()
        for entry in waiting:
            if entry.args == [bulk_id]:
                entry.state, entry.last_error = "dead", "abandoned by the test that uploaded it"
        session.commit()


def test_options_lists_the_upload_methods_only(client, platform):
    response = client.options(URL, headers=platform.headers)
    assert response.status_code == 200
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {"POST", "OPTIONS"}
