"""Discrepancy classes: the stable API values reconciliation files findings under, in decision order.

Whole-line classes claim a line's full amount and are decided first, in order; a line that has one
is skipped by every later check. Amount classes compare a line with its expected amount and may
stack; ``total_over_quote`` comes last, as the catch-all for what no finding above explains.
"""

from __future__ import annotations

# Discrepancy classes: stable API values, in the order they are decided.


UNKNOWN_TRACKING = "unknown_tracking"
DUPLICATE_CHARGE = "duplicate_charge"
WRONG_ACCOUNT = "wrong_account"
FLEET_DELIVERED = "fleet_delivered"
VOIDED_LABEL = "voided_label"
NEVER_SCANNED = "never_scanned"
LATE_DELIVERY = "late_delivery"
WEIGHT_OVER_DECLARED = "weight_over_declared"
DIMENSIONS_OVER_DECLARED = "dimensions_over_declared"
ZONE_MISMATCH = "zone_mismatch"
BASE_RATE_MISMATCH = "base_rate_mismatch"
FUEL_MISMATCH = "fuel_mismatch"
SURCHARGE_NOT_QUOTED = "surcharge_not_quoted"
TOTAL_OVER_QUOTE = "total_over_quote"


WHOLE_LINE = (
    UNKNOWN_TRACKING,
    DUPLICATE_CHARGE,
    WRONG_ACCOUNT,
    FLEET_DELIVERED,
    VOIDED_LABEL,
    NEVER_SCANNED,
    LATE_DELIVERY,
)
AMOUNT_CLASSES = (
    WEIGHT_OVER_DECLARED,
    DIMENSIONS_OVER_DECLARED,
    ZONE_MISMATCH,
    BASE_RATE_MISMATCH,
    SURCHARGE_NOT_QUOTED,
    FUEL_MISMATCH,
    # Last: the catch-all for whatever no finding above explains (live quotes keep only a total).
    TOTAL_OVER_QUOTE,
)
CLASSES = WHOLE_LINE + AMOUNT_CLASSES
