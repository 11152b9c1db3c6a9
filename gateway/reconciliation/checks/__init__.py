"""The reconciliation checks as set-based SQL over one id range of an invoice's lines.

Every check is one ``INSERT INTO invoice_discrepancies ... SELECT`` joining the invoice lines
of a chunk (``invoice_id = :inv AND id >= :lo AND id < :hi``) with what the gateway holds:
shipments, quote snapshots (and the rate they froze), card terms, labels, tracking events and
the derived tracking status. Nothing iterates over lines in Python. The building blocks (tables,
dialect helpers) are in ``gateway.reconciliation._sql``, the quote costs in ``_quote_costs``.

Whole-line classes claim the full amount and are decided first, in order (``whole_line``); a
line that has one is skipped by every later check. Amount classes compare a line with its
expected amount (the quote line of the same class under the card version of the shipment's
snapshot) and may stack (``measured``, ``surcharges``, ``totals``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.reconciliation._sql import Context
from gateway.reconciliation.checks.measured import (
    base_rate_mismatch,
    dimensions_over_declared,
    weight_over_declared,
    zone_mismatch,
)
from gateway.reconciliation.checks.surcharges import fuel_mismatch, surcharge_not_quoted
from gateway.reconciliation.checks.totals import total_over_quote
from gateway.reconciliation.checks.whole_line import (
    duplicate_charge,
    fleet_delivered,
    late_delivery,
    never_scanned,
    unknown_tracking,
    voided_label,
    wrong_account,
)
from gateway.reconciliation.classes import (
    BASE_RATE_MISMATCH,
    DIMENSIONS_OVER_DECLARED,
    DUPLICATE_CHARGE,
    FLEET_DELIVERED,
    FUEL_MISMATCH,
    LATE_DELIVERY,
    NEVER_SCANNED,
    SURCHARGE_NOT_QUOTED,
    TOTAL_OVER_QUOTE,
    UNKNOWN_TRACKING,
    VOIDED_LABEL,
    WEIGHT_OVER_DECLARED,
    WRONG_ACCOUNT,
    ZONE_MISMATCH,
)

CHECKS: dict[str, Callable[[Context, int, int], Any]] = {
    UNKNOWN_TRACKING: unknown_tracking,
    DUPLICATE_CHARGE: duplicate_charge,
    WRONG_ACCOUNT: wrong_account,
    FLEET_DELIVERED: fleet_delivered,
    VOIDED_LABEL: voided_label,
    NEVER_SCANNED: never_scanned,
    LATE_DELIVERY: late_delivery,
    WEIGHT_OVER_DECLARED: weight_over_declared,
    DIMENSIONS_OVER_DECLARED: dimensions_over_declared,
    ZONE_MISMATCH: zone_mismatch,
    BASE_RATE_MISMATCH: base_rate_mismatch,
    FUEL_MISMATCH: fuel_mismatch,
    SURCHARGE_NOT_QUOTED: surcharge_not_quoted,
    TOTAL_OVER_QUOTE: total_over_quote,
}
