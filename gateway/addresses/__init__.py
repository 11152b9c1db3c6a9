"""Addresses: carrier validation and classification with a per-tenant cache, and geocoding."""
