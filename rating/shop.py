"""Rate shopping, the pure half: sort quotes and label cheapest, fastest and best value.

Only purchasable rates are labelled: a rate whose carrier nobody can sell a label for (the caller
says which carriers can) is listed after the purchasable ones, unlabelled.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
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
    """One rate in the shop result, with its labels and whether its label can be bought."""

    quote: quote.Quote
    labels: frozenset[Label]
    purchasable: bool = True


@dataclass(frozen=True, slots=True)
class ShopResult:
    """Sorted rates (purchasable first, each part cheapest first), ineligible services and errors."""

    options: tuple[Option, ...]
    ineligible: tuple[quote.Ineligible, ...]
    errors: tuple[CarrierError, ...]


PRICE_FROM_CARD = "card"
PRICE_FROM_LIVE = "live"


@dataclass(frozen=True, slots=True)
class Sourced:
    """One result per carrier service, with where its price came from (``card`` or ``live``)."""

    result: quote.Quote | quote.Ineligible
    price_from: str


def one_per_service(
    card_results: Iterable[quote.Quote | quote.Ineligible],
    live_quotes: Iterable[quote.Quote],
    *,
    card_price_first: bool,
    promise_date: date | None = None,
) -> list[Sourced]:
    """Merge card and live answers into one result per (carrier, service code).

    Price: the card's quote when ``card_price_first`` (the tenant's own contract), else the
    carrier's live quote (the cheapest, if several accounts answered), else the card's.
    Delivery estimate (and whether it is guaranteed): the live answer when there is one, else
    the card's. The promise date is checked once, on the merged estimate, so a service cannot
    both meet and miss it. A card's refusal (weight, size, area) stands only when no live quote
    came back for that service. Price cards without ``promise_date``; it is applied here.
    """
    cards_by: dict[tuple[str, str], quote.Quote | quote.Ineligible] = {}
    for r in card_results:
        key = (r.carrier, r.service_code)
        held = cards_by.get(key)
        if held is None or (isinstance(r, quote.Quote) and not isinstance(held, quote.Quote)):
            cards_by[key] = r
    live_by: dict[tuple[str, str], quote.Quote] = {}
    for q in live_quotes:
        key = (q.carrier, q.service_code)
        if key not in live_by or _key(q) < _key(live_by[key]):
            live_by[key] = q
    merged: list[Sourced] = []
    for key in sorted(set(cards_by) | set(live_by)):
        card, live = cards_by.get(key), live_by.get(key)
        card_quote = card if isinstance(card, quote.Quote) else None
        chosen: quote.Quote | None
        if card_quote is not None and (card_price_first or live is None):
            chosen, price_from = card_quote, PRICE_FROM_CARD
            if live is not None:
                chosen = dataclasses.replace(
                    chosen, estimated_delivery=live.estimated_delivery, guaranteed=live.guaranteed
                )
        else:
            chosen, price_from = live, PRICE_FROM_LIVE
        if chosen is None:
            assert card is not None
            merged.append(Sourced(card, PRICE_FROM_CARD))
            continue
        eta = chosen.estimated_delivery
        if promise_date is not None and eta > promise_date:
            refused = quote.Ineligible(
                chosen.card_id,
                chosen.card_version,
                chosen.carrier,
                chosen.service_code,
                quote.Reason.TOO_SLOW,
                f"estimated delivery {eta.isoformat()} is after the promise date {promise_date.isoformat()}",
                eta,
            )
            merged.append(Sourced(refused, price_from))
            continue
        merged.append(Sourced(chosen, price_from))
    return merged


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
    *,
    sellable: Collection[str] | None = None,
) -> ShopResult:
    """Sort priced rates cheapest first and label the cheapest, fastest and best-value ones.

    ``sellable`` names the carriers whose labels can be bought (None: every carrier). A rate of
    any other carrier is not purchasable: it gets no label and is listed after the purchasable ones.
    """
    quotes: list[quote.Quote] = []
    refused: list[quote.Ineligible] = []
    for r in results:
        if isinstance(r, quote.Quote):
            quotes.append(r)
        else:
            refused.append(r)
    if len({q.currency for q in quotes}) > 1:
        raise errors.RatingError("cannot compare rates in different currencies")

    def buyable(q: quote.Quote) -> bool:
        return sellable is None or q.carrier in sellable

    quotes.sort(key=lambda q: (not buyable(q), *_key(q)))
    offered = [q for q in quotes if buyable(q)]
    labels: dict[int, set[Label]] = {}
    if offered:
        fastest = min(offered, key=lambda q: (q.estimated_delivery, _key(q)))
        for q, label in (
            (offered[0], Label.CHEAPEST),
            (fastest, Label.FASTEST),
            (_best_value(offered), Label.BEST_VALUE),
        ):
            labels.setdefault(id(q), set()).add(label)
    return ShopResult(
        options=tuple(Option(q, frozenset(labels.get(id(q), ())), buyable(q)) for q in quotes),
        ineligible=tuple(sorted(refused, key=lambda i: (i.carrier, i.service_code))),
        errors=tuple(sorted(carrier_errors, key=lambda e: e.carrier)),
    )
