"""Tenant markups: the rules that turn a carrier's cost into the tenant's sell price.

Rules are stored per tenant (``tenant_markups``), replaced as a whole set by ops, audited, and
read on every rating call as the ``rating.markup.choose`` table. The arithmetic is pure and
lives in ``rating.markup``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.kernel.errors import Problem
from gateway.kernel.types import utcnow
from gateway.rates import ops_tables as tables
from rating import markup
from schemas import money

MAX_PERCENT = Decimal(1000)


def table(session: Session, tenant_id: str) -> dict[tuple[str, str], markup.Markup]:
    """Return the tenant's markup rules as ``rating.markup.choose`` reads them (one query)."""
    rows = session.execute(
        sa.select(
            tables.TenantMarkup.carrier,
            tables.TenantMarkup.service_code,
            tables.TenantMarkup.percent,
            tables.TenantMarkup.fixed_minor,
            tables.TenantMarkup.fixed_currency,
        ).where(tables.TenantMarkup.tenant_id == tenant_id)
    ).all()
    out: dict[tuple[str, str], markup.Markup] = {}
    for carrier, service, percent, fixed_minor, fixed_currency in rows:
        fixed = None
        if fixed_minor is not None and fixed_currency:
            fixed = money.Money.from_minor(fixed_minor, fixed_currency)
        out[(carrier, service)] = markup.Markup(Decimal(percent).normalize(), fixed)
    return out


def _rows(session: Session, tenant_id: str) -> list[tables.TenantMarkup]:
    return list(
        session.execute(
            sa.select(tables.TenantMarkup)
            .where(tables.TenantMarkup.tenant_id == tenant_id)
            .order_by(tables.TenantMarkup.carrier, tables.TenantMarkup.service_code)
        ).scalars()
    )


def _present_rule(row: tables.TenantMarkup) -> dict[str, Any]:
    fixed = None
    if row.fixed_minor is not None and row.fixed_currency:
        value = money.Money.from_minor(row.fixed_minor, row.fixed_currency)
        fixed = {"amount": value.amount, "currency": value.currency}
    return {
        "carrier": None if row.carrier == tables.ANY else row.carrier,
        "service_code": None if row.service_code == tables.ANY else row.service_code,
        "percent": Decimal(row.percent).normalize(),
        "fixed": fixed,
    }


def _audit_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule as JSON for the audit trail (strings for decimals)."""
    fixed = rule["fixed"]
    return {
        "carrier": rule["carrier"],
        "service_code": rule["service_code"],
        "percent": format(rule["percent"], "f"),
        "fixed": None
        if fixed is None
        else {"amount": format(fixed["amount"], "f"), "currency": fixed["currency"]},
    }


def current(session: Session, tenant_id: str) -> dict[str, Any]:
    """Return the tenant's rules and who set them last, as the API shows them."""
    last = session.execute(
        sa.select(tables.RatingAuditEntry)
        .where(tables.RatingAuditEntry.tenant_id == tenant_id, tables.RatingAuditEntry.action == "markup.set")
        .order_by(tables.RatingAuditEntry.at.desc(), tables.RatingAuditEntry.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return {
        "rules": [_present_rule(r) for r in _rows(session, tenant_id)],
        "updated_at": None if last is None else last.at,
        "updated_by": None if last is None else last.actor_key_id,
    }


def replace(
    session: Session, tenant_id: str, rules: list[dict[str, Any]], actor_key_id: str
) -> dict[str, Any]:
    """Replace the tenant's whole rule set (validated first), audit the change, and return it."""
    problems: dict[str, list[str]] = {}
    seen: dict[tuple[str, str], int] = {}
    new_rows = []
    now: datetime = utcnow()
    for i, rule in enumerate(rules):
        carrier = rule.get("carrier") or tables.ANY
        service = rule.get("service_code") or tables.ANY
        if carrier == tables.ANY and service != tables.ANY:
            problems.setdefault(f"rules.{i}.carrier", []).append(
                "A service code belongs to one carrier; name the carrier too."
            )
        if (carrier, service) in seen:
            problems.setdefault(f"rules.{i}", []).append(
                f"Same carrier and service as rules.{seen[(carrier, service)]}; give each scope one rule."
            )
        seen.setdefault((carrier, service), i)
        percent: Decimal = rule.get("percent") or Decimal(0)
        if percent > MAX_PERCENT:
            problems.setdefault(f"rules.{i}.percent", []).append(f"Must be at most {MAX_PERCENT}.")
        # The exponent is an int for the finite numbers the schema admits (a str only for NaN/Infinity).
        elif percent.as_tuple().exponent < -4:  # type: ignore[operator]
            problems.setdefault(f"rules.{i}.percent", []).append("At most 4 decimal places.")
        fixed = rule.get("fixed")
        fixed_minor = fixed_currency = None
        if fixed is not None:
            amount, fixed_currency = fixed["amount"], fixed["currency"]
            value = money.Money(amount, fixed_currency)
            if value.rounded().amount != amount:
                problems.setdefault(f"rules.{i}.fixed.amount", []).append(
                    f"{fixed_currency} has {money.exponent(fixed_currency)} decimal places."
                )
            else:
                fixed_minor = value.to_minor()
        new_rows.append(
            tables.TenantMarkup(
                tenant_id=tenant_id,
                carrier=carrier,
                service_code=service,
                percent=percent,
                fixed_minor=fixed_minor,
                fixed_currency=fixed_currency,
                created_by=actor_key_id,
                created_at=now,
            )
        )
    if problems:
        raise Problem(
            "validation-error", "The markup rules have invalid fields; see errors.", errors=problems
        )

    before = [_audit_rule(_present_rule(r)) for r in _rows(session, tenant_id)]
    session.execute(sa.delete(tables.TenantMarkup).where(tables.TenantMarkup.tenant_id == tenant_id))
    session.add_all(new_rows)
    session.flush()
    after = [_present_rule(r) for r in _rows(session, tenant_id)]
    session.add(
        tables.RatingAuditEntry(
            tenant_id=tenant_id,
            action="markup.set",
            actor_key_id=actor_key_id,
            at=now,
            detail={"before": before, "after": [_audit_rule(r) for r in after]},
        )
    )
    session.flush()
    return current(session, tenant_id)
