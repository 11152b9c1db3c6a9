"""Invoice intake: carrier layouts are read, bad files get a clear report, re-uploads never double count."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest

from tests.unit.reconciliation.invoice_files import FEDEX_HEADER, fedex_row, to_csv, ups_row


@pytest.fixture
def finance(make_tenant: Any) -> Any:
    return make_tenant(("finance",))


def _upload(client: Any, headers: dict[str, str], data: bytes, **form: str) -> Any:
    return client.post(
        "/v1/invoices",
        data={"file": (io.BytesIO(data), "invoice.csv"), **form},
        headers=headers,
        content_type="multipart/form-data",
    )


def _ups_file(number: str, rows: int = 3, *, start: int = 0) -> bytes:
    return to_csv(
        ups_row(invoice_number=number, tracking=f"1ZTEST{i:010d}", amount=f"{10 + i % 7}.25", zone="002")
        for i in range(start, start + rows)
    )


def _number() -> str:
    return "0000A1" + uuid.uuid4().hex[:7].upper()


def test_a_ups_billing_data_file_is_stored_with_its_totals_and_reconciliation_queued(
    client: Any, finance: Any
) -> None:
    number = _number()
    resp = _upload(client, finance.headers, _ups_file(number, 3))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert resp.headers["Location"].endswith(f"/v1/invoices/{body['id']}")
    assert (body["carrier"], body["format"], body["invoice_number"]) == ("ups", "ups", number)
    assert (body["rows"], body["lines"]) == (3, 3)
    assert body["billed"] == {"amount": "33.75", "currency": "USD"}
    assert body["invoice_date"] == "2026-03-09" and body["account_number"] == "0000A1B2C3"
    assert body["reconciliation"]["status"] == "queued"
    lines = client.get(f"/v1/invoices/{body['id']}/lines", headers=finance.headers).get_json()["data"]
    assert [line["row"] for line in lines] == [1, 2, 3]
    assert lines[0]["charge_class"] == "base" and lines[0]["zone"] == "002"


def test_uploading_the_same_file_again_answers_the_stored_invoice_and_counts_nothing_twice(
    client: Any, finance: Any
) -> None:
    data = _ups_file(_number(), 4)
    first = _upload(client, finance.headers, data)
    again = _upload(client, finance.headers, data)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    listed = client.get("/v1/invoices", headers=finance.headers).get_json()["data"]
    assert [i["id"] for i in listed] == [first.get_json()["id"]]
    lines = client.get(f"/v1/invoices/{first.get_json()['id']}/lines", headers=finance.headers).get_json()[
        "data"
    ]
    assert len(lines) == 4


def test_another_file_with_the_same_invoice_number_is_a_409_naming_the_stored_invoice(
    client: Any, finance: Any
) -> None:
    number = _number()
    first = _upload(client, finance.headers, _ups_file(number, 2))
    other = _upload(client, finance.headers, _ups_file(number, 3, start=10))
    assert other.status_code == 409
    problem = other.get_json()
    assert problem["type"].endswith("/invoice-duplicate") and problem["invoice_id"] == first.get_json()["id"]
    assert len(client.get("/v1/invoices", headers=finance.headers).get_json()["data"]) == 1


def test_a_malformed_file_is_rejected_with_every_bad_row_and_its_reason_and_nothing_is_stored(
    client: Any, finance: Any
) -> None:
    number = _number()
    rows = [ups_row(invoice_number=number, tracking=f"1ZOK{i}", amount="5.00") for i in range(5)]
    rows[1] = ups_row(invoice_number=number, tracking="1ZBAD1", amount="five dollars")
    rows[3] = ups_row(invoice_number=number, tracking="1ZBAD2", amount="5.00", currency="XYZ")
    rows.append(ups_row(invoice_number="SOME-OTHER-INVOICE", tracking="1ZBAD3", amount="1.00"))
    resp = _upload(client, finance.headers, to_csv(rows))
    assert resp.status_code == 422
    problem = resp.get_json()
    assert problem["type"].endswith("/invoice-malformed")
    assert problem["error_count"] == 3
    assert [e["row"] for e in problem["errors"]] == [2, 4, 6]
    assert "Net Amount" in problem["errors"][0]["reason"]
    assert "XYZ" in problem["errors"][1]["reason"]
    assert "one invoice per file" in problem["errors"][2]["reason"]
    assert client.get("/v1/invoices", headers=finance.headers).get_json()["data"] == []


def test_a_file_in_no_known_layout_is_unreadable(client: Any, finance: Any) -> None:
    resp = _upload(client, finance.headers, b"hello,world\n1,2\n")
    assert resp.status_code == 422 and resp.get_json()["type"].endswith("/invoice-unreadable")
    empty = _upload(client, finance.headers, b"")
    assert empty.status_code == 422 and empty.get_json()["type"].endswith("/invoice-unreadable")


def test_a_fedex_csv_is_read_into_one_line_per_charge(client: Any, finance: Any) -> None:
    number = "7-" + uuid.uuid4().hex[:8]
    data = to_csv(
        [
            FEDEX_HEADER,
            fedex_row(
                invoice_number=number,
                tracking="794600000001",
                transport="14.20",
                charges=[("Fuel Surcharge", "2.10"), ("Earned Discount", "-1.20")],
            ),
            fedex_row(
                invoice_number=number,
                tracking="794600000002",
                transport="9.80",
                charges=[("Residential", "5.10")],
            ),
        ]
    )
    resp = _upload(client, finance.headers, data)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["carrier"], body["format"], body["rows"], body["lines"]) == ("fedex", "fedex", 2, 4)
    assert body["billed"]["amount"] == "30"


def test_a_generic_csv_is_read_through_the_mapping_saved_for_its_carrier(client: Any, finance: Any) -> None:
    data = b"Invoice;Parcel;Code;Amount;Cur\nR-9;JD0001;FR;12,50;EUR\nR-9;JD0001;FUEL;1,90;EUR\n"
    unmapped = _upload(client, finance.headers, data, format="generic", carrier="dpd")
    # The file may be fine: the tenant has not saved how to read it yet (409, not 422).
    assert unmapped.status_code == 409 and "mapping" in unmapped.get_json()["detail"]

    mapping = {
        "columns": {
            "invoice_number": "Invoice",
            "tracking_number": "Parcel",
            "charge_code": "Code",
            "amount": "Amount",
            "currency": "Cur",
        },
        "codes": {"FR": "base"},
        "delimiter": ";",
        "decimal_separator": ",",
    }
    saved = client.put("/v1/invoice-mappings/dpd", json=mapping, headers=finance.headers)
    assert saved.status_code == 200, saved.get_json()
    assert client.get("/v1/invoice-mappings/dpd", headers=finance.headers).get_json()["codes"] == {
        "FR": "base"
    }
    resp = _upload(client, finance.headers, data, carrier="dpd")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["carrier"], body["format"], body["lines"]) == ("dpd", "generic", 2)
    assert body["billed"] == {"amount": "14.4", "currency": "EUR"}
    lines = client.get(f"/v1/invoices/{body['id']}/lines", headers=finance.headers).get_json()["data"]
    assert [line["charge_class"] for line in lines] == ["base", "fuel"]


def test_a_mapping_without_the_required_columns_is_refused(client: Any, finance: Any) -> None:
    resp = client.put(
        "/v1/invoice-mappings/dpd", json={"columns": {"invoice_number": "Invoice"}}, headers=finance.headers
    )
    assert resp.status_code == 422 and "columns" in resp.get_json()["errors"]


def test_a_file_larger_than_the_json_body_limit_streams_in(client: Any, finance: Any) -> None:
    data = _ups_file(_number(), 4000)
    assert len(data) > 1024 * 1024
    resp = _upload(client, finance.headers, data)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["lines"] == 4000


def test_uploads_need_the_finance_role_and_a_multipart_body(
    client: Any, make_tenant: Any, finance: Any
) -> None:
    platform = make_tenant(("platform",))
    assert _upload(client, platform.headers, _ups_file(_number())).status_code == 403
    as_json = client.post("/v1/invoices", json={"file": "x"}, headers=finance.headers)
    assert as_json.status_code == 415
    no_file = client.post(
        "/v1/invoices", data={"format": "ups"}, headers=finance.headers, content_type="multipart/form-data"
    )
    assert no_file.status_code == 422 and "file" in no_file.get_json()["errors"]


def test_an_upload_racing_the_same_file_answers_the_invoice_committed_first(
    client: Any, finance: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both duplicate checks miss (the other upload had not committed yet): the unique hash decides."""
    from gateway.reconciliation import intake

    data = _ups_file(_number(), 2)
    first = _upload(client, finance.headers, data)
    assert first.status_code == 201, first.get_json()

    real_find_by_hash = intake.find_by_hash
    lookups: list[Any] = []

    def racing_find_by_hash(*args: Any) -> Any:
        lookups.append(args)
        return None if len(lookups) == 1 else real_find_by_hash(*args)

    monkeypatch.setattr(intake, "find_by_hash", racing_find_by_hash)
    monkeypatch.setattr(intake, "find_by_number", lambda *args: None)
    again = _upload(client, finance.headers, data)
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["id"] == first.get_json()["id"] and len(lookups) == 2


def test_an_upload_racing_another_file_with_the_same_number_is_a_409(
    client: Any, finance: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.reconciliation import intake

    number = _number()
    assert _upload(client, finance.headers, _ups_file(number, 2)).status_code == 201
    monkeypatch.setattr(intake, "find_by_number", lambda *args: None)
    resp = _upload(client, finance.headers, _ups_file(number, 2, start=5))
    assert resp.status_code == 409, resp.get_json()
    problem = resp.get_json()
    assert problem["type"].endswith("/invoice-duplicate")
    assert problem["detail"] == "This carrier invoice number was uploaded from another file."


def test_saving_a_mapping_again_with_its_idempotency_key_replays_the_answer(
    client: Any, finance: Any
) -> None:
    mapping = {
        "columns": {
            "invoice_number": "Inv",
            "tracking_number": "Trk",
            "charge_code": "Code",
            "amount": "Amt",
            "currency": "Cur",
        },
    }
    headers = {**finance.headers, "Idempotency-Key": uuid.uuid4().hex}
    first = client.put("/v1/invoice-mappings/gls", json=mapping, headers=headers)
    second = client.put("/v1/invoice-mappings/gls", json=mapping, headers=headers)
    assert first.status_code == second.status_code == 200, first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json() == first.get_json()
