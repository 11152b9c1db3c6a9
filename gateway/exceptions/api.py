"""Playbooks and exceptions over HTTP: ``/v1/playbook`` (versions) and ``/v1/exceptions`` (the queue)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView

from gateway.exceptions import actions, playbooks, store
from gateway.exceptions import schemas as schema
from gateway.exceptions.tables import Playbook, ShipmentException
from gateway.kernel import auth, paging
from gateway.kernel.errors import Problem
from gateway.kernel.http import Blueprint
from gateway.kernel.types import utcnow
from gateway.kernel.web import db

blp = Blueprint(
    "exceptions",
    __name__,
    url_prefix="/v1",
    description=(
        "Exceptions with owners and timers, and the playbooks that set them: who owns each reason, how "
        "long they have, what is done automatically, who it escalates to (docs/EXCEPTIONS.md)."
    ),
)

_VERSIONS = 50


def _defaults() -> list[dict[str, Any]]:
    reasons = [playbooks.AT_RISK, *(r.value for r in playbooks.taxonomy.ExceptionReason)]
    return [playbooks.default_entry(r).to_dict() for r in reasons]


def _playbook(row: Playbook | None) -> dict[str, Any]:
    if row is None:
        return {
            "version": None,
            "document": {"entries": []},
            "note": None,
            "created_by": None,
            "created_at": None,
        }
    return {
        "version": row.version,
        "document": row.document,
        "note": row.note,
        "created_by": row.created_by,
        "created_at": row.created_at,
    }


@blp.route("/playbook")
class PlaybookNow(MethodView):
    @auth.require("ops")
    @blp.response(200, schema.PlaybookSchema)
    def get(self) -> Any:
        """The playbook in force (version null: the built-in default), with every reason's default entry."""
        return {**_playbook(store.latest(db(), auth.current().tenant_id)), "defaults": _defaults()}

    @auth.require("ops")
    @blp.arguments(schema.PlaybookWriteSchema)
    @blp.response(201, schema.PlaybookSchema)
    def put(self, data: dict[str, Any]) -> Any:
        """Save a new version of the playbook; it applies to exceptions opened from now on."""
        principal = auth.current()
        row = store.save(db(), principal.tenant_id, data["document"], data["note"], principal.key_id)
        db().commit()
        return {**_playbook(row), "defaults": _defaults()}


@blp.route("/playbook/versions")
class PlaybookVersions(MethodView):
    @auth.require("ops")
    @blp.response(200, schema.PlaybookListSchema)
    def get(self) -> Any:
        """Every saved version, newest first: who saved it, when and why (the audit trail)."""
        rows = db().execute(
            sa.select(Playbook)
            .where(Playbook.tenant_id == auth.current().tenant_id)
            .order_by(Playbook.version.desc())
            .limit(_VERSIONS)
        )
        return {"data": [_playbook(r) for r in rows.scalars()]}


def _exception(row: ShipmentException) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": row.id,
        "shipment_id": row.shipment_id,
        "reason": row.reason,
        "milestone": row.milestone,
        "status": row.status,
        "owner": row.owner,
        "opened_at": row.created_at,
        "due_at": row.due_at,
        "overdue": row.status == "open" and row.due_at is not None and row.due_at <= now,
        "escalation_level": row.escalation_level,
        "escalated_at": row.escalated_at,
        "playbook_version": row.playbook_version,
        "actions": row.actions,
        "detail": row.detail,
        "resolved_at": row.resolved_at,
        "resolved_by": row.resolved_by,
        "resolution": row.resolution,
    }


@blp.route("/exceptions")
class Exceptions(MethodView):
    @auth.require("ops", "platform")
    @blp.arguments(schema.ExceptionQuerySchema, location="query")
    @blp.response(200, schema.ExceptionPageSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """The exception queue, newest first: open by default; filter by owner, reason, shipment, overdue."""
        e = ShipmentException
        select = sa.select(e).where(e.tenant_id == auth.current().tenant_id)
        if query["status"] != "all":
            select = select.where(e.status == query["status"])
        for name in ("owner", "reason", "shipment_id"):
            if query.get(name):
                select = select.where(getattr(e, name) == query[name])
        if query.get("overdue") is True:
            select = select.where(e.status == "open", e.due_at <= utcnow())
        elif query.get("overdue") is False:
            select = select.where(sa.or_(e.due_at.is_(None), e.due_at > utcnow()))
        rows, next_cursor = paging.newest_first(
            db(), select, e, limit=query.get("limit") or 50, cursor=query.get("cursor")
        )
        return {"data": [_exception(r) for r in rows], "next_cursor": next_cursor}


def _owned(exception_id: str) -> ShipmentException:
    row = db().get(ShipmentException, exception_id)
    if row is None or row.tenant_id != auth.current().tenant_id:
        raise Problem("not-found", "No such exception.")
    return row


def _open(exception_id: str) -> ShipmentException:
    row = _owned(exception_id)
    if row.status != "open":
        raise Problem(
            "exception-not-open",
            extra={
                "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
                "resolved_by": row.resolved_by,
            },
        )
    return row


@blp.route("/exceptions/<string:exception_id>")
class OneException(MethodView):
    @auth.require("ops", "platform")
    @blp.response(200, schema.ExceptionSchema)
    def get(self, exception_id: str) -> Any:
        """One exception: its owner, deadline, every action taken and how it ended."""
        return _exception(_owned(exception_id))


@blp.route("/exceptions/<string:exception_id>/resolve")
class Resolve(MethodView):
    @auth.require("ops", "platform")
    @blp.arguments(schema.ResolveSchema)
    @blp.response(200, schema.ExceptionSchema)
    def post(self, data: dict[str, Any], exception_id: str) -> Any:
        """Resolve an open exception with a note saying what was done."""
        row = _open(exception_id)
        store.resolve(row, auth.current().key_id, data["note"], utcnow())
        db().commit()
        return _exception(row)


@blp.route("/exceptions/<string:exception_id>/actions")
class TakeAction(MethodView):
    @auth.require("ops")
    @blp.arguments(schema.TakeActionSchema)
    @blp.response(200, schema.ExceptionSchema)
    def post(self, data: dict[str, Any], exception_id: str) -> Any:
        """Take an action by hand (notify the recipient, move a fleet parcel to a partner, a note, ...)."""
        row = _open(exception_id)
        actions.take(db(), row, data["action"], auth.current().key_id, utcnow(), data["note"])
        db().commit()
        return _exception(row)
