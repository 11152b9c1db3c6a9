"""The public tracking page: a link per shipment, no API key, the tenant's branding, plain words."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from alembic import command

from gateway import webhooks
from gateway.kernel import container as bootstrap
from gateway.kernel import migrate
from gateway.trackpage import branding, links, tables
from gateway.webhooks.tables import WebhookEvent
from tests.helpers import shipment_body
from tests.integration.test_callbacks import (  # noqa: F401 - the autouse fixture configures the secrets
    callback_secrets,
    dhl_checkpoint,
    new_number,
    post_signed,
    run_worker,
    shipment_with_number,
)


def tracking_url(client: Any, tenant: Any, shipment_id: str) -> str:
    response = client.get(f"/v1/shipments/{shipment_id}", headers=tenant.headers)
    assert response.status_code == 200
    url = response.get_json()["tracking_url"]
    assert url
    return url


def open_page(client: Any, url: str) -> Any:
    return client.get(urlsplit(url).path)  # no Authorization header


def text(html: str) -> str:
    """The page's words as a reader gets them: tags dropped, whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def checkpoint(awb: str, code: str, when: datetime) -> dict[str, Any]:
    payload = dhl_checkpoint(awb, code)
    payload["event"]["date"], payload["event"]["time"] = when.strftime("%Y-%m-%d"), when.strftime("%H:%M:%S")
    return payload


def test_a_booked_shipment_has_a_public_page_that_needs_no_key_and_shows_no_internals(client, platform):
    created = client.post("/v1/shipments", json=shipment_body("ORDER-SECRET-77"), headers=platform.headers)
    assert created.status_code == 201
    body = created.get_json()
    url = body["tracking_url"]

    assert re.fullmatch(r"http://localhost/t/[A-Za-z0-9_-]{32,}", url)
    assert tracking_url(client, platform, body["id"]) == url  # stable across reads
    page = open_page(client, url)
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    words = text(html)
    assert "Your order is being prepared" in words
    assert "Expected delivery Not known yet" in words
    assert "No news from the carrier yet" in words
    assert body["id"] not in html and "ORDER-SECRET-77" not in html and "Jane Doe" not in html
    assert "<script" not in html.lower()
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy and "script-src" not in policy
    assert page.headers["Cache-Control"] == "private, max-age=60"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    css = client.get("/t/assets/trackpage.css")
    assert css.status_code == 200 and css.mimetype == "text/css"


def test_a_listed_shipment_carries_its_link_too(client, platform):
    created = client.post("/v1/shipments", json=shipment_body(), headers=platform.headers).get_json()
    listed = client.get("/v1/shipments", headers=platform.headers).get_json()["data"]
    assert [s["tracking_url"] for s in listed if s["id"] == created["id"]] == [created["tracking_url"]]


def test_the_page_shows_the_timeline_newest_first_and_an_exception_in_plain_words(app, client, platform):
    number = new_number("DHL")
    shipment_id = shipment_with_number(app, client, platform, "dhl_express", number)
    start = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    for code, when in (("PU", start), ("WC", start + timedelta(hours=2)), ("NH", start + timedelta(hours=5))):
        assert post_signed(client, "dhl_express", checkpoint(number, code, when)).status_code == 202
    run_worker(app)

    html = open_page(client, tracking_url(client, platform, shipment_id)).get_data(as_text=True)
    words = text(html)
    assert "We tried to deliver your parcel" in words
    assert "Action needed Nobody was available to receive the parcel." in words
    assert "What you can do: Be available for the next attempt" in words
    steps = re.findall(r'<p class="step-title">([^<]+)</p>', html)
    assert steps == ["Delivery attempted", "Out for delivery", "In transit"]
    # A US address has several time zones: the times are UTC and say so.
    assert "Times are in UTC" in words and "Fri 20 Nov 2026, 13:00 UTC" in words
    assert "NH" not in re.sub(r"<[^>]+>", " ", html).split()  # no raw carrier code


def test_times_are_local_when_the_destination_has_one_time_zone(app, client, platform):
    body = shipment_body()
    body["destination"] = {
        "name": "Ann Lee",
        "street_lines": ["10 Downing St"],
        "city": "London",
        "postal_code": "SW1A 2AA",
        "country_code": "GB",
    }
    created = client.post("/v1/shipments", json=body, headers=platform.headers)
    assert created.status_code == 201, created.get_json()
    shipment_id = created.get_json()["id"]
    number = new_number("DHL")
    with app.extensions["handoff"].sessions() as session:
        from gateway.kernel import models

        shipment = session.get(models.Shipment, shipment_id)
        shipment.carrier, shipment.tracking_number, shipment.status = "dhl_express", number, "purchased"
        session.commit()
    summer = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
    assert post_signed(client, "dhl_express", checkpoint(number, "PU", summer)).status_code == 202
    run_worker(app)

    words = text(open_page(client, tracking_url(client, platform, shipment_id)).get_data(as_text=True))
    assert "Times are local to the delivery address (Europe/London)" in words
    assert "Wed 01 Jul 2026, 10:30 local time" in words  # BST


