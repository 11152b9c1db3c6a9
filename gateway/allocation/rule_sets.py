"""Rule sets: versioned, validated, audited rule documents; the tenant's active rules; checks against a day."""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from allocation import model, rules
from gateway.allocation import _format, _loading, day_input, fleet, tables
from gateway.kernel import models
from gateway.kernel.errors import Problem
from gateway.kernel.types import new_id, utcnow


def _plain(value: Any) -> Any:
    """Turn the request's exact Decimals back into JSON numbers, as the rule schema expects."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def rule_errors(document: Any) -> dict[str, list[str]]:
    """Return a rule document's JSON Schema problems as dotted-path field errors."""
    out: dict[str, list[str]] = defaultdict(list)
    for line in rules.validate(document):
        where, _, message = line.partition(": ")
        out["_schema" if where == "(document)" else where.replace("/", ".")].append(message)
    return dict(out)


def rule_document(name: str, rule_list: list[Any], version: int) -> dict[str, Any]:
    return {"version": version, "name": name, "rules": _plain(rule_list)}


def _validate_rule_set(
    session: Session,
    tenant_id: str,
    name: str,
    rule_list: list[Any],
    version: int,
    own_id: str | None,
    *,
    against_active: bool = True,
) -> dict[str, Any]:
    doc = rule_document(name, rule_list, version)
    errors = rule_errors(doc)
    if errors:
        raise Problem("validation-error", "The rule set is not valid; see errors.", errors=errors)
    if not against_active:  # a deactivated set's rules meet the active ones only once it is activated
        return doc
    taken: dict[str, str] = {}
    for rs, ver in _active_sets(session, tenant_id):
        if rs.id != own_id:
            taken.update({r["id"]: rs.id for r in ver.document["rules"]})
    clashes = {
        f"rules.{i}.id": [f"rule id {r['id']!r} is already used by active rule set {taken[r['id']]}"]
        for i, r in enumerate(doc["rules"])
        if r["id"] in taken
    }
    if clashes:
        raise Problem("validation-error", "Rule ids must be unique across active rule sets.", errors=clashes)
    return doc


def _active_sets(session: Session, tenant_id: str) -> list[tuple[tables.RuleSet, tables.RuleSetVersion]]:
    rows = session.execute(
        sa.select(tables.RuleSet, tables.RuleSetVersion)
        .join(
            tables.RuleSetVersion,
            sa.and_(
                tables.RuleSetVersion.rule_set_id == tables.RuleSet.id,
                tables.RuleSetVersion.version == tables.RuleSet.current_version,
            ),
        )
        .where(tables.RuleSet.tenant_id == tenant_id, tables.RuleSet.active.is_(True))
        .order_by(tables.RuleSet.created_at, tables.RuleSet.id)
    ).all()
    return [(r[0], r[1]) for r in rows]


_PARSED: OrderedDict[tuple[str, int], tuple[model.Rule, ...]] = OrderedDict()
_PARSED_LOCK = threading.Lock()


def _parsed(rs: tables.RuleSet, version: tables.RuleSetVersion) -> tuple[model.Rule, ...]:
    """Return a stored version's rules (cached: versions never change once written)."""
    key = (rs.id, version.version)
    with _PARSED_LOCK:
        hit = _PARSED.get(key)
        if hit is not None:
            return hit
    parsed = rules.parse(version.document).rules
    with _PARSED_LOCK:
        _PARSED[key] = parsed
        while len(_PARSED) > 256:
            _PARSED.popitem(last=False)
    return parsed


def active_rule_ids(session: Session, tenant_id: str) -> set[str]:
    """The ids the tenant's active rule sets use now (a new rule must take another)."""
    return {str(r.get("id")) for _rs, v in _active_sets(session, tenant_id) for r in v.document["rules"]}


def active_rules(session: Session, tenant_id: str) -> tuple[model.RuleSet, list[dict[str, Any]]]:
    """Return the tenant's active rules as one rule set, and which rule set versions made it."""
    sets = _active_sets(session, tenant_id)
    merged = tuple(r for rs, v in sets for r in _parsed(rs, v))
    return rules.with_built_ins(model.RuleSet(version=1, rules=merged, name="active")), [
        {"id": rs.id, "name": rs.name, "version": v.version} for rs, v in sets
    ]


def combine(documents: Iterable[dict[str, Any]]) -> model.RuleSet:
    """Join rule documents, in order, into one rule set."""
    merged: list[model.Rule] = []
    for doc in documents:
        merged.extend(rules.parse(doc).rules)
    return rules.with_built_ins(model.RuleSet(version=1, rules=tuple(merged), name="active"))


def _rule_changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, Any]:
    old = {r["id"]: r for r in before}
    new = {r["id"]: r for r in after}
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": sorted(i for i in set(old) & set(new) if old[i] != new[i]),
    }


def get_rule_set(session: Session, tenant_id: str, rule_set_id: str) -> tables.RuleSet:
    row = session.execute(
        sa.select(tables.RuleSet).where(
            tables.RuleSet.id == rule_set_id, tables.RuleSet.tenant_id == tenant_id
        )
    ).scalar_one_or_none()
    if row is None:
        raise Problem("not-found", f"No rule set {rule_set_id!r}.")
    return row


def rule_set_version(
    session: Session, rs: tables.RuleSet, version: int | None = None
) -> tables.RuleSetVersion:
    row = session.execute(
        sa.select(tables.RuleSetVersion).where(
            tables.RuleSetVersion.rule_set_id == rs.id,
            tables.RuleSetVersion.version == (version or rs.current_version),
        )
    ).scalar_one_or_none()
    if row is None:
        raise Problem("not-found", f"Rule set {rs.id} has no version {version}.")
    return row


