"""The contracts: canonical types, the tracking taxonomy, API and JSON schemas.

This package is the leaf of the dependency graph: modules here import only the standard
library (the marshmallow API schemas in ``schemas.api`` are the one exception). Import the
module you need (``from schemas import types``); this file re-exports nothing.
"""
