"""marshmallow schemas of the public HTTP API (the OpenAPI document is generated from them)."""