def rule_set_versions(session: Session, tenant_id: str, rule_set_id: str) -> list[tables.RuleSetVersion]:
    rs = get_rule_set(session, tenant_id, rule_set_id)
    return list(
        session.execute(
            sa.select(tables.RuleSetVersion)
            .where(tables.RuleSetVersion.rule_set_id == rs.id)
            .order_by(tables.RuleSetVersion.version.desc())
        ).scalars()
    )


def list_rule_sets(
    session: Session, tenant_id: str, *, include_inactive: bool = False
) -> list[tables.RuleSet]:
    query = sa.select(tables.RuleSet).where(tables.RuleSet.tenant_id == tenant_id)
    if not include_inactive:
        query = query.where(tables.RuleSet.active.is_(True))
    return list(session.execute(query.order_by(tables.RuleSet.created_at, tables.RuleSet.id)).scalars())


def create_rule_set(
    session: Session, tenant_id: str, actor: str | None, data: dict[str, Any]
) -> tuple[tables.RuleSet, tables.RuleSetVersion]:
    """Create a rule set at version 1 (validated, audited)."""
    doc = _validate_rule_set(session, tenant_id, data["name"], data["rules"], 1, None)
    now = utcnow()
    rs = tables.RuleSet(
        id=new_id("rls"),
        tenant_id=tenant_id,
        name=data["name"],
        active=True,
        current_version=1,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(rs)
    session.flush()
    version = tables.RuleSetVersion(
        rule_set_id=rs.id, tenant_id=tenant_id, version=1, document=doc, created_by=actor, created_at=now
    )
    session.add(version)
    session.flush()
    fleet.audit(
        session,
        tenant_id,
        actor,
        "rule_set",
        rs.id,
        "create",
        {"name": [None, rs.name], **_rule_changes([], doc["rules"])},
        1,
    )
    return rs, version


def update_rule_set(
    session: Session,
    tenant_id: str,
    actor: str | None,
    rule_set_id: str,
    data: dict[str, Any],
    *,
    keep_state: bool = False,
) -> tuple[tables.RuleSet, tables.RuleSetVersion]:
    """Write a new version of a rule set (never in place); reactivates a deactivated set, unless
    ``keep_state`` (the console's editing of a draft: it stays out of plans until activated)."""
    rs = get_rule_set(session, tenant_id, rule_set_id)
    activate = rs.active or not keep_state
    base = data.get("base_version")
    if base is not None and base != rs.current_version:
        raise Problem(
            "conflict",
            f"Rule set {rs.id} is at version {rs.current_version}, not {base}; read it again and retry.",
        )
    previous = rule_set_version(session, rs)
    name = data.get("name") or rs.name
    doc = _validate_rule_set(
        session, tenant_id, name, data["rules"], rs.current_version + 1, rs.id, against_active=activate
    )
    now = utcnow()
    changes: dict[str, Any] = _rule_changes(previous.document["rules"], doc["rules"])
    if name != rs.name:
        changes["name"] = [rs.name, name]
    if activate and not rs.active:
        changes["active"] = [False, True]
        rs.active = True
        rs.deactivated_at = None
    rs.current_version += 1
    rs.name = name
    rs.updated_at = now
    version = tables.RuleSetVersion(
        rule_set_id=rs.id,
        tenant_id=tenant_id,
        version=rs.current_version,
        document=doc,
        created_by=actor,
        created_at=now,
    )
    session.add(version)
    session.flush()
    fleet.audit(session, tenant_id, actor, "rule_set", rs.id, "update", changes, rs.current_version)
    return rs, version


def deactivate_rule_set(
    session: Session, tenant_id: str, actor: str | None, rule_set_id: str
) -> tables.RuleSet:
    """Stop using a rule set in plans; its versions stay readable (audited)."""
    rs = get_rule_set(session, tenant_id, rule_set_id)
    if rs.active:
        rs.active = False
        rs.deactivated_at = rs.updated_at = utcnow()
        session.flush()
        fleet.audit(
            session,
            tenant_id,
            actor,
            "rule_set",
            rs.id,
            "deactivate",
            {"active": [True, False]},
            rs.current_version,
        )
    return rs


def check_rules(session: Session, tenant_id: str) -> dict[str, Any]:
    """Evaluate the active rules against the latest day of shipments: conflicts and dead ends."""
    depots = fleet.list_depots(session, tenant_id)
    if not depots:
        return {"checked_against": None, "issues": []}
    depot = depots[0]
    latest = session.execute(
        sa.select(sa.func.max(models.Shipment.created_at)).where(models.Shipment.tenant_id == tenant_id)
    ).scalar_one_or_none()
    if latest is None:
        return {"checked_against": None, "issues": []}
    day = latest.astimezone(ZoneInfo(depot.timezone)).date()
    rule_set, _ = active_rules(session, tenant_id)
    built = day_input.build_day(
        session, tenant_id, depot, day, statuses=None, excluded=day_input.SIMULATION_EXCLUDED
    )
    problem = built.problem(depot, _loading.vehicles(session, tenant_id, depot), rule_set)
    ev = rules.evaluate(problem)
    return {
        "checked_against": {"depot_id": depot.id, "day": day, "packages": len(problem.packages)},
        "issues": [_format.issue(i) for i in ev.issues],
    }


def present_rule_set(rs: tables.RuleSet, version: tables.RuleSetVersion) -> dict[str, Any]:
    return {
        "id": rs.id,
        "name": rs.name,
        "active": rs.active,
        "version": version.version,
        "current_version": rs.current_version,
        "rules": version.document["rules"],
        "document": version.document,
        "created_by": version.created_by,
        "created_at": rs.created_at,
        "updated_at": rs.updated_at,
        "version_created_at": version.created_at,
        "deactivated_at": rs.deactivated_at,
    }
