"""Console pages: people, not keys (issue 20 item 1; see docs/CONSOLE.md).

Every signed-in user sees their own sessions and may revoke one, or all but this one. Admins see the
tenant's users and disable or re-enable them (disabling revokes all of that user's sessions at once;
sign-in then refuses them as it refuses a wrong password). Each action goes to the console audit log
with the acting user's id (``gateway.console.people``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from urllib.parse import quote

import flask
from flask import request
from sqlalchemy.orm import Session

from gateway.console import _web, people
from gateway.console._web import ConsoleError, WebResponse, render, signed_in
from gateway.console.tables import ConsoleUser
from gateway.kernel import auth, web
from gateway.kernel.types import utcnow

Route = Callable[..., None]
ADMIN = ("admin",)
T = TypeVar("T")
EVERYONE = tuple(sorted(auth.ROLES))  # any role: for the navigation link (signed_in() alone lets all in)


def _user() -> ConsoleUser:
    user = _web.load_user()
    assert user is not None  # signed_in
    return user


def _done(message: str, where: str) -> WebResponse:
    return flask.redirect(f"{where}?done={quote(message)}", 303)


# -- your sessions ----------------------------------------------------------------------------------


@signed_in()
def own_sessions() -> flask.Response:
    """The signed-in user's open sessions: created, last seen, browser, this one; revoke buttons."""
    user = _user()
    current = _web.current_session()
    rows = people.own_sessions(web.db(), user, utcnow(), _web.idle_timeout())
    return render(
        "people_sessions.html",
        rows=rows,
        current_id=current.id if current else "",
        idle_minutes=int(_web.idle_timeout().total_seconds() // 60),
        done=request.args.get("done", "")[:120],
    )


@signed_in()
def revoke_session(session_id: str) -> WebResponse:
    """Revoke one of one's own sessions; revoking this one signs out."""
    user = _user()
    session = web.db()
    row = people.revoke_own(session, user, session_id[:64], utcnow())
    if row is None:
        raise ConsoleError(404, "No such open session of yours.")
    session.commit()
    current = _web.current_session()
    if current is not None and current.id == row.id:
        response = flask.redirect("/console/login?m=signed-out", 303)
        _web.drop_cookie(response, _web.SESSION_COOKIE)
        return response
    return _done("revoked 1 session", "/console/people/sessions")


@signed_in()
def revoke_others() -> WebResponse:
    """Revoke every session of one's own but this browser's."""
    user = _user()
    current = _web.current_session()
    assert current is not None  # signed_in
    session = web.db()
    count = people.revoke_others(session, user, current.id, utcnow())
    session.commit()
    return _done(f"revoked {count} other session(s)", "/console/people/sessions")


# -- the tenant's users (admins) ------------------------------------------------------------------------


def _users_page(http_status: int = 200, error: str = "") -> flask.Response:
    user = _user()
    session = web.db()
    return render(
        "people.html",
        http_status,
        users=people.users(session, user.tenant_id, utcnow(), _web.idle_timeout()),
        audit=people.recent(session, user.tenant_id),
        invitations=people.open_invitations(session, user.tenant_id, utcnow()),
        roles=sorted(auth.ROLES),
        me=user.id,
        done=request.args.get("done", "")[:120],
        error=error,
    )


@signed_in(*ADMIN)
def users() -> flask.Response:
    """The tenant's users, with disable and re-enable buttons, and the console audit log."""
    return _users_page()


def _change_user(
    change: Callable[[Session, ConsoleUser, str, datetime], T | None],
    user_id: str,
    said: Callable[[T], str],
    missing: str = "No such user.",
) -> WebResponse:
    """Run one of ``people``'s changes (disable, enable, roles, withdraw) on an id of the admin's tenant and
    commit; a refusal is the users page with a 409, an unknown id a 404 (``missing``), and what was done
    is ``said(found)``."""
    admin = _user()
    session = web.db()
    try:
        found = change(session, admin, user_id[:64], utcnow())
    except people.PeopleError as exc:
        session.rollback()
        return _users_page(409, error=str(exc))
    if found is None:
        raise ConsoleError(404, missing)
    session.commit()
    return _done(said(found), "/console/people")


@signed_in(*ADMIN)
def disable(user_id: str) -> WebResponse:
    """Disable a user of the tenant: all their sessions end now and sign-in refuses them."""
    return _change_user(
        people.disable, user_id, lambda found: f"disabled {found[0].email} and ended {found[1]} session(s)"
    )


@signed_in(*ADMIN)
def enable(user_id: str) -> WebResponse:
    """Let a disabled user sign in again."""
    return _change_user(people.enable, user_id, lambda found: f"re-enabled {found.email}")


@signed_in(*ADMIN)
def set_roles(user_id: str) -> WebResponse:
    """Change the roles of a user of the tenant."""
    return _change_user(
        lambda session, admin, uid, now: people.set_roles(
            session, admin, uid, request.form.getlist("roles"), now
        ),
        user_id,
        lambda found: f"{found.email} now has the roles {found.roles.replace(',', ', ')}",
    )


@signed_in(*ADMIN)
def withdraw(invitation_id: str) -> WebResponse:
    """Make an open invitation link stop working."""
    return _change_user(
        people.withdraw,
        invitation_id,
        lambda found: f"withdrew the invitation of {found.email}",
        "No such open invitation.",
    )


def register(route: Route) -> None:
    """Add this area's pages with ``route(rule, endpoint, view, methods)``."""
    route("/console/people/sessions", "people_sessions", own_sessions)
    route("/console/people/sessions/revoke-others", "people_revoke_others", revoke_others, ("POST",))
    route(
        "/console/people/sessions/<string:session_id>/revoke",
        "people_revoke_session",
        revoke_session,
        ("POST",),
    )
    route("/console/people", "people", users)
    route("/console/people/users/<string:user_id>/disable", "people_disable", disable, ("POST",))
    route("/console/people/users/<string:user_id>/enable", "people_enable", enable, ("POST",))
    route("/console/people/users/<string:user_id>/roles", "people_roles", set_roles, ("POST",))
    route(
        "/console/people/invitations/<string:invitation_id>/withdraw", "people_withdraw", withdraw, ("POST",)
    )


NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("/console/people", "People", ADMIN),
    ("/console/people/sessions", "Your sessions", EVERYONE),
]  # (path, label, roles that see it)
