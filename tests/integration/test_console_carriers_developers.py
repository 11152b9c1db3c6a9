"""The console's carriers and developer settings over the Flask test client.

Remapping an unmapped code, carrier health and raw exchanges (planted HTML shown as text), API keys
(the secret shown exactly once, then it authenticates, then revoked it is refused), webhook endpoints
(created and changed through the API's use cases with its URL guard, delivery log, replay, secret
rotation), tenant isolation, roles and CSRF.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from adapters import http as carrier_http
from gateway import create_app, webhooks
from gateway.accounts.tables import CarrierAccount
from gateway.console.tables import ConsoleAuditEntry
from gateway.exchanges.tables import CarrierExchange
from gateway.kernel import models
from gateway.kernel.types import utcnow
from gateway.tracking import ingest
from gateway.tracking import tables as tracking_tables
from gateway.webhooks.tables import WebhookDelivery, WebhookEndpoint
from schemas import events
from tests.integration.test_console_web import PLANT, csrf_of, make_user, seed, sign_in

KEY = re.compile(r"hk_(?:live|test)_[0-9a-f]{16}_[A-Za-z0-9_-]+")


def _client(app: Any, tenant_id: str, roles: tuple[str, ...]) -> Any:
    client = app.test_client()
    assert sign_in(client, make_user(app, tenant_id, roles)).status_code == 303
    return client


def _page(client: Any, path: str) -> tuple[str, str]:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    return html, csrf_of(html)


def add_unmapped_event(app: Any, tracking_number: str, code: str) -> None:
    with app.extensions["handoff"].sessions() as session:
        ingest.ingest(
            session,
            [
                events.CanonicalEvent(
                    tracking_number=tracking_number,
                    carrier="ups",
                    occurred_at=utcnow() - timedelta(hours=1),
                    raw_code=code,
                    raw_message=f"Strange scan {PLANT}",
                    mapping=events.MappingState.UNMAPPED,
                    source_event_id=uuid.uuid4().hex,
                )
            ],
        )
        session.commit()


def add_exchange(app: Any, tenant_id: str, **fields: Any) -> int:
    values: dict[str, Any] = {
        "carrier": "ups",
        "operation": "track",
        "tenant_id": tenant_id,
        "method": "GET",
        "url": "https://carrier.example/track/1Z",
        "http_status": 200,
        "duration_ms": 120,
        "request": {"method": "GET", "url": "https://carrier.example/track/1Z", "headers": {}},
        "response": {"status": 200, "body": {"note": PLANT}},
        "occurred_at": utcnow() - timedelta(minutes=5),
    }
    values.update(fields)
    with app.extensions["handoff"].sessions() as session:
        row = CarrierExchange(**values)
        session.add(row)
        session.commit()
        return row.id


def _endpoint_with_delivery(app: Any, tenant_id: str) -> tuple[str, str, str]:
    """An endpoint (made directly: the URL check is the API's business) with one delivery; its secret."""
    secret = "whsec_" + "A" * 32
    with app.extensions["handoff"].sessions() as session:
        endpoint = WebhookEndpoint(
            tenant_id=tenant_id,
            url="https://hooks.example/handoff",
            description=f"ops hook {PLANT}",
            event_types=["shipment.allocated"],
            enabled=True,
            secret=secret,
            consecutive_failures=0,
        )
        session.add(endpoint)
        session.flush()
        webhooks.record(
            session,
            tenant_id,
            "shipment.allocated",
            {"shipment_id": "shp_x", "carrier": "ups"},
            [endpoint.id],
        )
        session.commit()
        delivery_id = session.execute(
            sa.select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id)
        ).scalar_one()
        return endpoint.id, delivery_id, secret


# -- carriers ---------------------------------------------------------------------------------------


