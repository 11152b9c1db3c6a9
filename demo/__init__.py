"""The demo day: one seeded delivery day run end to end through Handoff's public HTTP API.

``python -m demo`` (what ``make demo`` runs) starts the local stack (``gateway.launcher.stack.Stack``:
the embedded Redis and SQLite, gunicorn, RQ workers, the scheduler and the carrier simulator), then
plays a day phase by phase (booking with rates, allocation, labels, tracking from carriers and
drivers, outbound webhooks, invoices and reconciliation), prints a summary and writes a
self-contained HTML report. See docs/DEMO.md.

This package is a client of the gateway, like the simulator: the gateway never imports it.
"""
