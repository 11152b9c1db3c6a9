"""Rates: live and rate-card quotes, rate cards, markups."""
