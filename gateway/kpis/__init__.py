"""Key figures per tenant: cost, on-time and first-attempt rates, exceptions."""
