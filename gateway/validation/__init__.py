"""Validation before purchase: check a shipment against a carrier's service and report every problem at once.

The rules are the carriers' own (``Adapter.check`` in ``adapters/``, the same checks their label builders
refuse with); this capability only finds the shipment, asks, and answers 200 or a 422 shipment-invalid.
"""
