"""The OpenAPI document is valid, and schemathesis finds no server error or spec violation."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis import checks as core_checks
from schemathesis.specs.openapi import checks as oas_checks


def test_the_openapi_document_is_valid(client):
    document = client.get("/openapi.json").get_json()
    validate(document)
    assert {"/v1/shipments", "/v1/shipments/{shipment_id}", "/healthz", "/readyz"} <= set(document["paths"])
    problem = document["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert "application/problem+json" in problem


def test_the_docs_page_is_served(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert b"swagger" in response.data.lower()


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


# One item fuzzes every operation: it grows with the API, and runs long on a loaded machine.
@pytest.mark.timeout(1500)
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_spec(case, make_tenant, request):
    tenant = request.node.__dict__.setdefault("_tenant", make_tenant(("platform",)))
    case.call_and_validate(
        headers=tenant.headers,
        checks=[
            core_checks.not_a_server_error,
            oas_checks.response_schema_conformance,
            oas_checks.status_code_conformance,
        ],
        excluded_checks=[
            oas_checks.negative_data_rejection,
            oas_checks.positive_data_acceptance,
            oas_checks.missing_required_header,
            oas_checks.unsupported_method,
            oas_checks.use_after_free,
            oas_checks.ensure_resource_availability,
            oas_checks.ignored_auth,
        ],
    )
