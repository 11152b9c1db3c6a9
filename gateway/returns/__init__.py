"""Returns: a return label for a bought shipment, as a shipment of its own linked to the original."""