def test_ops_remaps_an_unmapped_code_and_it_is_mapped(app, make_tenant):
    seeded = seed(app, make_tenant)
    add_unmapped_event(app, seeded.tracking_number, "ZQ7")
    client = _client(app, seeded.tenant_id, ("ops",))
    html, token = _page(client, "/console/carriers")
    assert "ZQ7" in html and "<script>alert" not in html and "&lt;script&gt;" in html
    posted = client.post(
        "/console/carriers/mappings",
        data={
            "csrf_token": token,
            "carrier": "ups",
            "code": "ZQ7",
            "subcode": "",
            "milestone": "in_transit",
            "reason": "",
            "detail": "",
            "note": "new UPS scan",
        },
    )
    assert posted.status_code == 303, posted.get_data(as_text=True)
    after = client.get(posted.headers["Location"]).get_data(as_text=True)
    assert "Done: mapped ups ZQ7 (version 1, 1 shipment(s) re-derived)" in after
    assert "ZQ7" not in after.split('id="unmapped"', 1)[1]
    with app.extensions["handoff"].sessions() as session:
        rows = session.execute(
            sa.select(tracking_tables.MappingOverride).where(
                tracking_tables.MappingOverride.tenant_id == seeded.tenant_id
            )
        ).scalars()
        [override] = list(rows)
        assert override.milestone == "in_transit" and override.created_by.startswith("usr_")
        event = session.execute(
            sa.select(tracking_tables.TrackingEvent).where(
                tracking_tables.TrackingEvent.tenant_id == seeded.tenant_id,
                tracking_tables.TrackingEvent.raw_code == "ZQ7",
            )
        ).scalar_one()
        assert event.unmapped is False and event.milestone == "in_transit"


def test_a_refused_mapping_says_why_and_changes_nothing(app, make_tenant):
    seeded = seed(app, make_tenant)
    add_unmapped_event(app, seeded.tracking_number, "ZQ8")
    client = _client(app, seeded.tenant_id, ("ops",))
    _html, token = _page(client, "/console/carriers")
    posted = client.post(
        "/console/carriers/mappings",
        data={"csrf_token": token, "carrier": "ups", "code": "ZQ8", "milestone": ""},
    )
    assert posted.status_code == 422
    assert "milestone is required" in posted.get_data(as_text=True)
    assert "ZQ8" in client.get("/console/carriers").get_data(as_text=True)


