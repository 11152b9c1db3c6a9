"""A carrier simulator: UPS REST and DHL Express SOAP subsets, a label ledger, faults and tracking pushes.

It is a separate development server for the demo and the end-to-end tests, never loaded by the gateway.
Run it with ``python -m simulator --port 8099``; see docs/SIMULATOR.md.
"""
