"""Tracking: the pure timeline derivation and proof-of-delivery checks (no Flask or database here)."""
