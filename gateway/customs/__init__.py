"""Customs: declarations on shipments, their checks per destination, and commercial invoices (docs/CUSTOMS.md)."""
