"""No input from a client ever produces a 500: hostile bodies, paths, cursors and names get a 4xx problem."""

from __future__ import annotations

import base64
import io
import json
from typing import Any
from urllib.parse import unquote

import pytest

from tests.helpers import shipment_body
from tests.integration.test_errors import assert_problem
from tests.integration.test_rate_cards import card
from tests.unit.reconciliation.invoice_files import to_csv, ups_row

JSON = {"Content-Type": "application/json"}
BEYOND_64_BITS = ["9223372036854775808", str(10**30), "9" * 5000]
BEYOND_32_BITS = ["2147483648", *BEYOND_64_BITS]  # versions are Integer columns


def _post_raw(client: Any, path: str, text: str, headers: dict[str, str]) -> Any:
    return client.post(path, data=text.encode(), headers={**headers, **JSON})


def _with_metadata(levels: int) -> str:
    """A shipment body whose metadata nests ``levels`` objects: the body is ``levels + 1`` deep."""
    return json.dumps(shipment_body())[:-1] + ', "metadata": ' + '{"a": ' * levels + "1" + "}" * levels + "}"


@pytest.fixture
def ops(make_tenant: Any) -> Any:
    return make_tenant(("platform", "ops", "finance"))


@pytest.fixture
def invoice_id(client: Any, ops: Any) -> str:
    data = to_csv([ups_row(invoice_number="0000A1HOSTILE", tracking="1ZHOSTILE00001", amount="10.25")])
    response = client.post(
        "/v1/invoices",
        data={"file": (io.BytesIO(data), "invoice.csv")},
        headers=ops.headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


@pytest.mark.parametrize("levels", [64, 500, 100_000])
@pytest.mark.parametrize("idempotent", [False, True])
def test_json_nested_deeper_than_the_limit_is_a_400_naming_the_limit(client, platform, levels, idempotent):
    headers = {**platform.headers, **({"Idempotency-Key": f"deep-{levels}"} if idempotent else {})}
    response = _post_raw(client, "/v1/shipments", _with_metadata(levels), headers)
    problem = assert_problem(response, 400, "malformed-json")
    assert "64 levels" in problem["detail"]


def test_json_nested_exactly_to_the_limit_is_read_and_reaches_validation(client, platform):
    response = _post_raw(client, "/v1/shipments", _with_metadata(63), platform.headers)
    problem = assert_problem(response, 422, "validation-error")  # metadata holds strings, not objects
    assert list(problem["errors"]) == ["metadata.a.value"]


@pytest.mark.parametrize("text", ["null", "1", "true", '"text"', "[]"])
def test_a_body_that_is_not_an_object_is_a_422(client, platform, text):
    response = _post_raw(
        client, "/v1/shipments", text, {**platform.headers, "Idempotency-Key": f"scalar-{text}"}
    )
    assert_problem(response, 422, "validation-error")


@pytest.mark.parametrize(
    "number", ["1" * 5000, "-" + "1" * 41, "0." + "1" * 5000, "1" * 41 + ".5", "1e9999999999", "1.5E-1000"]
)
def test_a_json_number_beyond_the_digit_limit_is_a_400_naming_the_limit(client, platform, number):
    text = json.dumps(shipment_body())[:-1] + f', "metadata": {{"n": {number}}}}}'
    problem = assert_problem(
        _post_raw(client, "/v1/shipments", text, platform.headers), 400, "malformed-json"
    )
    assert "40 digits" in problem["detail"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_and_are_a_400(client, platform, constant):
    text = json.dumps(shipment_body())[:-1] + f', "metadata": {{"n": {constant}}}}}'
    problem = assert_problem(
        _post_raw(client, "/v1/shipments", text, platform.headers), 400, "malformed-json"
    )
    assert f"{constant} is not a JSON number" in problem["detail"]


def test_a_lone_surrogate_in_an_address_is_a_400_not_a_database_error(client, platform):
    body = shipment_body()
    body["destination"]["city"] = "New York \ud800"
    text = json.dumps(body)  # ensure_ascii: the lone surrogate is sent as the escape \ud800
    assert "\\ud800" in text
    problem = assert_problem(
        _post_raw(client, "/v1/shipments", text, platform.headers), 400, "malformed-json"
    )
    assert "surrogate" in problem["detail"]


def test_a_lone_surrogate_in_an_object_key_is_a_400(client, platform):
    text = json.dumps(shipment_body(metadata={"\udfff": "x"}))
    assert_problem(_post_raw(client, "/v1/shipments", text, platform.headers), 400, "malformed-json")


def test_a_surrogate_pair_escape_is_a_character_and_is_stored(client, platform):
    body = shipment_body()
    body["destination"]["name"] = "Jane \U0001f600"
    text = json.dumps(body)
    assert "\\ud83d\\ude00" in text  # a valid pair, escaped
    created = _post_raw(client, "/v1/shipments", text, platform.headers)
    assert created.status_code == 201, created.get_json()
    read = client.get(created.headers["Location"], headers=platform.headers).get_json()
    assert read["destination"]["name"] == "Jane \U0001f600"


@pytest.mark.parametrize("row_id", ["\ud800", "shp_\x00"])
def test_a_shipment_cursor_holding_text_no_database_stores_is_a_400(client, platform, row_id):
    raw = json.dumps(["2026-01-01T00:00:00+00:00", row_id]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = client.get(f"/v1/shipments?cursor={cursor}", headers=platform.headers)
    problem = assert_problem(response, 400, "bad-request")
    assert problem["errors"] == {"cursor": ["invalid"]}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/shipments/shp_%00x",
        "/v1/shipments?reference=a%00b",
        "/v1/rate-cards/a%00",
        "/v1/invoice-mappings/a%00",
    ],
)
def test_nul_in_a_path_or_query_is_a_400_not_a_database_error(client, ops, path):
    response = client.get(path, headers=ops.headers)
    assert (response.status_code, response.mimetype) == (400, "application/problem+json")
    problem = json.loads(response.data)  # not get_json(): the app's parser refuses the echoed U+0000
    assert problem["type"] == "https://handoff.dev/problems/bad-request"
    assert "U+0000" in problem["detail"]


def test_a_decimal_string_with_a_huge_exponent_is_a_422_naming_the_field(client, platform):
    body = shipment_body()
    body["parcels"][0]["weight"]["value"] = "1e999999999"
    problem = assert_problem(
        client.post("/v1/shipments", json=body, headers=platform.headers), 422, "validation-error"
    )
    assert problem["errors"] == {"parcels.0.weight.value": ["Number is too large."]}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/shipments?created_after=9999-12-31T23:59:59-23:59",
        "/v1/shipments?created_before=0001-01-01T00:00:00%2B23:59",
        "/v1/reconciliation/report?created_after=9999-12-31T23:59:59-23:59",
    ],
)
def test_an_instant_beyond_year_9999_in_utc_is_a_422_naming_the_parameter(client, ops, path):
    problem = assert_problem(client.get(path, headers=ops.headers), 422, "validation-error")
    (name,) = problem["errors"]
    assert name in {"query.created_after", "query.created_before"}


