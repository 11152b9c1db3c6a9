"""Rate shopping knows no carrier by name: four carriers' quotes are sorted, labelled and filtered alike."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from rating import markup, quote, shop
from schemas import money

CARRIERS = ("ups", "dhl_express", "fedex", "usps")


def _q(carrier: str, service: str, total: str, eta: date) -> quote.Quote:
    amount = money.Money(Decimal(total), "USD")
    return quote.Quote(
        card_id=f"{carrier}-{service}",
        card_version=1,
        carrier=carrier,
        service_code=service,
        service_name=f"{carrier} {service}",
        currency="USD",
        lines=(quote.ChargeLine("BASE", "Transportation", amount, amount),),
        zone="2",
        billable_weight=Decimal(2),
        weight_unit="lb",
        estimated_delivery=eta,
        guaranteed=False,
    )


FOUR = [
    _q("ups", "03", "12.40", date(2026, 3, 13)),
    _q("dhl_express", "N", "31.00", date(2026, 3, 10)),
    _q("fedex", "FEDEX_GROUND", "11.90", date(2026, 3, 13)),
    _q("usps", "USPS_GROUND_ADVANTAGE", "8.75", date(2026, 3, 14)),
]


def test_four_carriers_quotes_are_sorted_and_labelled_with_no_carrier_named_in_the_engine():
    result = shop.shop(list(reversed(FOUR)))
    assert [o.quote.carrier for o in result.options] == ["usps", "fedex", "ups", "dhl_express"]
    labels = {o.quote.carrier: {str(x) for x in o.labels} for o in result.options}
    assert labels["usps"] == {"cheapest"}
    assert labels["dhl_express"] == {"fastest"}
    # FedEx: within 3.15 of the cheapest and a day faster than USPS: the best value of the four.
    assert labels["fedex"] == {"best_value"}
    assert labels["ups"] == set()
    assert all(o.purchasable for o in result.options)


def test_only_the_carriers_the_installation_sells_are_offered_whatever_their_names():
    result = shop.shop(FOUR, sellable={"fedex", "dhl_express"})
    offered = [o.quote.carrier for o in result.options if o.purchasable]
    assert offered == ["fedex", "dhl_express"]
    # The cheapest rate overall (USPS) is listed after the purchasable ones, with no label.
    assert [o.quote.carrier for o in result.options][2:] == ["usps", "ups"]
    labels = {o.quote.carrier: {str(x) for x in o.labels} for o in result.options}
    assert labels["fedex"] == {"cheapest", "best_value"} and labels["dhl_express"] == {"fastest"}
    assert labels["usps"] == labels["ups"] == set()


def test_failing_carriers_are_reported_beside_the_rates_of_the_others_in_carrier_order():
    down = [
        shop.CarrierError("usps", "timeout", "no answer"),
        shop.CarrierError("fedex", "unavailable", "503"),
    ]
    result = shop.shop(FOUR[:2], down)
    assert [o.quote.carrier for o in result.options] == ["ups", "dhl_express"]
    assert [e.carrier for e in result.errors] == ["fedex", "usps"]


def test_markup_rules_are_chosen_per_carrier_for_any_carrier_code():
    rules = {
        ("fedex", "FEDEX_GROUND"): markup.Markup(percent=Decimal("10")),
        ("usps", markup.ANY): markup.Markup(percent=Decimal("5")),
        (markup.ANY, markup.ANY): markup.Markup(percent=Decimal("2")),
    }
    chosen = {c: markup.choose(rules, c, s) for c, s in [(q.carrier, q.service_code) for q in FOUR]}
    assert chosen["fedex"] == rules[("fedex", "FEDEX_GROUND")]
    assert chosen["usps"] == rules[("usps", markup.ANY)]
    assert chosen["ups"] == chosen["dhl_express"] == rules[(markup.ANY, markup.ANY)]
