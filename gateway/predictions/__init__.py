"""Delivery-time predictions: models trained from the gateway's own deliveries, used at booking."""