def test_branding_is_validated_picks_a_readable_text_colour_and_shows_on_the_page(client, platform):
    assert (
        client.put(
            "/v1/branding", json={"display_name": "Acme", "colour": "red"}, headers=platform.headers
        ).status_code
        == 422
    )
    insecure = {"display_name": "Acme", "colour": "#FFD700", "logo_url": "http://cdn.example/logo.png"}
    assert client.put("/v1/branding", json=insecure, headers=platform.headers).status_code == 422

    light = client.put(
        "/v1/branding",
        json={"display_name": "Acme Shoes", "colour": "#ffd700", "logo_url": "https://cdn.example/acme.png"},
        headers=platform.headers,
    )
    assert light.status_code == 200, light.get_json()
    body = light.get_json()
    assert body["colour"] == "#FFD700" and body["text_colour"] == "#000000" and body["contrast_ratio"] >= 4.5
    dark = client.put(
        "/v1/branding", json={"display_name": "Acme Shoes", "colour": "#0a3d62"}, headers=platform.headers
    )
    assert dark.get_json()["text_colour"] == "#FFFFFF" and dark.get_json()["logo_url"] is None
    assert client.get("/v1/branding", headers=platform.headers).get_json()["colour"] == "#0A3D62"

    client.put(
        "/v1/branding",
        json={"display_name": "Acme Shoes", "colour": "#FFD700", "logo_url": "https://cdn.example/acme.png"},
        headers=platform.headers,
    )
    created = client.post("/v1/shipments", json=shipment_body(), headers=platform.headers).get_json()
    page = open_page(client, created["tracking_url"])
    html = page.get_data(as_text=True)
    assert "Acme Shoes" in text(html)
    assert "--brand:#FFD700;--on-brand:#000000" in html
    assert 'src="https://cdn.example/acme.png"' in html
    policy = page.headers["Content-Security-Policy"]
    assert "img-src 'self' https://cdn.example;" in policy


def test_every_text_colour_the_page_picks_passes_wcag_aa():
    for colour in ("#000000", "#FFFFFF", "#777777", "#FF0000", "#00FF00", "#0000FF", "#FFD700", "#808080"):
        assert branding.contrast(colour, branding.text_colour(colour)) >= 4.5, colour


def test_an_unknown_revoked_or_expired_link_is_a_404_page(app, client, platform):
    missing = client.get("/t/" + "x" * 32)
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "Tracking page not found" in missing.get_data(as_text=True)
    assert client.get("/t/" + "y" * 500).status_code == 404

    created = client.post("/v1/shipments", json=shipment_body(), headers=platform.headers).get_json()
    container = app.extensions["handoff"]
    with container.sessions() as session:
        link = session.get(tables.TrackingLink, created["id"])
        link.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        session.commit()
    assert open_page(client, created["tracking_url"]).status_code == 404
    assert tracking_url_or_none(client, platform, created["id"]) is None
    with container.sessions() as session:
        link = session.get(tables.TrackingLink, created["id"])
        link.expires_at, link.revoked_at = None, datetime.now(UTC)
        session.commit()
    assert open_page(client, created["tracking_url"]).status_code == 404


def tracking_url_or_none(client: Any, tenant: Any, shipment_id: str) -> str | None:
    return client.get(f"/v1/shipments/{shipment_id}", headers=tenant.headers).get_json()["tracking_url"]


def test_a_rotated_link_replaces_the_old_one_and_only_the_owner_can_rotate(client, platform, make_tenant):
    created = client.post("/v1/shipments", json=shipment_body(), headers=platform.headers).get_json()
    other = make_tenant(("platform",))
    assert (
        client.post(f"/v1/shipments/{created['id']}/tracking-link", headers=other.headers).status_code == 404
    )

    rotated = client.post(f"/v1/shipments/{created['id']}/tracking-link", headers=platform.headers)
    assert rotated.status_code == 200
    new_url = rotated.get_json()["tracking_url"]
    assert new_url != created["tracking_url"]
    assert open_page(client, created["tracking_url"]).status_code == 404
    assert open_page(client, new_url).status_code == 200
    assert tracking_url(client, platform, created["id"]) == new_url


