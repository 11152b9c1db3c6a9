"""Raw carrier exchanges, redacted, kept for disputes and then purged."""
