"""The console over the Flask test client: sign-in, sessions, CSRF, CSP, throttling, tenants, roles, safe HTML."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.console import accounts
from gateway.console.tables import ConsoleSession
from gateway.exceptions.tables import ShipmentException
from gateway.kernel import models
from gateway.kernel.types import utcnow
from gateway.labels import tables as label_tables
from gateway.tracking import ingest
from schemas import events, taxonomy
from tests.helpers import shipment_body

PASSWORD = "correct horse battery staple"
PLANT = '<script>alert("x")</script><b>bold</b>'


@dataclass
class Seeded:
    tenant_id: str
    slug: str
    shipment_id: str
    reference: str
    tracking_number: str
    exception_id: str


def make_user(app: Any, tenant_id: str, roles: tuple[str, ...], email: str | None = None) -> str:
    address = email or f"u-{uuid.uuid4().hex[:8]}@example.com"
    with app.extensions["handoff"].sessions() as session:
        accounts.create_user(session, tenant_id, address, PASSWORD, list(roles), by="test")
        session.commit()
    return address


def seed(app: Any, make_tenant: Any, plant: str = PLANT) -> Seeded:
    """A tenant with a booked, labelled, tracked shipment and one open exception, HTML planted throughout."""
    tenant = make_tenant(("platform",))
    reference = f"CON-{uuid.uuid4().hex[:8]}"
    created = app.test_client().post(
        "/v1/shipments", json=shipment_body(reference=reference), headers=tenant.headers
    )
    assert created.status_code == 201, created.get_json()
    shipment_id = created.get_json()["id"]
    number = "1Z" + uuid.uuid4().hex[:16].upper()
    now = utcnow()
    with app.extensions["handoff"].sessions() as session:
        shipment = session.get(models.Shipment, shipment_id)
        shipment.status, shipment.carrier, shipment.service, shipment.tracking_number = (
            "purchased",
            "ups",
            "03",
            number,
        )
        shipment.destination.street1 = f"21 W 52nd St {plant}"
        session.add(
            label_tables.Label(
                tenant_id=tenant.tenant_id,
                shipment_id=shipment_id,
                carrier="ups",
                service="03",
                tracking_number=number,
                status="purchased",
                purchased_at=now,
            )
        )
        session.flush()
        ingest.ingest(
            session,
            [
                events.CanonicalEvent(
                    tracking_number=number,
                    carrier="ups",
                    occurred_at=now - timedelta(hours=2),
                    raw_code="NA",
                    raw_message=f"Nobody home {plant}",
                    milestone=taxonomy.Milestone.ATTEMPT_FAILED,
                    reason=taxonomy.ExceptionReason("recipient_unavailable"),
                    source_event_id=uuid.uuid4().hex,
                )
            ],
        )
        exc = ShipmentException(
            tenant_id=tenant.tenant_id,
            shipment_id=shipment_id,
            reason="recipient_unavailable",
            milestone="attempt_failed",
            status="open",
            owner="ops",
            created_at=now - timedelta(hours=5),
            due_at=now - timedelta(hours=1),
            actions=[
                {"at": now.isoformat(), "action": "note", "by": "system", "outcome": "done", "detail": plant}
            ],
            detail={},
        )
        session.add(exc)
        slug = session.get(models.Tenant, tenant.tenant_id).slug
        session.commit()
        return Seeded(tenant.tenant_id, slug, shipment_id, reference, number, exc.id)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(client: Any, email: str, password: str = PASSWORD, tenant: str = "") -> Any:
    token = csrf_of(client.get("/console/login").get_data(as_text=True))
    return client.post(
        "/console/login",
        data={
            "email": email,
            "password": password,
            "tenant": tenant,
            "csrf_token": token,
            "next": "/console/",
        },
    )


@pytest.fixture
def seeded(app: Any, make_tenant: Any) -> Seeded:
    return seed(app, make_tenant)


@pytest.fixture
def ops_client(app: Any, seeded: Seeded) -> Any:
    client = app.test_client()
    assert sign_in(client, make_user(app, seeded.tenant_id, ("ops",))).status_code == 303
    return client


def test_signing_in_sets_an_httponly_samesite_cookie_and_opens_the_control_tower(app, seeded):
    client = app.test_client()
    email = make_user(app, seeded.tenant_id, ("ops",))
    response = sign_in(client, email.upper())  # emails are matched case-insensitively
    assert response.status_code == 303 and response.headers["Location"] == "/console/"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("handoff_console="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # served over http here; CONSOLE_COOKIE_SECURE=auto sets it over https
    home = client.get("/console/")
    assert home.status_code == 200
    assert "Control tower" in home.get_data(as_text=True)
    assert "1 shipment(s) at risk" not in home.get_data(as_text=True)
    assert ">1 open exception(s)<" in home.get_data(as_text=True)


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(app, seeded):
    client = app.test_client()
    email = make_user(app, seeded.tenant_id, ("ops",))
    for attempt in (email, "nobody@example.com"):
        response = sign_in(client, attempt, "not the password at all")
        assert response.status_code == 401
        assert "The email or password is wrong." in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 303  # still signed out: to the login page


def test_an_email_in_two_tenants_must_name_its_tenant(app, make_tenant):
    first, second = seed(app, make_tenant), seed(app, make_tenant)
    email = f"both-{uuid.uuid4().hex[:6]}@example.com"
    make_user(app, first.tenant_id, ("ops",), email)
    make_user(app, second.tenant_id, ("ops",), email)
    client = app.test_client()
    assert "several tenants" in sign_in(client, email).get_data(as_text=True)
    assert sign_in(client, email, tenant=second.slug).status_code == 303
    assert second.reference in client.get("/console/shipments").get_data(as_text=True)


def test_failed_sign_ins_are_throttled_per_email_and_address_with_a_clear_message(app, seeded):
    client = app.test_client()
    email = make_user(app, seeded.tenant_id, ("ops",))
    limit = app.config["CONSOLE_LOGIN_FAILURES"]
    for _ in range(limit):
        assert sign_in(client, email, "wrong password!!").status_code == 401
    refused = sign_in(client, email)  # even the right password is not checked now
    assert refused.status_code == 429
    assert "Too many failed sign-ins for this email" in refused.get_data(as_text=True)
    other = make_user(app, seeded.tenant_id, ("ops",))
    assert sign_in(client, other).status_code == 303  # another email from the same address is not blocked


def test_signing_out_revokes_the_session_so_the_old_cookie_opens_nothing(app, seeded, ops_client):
    cookie = ops_client.get_cookie("handoff_console", path="/console").value
    token = csrf_of(ops_client.get("/console/").get_data(as_text=True))
    out = ops_client.post("/console/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["Location"].startswith("/console/login")
    replay = app.test_client()
    replay.set_cookie("handoff_console", cookie, path="/console")
    assert replay.get("/console/").status_code == 303
    with app.extensions["handoff"].sessions() as session:
        rows = session.execute(
            sa.select(ConsoleSession).where(ConsoleSession.tenant_id == seeded.tenant_id)
        ).scalars()
        assert all(r.revoked_at is not None for r in rows)


def test_a_post_without_the_csrf_token_is_refused_with_a_403_page(app, seeded, ops_client):
    refused = ops_client.post(
        "/console/exceptions/resolve",
        data={"ids": seeded.exception_id, "note": "done", "csrf_token": "0" * 64},
    )
    assert refused.status_code == 403
    assert refused.mimetype == "text/html"
    assert "was not sent from a console page" in refused.get_data(as_text=True)
    missing = ops_client.post("/console/logout", data={})
    assert missing.status_code == 403
    login = app.test_client().post("/console/login", data={"email": "a@b.c", "password": "x" * 12})
    assert login.status_code == 403  # the login form has its token too (no login CSRF)
    with app.extensions["handoff"].sessions() as session:
        assert session.get(ShipmentException, seeded.exception_id).status == "open"


def test_a_planted_cookie_does_not_give_away_its_csrf_token(app: Any) -> None:
    """A site that can plant the pre-sign-in cookie still cannot make the token that goes with it."""
    import hashlib
    import hmac

    planted = "chosen-by-an-attacker-" + uuid.uuid4().hex
    victim = app.test_client()
    victim.set_cookie("handoff_console_pre", planted, path="/console")
    issued = csrf_of(victim.get("/console/login").get_data(as_text=True))
    # Tokens made from the cookie alone (the scheme before a server key, and plain hashes) differ...
    guesses = [
        hmac.new(planted.encode(), b"handoff-console-csrf-v1", hashlib.sha256).hexdigest(),
        hmac.new(planted.encode(), b"handoff-console-csrf-v2", hashlib.sha256).hexdigest(),
        hashlib.sha256(planted.encode()).hexdigest(),
    ]
    assert issued not in guesses
    # ... and are refused, while the token the page issued for that cookie is accepted.
    for guess in guesses:
        forged = victim.post(
            "/console/login", data={"csrf_token": guess, "email": "a@b.c", "password": "x" * 12}
        )
        assert forged.status_code == 403
    honest = victim.post(
        "/console/login", data={"csrf_token": issued, "email": "a@b.c", "password": "x" * 12}
    )
    assert honest.status_code != 403  # a wrong password, not a forged form


def test_every_console_page_sends_a_csp_without_unsafe_inline_and_refuses_framing(app, seeded, ops_client):
    pages = [
        "/console/",
        "/console/shipments",
        f"/console/shipments/{seeded.shipment_id}",
        "/console/exceptions",
    ]
    for path in [*pages, "/console/static/console.css"]:
        response = ops_client.get(path)
        assert response.status_code == 200, path
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
    login = app.test_client().get("/console/login")
    assert "unsafe-inline" not in login.headers["Content-Security-Policy"]
    for path in pages:
        html = ops_client.get(path).get_data(as_text=True)
        assert "<script" not in html and " style=" not in html and "<style" not in html, path


def test_another_tenants_shipment_is_a_404_and_its_exceptions_cannot_be_touched(
    app, make_tenant, seeded, ops_client
):
    other = seed(app, make_tenant)
    assert ops_client.get(f"/console/shipments/{other.shipment_id}").status_code == 404
    listed = ops_client.get("/console/shipments").get_data(as_text=True)
    assert seeded.reference in listed and other.reference not in listed
    queue = ops_client.get("/console/exceptions").get_data(as_text=True)
    assert seeded.exception_id in queue and other.exception_id not in queue
    token = csrf_of(queue)
    ops_client.post(
        "/console/exceptions/resolve", data={"ids": other.exception_id, "note": "x", "csrf_token": token}
    )
    assert (
        ops_client.post(
            f"/console/exceptions/{other.exception_id}/notify", data={"csrf_token": token}
        ).status_code
        == 404
    )
    with app.extensions["handoff"].sessions() as session:
        untouched = session.get(ShipmentException, other.exception_id)
        assert untouched.status == "open" and len(untouched.actions) == 1


def test_roles_decide_who_sees_and_who_acts(app, seeded):
    finance = app.test_client()
    assert sign_in(finance, make_user(app, seeded.tenant_id, ("finance",))).status_code == 303
    assert finance.get("/console/").status_code == 200
    queue = finance.get("/console/exceptions").get_data(as_text=True)
    assert "Resolve" not in queue  # read-only for finance
    token = csrf_of(queue)
    refused = finance.post(
        "/console/exceptions/resolve", data={"ids": seeded.exception_id, "note": "x", "csrf_token": token}
    )
    assert refused.status_code == 403
    assert finance.get("/console/users/invite").status_code == 403
    platform = app.test_client()
    assert sign_in(platform, make_user(app, seeded.tenant_id, ("platform",))).status_code == 303
    assert platform.get("/console/").status_code == 403


def test_ops_resolve_with_a_note_and_notify_and_the_history_names_the_user(app, seeded, ops_client):
    queue = ops_client.get("/console/exceptions").get_data(as_text=True)
    token = csrf_of(queue)
    notified = ops_client.post(
        f"/console/exceptions/{seeded.exception_id}/notify", data={"csrf_token": token}
    )
    assert notified.status_code == 303 and "notified-no-endpoint" in notified.headers["Location"]
    done = ops_client.post(
        "/console/exceptions/resolve",
        data={"ids": [seeded.exception_id], "note": "called them", "csrf_token": token},
    )
    assert done.status_code == 303 and done.headers["Location"].endswith("done=resolved-1")
    with app.extensions["handoff"].sessions() as session:
        exc = session.get(ShipmentException, seeded.exception_id)
        assert exc.status == "resolved" and exc.resolution == "called them"
        assert exc.resolved_by.startswith("usr_")
        assert [a["by"] for a in exc.actions[-2:]] == [exc.resolved_by, exc.resolved_by]
    assert seeded.exception_id not in ops_client.get("/console/exceptions").get_data(as_text=True)


def test_bulk_resolve_closes_every_checked_exception(app, make_tenant):
    first = seed(app, make_tenant)
    client = app.test_client()
    assert sign_in(client, make_user(app, first.tenant_id, ("ops",))).status_code == 303
    with app.extensions["handoff"].sessions() as session:
        twin = ShipmentException(
            tenant_id=first.tenant_id,
            shipment_id=first.shipment_id,
            reason="at_risk",
            status="open",
            owner="ops",
            actions=[],
            detail={},
        )
        session.add(twin)
        session.commit()
        twin_id = twin.id
    home = client.get("/console/").get_data(as_text=True)
    assert "1 shipment(s) at risk" in home
    token = csrf_of(client.get("/console/exceptions").get_data(as_text=True))
    done = client.post(
        "/console/exceptions/resolve",
        data={"ids": [first.exception_id, twin_id], "note": "bulk", "csrf_token": token},
    )
    assert done.headers["Location"].endswith("done=resolved-2")


def test_search_finds_a_shipment_by_reference_and_by_tracking_number(app, seeded, ops_client):
    for q in (seeded.reference, seeded.tracking_number):
        html = ops_client.get(f"/console/shipments?q={q}").get_data(as_text=True)
        assert f"/console/shipments/{seeded.shipment_id}" in html
    assert "No shipment matches." in ops_client.get("/console/shipments?q=nothing-like-it").get_data(
        as_text=True
    )
    assert seeded.reference in ops_client.get(
        "/console/shipments?milestone=attempt_failed&carrier=ups"
    ).get_data(as_text=True)


def test_planted_html_in_an_address_an_event_and_a_note_is_shown_as_text(app, seeded, ops_client):
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;"
    detail = ops_client.get(f"/console/shipments/{seeded.shipment_id}").get_data(as_text=True)
    queue = ops_client.get("/console/exceptions").get_data(as_text=True)
    assert detail.count(escaped) >= 3  # the address line, the carrier's event text, the exception's note
    assert queue.count(escaped) >= 1
    for html in (detail, queue):
        assert "<script>" not in html and "<b>bold" not in html


def test_an_admin_invites_a_person_who_sets_a_password_once(app, seeded):
    admin = app.test_client()
    assert sign_in(admin, make_user(app, seeded.tenant_id, ("admin",))).status_code == 303
    token = csrf_of(admin.get("/console/users/invite").get_data(as_text=True))
    invitee = f"new-{uuid.uuid4().hex[:6]}@example.com"
    page = admin.post("/console/users/invite", data={"email": invitee, "roles": ["ops"], "csrf_token": token})
    link = re.search(r'id="invite-link">([^<]+)<', page.get_data(as_text=True)).group(1)
    path = link.split("://", 1)[1].split("/", 1)[1]
    guest = app.test_client()
    form = guest.get(f"/{path}")
    assert form.status_code == 200
    accepted = guest.post(
        f"/{path}",
        data={"password": PASSWORD, "confirm": PASSWORD, "csrf_token": csrf_of(form.get_data(as_text=True))},
    )
    assert accepted.status_code == 303
    assert guest.get(f"/{path}").status_code == 404  # one use only
    assert sign_in(app.test_client(), invitee).status_code == 303


def test_the_cli_creates_the_first_user_and_prints_a_generated_password_once(app, seeded):
    runner = app.test_cli_runner()
    email = f"first-{uuid.uuid4().hex[:6]}@example.com"
    result = runner.invoke(
        args=["users", "create", "--tenant", seeded.slug, "--email", email, "--roles", "admin"]
    )
    assert result.exit_code == 0, result.output
    password = result.stdout.strip().splitlines()[-1]
    assert sign_in(app.test_client(), email, password).status_code == 303
    piped = runner.invoke(
        args=["users", "create", "--tenant", seeded.slug, "--email", "p-" + email, "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert piped.exit_code == 0, piped.output
    assert PASSWORD not in piped.output


def test_the_tower_shows_todays_on_time_and_first_attempt_rates(app: Any, seeded: Seeded) -> None:
    # A delivery today within its promise: the KPIs give "100.0" as a decimal string, the page a number.
    with app.extensions["handoff"].sessions() as session:
        shipment = session.get(models.Shipment, seeded.shipment_id)
        shipment.promise_date = utcnow().date() + timedelta(days=2)
        ingest.ingest(
            session,
            [
                events.CanonicalEvent(
                    tracking_number=seeded.tracking_number,
                    carrier="ups",
                    occurred_at=utcnow() - timedelta(minutes=5),
                    raw_code="DL",
                    milestone=taxonomy.Milestone.DELIVERED,
                    source_event_id=uuid.uuid4().hex,
                )
            ],
        )
        session.commit()
    client = app.test_client()
    sign_in(client, make_user(app, seeded.tenant_id, ("ops",)))
    home = client.get("/console/")
    assert home.status_code == 200
    text = home.get_data(as_text=True)
    assert "100.0 %" in text  # on time today
    assert "0.0 %" in text  # first attempt: the delivery came after a failed attempt


def test_the_towers_figures_are_kept_a_minute_and_say_when_they_were_computed(
    app: Any, seeded: Seeded
) -> None:
    client = app.test_client()
    sign_in(client, make_user(app, seeded.tenant_id, ("ops",)))
    app.extensions["handoff"].redis.delete(
        f"handoff:console:tower:{seeded.tenant_id}:{utcnow().date().isoformat()}"
    )
    first = client.get("/console/").get_data(as_text=True)
    stamp = re.search(r"as of (\d\d:\d\d:\d\d) UTC", first)
    assert stamp is not None
    # The shipment moves out of the week: the kept figures (and their time) are shown, not recomputed.
    with app.extensions["handoff"].sessions() as session:
        session.execute(
            sa.update(models.Shipment)
            .where(models.Shipment.id == seeded.shipment_id)
            .values(created_at=utcnow() - timedelta(days=30))
        )
        session.commit()
    again = client.get("/console/").get_data(as_text=True)
    assert f"as of {stamp.group(1)} UTC" in again


def test_shipments_filter_by_the_day_booked_and_by_merchant(app, seeded, ops_client):
    with app.extensions["handoff"].sessions() as session:
        shipment = session.get(models.Shipment, seeded.shipment_id)
        shipment.metadata_ = {**(shipment.metadata_ or {}), "merchant": "Copperleaf Books"}
        shipment.created_at = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
        session.commit()

    def listed(query: str) -> bool:
        page = ops_client.get(f"/console/shipments?{query}")
        assert page.status_code == 200
        return f"/console/shipments/{seeded.shipment_id}" in page.get_data(as_text=True)

    assert listed("booked_from=2026-11-02&booked_to=2026-11-02")
    assert not listed("booked_from=2026-11-03")
    assert not listed("booked_to=2026-11-01")
    assert listed("merchant=Copperleaf+Books&booked_from=2026-11-01")
    assert not listed("merchant=Northwind")
    assert listed("booked_from=not-a-day")  # no bound, not an error


def test_the_sign_in_page_works_while_redis_is_unreachable(settings: dict[str, Any]) -> None:
    """The CSRF key lives in Redis; without Redis the console still serves and checks its forms."""
    from gateway import create_app

    broken = create_app({**settings, "REDIS_URL": "redis://127.0.0.1:1/0"})
    try:
        browser = broken.test_client()
        page = browser.get("/console/login")
        assert page.status_code == 200
        token = csrf_of(page.get_data(as_text=True))
        tried = browser.post(
            "/console/login", data={"csrf_token": token, "email": "a@b.c", "password": "x" * 12}
        )
        assert tried.status_code == 401  # the form's token is accepted: a wrong password, not a forgery
        forged = browser.post(
            "/console/login", data={"csrf_token": "0" * 64, "email": "a@b.c", "password": "x" * 12}
        )
        assert forged.status_code == 403
    finally:
        broken.extensions["handoff"].dispose()