def test_health_shows_error_rate_latency_and_the_breaker_per_carrier(app, make_tenant):
    seeded = seed(app, make_tenant)
    for ms in (100, 200, 300):
        add_exchange(app, seeded.tenant_id, duration_ms=ms)
    add_exchange(app, seeded.tenant_id, http_status=503, duration_ms=400)
    add_exchange(app, seeded.tenant_id, http_status=None, error="timeout", duration_ms=None, response=None)
    other = make_tenant(("platform",))
    add_exchange(app, other.tenant_id, http_status=500)  # another tenant's: not counted
    breaker = carrier_http.BREAKERS.get("ups", "ACCT-SECRET-NUMBER")
    for _ in range(breaker.failure_threshold):
        breaker.record_failure()
    client = _client(app, seeded.tenant_id, ("ops",))
    html, _token = _page(client, "/console/carriers")
    row = html.split('id="health-ups"', 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert [c.strip() for c in cells][:6] == ["open", "5", "2", "40.0 %", "300 ms", "400 ms"], cells
    assert "ACCT-SECRET-NUMBER" not in html


def test_exchanges_are_paginated_and_a_planted_body_is_shown_as_text(app, make_tenant):
    seeded = seed(app, make_tenant)
    exchange_id = add_exchange(app, seeded.tenant_id)
    other = make_tenant(("platform",))
    foreign_id = add_exchange(app, other.tenant_id)
    client = _client(app, seeded.tenant_id, ("ops",))
    listing, _token = _page(client, "/console/carriers/exchanges?carrier=ups")
    assert f"/console/carriers/exchanges/{exchange_id}" in listing
    assert f"/console/carriers/exchanges/{foreign_id}" not in listing
    detail, _token = _page(client, f"/console/carriers/exchanges/{exchange_id}")
    assert "<script>" not in detail and "&lt;script&gt;alert(&#34;x&#34;)" in detail.replace(
        "\\&#34;", "&#34;"
    )
    assert client.get(f"/console/carriers/exchanges/{foreign_id}").status_code == 404
    for n in range(55):
        add_exchange(app, seeded.tenant_id, operation=f"rate-{n}")
    first = client.get("/console/carriers/exchanges").get_data(as_text=True)
    assert 'rel="next"' in first and first.count('id="exchange-') == 50
    second = client.get("/console/carriers/exchanges?page=2").get_data(as_text=True)
    assert second.count('id="exchange-') == 6 and 'rel="next"' not in second


def test_carriers_pages_need_ops_or_admin(app, make_tenant):
    seeded = seed(app, make_tenant)
    finance = _client(app, seeded.tenant_id, ("finance",))
    assert finance.get("/console/carriers").status_code == 403
    assert 'href="/console/carriers"' not in finance.get("/console/").get_data(as_text=True)
    admin = _client(app, seeded.tenant_id, ("admin",))
    assert admin.get("/console/carriers").status_code == 200


# -- developer settings -------------------------------------------------------------------------------


def test_an_admin_creates_a_key_sees_it_once_uses_it_then_revokes_it(app, make_tenant):
    seeded = seed(app, make_tenant)
    client = _client(app, seeded.tenant_id, ("admin",))
    _html, token = _page(client, "/console/developers")
    created = client.post(
        "/console/developers/keys",
        data={"csrf_token": token, "name": f"shop {PLANT}", "roles": ["platform", "ops"], "mode": "live"},
    )
    assert created.status_code == 200
    shown = created.get_data(as_text=True)
    [key] = KEY.findall(shown)
    lookup = key.split("_")[2]

    listing, token = _page(client, "/console/developers")
    # The whole secret (it may itself hold "_": hk_<mode>_<lookup>_<secret>) is never on the list page.
    secret = key.split("_", 3)[3]
    assert key not in listing and secret not in listing
    assert "&lt;script&gt;" in listing and "<script>alert" not in listing
    with app.extensions["handoff"].sessions() as session:
        row = session.execute(sa.select(models.ApiKey).where(models.ApiKey.lookup == lookup)).scalar_one()
        key_id = row.id
        assert row.tenant_id == seeded.tenant_id and row.roles == "ops,platform"
    assert f'id="key-{key_id}"' in listing

    api = app.test_client()
    bearer = {"Authorization": f"Bearer {key}"}
    assert api.get("/v1/shipments", headers=bearer).status_code == 200

    revoked = client.post(f"/console/developers/keys/{key_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert f"revoked {key_id}" in client.get(revoked.headers["Location"]).get_data(as_text=True)
    assert api.get("/v1/shipments", headers=bearer).status_code == 401


def test_a_key_of_another_tenant_cannot_be_revoked_and_bad_roles_are_refused(app, make_tenant):
    seeded = seed(app, make_tenant)
    other = make_tenant(("platform",))
    client = _client(app, seeded.tenant_id, ("admin",))
    _html, token = _page(client, "/console/developers")
    refused = client.post(f"/console/developers/keys/{other.key_id}/revoke", data={"csrf_token": token})
    assert refused.status_code == 404
    with app.extensions["handoff"].sessions() as session:
        assert session.get(models.ApiKey, other.key_id).revoked_at is None
    empty = client.post("/console/developers/keys", data={"csrf_token": token, "name": "x", "mode": "live"})
    assert empty.status_code == 422 and KEY.search(empty.get_data(as_text=True)) is None


def test_a_platform_user_sees_webhooks_and_accounts_but_not_keys(app, make_tenant):
    seeded = seed(app, make_tenant)
    with app.extensions["handoff"].sessions() as session:
        session.add(
            CarrierAccount(
                tenant_id=seeded.tenant_id,
                carrier="ups",
                label="UPS main",
                options={"environment": "sandbox"},
                secrets_ciphertext="CIPHERTEXT-NEVER-SHOWN",
                wrapped_key="WRAPPED-NEVER-SHOWN",
                key_id="k1",
                secret_fields=["client_secret"],
            )
        )
        session.commit()
    platform = _client(app, seeded.tenant_id, ("platform",))
    html, token = _page(platform, "/console/developers")
    assert 'id="keys"' not in html and 'id="new-key"' not in html
    assert "UPS main" in html and "sandbox" in html
    assert "NEVER-SHOWN" not in html and "client_secret" not in html
    refused = platform.post(
        "/console/developers/keys", data={"csrf_token": token, "roles": ["admin"], "mode": "live"}
    )
    assert refused.status_code == 403
    assert _client(app, seeded.tenant_id, ("ops",)).get("/console/developers").status_code == 403


def test_webhook_log_replay_and_secret_rotation_shown_once(app, make_tenant):
    seeded = seed(app, make_tenant)
    endpoint_id, delivery_id, old_secret = _endpoint_with_delivery(app, seeded.tenant_id)
    client = _client(app, seeded.tenant_id, ("admin",))
    listing, _token = _page(client, "/console/developers")
    assert f"/console/developers/webhooks/{endpoint_id}" in listing and old_secret not in listing
    page, token = _page(client, f"/console/developers/webhooks/{endpoint_id}")
    assert f'id="delivery-{delivery_id}"' in page and old_secret not in page
    assert "&lt;script&gt;" in page and "<script>alert" not in page

    replayed = client.post(
        f"/console/developers/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay",
        data={"csrf_token": token},
    )
    assert replayed.status_code == 303
    after = client.get(replayed.headers["Location"]).get_data(as_text=True)
    assert "queued 1 delivery" in after and after.count('id="delivery-') == 2

    rotated = client.post(
        f"/console/developers/webhooks/{endpoint_id}/rotate-secret",
        data={"csrf_token": token, "grace_hours": "1"},
    )
    assert rotated.status_code == 200
    shown = re.search(r'<code id="secret">([^<]+)</code>', rotated.get_data(as_text=True))
    assert shown
    new_secret = shown.group(1)
    with app.extensions["handoff"].sessions() as session:
        row = session.get(WebhookEndpoint, endpoint_id)
        assert row.secret == new_secret != old_secret and row.previous_secret == old_secret
    again = client.get(f"/console/developers/webhooks/{endpoint_id}").get_data(as_text=True)
    assert new_secret not in again
    assert new_secret not in client.get("/console/developers").get_data(as_text=True)


def test_another_tenants_endpoint_is_a_404_and_cannot_be_rotated_or_replayed(app, make_tenant):
    seeded = seed(app, make_tenant)
    other = make_tenant(("platform",))
    endpoint_id, delivery_id, secret = _endpoint_with_delivery(app, other.tenant_id)
    client = _client(app, seeded.tenant_id, ("admin",))
    _html, token = _page(client, "/console/developers")
    assert client.get(f"/console/developers/webhooks/{endpoint_id}").status_code == 404
    rotate = client.post(
        f"/console/developers/webhooks/{endpoint_id}/rotate-secret", data={"csrf_token": token}
    )
    replay = client.post(
        f"/console/developers/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay",
        data={"csrf_token": token},
    )
    assert rotate.status_code == 404 and replay.status_code == 404
    with app.extensions["handoff"].sessions() as session:
        assert session.get(WebhookEndpoint, endpoint_id).secret == secret
        count = session.execute(
            sa.select(sa.func.count()).where(WebhookDelivery.endpoint_id == endpoint_id)
        ).scalar_one()
        assert count == 1


@pytest.mark.parametrize(
    "path",
    [
        "/console/developers/keys",
        "/console/carriers/mappings",
        "/console/developers/webhooks/{endpoint}/rotate-secret",
        "/console/developers/keys/{key}/revoke",
        "/console/developers/webhooks",
        "/console/developers/webhooks/{endpoint}",
    ],
)
def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(app, make_tenant, path):
    seeded = seed(app, make_tenant)
    endpoint_id, _delivery_id, secret = _endpoint_with_delivery(app, seeded.tenant_id)
    other_key = make_tenant(("platform",))  # a key id that exists (the check comes first anyway)
    client = _client(app, seeded.tenant_id, ("admin",))
    with app.extensions["handoff"].sessions() as session:
        keys_before = session.execute(sa.select(sa.func.count()).select_from(models.ApiKey)).scalar_one()
    target = path.format(endpoint=endpoint_id, key=other_key.key_id)
    refused = client.post(
        target,
        data={
            "roles": ["admin"],
            "mode": "live",
            "carrier": "ups",
            "code": "X",
            "milestone": "in_transit",
            "url": "https://attacker.example/hook",
            "event_types": ["label.purchased"],
            "enabled": "false",
        },
    )
    assert refused.status_code == 403
    assert "not sent from a console page" in refused.get_data(as_text=True)
    with app.extensions["handoff"].sessions() as session:
        assert (
            session.execute(sa.select(sa.func.count()).select_from(models.ApiKey)).scalar_one() == keys_before
        )
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        assert (
            endpoint.secret == secret and endpoint.url == "https://hooks.example/handoff" and endpoint.enabled
        )
        assert session.get(models.ApiKey, other_key.key_id).revoked_at is None
        hooks = sa.select(sa.func.count()).where(WebhookEndpoint.tenant_id == seeded.tenant_id)
        assert session.execute(hooks).scalar_one() == 1


# -- creating and changing webhook endpoints ------------------------------------------------------------


@pytest.fixture(scope="module")
def production(settings: dict[str, Any]) -> Any:
    """The gateway with production rules: the URL guard refuses private and loopback addresses."""
    application = create_app({**settings, "ENV": "production"})
    yield application
    application.extensions["handoff"].dispose()


def _audit(app: Any, tenant_id: str) -> list[ConsoleAuditEntry]:
    with app.extensions["handoff"].sessions() as session:
        rows = session.execute(
            sa.select(ConsoleAuditEntry)
            .where(ConsoleAuditEntry.tenant_id == tenant_id)
            .order_by(ConsoleAuditEntry.id)
        ).scalars()
        return list(rows)


def test_a_platform_user_creates_an_endpoint_and_sees_its_secret_once(app, make_tenant):
    seeded = seed(app, make_tenant)
    client = _client(app, seeded.tenant_id, ("platform",))
    html, token = _page(client, "/console/developers")
    assert 'id="new-endpoint"' in html and 'value="exception.escalated"' in html
    created = client.post(
        "/console/developers/webhooks",
        data={
            "csrf_token": token,
            "url": "https://hooks.example/console",
            "event_types": ["tracking.updated", "label.purchased"],
            "description": f"from the console {PLANT}",
        },
    )
    assert created.status_code == 200, created.get_data(as_text=True)
    shown = re.search(r'<code id="secret">([^<]+)</code>', created.get_data(as_text=True))
    assert shown and shown.group(1).startswith("whsec_")
    with app.extensions["handoff"].sessions() as session:
        [row] = session.execute(
            sa.select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == seeded.tenant_id)
        ).scalars()
        assert row.secret == shown.group(1) and row.enabled
        assert row.url == "https://hooks.example/console"
        assert row.event_types == ["label.purchased", "tracking.updated"]
    listing = client.get("/console/developers").get_data(as_text=True)
    assert shown.group(1) not in listing and f'id="endpoint-{row.id}"' in listing
    assert "<script>alert" not in listing and "from the console &lt;script&gt;" in listing
    detail = client.get(f"/console/developers/webhooks/{row.id}").get_data(as_text=True)
    assert shown.group(1) not in detail and "<script>alert" not in detail
    [entry] = _audit(app, seeded.tenant_id)
    assert entry.action == "webhook.create" and entry.subject == row.id and entry.actor.startswith("usr_")


def test_an_endpoint_is_changed_and_disabled_then_re_enabled_from_its_page(app, make_tenant):
    seeded = seed(app, make_tenant)
    endpoint_id, _delivery_id, secret = _endpoint_with_delivery(app, seeded.tenant_id)
    client = _client(app, seeded.tenant_id, ("admin",))
    page, token = _page(client, f"/console/developers/webhooks/{endpoint_id}")
    assert 'id="edit-endpoint"' in page and 'value="https://hooks.example/handoff"' in page
    saved = client.post(
        f"/console/developers/webhooks/{endpoint_id}",
        data={
            "csrf_token": token,
            "url": "https://hooks.example/v2",
            "event_types": ["shipment.delivered"],
            "description": "moved",
            "enabled": "false",
        },
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)
    after = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "saved the endpoint" in after and "https://hooks.example/v2" in after
    with app.extensions["handoff"].sessions() as session:
        row = session.get(WebhookEndpoint, endpoint_id)
        assert (row.url, row.event_types, row.description, row.enabled) == (
            "https://hooks.example/v2",
            ["shipment.delivered"],
            "moved",
            False,
        )
        assert row.secret == secret  # editing never changes the secret
    again = client.post(
        f"/console/developers/webhooks/{endpoint_id}",
        data={
            "csrf_token": token,
            "url": "https://hooks.example/v2",
            "event_types": ["shipment.delivered"],
            "description": "moved",
            "enabled": "true",
        },
    )
    assert again.status_code == 303
    with app.extensions["handoff"].sessions() as session:
        assert session.get(WebhookEndpoint, endpoint_id).enabled is True
    entries = _audit(app, seeded.tenant_id)
    assert [e.action for e in entries] == ["webhook.update", "webhook.update"]
    assert entries[0].detail["enabled"] is False and entries[0].detail["url"] == "https://hooks.example/v2"
    assert entries[1].detail == {"enabled": True}


def test_a_refused_endpoint_says_why_as_text_and_saves_nothing(app, make_tenant):
    seeded = seed(app, make_tenant)
    client = _client(app, seeded.tenant_id, ("platform",))
    _html, token = _page(client, "/console/developers")
    no_events = client.post(
        "/console/developers/webhooks",
        data={"csrf_token": token, "url": "https://hooks.example/x", "description": "kept"},
    )
    assert no_events.status_code == 422
    text = no_events.get_data(as_text=True)
    assert "Events:" in text and 'value="https://hooks.example/x"' in text and 'value="kept"' in text
    credentials = client.post(
        "/console/developers/webhooks",
        data={
            "csrf_token": token,
            "url": "https://me:pw@hooks.example/x",
            "event_types": ["label.purchased"],
        },
    )
    assert credentials.status_code == 422
    assert "must not carry credentials" in credentials.get_data(as_text=True)
    with app.extensions["handoff"].sessions() as session:
        hooks = sa.select(sa.func.count()).where(WebhookEndpoint.tenant_id == seeded.tenant_id)
        assert session.execute(hooks).scalar_one() == 0
    assert _audit(app, seeded.tenant_id) == []


def test_the_url_guard_refuses_a_private_address_with_its_reason_and_planted_html_stays_text(
    production, make_tenant
):
    tenant = make_tenant(("platform",))
    endpoint_id, _delivery_id, _secret = _endpoint_with_delivery(production, tenant.tenant_id)
    client = _client(production, tenant.tenant_id, ("admin",))
    _html, token = _page(client, "/console/developers")
    planted = f"https://10.0.0.5/{PLANT}"
    refused = client.post(
        "/console/developers/webhooks",
        data={"csrf_token": token, "url": planted, "event_types": ["label.purchased"]},
    )
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "URL: The host 10.0.0.5 resolves to a private, loopback or link-local address" in text
    assert "<script>alert" not in text and "&lt;script&gt;" in text
    moved = client.post(
        f"/console/developers/webhooks/{endpoint_id}",
        data={
            "csrf_token": token,
            "url": "https://127.0.0.1/hook",
            "event_types": ["shipment.allocated"],
            "enabled": "true",
        },
    )
    assert moved.status_code == 422 and "resolves to a private" in moved.get_data(as_text=True)
    with production.extensions["handoff"].sessions() as session:
        assert session.get(WebhookEndpoint, endpoint_id).url == "https://hooks.example/handoff"
        hooks = sa.select(sa.func.count()).where(WebhookEndpoint.tenant_id == tenant.tenant_id)
        assert session.execute(hooks).scalar_one() == 1


def test_endpoints_are_created_and_changed_by_admin_or_platform_in_their_own_tenant(app, make_tenant):
    seeded = seed(app, make_tenant)
    other = make_tenant(("platform",))
    foreign_id, _delivery_id, _secret = _endpoint_with_delivery(app, other.tenant_id)
    ops = _client(app, seeded.tenant_id, ("ops",))
    _html, ops_token = _page(ops, "/console/people/sessions")
    body = {"url": "https://hooks.example/y", "event_types": ["label.purchased"], "enabled": "true"}
    assert ops.post("/console/developers/webhooks", data={**body, "csrf_token": ops_token}).status_code == 403
    admin = _client(app, seeded.tenant_id, ("admin",))
    _html, token = _page(admin, "/console/developers")
    foreign = admin.post(f"/console/developers/webhooks/{foreign_id}", data={**body, "csrf_token": token})
    assert foreign.status_code == 404
    with app.extensions["handoff"].sessions() as session:
        assert session.get(WebhookEndpoint, foreign_id).url == "https://hooks.example/handoff"
