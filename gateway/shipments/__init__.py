"""Shipments: booking (addresses, parcels, the online allocation at booking), reads and lists."""
