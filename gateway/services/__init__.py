"""Use cases as plain functions: they take a session and canonical data, flush, never commit."""
