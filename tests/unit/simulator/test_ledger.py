"""The ledger records exactly one label per purchase, shows voids and survives a restart."""

from __future__ import annotations

from datetime import UTC, datetime

from simulator import ledger as sim_ledger
from tests.unit.simulator.sim_payloads import dhl_ship, ups_ship_body


def _buy_ups(client, headers, reference):
    reply = client.post("/api/shipments/v2409/ship", json=ups_ship_body(reference=reference), headers=headers)
    return reply.json["ShipmentResponse"]["ShipmentResults"]["ShipmentIdentificationNumber"]


def test_each_purchase_adds_exactly_one_label_with_its_reference(client, ups_headers):
    first = _buy_ups(client, ups_headers, "shp_1")
    second = _buy_ups(client, ups_headers, "shp_2")
    client.post("/sndpt/expressRateBook", data=dhl_ship(reference="shp_3"), content_type="text/xml")
    ledger = client.get("/_sim/ledger").json
    assert ledger["count"] == 3
    assert [(x["carrier"], x["reference"]) for x in ledger["labels"]] == [
        ("ups", "shp_1"),
        ("ups", "shp_2"),
        ("dhl_express", "shp_3"),
    ]
    assert [x["tracking_number"] for x in ledger["labels"][:2]] == [first, second]
    assert ledger["duplicate_references"] == {}
    assert "label_base64" not in ledger["labels"][0]


def test_rating_and_tracking_sell_nothing(client, ups_headers):
    number = _buy_ups(client, ups_headers, "shp_1")
    client.get(f"/api/track/v1/details/{number}", headers=ups_headers)
    assert client.get("/_sim/ledger").json["count"] == 1


def test_a_second_label_for_one_reference_shows_up_as_a_duplicate_across_carriers(client, ups_headers):
    number = _buy_ups(client, ups_headers, "shp_dup")
    client.post("/sndpt/expressRateBook", data=dhl_ship(reference="shp_dup"), content_type="text/xml")
    duplicates = client.get("/_sim/ledger").json["duplicate_references"]
    assert list(duplicates) == ["shp_dup"]
    assert duplicates["shp_dup"][0] == f"ups:{number}"
    assert duplicates["shp_dup"][1].startswith("dhl_express:")


def test_voids_are_shown_and_a_voided_label_is_not_an_active_duplicate(client, ups_headers):
    first = _buy_ups(client, ups_headers, "shp_1")
    client.delete(f"/api/shipments/v2409/void/cancel/{first}", headers=ups_headers)
    _buy_ups(client, ups_headers, "shp_1")
    ledger = client.get("/_sim/ledger").json
    assert [x["voided"] for x in ledger["labels"]] == [True, False]
    assert ledger["labels"][0]["voided_at"]
    assert "shp_1" in ledger["duplicate_references"]
    assert ledger["active_duplicate_references"] == {}


def test_lookup_by_reference_answers_whether_the_purchase_happened(client, ups_headers):
    number = _buy_ups(client, ups_headers, "shp_5")
    found = client.get("/_sim/labels?reference=shp_5").json
    assert found["found"] is True
    assert [x["tracking_number"] for x in found["labels"]] == [number]
    assert client.get("/_sim/labels?reference=shp_6").json == {
        "reference": "shp_6",
        "found": False,
        "labels": [],
    }
    assert client.get("/_sim/labels?reference=shp_5&carrier=dhl_express").json["found"] is False
    assert client.get("/_sim/labels").status_code == 400


def test_the_ledger_filters_by_carrier(client, ups_headers):
    _buy_ups(client, ups_headers, "shp_1")
    client.post("/sndpt/expressRateBook", data=dhl_ship(reference="shp_2"), content_type="text/xml")
    assert [x["reference"] for x in client.get("/_sim/ledger?carrier=dhl_express").json["labels"]] == [
        "shp_2"
    ]


def _label(number: str, reference: str = "shp_1") -> sim_ledger.LabelRecord:
    return sim_ledger.LabelRecord(
        carrier="ups",
        tracking_number=number,
        reference=reference,
        requested_at="2026-11-20T10:00:00+00:00",
        service="03",
        label_format="GIF",
        charge_amount="12.34",
        charge_currency="USD",
        package_tracking_numbers=[number],
    )


def test_a_persisted_ledger_is_replayed_after_a_restart(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger = sim_ledger.Ledger(path)
    ledger.record(_label("1ZA"))
    ledger.record(_label("1ZB", "shp_2"))
    ledger.void("1ZA", datetime(2026, 11, 20, 11, tzinfo=UTC))
    ledger.mark_response_lost("1ZB")
    restarted = sim_ledger.Ledger(path)
    assert [(x.tracking_number, x.voided, x.response_lost) for x in restarted.all()] == [
        ("1ZA", True, False),
        ("1ZB", False, True),
    ]
    assert restarted.get("1ZA").voided_at == "2026-11-20T11:00:00+00:00"


def test_the_same_tracking_number_cannot_be_recorded_twice():
    ledger = sim_ledger.Ledger()
    ledger.record(_label("1ZA"))
    try:
        ledger.record(_label("1ZA"))
    except ValueError as exc:
        assert "already issued" in str(exc)
    else:
        raise AssertionError("a duplicate tracking number was accepted")
    assert len(ledger.all()) == 1


def test_reset_forgets_labels_and_truncates_the_file(make_app, tmp_path):
    path = tmp_path / "ledger.jsonl"
    app = make_app(ledger_path=str(path))
    app.extensions["handoff_simulator"].ledger.record(_label("1ZA"))
    app.test_client().post("/_sim/reset")
    assert app.test_client().get("/_sim/ledger").json["count"] == 0
    assert path.read_text() == ""