def _cursor(created: str, row_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created, row_id]).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("/v1/allocation/audit", _cursor("2026-01-01T00:00:00+00:00", "9223372036854775808")),
        ("/v1/allocation/audit", _cursor("9999-12-31T23:59:59-23:59", "1")),
        ("/v1/invoices", _cursor("0001-01-01T00:00:00+23:59", "inv_1")),
        ("/v1/invoices", base64.urlsafe_b64encode(b"[" * 3000).decode()),  # no length cap on this one
    ],
)
def test_a_cursor_beyond_what_a_query_can_hold_is_a_400(client, ops, path, cursor):
    response = client.get(f"{path}?cursor={cursor}", headers=ops.headers)
    problem = assert_problem(response, 400, "bad-request")
    assert problem["errors"] == {"cursor": ["invalid"]}


# --- integers beyond 64 bits -----------------------------------------------------------------


@pytest.mark.parametrize("number", BEYOND_32_BITS)
def test_a_rate_card_version_beyond_32_bits_in_the_path_is_a_404(client, ops, number):
    assert client.post("/v1/rate-cards", json=card(), headers=ops.headers).status_code == 201
    base = "/v1/rate-cards/acme-ground/versions"
    assert client.get(f"{base}/1", headers=ops.headers).status_code == 200
    assert_problem(client.get(f"{base}/{number}", headers=ops.headers), 404, "not-found")
    assert_problem(client.post(f"{base}/{number}/activate", json={}, headers=ops.headers), 404, "not-found")
    assert_problem(client.post(f"{base}/{number}/dry-run", json={}, headers=ops.headers), 404, "not-found")


@pytest.mark.parametrize("number", BEYOND_64_BITS)
def test_an_invoice_line_id_beyond_64_bits_in_the_path_is_a_404(client, ops, invoice_id, number):
    path = f"/v1/invoices/{invoice_id}/lines/{number}"
    assert_problem(client.get(path, headers=ops.headers), 404, "not-found")
    response = client.patch(path, json={"resolution": "accepted"}, headers=ops.headers)
    assert_problem(response, 404, "not-found")


@pytest.mark.parametrize("number", BEYOND_32_BITS)
def test_a_rule_set_version_beyond_32_bits_in_the_path_is_a_404(client, ops, number):
    created = client.post(
        "/v1/allocation/rule-sets", json={"name": "hostile", "rules": []}, headers=ops.headers
    )
    assert created.status_code == 201, created.get_json()
    path = f"/v1/allocation/rule-sets/{created.get_json()['id']}/versions/{number}"
    assert_problem(client.get(path, headers=ops.headers), 404, "not-found")


def test_the_largest_storable_path_integers_are_ordinary_not_founds(client, ops, invoice_id):
    assert client.post("/v1/rate-cards", json=card(), headers=ops.headers).status_code == 201
    response = client.get(f"/v1/rate-cards/acme-ground/versions/{2**31 - 1}", headers=ops.headers)
    assert_problem(response, 404, "not-found")
    response = client.get(f"/v1/invoices/{invoice_id}/lines/{2**63 - 1}", headers=ops.headers)
    assert_problem(response, 404, "not-found")


