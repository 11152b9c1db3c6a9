"""The gateway: the only package that knows Flask, SQLAlchemy, Redis and RQ."""

from gateway.app import create_app

__all__ = ["create_app"]
