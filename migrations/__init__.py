"""Alembic migration scripts, shipped as a package so that an installed gateway can migrate."""
