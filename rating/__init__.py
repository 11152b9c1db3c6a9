"""Pure rate engine: rate cards, zones, billable weight, surcharges, promises, fleet cost, shopping.

No Flask, database or HTTP here: everything is Decimal arithmetic over cards loaded once.
Import the module you need (``from rating import quote``); the main entry point is
``rating.quote.price``.
"""
