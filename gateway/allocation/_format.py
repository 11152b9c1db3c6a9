"""JSON shapes shared by plan results, what-ifs and rule checks: money amounts and rule issues."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from allocation import model
from schemas import money


def amount(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": str(money.Money(amount, currency).rounded().amount), "currency": currency}


def amount_of(value: money.Money | None) -> dict[str, str] | None:
    return None if value is None else amount(value.amount, value.currency)


def issue(i: model.Issue) -> dict[str, Any]:
    return {
        "kind": i.kind,
        "message": i.message,
        "rule_ids": list(i.rule_ids),
        "shipment_ids": list(i.package_ids[:200]),
        "shipment_count": len(i.package_ids),
    }