def test_the_public_base_url_setting_makes_the_link(app, client, platform, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://track.example.com/")
    created = client.post("/v1/shipments", json=shipment_body(), headers=platform.headers).get_json()
    assert created["tracking_url"].startswith("https://track.example.com/t/")


def test_a_shipment_delivered_webhook_carries_the_link(app, client, platform):
    if "tracking_url" not in webhooks.payload_schema("shipment.delivered").get("properties", {}):
        pytest.skip("schemas/json/webhooks/shipment.delivered.json does not declare tracking_url yet")
    endpoint = client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://hooks.example.com/in", "event_types": ["shipment.delivered"]},
        headers=platform.headers,
    )
    assert endpoint.status_code == 201, endpoint.get_json()
    number = new_number("DHL")
    shipment_id = shipment_with_number(app, client, platform, "dhl_express", number)
    assert post_signed(client, "dhl_express", checkpoint(number, "OK", datetime.now(UTC))).status_code == 202
    run_worker(app)

    with app.extensions["handoff"].sessions() as session:
        data = session.execute(
            sa.select(WebhookEvent.data).where(
                WebhookEvent.tenant_id == platform.tenant_id, WebhookEvent.type == "shipment.delivered"
            )
        ).scalar_one()
    assert data["shipment_id"] == shipment_id
    assert data["tracking_url"] == tracking_url(client, platform, shipment_id)


def test_every_milestone_and_reason_of_the_taxonomy_has_plain_words():
    from gateway.trackpage import _words
    from schemas import taxonomy

    assert set(_words.HEADLINES) == set(taxonomy.Milestone) == set(_words.STEPS)
    assert set(_words.REASONS) == set(taxonomy.ExceptionReason)


def test_a_cancelled_draft_says_so_and_expects_no_delivery(app, client, platform):
    created = client.post("/v1/shipments", json=shipment_body(), headers=platform.headers).get_json()
    with app.extensions["handoff"].sessions() as session:
        from gateway.kernel import models

        session.get(models.Shipment, created["id"]).status = "cancelled"
        session.commit()
    words = text(open_page(client, created["tracking_url"]).get_data(as_text=True))
    assert "This shipment was cancelled" in words
    assert "Expected delivery No delivery expected" in words


@pytest.fixture
def empty_database(tmp_path: Any) -> Iterator[str]:
    """A new, empty database on the run's backend (PostgreSQL when DATABASE_URL is set)."""
    given = os.environ.get("DATABASE_URL", "")
    if not given:
        yield f"sqlite:///{tmp_path / 'before.sqlite3'}"
        return
    admin = sa.make_url(given).set(drivername="postgresql+psycopg")
    name = f"handoff_trackpage_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        engine.dispose()


def test_migration_0014_gives_shipments_booked_before_it_a_working_link(empty_database):
    url = empty_database
    migrate.upgrade(url, "0013")
    engine = bootstrap.make_engine(url)
    assert engine.dialect.name == ("postgresql" if os.environ.get("DATABASE_URL") else "sqlite")
    try:
        with engine.begin() as conn:
            now = datetime.now(UTC)
            conn.execute(
                sa.text("INSERT INTO tenants (id, name, slug, created_at) VALUES ('ten_a', 'A', 'a', :n)"),
                {"n": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO addresses (id, tenant_id, street1, city, postal_code, country_code) "
                    "VALUES ('adr_a', 'ten_a', '1 Main St', 'Paris', '75001', 'FR')"
                )
            )
            shipments = sa.table(
                "shipments",
                *(
                    sa.column(c)
                    for c in (
                        "id",
                        "tenant_id",
                        "reference",
                        "status",
                        "origin_id",
                        "destination_id",
                        "metadata",
                        "created_at",
                        "updated_at",
                    )
                ),
            )
            conn.execute(
                shipments.insert(),
                [
                    {
                        "id": f"shp_{i:04d}",
                        "tenant_id": "ten_a",
                        "reference": "R",
                        "status": "draft",
                        "origin_id": "adr_a",
                        "destination_id": "adr_a",
                        "metadata": "{}",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(3)
                ],
            )
        migrate.upgrade(url)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT shipment_id, token, token_sha256 FROM tracking_links ORDER BY shipment_id")
            ).all()
        assert [r[0] for r in rows] == ["shp_0000", "shp_0001", "shp_0002"]
        assert len({r[1] for r in rows}) == 3 and all(len(r[1]) >= 32 for r in rows)
        assert all(links.digest(r[1]) == r[2] for r in rows)
        command.downgrade(migrate.alembic_config(url), "0013")
        with engine.connect() as conn:
            assert "tracking_links" not in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
