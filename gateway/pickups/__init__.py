"""Carrier pickups: schedule, list and cancel a carrier's collection from an address on a day."""
