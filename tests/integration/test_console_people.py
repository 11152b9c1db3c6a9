"""People, not keys: one's sessions (idle timeout, list, revoke), the tenant's users (disable, re-enable).

The clock is moved the way the other console tests do it: by dating the stored rows back (here a
session's ``last_seen_at``), then asking the real pages.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.console.accounts import token_hash
from gateway.console.tables import ConsoleAuditEntry, ConsoleSession, ConsoleUser
from gateway.kernel.types import utcnow
from tests.integration.test_console_web import PLANT, csrf_of, make_user, sign_in

WRONG = "The email or password is wrong."


def browser(app: Any, email: str, agent: str = "Mozilla/5.0 (X11; Linux) Firefox/128.0") -> Any:
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = agent
    assert sign_in(client, email).status_code == 303
    return client


def session_of(app: Any, client: Any) -> ConsoleSession:
    cookie = client.get_cookie("handoff_console", path="/console").value
    with app.extensions["handoff"].sessions() as session:
        row = session.execute(
            sa.select(ConsoleSession).where(ConsoleSession.token_hash == token_hash(cookie))
        ).scalar_one()
        session.expunge(row)
        return row


def user_id(app: Any, email: str) -> str:
    with app.extensions["handoff"].sessions() as session:
        found: str = session.execute(sa.select(ConsoleUser.id).where(ConsoleUser.email == email)).scalar_one()
        return found


def set_last_seen(app: Any, session_id: str, ago: timedelta) -> None:
    with app.extensions["handoff"].sessions() as session:
        session.execute(
            sa.update(ConsoleSession)
            .where(ConsoleSession.id == session_id)
            .values(last_seen_at=utcnow() - ago)
        )
        session.commit()


def audit(app: Any, tenant_id: str) -> list[ConsoleAuditEntry]:
    with app.extensions["handoff"].sessions() as session:
        rows = session.execute(
            sa.select(ConsoleAuditEntry)
            .where(ConsoleAuditEntry.tenant_id == tenant_id)
            .order_by(ConsoleAuditEntry.id)
        ).scalars()
        return list(rows)


def signed_out(client: Any) -> bool:
    response = client.get("/console/people/sessions")
    return response.status_code == 303 and response.headers["Location"].startswith("/console/login")


@pytest.fixture
def tenant(make_tenant: Any) -> str:
    tenant_id: str = make_tenant(("platform",)).tenant_id
    return tenant_id


# -- sessions -------------------------------------------------------------------------------------------


def test_a_session_unused_longer_than_the_idle_timeout_is_refused_and_sends_to_sign_in(app, tenant):
    email = make_user(app, tenant, ("ops",))
    client = browser(app, email)
    row = session_of(app, client)
    set_last_seen(app, row.id, timedelta(minutes=29))
    assert client.get("/console/").status_code == 200  # 29 minutes idle: still open (30 by default)
    set_last_seen(app, row.id, timedelta(minutes=31))
    refused = client.get("/console/shipments")
    assert refused.status_code == 303
    assert refused.headers["Location"].startswith("/console/login?next=/console/shipments")
    assert "m=expired" in refused.headers["Location"]
    assert client.get_cookie("handoff_console", path="/console") is None  # the dead cookie is dropped
    page = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Your session has ended" in page
    assert sign_in(client, email).status_code == 303  # signing in again opens a new session
    assert client.get("/console/").status_code == 200


def test_last_seen_is_written_at_most_once_a_minute(app, tenant):
    client = browser(app, make_user(app, tenant, ("ops",)))
    row = session_of(app, client)
    set_last_seen(app, row.id, timedelta(seconds=20))
    before = session_of(app, client).last_seen_at
    assert client.get("/console/people/sessions").status_code == 200
    assert session_of(app, client).last_seen_at == before  # 20 s ago: not written again
    set_last_seen(app, row.id, timedelta(minutes=5))
    assert client.get("/console/people/sessions").status_code == 200
    assert utcnow() - session_of(app, client).last_seen_at < timedelta(seconds=30)


def test_your_sessions_lists_your_own_with_browser_and_this_one_shown_as_text(app, tenant):
    email = make_user(app, tenant, ("finance",))
    laptop = browser(app, email, agent="Laptop Firefox")
    phone = browser(app, email, agent=f"Phone {PLANT}")
    other = browser(app, make_user(app, tenant, ("ops",)), agent="Someone Else's Browser")
    response = laptop.get("/console/people/sessions")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    mine, theirs = session_of(app, laptop), session_of(app, other)
    assert f'id="session-{mine.id}"' in html and f'id="session-{session_of(app, phone).id}"' in html
    assert f'id="session-{theirs.id}"' not in html and "Someone Else" not in html
    row = html.split(f'id="session-{mine.id}"', 1)[1].split("</tr>", 1)[0]
    assert "Laptop Firefox" in row and "(this one)" in row and html.count("(this one)") == 1
    assert "<script>alert" not in html and "Phone &lt;script&gt;" in html
    assert 'href="/console/people/sessions"' in html  # in the navigation for every role
    assert 'href="/console/people"' not in html  # the users page is for admins


def test_revoking_a_session_signs_that_browser_out_and_is_audited(app, tenant):
    email = make_user(app, tenant, ("ops",))
    laptop, phone = browser(app, email, "Laptop"), browser(app, email, "Phone")
    target = session_of(app, phone)
    _html, token = page(laptop, "/console/people/sessions")
    revoked = laptop.post(f"/console/people/sessions/{target.id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    after = laptop.get(revoked.headers["Location"]).get_data(as_text=True)
    assert "revoked 1 session" in after and f'id="session-{target.id}"' not in after
    assert signed_out(phone)
    assert laptop.get("/console/").status_code == 200
    uid = user_id(app, email)
    assert session_of(app, laptop).revoked_at is None
    with app.extensions["handoff"].sessions() as session:
        assert session.get(ConsoleSession, target.id).revoked_by == uid
    [entry] = audit(app, tenant)
    assert (entry.actor, entry.action, entry.subject) == (uid, "session.revoke", target.id)
    again = laptop.post(f"/console/people/sessions/{target.id}/revoke", data={"csrf_token": token})
    assert again.status_code == 404


def test_revoke_all_others_keeps_this_one_and_revoking_this_one_signs_out(app, tenant):
    email = make_user(app, tenant, ("ops",))
    here, b, c = (browser(app, email, agent) for agent in ("Here", "B", "C"))
    _html, token = page(here, "/console/people/sessions")
    done = here.post("/console/people/sessions/revoke-others", data={"csrf_token": token})
    assert done.status_code == 303
    assert "revoked 2 other session(s)" in here.get(done.headers["Location"]).get_data(as_text=True)
    assert signed_out(b) and signed_out(c)
    mine = session_of(app, here)
    out = here.post(f"/console/people/sessions/{mine.id}/revoke", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["Location"] == "/console/login?m=signed-out"
    assert signed_out(here)


def test_another_users_session_cannot_be_revoked(app, tenant):
    mine = browser(app, make_user(app, tenant, ("admin",)))
    theirs = browser(app, make_user(app, tenant, ("ops",)))
    target = session_of(app, theirs)
    _html, token = page(mine, "/console/people/sessions")
    refused = mine.post(f"/console/people/sessions/{target.id}/revoke", data={"csrf_token": token})
    assert refused.status_code == 404
    assert theirs.get("/console/").status_code == 200


# -- users ----------------------------------------------------------------------------------------------


def page(client: Any, path: str) -> tuple[str, str]:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    return html, csrf_of(html)


def test_an_admin_disables_a_user_who_is_signed_out_and_refused_then_re_enables_them(app, tenant):
    admin_email = make_user(app, tenant, ("admin",))
    admin = browser(app, admin_email)
    email = make_user(app, tenant, ("ops",))
    first, second = browser(app, email, "One"), browser(app, email, "Two")
    uid = user_id(app, email)
    html, token = page(admin, "/console/people")
    assert f'id="user-{uid}"' in html and 'href="/console/users/invite"' in html
    row = html.split(f'id="user-{uid}"', 1)[1].split("</tr>", 1)[0]
    assert email in row and "ops" in row and "Disable" in row
    assert re.search(r"<td>2</td>", row)  # two open sessions

    disabled = admin.post(f"/console/people/users/{uid}/disable", data={"csrf_token": token})
    assert disabled.status_code == 303
    listing = admin.get(disabled.headers["Location"]).get_data(as_text=True)
    assert f"disabled {email} and ended 2 session(s)" in listing
    row = listing.split(f'id="user-{uid}"', 1)[1].split("</tr>", 1)[0]
    assert f"by {admin_email}" in row and "Re-enable" in row
    assert signed_out(first) and signed_out(second)
    refused = sign_in(app.test_client(), email)
    assert refused.status_code == 401 and WRONG in refused.get_data(as_text=True)
    wrong = sign_in(app.test_client(), email, password="not the password at all")
    assert wrong.status_code == 401 and WRONG in wrong.get_data(as_text=True)  # the same words

    enabled = admin.post(f"/console/people/users/{uid}/enable", data={"csrf_token": token})
    assert enabled.status_code == 303
    assert f"re-enabled {email}" in admin.get(enabled.headers["Location"]).get_data(as_text=True)
    assert signed_out(first)  # the old sessions stay ended
    assert sign_in(app.test_client(), email).status_code == 303
    admin_id = user_id(app, admin_email)
    entries = [(e.actor, e.action, e.subject) for e in audit(app, tenant)]
    assert entries == [(admin_id, "user.disable", uid), (admin_id, "user.enable", uid)]
    assert "user.disable" in admin.get("/console/people").get_data(as_text=True)


def test_an_admin_cannot_disable_themselves(app, tenant):
    email = make_user(app, tenant, ("admin",))
    admin = browser(app, email)
    uid = user_id(app, email)
    html, token = page(admin, "/console/people")
    assert f"/console/people/users/{uid}/disable" not in html
    refused = admin.post(f"/console/people/users/{uid}/disable", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "You cannot disable yourself" in refused.get_data(as_text=True)
    assert admin.get("/console/").status_code == 200
    with app.extensions["handoff"].sessions() as session:
        assert session.get(ConsoleUser, uid).disabled_at is None


def test_the_users_page_is_for_admins_only(app, tenant):
    target = user_id(app, make_user(app, tenant, ("finance",)))
    for roles in (("ops",), ("finance",), ("platform",)):
        client = browser(app, make_user(app, tenant, roles))
        assert client.get("/console/people").status_code == 403
        _html, token = page(client, "/console/people/sessions")
        refused = client.post(f"/console/people/users/{target}/disable", data={"csrf_token": token})
        assert refused.status_code == 403
    with app.extensions["handoff"].sessions() as session:
        assert session.get(ConsoleUser, target).disabled_at is None
    admin = browser(app, make_user(app, tenant, ("admin",)))
    assert 'href="/console/people"' in admin.get("/console/").get_data(as_text=True)


def test_another_tenants_user_is_a_404_and_not_listed(app, tenant, make_tenant):
    other = make_tenant(("platform",)).tenant_id
    foreign_email = make_user(app, other, ("ops",))
    foreign = user_id(app, foreign_email)
    admin = browser(app, make_user(app, tenant, ("admin",)))
    html, token = page(admin, "/console/people")
    assert foreign_email not in html
    for action in ("disable", "enable"):
        refused = admin.post(f"/console/people/users/{foreign}/{action}", data={"csrf_token": token})
        assert refused.status_code == 404
    assert sign_in(app.test_client(), foreign_email).status_code == 303


@pytest.mark.parametrize("action", ["disable", "revoke", "revoke-others"])
def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(app, tenant, action):
    admin = browser(app, make_user(app, tenant, ("admin",)))
    email = make_user(app, tenant, ("ops",))
    victim = browser(app, email)
    uid, target = user_id(app, email), session_of(app, victim)
    other_own = browser(app, make_user(app, tenant, ("ops",)))
    paths = {
        "disable": f"/console/people/users/{uid}/disable",
        "revoke": f"/console/people/sessions/{session_of(app, admin).id}/revoke",
        "revoke-others": "/console/people/sessions/revoke-others",
    }
    refused = admin.post(paths[action], data={"csrf_token": "0" * 64})
    assert refused.status_code == 403 and "not sent from a console page" in refused.get_data(as_text=True)
    assert victim.get("/console/").status_code == 200 and admin.get("/console/").status_code == 200
    assert other_own.get("/console/").status_code == 200
    with app.extensions["handoff"].sessions() as session:
        assert session.get(ConsoleUser, uid).disabled_at is None
        assert session.get(ConsoleSession, target.id).revoked_at is None
    assert audit(app, tenant) == []


def _admin_post(app: Any, admin: Any, path: str, **data: Any) -> Any:
    token = csrf_of(admin.get("/console/people").get_data(as_text=True))
    return admin.post(path, data={"csrf_token": token, **data})


def test_an_admin_changes_a_users_roles_which_apply_at_once_and_are_audited(app, tenant):
    admin_email = make_user(app, tenant, ("admin",))
    ops_email = make_user(app, tenant, ("ops",))
    admin, person = browser(app, admin_email), browser(app, ops_email)
    assert person.get("/console/developers").status_code == 403
    target = user_id(app, ops_email)

    done = _admin_post(app, admin, f"/console/people/users/{target}/roles", roles=["ops", "platform"])

    assert done.status_code == 303
    assert "now has the roles ops, platform" in admin.get(done.headers["Location"]).get_data(as_text=True)
    assert person.get("/console/developers").status_code == 200  # the next page, no new sign-in
    entry = audit(app, tenant)[-1]
    assert (entry.action, entry.subject, entry.actor) == ("user.roles", target, user_id(app, admin_email))
    assert (entry.detail["before"], entry.detail["after"]) == ("ops", "ops,platform")
    for bad in ([], ["owner"]):
        refused = _admin_post(app, admin, f"/console/people/users/{target}/roles", roles=bad)
        assert refused.status_code == 409 and "roles must be a non-empty subset" in refused.get_data(
            as_text=True
        )
    me = user_id(app, admin_email)
    refused = _admin_post(app, admin, f"/console/people/users/{me}/roles", roles=["ops"])
    assert refused.status_code == 409 and "cannot take admin away from yourself" in refused.get_data(
        as_text=True
    )
    assert person.get("/console/developers").status_code == 200  # nothing changed by the refusals
    assert len([e for e in audit(app, tenant) if e.action == "user.roles"]) == 1


def test_an_admin_sees_open_invitations_and_withdraws_one_whose_link_then_fails(app, tenant, make_tenant):
    admin_email = make_user(app, tenant, ("admin",))
    admin = browser(app, admin_email)
    page = admin.get("/console/users/invite").get_data(as_text=True)
    sent = admin.post(
        "/console/users/invite",
        data={"csrf_token": csrf_of(page), "email": "new.person@example.com", "roles": ["finance"]},
    )
    link = re.search(
        r'<code id="invite-link">[^<]*(/console/invitations/[^<]+)</code>', sent.get_data(as_text=True)
    )
    assert link is not None
    listed = admin.get("/console/people").get_data(as_text=True)
    row = re.search(r'<tr id="invitation-([^"]+)">(.*?)</tr>', listed, re.S)
    assert row is not None and "new.person@example.com" in row.group(2)
    assert app.test_client().get(link.group(1)).status_code == 200

    done = _admin_post(app, admin, f"/console/people/invitations/{row.group(1)}/withdraw")

    assert done.status_code == 303
    assert app.test_client().get(link.group(1)).status_code == 404  # the link stopped working
    assert 'id="invitation-' not in admin.get("/console/people").get_data(as_text=True)
    assert audit(app, tenant)[-1].action == "invitation.withdraw"
    again = _admin_post(app, admin, f"/console/people/invitations/{row.group(1)}/withdraw")
    assert again.status_code == 404
    other = make_tenant(("platform",))
    stranger = browser(app, make_user(app, other.tenant_id, ("admin",)))
    assert (
        _admin_post(
            app, stranger, f"/console/people/users/{user_id(app, admin_email)}/roles", roles=["ops"]
        ).status_code
        == 404
    )


def test_disabling_an_admin_withdraws_the_invitations_they_sent(app, tenant):
    first, second = make_user(app, tenant, ("admin",)), make_user(app, tenant, ("admin",))
    inviter, other = browser(app, first), browser(app, second)
    page = inviter.get("/console/users/invite").get_data(as_text=True)
    sent = inviter.post(
        "/console/users/invite",
        data={"csrf_token": csrf_of(page), "email": "back.door@example.com", "roles": ["admin"]},
    )
    link = re.search(
        r'<code id="invite-link">[^<]*(/console/invitations/[^<]+)</code>', sent.get_data(as_text=True)
    )
    assert link is not None and app.test_client().get(link.group(1)).status_code == 200

    assert _admin_post(app, other, f"/console/people/users/{user_id(app, first)}/disable").status_code == 303

    assert app.test_client().get(link.group(1)).status_code == 404  # no way back in through it
    entry = [e for e in audit(app, tenant) if e.action == "user.disable"][-1]
    assert entry.detail["invitations_withdrawn"] == 1
