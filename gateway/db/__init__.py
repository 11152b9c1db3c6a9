"""Persistence: SQLAlchemy 2.0 models, column types and the session helpers."""