@pytest.mark.parametrize("number", BEYOND_64_BITS[:2])
def test_an_invoice_lines_cursor_beyond_64_bits_is_a_422_naming_the_parameter(
    client, ops, invoice_id, number
):
    response = client.get(f"/v1/invoices/{invoice_id}/lines?after={number}", headers=ops.headers)
    problem = assert_problem(response, 422, "validation-error")
    assert list(problem["errors"]) == ["query.after"]


def test_a_body_integer_beyond_64_bits_is_a_422_naming_the_field(client, ops):
    created = client.post(
        "/v1/allocation/rule-sets", json={"name": "hostile", "rules": []}, headers=ops.headers
    )
    assert created.status_code == 201, created.get_json()
    response = client.put(
        f"/v1/allocation/rule-sets/{created.get_json()['id']}",
        json={"rules": [], "base_version": 2**63},
        headers=ops.headers,
    )
    problem = assert_problem(response, 422, "validation-error")
    assert list(problem["errors"]) == ["base_version"]


def test_an_integer_beyond_64_bits_deep_in_a_body_document_is_a_422_naming_its_path(client, ops):
    cap = {"id": "cap", "when": {}, "action": {"type": "cap", "carrier": "ups", "max_packages": 2**63}}
    response = client.post(
        "/v1/allocation/rule-sets", json={"name": "hostile", "rules": [cap]}, headers=ops.headers
    )
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"] == {
        "rules.0.action.max_packages": ["Must fit in a signed 64-bit integer (-2^63 to 2^63-1)."]
    }
    cap["action"]["max_packages"] = 2**63 - 1
    created = client.post(
        "/v1/allocation/rule-sets", json={"name": "big", "rules": [cap]}, headers=ops.headers
    )
    assert created.status_code == 201, created.get_json()


def test_a_rate_card_document_version_beyond_32_bits_is_a_422(client, ops):
    response = client.post("/v1/rate-cards", json=card(version=2**31), headers=ops.headers)
    assert_problem(response, 422, "validation-error")
    assert client.post("/v1/rate-cards", json=card(version=2**31 - 1), headers=ops.headers).status_code == 201


# --- the disputes export ---------------------------------------------------------------------


@pytest.mark.parametrize("carrier", ["ups%0D%0ASet-Cookie:%20x=1", "ups%0A", "%E2%9C%93", "caf%C3%A9", "UPS"])
def test_a_disputes_export_for_a_name_that_is_not_a_carrier_code_is_a_422(client, ops, carrier):
    response = client.get(f"/v1/disputes/{carrier}", headers=ops.headers)
    problem = assert_problem(response, 422, "validation-error")
    assert list(problem["errors"]) == ["carrier"]
    assert "Set-Cookie" not in response.headers


def test_a_disputes_export_names_its_file_from_the_carrier_code_per_rfc_6266(client, ops):
    response = client.get("/v1/disputes/ups", headers=ops.headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    parts = dict(p.strip().split("=", 1) for p in disposition.split(";")[1:])
    assert disposition.startswith("attachment;")
    assert parts["filename"].startswith('"ups-disputed-') and parts["filename"].endswith('.csv"')
    assert parts["filename*"].startswith("UTF-8''ups-disputed-")
    assert unquote(parts["filename*"].removeprefix("UTF-8''")) == parts["filename"].strip('"')


def test_a_money_amount_with_more_decimals_than_its_currency_is_a_422_and_the_largest_round_trips(
    client, platform
):
    body = shipment_body()
    body["parcels"][0]["declared_value"] = {"amount": "999999999999.9999", "currency": "USD"}
    problem = assert_problem(
        client.post("/v1/shipments", json=body, headers=platform.headers), 422, "validation-error"
    )
    assert problem["errors"] == {"parcels.0.declared_value.amount": ["USD has 2 decimal places."]}
    body["parcels"][0]["declared_value"] = {"amount": "999999999999.99", "currency": "USD"}
    created = client.post("/v1/shipments", json=body, headers=platform.headers)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["parcels"][0]["declared_value"] == body["parcels"][0]["declared_value"]


@pytest.mark.parametrize("zone", ["America", "Europe", "a" * 300])
def test_a_playbook_time_zone_that_names_a_folder_or_is_too_long_is_a_422(
    client: Any, ops: Any, zone: str
) -> None:
    # The tz database has folders ("America") and file names have a length limit: opening either is an
    # OSError, not the ZoneInfoNotFoundError a lookup expects.
    playbook = client.put(
        "/v1/playbook",
        json={"document": {"business_hours": {"timezone": zone}, "entries": []}},
        headers=ops.headers,
    )
    assert_problem(playbook, 422, "validation-error")
    assert any("timezone" in e for e in playbook.get_json()["errors"]["document"])
