"""Rate shopping, the pure half: sort quotes and label cheapest, fastest and best value."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from rating import errors, quote


class Label(enum.StrEnum):
    """Labels shown beside a rate; the values are stable API."""

    CHEAPEST = "cheapest"
    FASTEST = "fastest"
    BEST_VALUE = "best_value"


@dataclass(frozen=True, slots=True)
class CarrierError:
    """A carrier that failed or missed the deadline; shown beside the rates that came back."""

    carrier: str
    code: str  # e.g. "timeout", "unavailable", "rejected"
    message: str


@dataclass(frozen=True, slots=True)
class Option:
    """One rate in the shop result, with its labels."""

    quote: quote.Quote
    labels: frozenset[Label]


@dataclass(frozen=True, slots=True)
class ShopResult:
    """Sorted rates (cheapest first), ineligible services and per-carrier errors."""

    options: tuple[Option, ...]
    ineligible: tuple[quote.Ineligible, ...]
    errors: tuple[CarrierError, ...]


def _key(q: quote.Quote) -> tuple[Decimal, int, str, str]:
    return (q.total_sell.amount, q.estimated_delivery.toordinal(), q.carrier, q.service_code)


def _best_value(quotes: Sequence[quote.Quote]) -> quote.Quote:
    # Price and speed each scaled to 0..1 across the offered rates, summed with equal weight:
    # a rate a little dearer but days faster beats both extremes. Ties go to the cheaper rate.
    sells = [q.total_sell.amount for q in quotes]
    days = [q.estimated_delivery.toordinal() for q in quotes]
    lo_s, span_s = min(sells), max(sells) - min(sells)
    lo_d, span_d = min(days), max(days) - min(days)

    def score(i: int) -> Decimal:
        s = (sells[i] - lo_s) / span_s if span_s else Decimal(0)
        d = Decimal(days[i] - lo_d) / span_d if span_d else Decimal(0)
        return s + d

    return quotes[min(range(len(quotes)), key=lambda i: (score(i), _key(quotes[i])))]


def shop(
    results: Iterable[quote.Quote | quote.Ineligible],
    carrier_errors: Iterable[CarrierError] = (),
) -> ShopResult:
    """Sort priced rates cheapest first and label the cheapest, fastest and best-value ones."""
    quotes: list[quote.Quote] = []
    refused: list[quote.Ineligible] = []
    for r in results:
        (quotes if isinstance(r, quote.Quote) else refused).append(r)  # type: ignore[arg-type]
    if len({q.currency for q in quotes}) > 1:
        raise errors.RatingError("cannot compare rates in different currencies")
    quotes.sort(key=_key)
    labels: dict[int, set[Label]] = {}
    if quotes:
        fastest = min(quotes, key=lambda q: (q.estimated_delivery, _key(q)))
        for q, label in (
            (quotes[0], Label.CHEAPEST),
            (fastest, Label.FASTEST),
            (_best_value(quotes), Label.BEST_VALUE),
        ):
            labels.setdefault(id(q), set()).add(label)
    return ShopResult(
        options=tuple(Option(q, frozenset(labels.get(id(q), ()))) for q in quotes),
        ineligible=tuple(sorted(refused, key=lambda i: (i.carrier, i.service_code))),
        errors=tuple(sorted(carrier_errors, key=lambda e: e.carrier)),
    )
