"""End-of-day manifests: a carrier day closed (FedEx Ground close, USPS SCAN form, a gateway manifest), a van dispatched."""
