"""Carrier accounts per tenant: encrypted credentials, the tenant-aware adapter registry, the operator fallback."""
