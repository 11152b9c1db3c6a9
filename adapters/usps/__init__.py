"""USPS over the v3 REST APIs (apis.usps.com): prices, labels, refunds, tracking v3r2, tracking webhooks."""
