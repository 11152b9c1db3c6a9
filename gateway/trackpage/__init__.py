"""Public tracking pages: one unguessable link per shipment, no API key, the tenant's branding."""
