"""Reconciliation: every discrepancy class is caught from a realistic invoice line, clean lines raise nothing.

Each test books real shipments through the API (rated under the bundled UPS sample cards and
frozen with POST /v1/shipments/{id}/rate), gives them the label and tracking state the scenario
needs, uploads a UPS Billing Data file through POST /v1/invoices, runs the reconciliation job
and reads the outcome back through the API.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.kernel import models
from gateway.kernel.types import utcnow
from gateway.labels import tables as label_tables
from gateway.rates import tables as rating_tables
from gateway.reconciliation import runs
from gateway.tracking import tables as tracking_tables
from tests.helpers import shipment_body, ups_enabled_settings
from tests.unit.reconciliation.invoice_files import UPS_CODES, to_csv, ups_row

GROUND, NEXT_DAY_AIR_SAVER = "03", "13"


@dataclass
class Booked:
    id: str
    tracking: str
    service_code: str
    lines: dict[str, int]  # quote line code -> cost in cents
    zone: str
    billable_weight: Decimal
    estimated_delivery: date
    rows: list[list[str]] = field(default_factory=list)
    rate: dict[str, Any] = field(default_factory=dict)  # the rate frozen on it, as the API listed it
    rates: list[dict[str, Any]] = field(default_factory=list)  # every rate offered at booking
    destination: dict[str, Any] = field(default_factory=dict)


def _cents(minor: int) -> str:
    return str(Decimal(minor).scaleb(-2))


def _fuel(cents: int) -> int:
    """The sample UPS cards' 15.25 % fuel on a billed base, rounded like the carrier."""
    return int((Decimal(cents) * Decimal("0.1525")).quantize(Decimal(1), rounding="ROUND_HALF_EVEN"))


class World:
    """One tenant (platform + finance) with booked shipments, and helpers to invoice them."""

    def __init__(self, app: Any, client: Any, make_tenant: Any, carrier: str = "ups") -> None:
        self.app, self.client = app, client
        self.carrier = carrier  # whose rates book() selects and whose labels it records
        self.container = app.extensions["handoff"]
        self.tenant = make_tenant(("platform", "finance"))
        self.headers = self.tenant.headers
        self.invoice_number = f"0000A1B2C3{uuid.uuid4().hex[:6].upper()}"

    # --- shipments ---------------------------------------------------------------------------

    def book(
        self,
        service_code: str = GROUND,
        *,
        residential: bool | None = True,
        weight: str = "2.5",
        dims: tuple[str, str, str] = ("12", "9", "4"),
        scanned: bool = True,
    ) -> Booked:
        body = shipment_body(reference=f"ORD-{uuid.uuid4().hex[:8]}")
        body["destination"]["residential"] = residential
        if residential is None:
            del body["destination"]["residential"]
        body["parcels"][0]["weight"]["value"] = weight
        body["parcels"][0]["dimensions"].update(length=dims[0], width=dims[1], height=dims[2])
        created = self.client.post("/v1/shipments", json=body, headers=self.headers)
        assert created.status_code == 201, created.get_json()
        shipment = created.get_json()
        rate = next(
            r
            for r in shipment["rates"]["rates"]
            if r["carrier"] == self.carrier and r["service_code"] == service_code
        )
        selected = self.client.post(
            f"/v1/shipments/{shipment['id']}/rate", json={"rate_id": rate["id"]}, headers=self.headers
        )
        assert selected.status_code == 200, selected.get_json()
        tracking = (
            "1Z" + uuid.uuid4().hex[:16].upper()
            if self.carrier == "ups"
            else str(uuid.uuid4().int % 10**12).zfill(12)
        )
        with self.container.sessions() as session:
            session.execute(
                sa.update(models.Shipment)
                .where(models.Shipment.id == shipment["id"])
                .values(status="purchased", tracking_number=tracking)
            )
            snap = session.execute(
                sa.select(rating_tables.ShipmentQuoteSnapshot).where(
                    rating_tables.ShipmentQuoteSnapshot.shipment_id == shipment["id"]
                )
            ).scalar_one()
            session.add(
                label_tables.Label(
                    tenant_id=self.tenant.tenant_id,
                    shipment_id=shipment["id"],
                    carrier=self.carrier,
                    service=service_code,
                    tracking_number=tracking,
                    status="purchased",
                    cost_minor=snap.total_cost_minor,
                    currency="USD",
                    purchased_at=utcnow() - timedelta(days=3),
                )
            )
            lines = {line["code"]: line["cost_minor"] for line in snap.lines}
            session.commit()
        booked = Booked(
            id=shipment["id"],
            tracking=tracking,
            service_code=service_code,
            lines=lines,
            zone=rate["zone"] or "",
            billable_weight=Decimal(rate["billable_weight"] or 0),  # none on a live quote
            estimated_delivery=date.fromisoformat(rate["estimated_delivery"]),
            rate=rate,
            rates=shipment["rates"]["rates"],
            destination=body["destination"],
        )
        if scanned:
            self.event(booked, "in_transit", utcnow() - timedelta(days=2), carrier=self.carrier)
        return booked

    def event(
        self,
        booked: Booked,
        milestone: str,
        at: datetime,
        *,
        carrier: str = "ups",
        reason: str | None = None,
    ) -> None:
        with self.container.sessions() as session:
            session.add(
                tracking_tables.TrackingEvent(
                    tenant_id=self.tenant.tenant_id,
                    shipment_id=booked.id,
                    carrier=carrier,
                    tracking_number=booked.tracking,
                    milestone=milestone,
                    reason=reason,
                    mapping="mapped",
                    occurred_at=at,
                    raw_code="D" if milestone == "delivered" else "I",
                    source="push",
                    dedup_key=uuid.uuid4().hex,
                    event={"milestone": milestone},
                )
            )
            if milestone == "delivered":
                state = session.get(tracking_tables.ShipmentTracking, booked.id)
                if state is None:
                    state = tracking_tables.ShipmentTracking(
                        shipment_id=booked.id, tenant_id=self.tenant.tenant_id
                    )
                    session.add(state)
                state.carrier, state.tracking_number = carrier, booked.tracking
                state.milestone, state.delivered_at, state.status_at = "delivered", at, at
            session.commit()

    def update_shipment(self, booked: Booked, **values: Any) -> None:
        with self.container.sessions() as session:
            session.execute(
                sa.update(models.Shipment).where(models.Shipment.id == booked.id).values(**values)
            )
            session.commit()

    # --- invoices ----------------------------------------------------------------------------

    def row(self, booked: Booked, code: str, amount: int | str, **overrides: Any) -> list[str]:
        """An invoice row for one quote line code of a shipment, billed at ``amount`` (cents or text)."""
        fields: dict[str, Any] = dict(UPS_CODES[code])
        if code == "BASE":
            fields.update(
                weight=str(booked.billable_weight),
                weight_type="1",
                dimensions="12.0x 9.0x 4.0",
                zone=booked.zone,
            )
        fields.update(overrides)
        text = _cents(amount) if isinstance(amount, int) else amount
        return ups_row(invoice_number=self.invoice_number, tracking=booked.tracking, amount=text, **fields)

    def clean_rows(self, booked: Booked) -> list[list[str]]:
        """The rows a correct invoice has for a shipment: exactly its quote lines."""
        return [self.row(booked, code, cost) for code, cost in booked.lines.items()]

    def rebill(self, booked: Booked, base: int, **overrides: Any) -> list[list[str]]:
        """A shipment's rows with another base amount, and fuel on it as the carrier computes it."""
        rows = []
        fuel_base = base + sum(
            c for code, c in booked.lines.items() if code not in ("BASE", "FSC", "SIG", "DV")
        )
        for code, cost in booked.lines.items():
            if code == "BASE":
                rows.append(self.row(booked, "BASE", base, **overrides))
            elif code == "FSC":
                rows.append(self.row(booked, "FSC", _fuel(fuel_base)))
            else:
                rows.append(self.row(booked, code, cost))
        return rows

    def upload(self, rows: list[list[str]], *, filename: str = "invoice.csv") -> Any:
        return self.client.post(
            "/v1/invoices",
            data={"file": (io.BytesIO(to_csv(rows)), filename)},
            headers=self.headers,
            content_type="multipart/form-data",
        )

    def reconcile(self, invoice_id: str) -> dict[str, Any]:
        runs.run(self.container.sessions, invoice_id, settings=self.container.settings)
        resp = self.client.get(f"/v1/invoices/{invoice_id}/reconciliation", headers=self.headers)
        assert resp.status_code == 200
        body = resp.get_json()
        assert body["status"] == "reconciled", body
        return body

    def run(self, rows: list[list[str]]) -> tuple[str, dict[str, Any]]:
        resp = self.upload(rows)
        assert resp.status_code == 201, resp.get_json()
        invoice_id = resp.get_json()["id"]
        return invoice_id, self.reconcile(invoice_id)

    def lines(self, invoice_id: str, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        after = None
        while True:
            query = dict(params, limit=500)
            if after is not None:
                query["after"] = after
            resp = self.client.get(
                f"/v1/invoices/{invoice_id}/lines", query_string=query, headers=self.headers
            )
            assert resp.status_code == 200, resp.get_json()
            body = resp.get_json()
            out.extend(body["data"])
            after = body["next_after"]
            if after is None:
                return out

    def findings(self, invoice_id: str) -> dict[tuple[str, str], dict[str, Any]]:
        """(tracking number, class) -> the discrepancy, for every flagged line."""
        found = {}
        for line in self.lines(invoice_id, flagged="true"):
            for d in line["discrepancies"]:
                found[(line["tracking_number"], d["class"])] = {**d, "line": line}
        return found


@pytest.fixture
def world(app: Any, client: Any, make_tenant: Any) -> World:
    return World(app, client, make_tenant)


def _classes(found: dict[tuple[str, str], Any], tracking: str) -> set[str]:
    return {cls for (t, cls) in found if t == tracking}


# --- clean lines ----------------------------------------------------------------------------


def test_an_invoice_that_bills_exactly_the_quotes_raises_nothing(world: World) -> None:
    shipments = [world.book(), world.book(residential=False), world.book(NEXT_DAY_AIR_SAVER)]
    rows = [r for b in shipments for r in world.clean_rows(b)]
    invoice_id, body = world.run(rows)

    report = body["report"]
    assert report["totals"]["lines"] == len(rows)
    assert report["totals"]["flagged_lines"] == 0
    assert report["by_class"] == {}
    assert report["totals"]["billed"] == report["totals"]["expected"]
    assert report["totals"]["recoverable"] == {"amount": "0", "currency": "USD"}
    assert world.findings(invoice_id) == {}
    assert all(line["shipment_id"] for line in world.lines(invoice_id))


# --- whole-line classes ---------------------------------------------------------------------


def test_an_unknown_tracking_number_is_caught_with_the_full_amount_recoverable(world: World) -> None:
    known = world.book()
    stranger = Booked("none", "1Z" + "9" * 16, GROUND, {"BASE": 1249}, "2", Decimal(3), date.today())
    invoice_id, body = world.run([*world.clean_rows(known), world.row(stranger, "BASE", 1249)])
    found = world.findings(invoice_id)
    assert set(found) == {(stranger.tracking, "unknown_tracking")}
    assert found[(stranger.tracking, "unknown_tracking")]["recoverable"] == {
        "amount": "12.49",
        "currency": "USD",
    }
    assert body["report"]["by_class"]["unknown_tracking"]["recoverable"]["amount"] == "12.49"


def _bought_on(world: World, booked: Booked, account: str) -> None:
    with world.container.sessions() as session:
        session.execute(
            sa.update(label_tables.Label)
            .where(label_tables.Label.shipment_id == booked.id)
            .values(account=account)
        )
        session.commit()


def test_a_label_billed_to_another_account_than_it_was_bought_on_is_disputed_whole(world: World) -> None:
    ours, spaced, theirs = world.book(), world.book(), world.book()
    _bought_on(world, ours, "0000A1B2C3")  # the invoice's account (ups_row's default)
    _bought_on(world, spaced, "0000-a1b2 c3")  # the same account, written another way
    _bought_on(world, theirs, "9999Z9Z9Z9")  # another account of the tenant bought this one

    invoice_id, body = world.run(
        [*world.clean_rows(ours), *world.clean_rows(spaced), *world.clean_rows(theirs)]
    )

    found = world.findings(invoice_id)
    assert set(found) == {(theirs.tracking, "wrong_account")}
    finding = found[(theirs.tracking, "wrong_account")]
    assert finding["evidence"]["invoice_account"] == "0000A1B2C3"
    assert finding["evidence"]["label_account"] == "9999Z9Z9Z9"
    # Every line of that shipment is the other account's to pay, disputed whole.
    billed = sum(theirs.lines.values())
    assert body["report"]["by_class"]["wrong_account"]["recoverable"]["amount"] == _cents(billed)


def test_a_charge_billed_twice_is_a_duplicate_within_an_invoice_and_across_invoices(world: World) -> None:
    booked = world.book()
    base = world.row(booked, "BASE", booked.lines["BASE"])
    invoice_id, _ = world.run([*world.clean_rows(booked), base])
    found = world.findings(invoice_id)
    assert _classes(found, booked.tracking) == {"duplicate_charge"}
    evidence = found[(booked.tracking, "duplicate_charge")]["evidence"]
    assert evidence["duplicate_of_invoice_id"] == invoice_id and evidence["duplicate_of_row"] == 1

    world.invoice_number += "B"
    again = world.row(booked, "BASE", booked.lines["BASE"])
    second_id, body = world.run([again])
    found = world.findings(second_id)
    assert _classes(found, booked.tracking) == {"duplicate_charge"}
    assert found[(booked.tracking, "duplicate_charge")]["evidence"]["duplicate_of_invoice_id"] == invoice_id
    assert body["report"]["totals"]["recoverable"]["amount"] == _cents(booked.lines["BASE"])


def test_charges_for_a_voided_label_are_caught(world: World) -> None:
    booked = world.book(scanned=False)
    world.update_shipment(booked, status="voided")
    with world.container.sessions() as session:
        session.execute(
            sa.update(label_tables.Label)
            .where(label_tables.Label.shipment_id == booked.id)
            .values(status="voided", voided_at=utcnow() - timedelta(days=2))
        )
        session.commit()
    invoice_id, body = world.run(world.clean_rows(booked))
    found = world.findings(invoice_id)
    assert _classes(found, booked.tracking) == {"voided_label"}
    assert all(cls == "voided_label" for (_, cls) in found)
    assert body["report"]["by_class"]["voided_label"]["lines"] == len(booked.lines)
    evidence = next(iter(found.values()))["evidence"]
    assert evidence["label_voided_at"] and evidence["carrier_scans"] == 0


def test_a_label_the_carrier_never_scanned_is_caught(world: World) -> None:
    scanned, unscanned = world.book(), world.book(scanned=False)
    invoice_id, _ = world.run(world.clean_rows(scanned) + world.clean_rows(unscanned))
    found = world.findings(invoice_id)
    assert {cls for (_, cls) in found} == {"never_scanned"}
    assert _classes(found, unscanned.tracking) == {"never_scanned"}
    assert _classes(found, scanned.tracking) == set()


def test_a_partner_charge_for_a_package_the_own_fleet_delivered_is_caught(world: World) -> None:
    booked = world.book(scanned=False)
    world.update_shipment(booked, carrier="fleet")
    world.event(booked, "delivered", utcnow() - timedelta(days=1), carrier="fleet")
    invoice_id, _ = world.run(world.clean_rows(booked))
    found = world.findings(invoice_id)
    assert _classes(found, booked.tracking) == {"fleet_delivered"}
    evidence = found[(booked.tracking, "fleet_delivered")]["evidence"]
    assert evidence["delivered_by"] == "fleet" and evidence["delivered_event_id"].startswith("tev_")


def test_a_late_guaranteed_delivery_makes_every_charge_of_the_package_a_refund_claim(world: World) -> None:
    late, on_time, waived = (world.book(NEXT_DAY_AIR_SAVER) for _ in range(3))
    for booked, hours in ((late, 30), (on_time, 12), (waived, 30)):
        eta = datetime.combine(booked.estimated_delivery, datetime.min.time(), tzinfo=UTC)
        world.event(booked, "delivered", eta + timedelta(hours=hours))
    world.event(waived, "exception", utcnow() - timedelta(days=1), reason="weather_delay")
    rows = world.clean_rows(late) + world.clean_rows(on_time) + world.clean_rows(waived)
    invoice_id, body = world.run(rows)
    found = world.findings(invoice_id)
    assert {t for (t, _) in found} == {late.tracking}
    assert _classes(found, late.tracking) == {"late_delivery"}
    assert body["report"]["by_class"]["late_delivery"]["recoverable"]["amount"] == _cents(
        sum(late.lines.values())
    )
    evidence = found[(late.tracking, "late_delivery")]["evidence"]
    assert evidence["estimated_delivery"] == late.estimated_delivery.isoformat()
    assert evidence["commit_deadline"] < evidence["delivered_at"]


# --- amount classes -------------------------------------------------------------------------


def test_a_billed_weight_above_the_quoted_billable_weight_is_caught(world: World) -> None:
    heavier, within = world.book(), world.book()
    base = heavier.lines["BASE"] + 620
    rows = [
        world.row(heavier, "BASE", base, weight="9", weight_type="8"),
        world.row(heavier, "RES", heavier.lines["RES"]),
        world.row(heavier, "FSC", _fuel(base + heavier.lines["RES"])),
    ]
    slightly = str(within.billable_weight + Decimal("0.1"))
    rows += [world.row(within, "BASE", within.lines["BASE"], weight=slightly)]
    rows += [r for r in world.clean_rows(within)[1:]]
    invoice_id, _ = world.run(rows)
    found = world.findings(invoice_id)
    assert _classes(found, heavier.tracking) == {"weight_over_declared"}
    assert _classes(found, within.tracking) == set()
    d = found[(heavier.tracking, "weight_over_declared")]
    assert d["recoverable"]["amount"] == "6.2"
    assert d["evidence"]["billed_weight"] == "9" and d["evidence"]["quoted_weight_unit"] == "lb"


def test_billed_dimensions_above_the_declared_ones_are_caught(world: World) -> None:
    booked = world.book()
    rows = world.clean_rows(booked)
    rows[0] = world.row(booked, "BASE", booked.lines["BASE"], dimensions="18.0x 12.0x 10.0", weight_type="9")
    invoice_id, _ = world.run(rows)
    found = world.findings(invoice_id)
    assert _classes(found, booked.tracking) == {"dimensions_over_declared"}
    evidence = found[(booked.tracking, "dimensions_over_declared")]["evidence"]
    assert (evidence["billed_length"], evidence["declared_length"]) == ("18", "12")


def test_a_zone_other_than_the_contracted_one_is_caught(world: World) -> None:
    booked = world.book()
    rows = world.rebill(booked, booked.lines["BASE"] + 250, zone="004")
    invoice_id, _ = world.run(rows)
    found = world.findings(invoice_id)
    assert _classes(found, booked.tracking) == {"zone_mismatch"}
    d = found[(booked.tracking, "zone_mismatch")]
    assert (d["evidence"]["billed_zone"], d["evidence"]["quoted_zone"]) == ("004", booked.zone)
    assert d["recoverable"]["amount"] == "2.5"


def test_a_base_rate_off_the_contracted_card_is_caught_with_the_quote_as_evidence(world: World) -> None:
    booked = world.book()
    rows = world.rebill(booked, booked.lines["BASE"] + 75)
    invoice_id, _ = world.run(rows)
    found = world.findings(invoice_id)
    assert _classes(found, booked.tracking) == {"base_rate_mismatch"}
    d = found[(booked.tracking, "base_rate_mismatch")]
    assert d["expected"]["amount"] == _cents(booked.lines["BASE"])
    assert d["recoverable"]["amount"] == "0.75"
    assert d["evidence"]["card_id"] == "ups-ground-us"
    assert {q["code"] for q in d["evidence"]["quote_lines"]} == set(booked.lines)


def test_a_fuel_surcharge_not_at_the_cards_percentage_is_caught(world: World) -> None:
    booked = world.book()
    rows = world.clean_rows(booked)
    fuel_at = list(booked.lines).index("FSC")
    rows[fuel_at] = world.row(booked, "FSC", booked.lines["FSC"] + 40)
    invoice_id, _ = world.run(rows)
    found = world.findings(invoice_id)
    assert _classes(found, booked.tracking) == {"fuel_mismatch"}
    d = found[(booked.tracking, "fuel_mismatch")]
    assert d["evidence"]["card_fuel_percent"] == "15.25"
    assert d["recoverable"]["amount"] == "0.4"


def test_surcharges_the_quote_does_not_have_are_caught_only_when_the_shipper_knew_better(
    world: World,
) -> None:
    commercial = world.book(residential=False)  # quoted without RES
    unknown = world.book(residential=None)  # quoted without RES: the shipper did not know
    adc = {
        "classification": "ACC",
        "category": "ADJ",
        "detail": "ADC",
        "description_code": "ADC",
        "description": "Address Correction",
        "weight": "",
        "dimensions": "",
        "zone": "",
    }
    rows = [
        world.row(commercial, "BASE", commercial.lines["BASE"]),
        world.row(commercial, "RES", 610),
        world.row(commercial, "AHS", 1850),
        world.row(commercial, "FSC", _fuel(commercial.lines["BASE"] + 610 + 1850)),
        world.row(commercial, "BASE", "17.00", **adc),
        world.row(unknown, "BASE", unknown.lines["BASE"]),
        world.row(unknown, "RES", 610),
        world.row(unknown, "FSC", _fuel(unknown.lines["BASE"] + 610)),
        world.row(unknown, "BASE", "17.00", **adc),
    ]
    invoice_id, body = world.run(rows)
    flagged = [
        (line["tracking_number"], d["class"], line["charge_class"], d)
        for line in world.lines(invoice_id, flagged="true")
        for d in line["discrepancies"]
    ]
    assert sorted((cls, charge) for t, cls, charge, _ in flagged if t == commercial.tracking) == [
        ("fuel_mismatch", "fuel"),
        ("surcharge_not_quoted", "additional_handling"),
        ("surcharge_not_quoted", "address_correction"),
        ("surcharge_not_quoted", "residential"),
    ]
    assert [f for f in flagged if f[0] == unknown.tracking] == []
    assert body["report"]["by_class"]["surcharge_not_quoted"]["recoverable"]["amount"] == "41.6"
    fuel = next(d for _, cls, _, d in flagged if cls == "fuel_mismatch")
    assert fuel["recoverable"]["amount"] == str(
        Decimal(_fuel(commercial.lines["BASE"] + 2460) - _fuel(commercial.lines["BASE"])).scaleb(-2)
    )
    reasons = {charge: d["reason"] for _, cls, charge, d in flagged}
    assert "commercial" in reasons["residential"] and "validated" in reasons["address_correction"]
    assert {q["code"] for q in flagged[0][3]["evidence"]["quote_lines"]} == set(commercial.lines)


# --- results: report, lines, disputes, credits ----------------------------------------------


def test_the_report_totals_agree_with_the_lines_by_class_and_by_carrier(world: World) -> None:
    good, unknown_base = world.book(), 1249
    stranger = Booked("none", "1Z" + "8" * 16, GROUND, {}, "2", Decimal(3), date.today())
    rows = world.rebill(good, good.lines["BASE"] + 100)
    rows.append(world.row(stranger, "BASE", unknown_base))
    invoice_id, body = world.run(rows)
    lines = world.lines(invoice_id)
    report = body["report"]
    billed = sum(Decimal(line["amount"]["amount"]) for line in lines)
    expected = sum(Decimal(line["expected"]["amount"]) for line in lines)
    recoverable = sum(Decimal(line["recoverable"]["amount"]) for line in lines)
    assert Decimal(report["totals"]["billed"]["amount"]) == billed
    assert Decimal(report["totals"]["expected"]["amount"]) == expected
    assert Decimal(report["totals"]["variance"]["amount"]) == billed - expected
    assert Decimal(report["totals"]["recoverable"]["amount"]) == recoverable == Decimal("13.49")
    assert report["by_carrier"]["ups"]["recoverable"]["amount"] == "13.49"
    assert set(report["by_class"]) == {"base_rate_mismatch", "unknown_tracking"}
    across = world.client.get("/v1/reconciliation/report", headers=world.headers).get_json()
    assert across["totals"]["recoverable"]["amount"] == "13.49" and across["invoices"] == 1


def test_finance_disputes_lines_exports_a_claim_file_and_a_later_credit_closes_the_dispute(
    world: World,
) -> None:
    booked = world.book()
    rows = world.rebill(booked, booked.lines["BASE"] + 300, zone="005")
    invoice_id, _ = world.run(rows)
    (flagged,) = world.lines(invoice_id, flagged="true")
    url = f"/v1/invoices/{invoice_id}/lines/{flagged['id']}"
    resp = world.client.patch(
        url, json={"resolution": "disputed", "note": "zone 2 per contract"}, headers=world.headers
    )
    assert resp.status_code == 200 and resp.get_json()["resolution"] == "disputed"
    residential = next(line for line in world.lines(invoice_id) if line["charge_class"] == "residential")
    note = '=HYPERLINK("http://x","click")'
    world.client.patch(
        f"/v1/invoices/{invoice_id}/lines/{residential['id']}",
        json={"resolution": "disputed", "note": note},
        headers=world.headers,
    )

    export = world.client.get("/v1/disputes/ups", headers=world.headers)
    assert export.status_code == 200 and export.mimetype == "text/csv"
    records = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert len(records) == 2
    claim, manual = records
    assert manual["reason"] == "'" + note  # finance's own text, defused for spreadsheets
    assert manual["claim_amount"] == _cents(booked.lines["RES"]) and manual["discrepancy_classes"] == ""
    assert claim["tracking_number"] == booked.tracking
    assert claim["invoice_number"] == world.invoice_number
    assert claim["claim_amount"] == "3.00" and claim["discrepancy_classes"] == "zone_mismatch"
    assert "zone 005" in claim["reason"]

    world.invoice_number += "C"
    credit = world.row(
        booked,
        "BASE",
        "-3.00",
        category="ADJ",
        detail="CADJ",
        classification="FRT",
        description="Credit adjustment",
    )
    credit_id, _ = world.run([credit])
    line = world.client.get(url, headers=world.headers).get_json()
    assert line["resolution"] == "credited" and line["credited_by_line_id"] is not None
    assert world.lines(credit_id)[0]["id"] == line["credited_by_line_id"]
    after = list(
        csv.DictReader(
            io.StringIO(world.client.get("/v1/disputes/ups", headers=world.headers).get_data(as_text=True))
        )
    )
    assert [r["line_id"] for r in after] == [str(residential["id"])]  # 3.00 does not cover its claim


def test_a_rerun_after_tracking_arrives_clears_a_finding_and_keeps_decisions(world: World) -> None:
    booked = world.book(scanned=False)
    invoice_id, body = world.run(world.clean_rows(booked))
    assert set(body["report"]["by_class"]) == {"never_scanned"}
    world.event(booked, "in_transit", utcnow() - timedelta(days=1))
    resp = world.client.post(f"/v1/invoices/{invoice_id}/reconciliation", json={}, headers=world.headers)
    assert resp.status_code == 202 and resp.get_json()["status"] == "queued"
    assert (
        world.client.post(
            f"/v1/invoices/{invoice_id}/reconciliation", json={}, headers=world.headers
        ).status_code
        == 409
    )
    body = world.reconcile(invoice_id)
    assert body["report"]["by_class"] == {} and body["report"]["totals"]["flagged_lines"] == 0


def test_the_reconciliation_job_runs_on_a_worker_and_reports_progress(world: World, app: Any) -> None:
    from rq import SimpleWorker

    from gateway.jobs import outbox, worker

    booked = world.book()
    resp = world.upload(world.clean_rows(booked))
    invoice_id = resp.get_json()["id"]
    assert resp.get_json()["reconciliation"]["status"] == "queued"
    outbox.relay(world.container)
    worker.run(app, burst=True, worker_class=SimpleWorker)
    body = world.client.get(f"/v1/invoices/{invoice_id}/reconciliation", headers=world.headers).get_json()
    assert body["status"] == "reconciled"
    assert body["progress"]["percent"] == 100.0 and body["progress"]["step"] == "done"
    assert body["job"]["meta"]["percent"] == 100.0
    assert body["job"]["meta"]["lines_total"] == len(booked.lines)


def test_another_tenant_cannot_see_or_touch_an_invoice(world: World, make_tenant: Any) -> None:
    booked = world.book()
    invoice_id, _ = world.run(world.clean_rows(booked))
    other = make_tenant(("finance",))
    for path in (
        f"/v1/invoices/{invoice_id}",
        f"/v1/invoices/{invoice_id}/lines",
        f"/v1/invoices/{invoice_id}/reconciliation",
    ):
        assert world.client.get(path, headers=other.headers).status_code == 404
    line_id = world.lines(invoice_id)[0]["id"]
    resp = world.client.patch(
        f"/v1/invoices/{invoice_id}/lines/{line_id}", json={"resolution": "accepted"}, headers=other.headers
    )
    assert resp.status_code == 404
    assert world.client.get("/v1/disputes/ups", headers=other.headers).get_data(as_text=True).count("\n") == 1


def test_the_cli_reconciles_an_invoice_with_a_progress_bar(world: World, app: Any) -> None:
    booked = world.book(scanned=False)
    resp = world.upload(world.clean_rows(booked))
    invoice_id = resp.get_json()["id"]
    result = app.test_cli_runner().invoke(args=["reconcile", invoice_id])
    assert result.exit_code == 0, result.output
    assert f"{len(booked.lines)} lines, {len(booked.lines)} flagged" in result.output
    assert "never_scanned" in result.output
    body = world.client.get(f"/v1/invoices/{invoice_id}/reconciliation", headers=world.headers).get_json()
    assert body["status"] == "reconciled" and body["report"]["totals"]["flagged_lines"] == len(booked.lines)
    again = app.test_cli_runner().invoke(args=["reconcile", invoice_id, "--again"])
    assert again.exit_code == 0, again.output
    missing = app.test_cli_runner().invoke(args=["reconcile", "inv_nope"])
    assert missing.exit_code != 0 and "no invoice" in missing.output


def test_a_finished_run_sends_reconciliation_completed_to_subscribed_endpoints(world: World) -> None:
    from gateway.webhooks import endpoints
    from gateway.webhooks import tables as webhook_tables

    with world.container.sessions() as session:
        endpoints.create_endpoint(
            session,
            world.container.settings,
            world.tenant.tenant_id,
            url="https://finance.example.com/hooks",
            event_types=["reconciliation.completed"],
        )
        session.commit()
    booked = world.book(scanned=False)
    invoice_id, body = world.run(world.clean_rows(booked))
    with world.container.sessions() as session:
        (event,) = session.execute(
            sa.select(webhook_tables.WebhookEvent).where(
                webhook_tables.WebhookEvent.tenant_id == world.tenant.tenant_id,
                webhook_tables.WebhookEvent.type == "reconciliation.completed",
            )
        ).scalars()
    data = event.data
    assert (data["invoice_id"], data["invoice_number"], data["carrier"]) == (
        invoice_id,
        world.invoice_number,
        "ups",
    )
    assert data["status"] == "completed_with_discrepancies"
    assert data["counts"]["never_scanned"] == len(booked.lines) == data["counts"]["flagged"]
    recoverable = body["report"]["totals"]["recoverable"]
    assert Decimal(data["totals"]["recoverable"]["amount"]) == Decimal(recoverable["amount"])
    assert data["totals"]["recoverable"]["currency"] == recoverable["currency"]


def test_a_run_killed_midway_resumes_without_counting_a_range_twice(world: World) -> None:
    good, lost = world.book(), world.book(scanned=False)
    rows = world.clean_rows(good) + world.clean_rows(lost)
    resp = world.upload(rows)
    invoice_id = resp.get_json()["id"]
    settings = {**world.container.settings, "RECON_CHUNK_LINES": 2}
    calls = []

    def crash(progress: dict[str, Any]) -> None:
        calls.append(progress["step"])
        if len(calls) == 9:
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        runs.run(world.container.sessions, invoice_id, settings=settings, on_progress=crash)
    midway = world.client.get(f"/v1/invoices/{invoice_id}/reconciliation", headers=world.headers).get_json()
    assert midway["status"] == "failed" and "worker killed" in midway["error"]
    assert 0 < midway["progress"]["percent"] < 100

    runs.run(world.container.sessions, invoice_id, settings=settings)
    body = world.client.get(f"/v1/invoices/{invoice_id}/reconciliation", headers=world.headers).get_json()
    assert body["status"] == "reconciled"
    totals = body["report"]["totals"]
    assert totals["lines"] == len(rows) and totals["flagged_lines"] == len(lost.lines)
    assert body["report"]["by_class"]["never_scanned"]["lines"] == len(lost.lines)
    assert (
        Decimal(totals["billed"]["amount"])
        == Decimal(sum(good.lines.values()) + sum(lost.lines.values())) / 100
    )
    assert Decimal(totals["recoverable"]["amount"]) == Decimal(sum(lost.lines.values())) / 100


# --- every line against its quote, live or card (issue 15, item 12) --------------------------

LIVE_SERVICE = "02"  # UPS 2nd Day Air: no bundled card prices it, so its only rate is the live one


def ups_rate_reply(negotiated_total: str) -> dict[str, Any]:
    """A UPS Rating (Shop) reply shaped after the UPS OpenAPI spec: published charges, negotiated total."""
    return {
        "RateResponse": {
            "Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
            "RatedShipment": [
                {
                    "Service": {"Code": LIVE_SERVICE, "Description": "2nd Day Air"},
                    "BillingWeight": {
                        "UnitOfMeasurement": {"Code": "LBS", "Description": "Pounds"},
                        "Weight": "3.0",
                    },
                    "TransportationCharges": {"CurrencyCode": "USD", "MonetaryValue": "13.05"},
                    "ServiceOptionsCharges": {"CurrencyCode": "USD", "MonetaryValue": "0.00"},
                    "TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": "13.05"},
                    "NegotiatedRateCharges": {
                        "TotalCharge": {"CurrencyCode": "USD", "MonetaryValue": negotiated_total}
                    },
                    "GuaranteedDelivery": {"BusinessDaysInTransit": "2"},
                    "RatedPackage": [{"Weight": "2.5"}],
                }
            ],
        }
    }


UPS_TOKEN_REPLY = {
    "token_type": "Bearer",
    "issued_at": "1700000000000",
    "client_id": "cid",
    "access_token": "eyJ-live-recon",
    "scope": "",
    "expires_in": "14399",
    "refresh_count": "0",
    "status": "approved",
}


@pytest.fixture(scope="module")
def live_app(settings: dict[str, Any]) -> Any:
    """The gateway with the UPS adapter enabled (its HTTP mocked per test), beside the sample cards."""
    from gateway import create_app

    application = create_app(ups_enabled_settings(settings, "A1B2C3"))
    yield application
    application.extensions["handoff"].dispose()


def _tenant_key(application: Any, roles: tuple[str, ...]) -> Any:
    """A new tenant with a key holding ``roles``, in an app of the module's own (not the shared one)."""
    from gateway.kernel import auth
    from tests.conftest import TenantKey

    with application.extensions["handoff"].sessions() as session:
        slug = f"t-{uuid.uuid4().hex[:10]}"
        tenant = models.Tenant(name=slug, slug=slug)
        session.add(tenant)
        session.flush()
        row, key = auth.create_key(session, tenant.id, roles, pepper=application.config["SECRET_PEPPER"])
        session.commit()
        return TenantKey(tenant.id, key, row.id)


@pytest.fixture
def live_world(live_app: Any) -> Any:
    import re

    import responses

    def make_tenant(roles: tuple[str, ...]) -> Any:
        return _tenant_key(live_app, roles)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, "https://ups.invalid/security/v1/oauth/token", json=UPS_TOKEN_REPLY)
        mock.add(
            responses.POST, re.compile(r"https://ups\.invalid/api/rating/.*"), json=ups_rate_reply("11.69")
        )
        yield World(live_app, live_app.test_client(), make_tenant)


def live_row(world: World, booked: Booked, amount: int | str, **overrides: Any) -> list[str]:
    """A transportation row for a live-rated shipment, as UPS bills it (no zone or weight we quoted)."""
    fields = {"description": "UPS 2nd Day Air", "weight": "", "dimensions": "", "zone": "", **overrides}
    return world.row(booked, "BASE", amount, **fields)


def test_a_live_rated_shipment_billed_above_its_quote_is_caught_with_the_overage_recoverable(
    live_world: World,
) -> None:
    over, within, exact = (live_world.book(LIVE_SERVICE) for _ in range(3))
    # A live quote keeps UPS's charge lines, which add up to the charged total (11.69).
    assert over.rate["source"] == "live" and sum(over.lines.values()) == 1169
    rows = [
        live_row(live_world, over, 1420),
        live_row(live_world, within, 1180),  # 0.94 % above 11.69: inside the 2 % tolerance
        live_row(live_world, exact, 1169),
    ]
    invoice_id, body = live_world.run(rows)

    found = live_world.findings(invoice_id)
    assert set(found) == {(over.tracking, "total_over_quote")}
    d = found[(over.tracking, "total_over_quote")]
    assert d["recoverable"] == {"amount": "2.51", "currency": "USD"}
    assert d["expected"]["amount"] == "11.69"
    assert d["evidence"]["quote_source"] == "live"
    evidence = d["evidence"]
    assert (evidence["quoted_total"]["amount"], evidence["billed_total"]["amount"]) == ("11.69", "14.20")
    assert "14.20" in d["reason"] and "11.69" in d["reason"]
    report = body["report"]
    assert report["by_class"]["total_over_quote"]["recoverable"]["amount"] == "2.51"
    assert Decimal(report["totals"]["expected"]["amount"]) == Decimal("11.69") + Decimal("11.80") + Decimal(
        "11.69"
    )


def test_a_charge_within_the_total_tolerance_is_not_flagged_and_the_tolerance_is_a_setting(
    live_world: World,
) -> None:
    booked = live_world.book(LIVE_SERVICE)
    invoice_id, body = live_world.run([live_row(live_world, booked, 1190)])  # 1.8 % above
    assert live_world.findings(invoice_id) == {}
    assert body["report"]["totals"]["flagged_lines"] == 0

    settings = {**live_world.container.settings, "RECON_TOTAL_TOLERANCE_PERCENT": 1}
    live_world.client.post(f"/v1/invoices/{invoice_id}/reconciliation", json={}, headers=live_world.headers)
    runs.run(live_world.container.sessions, invoice_id, settings=settings)
    found = live_world.findings(invoice_id)
    assert set(found) == {(booked.tracking, "total_over_quote")}
    assert str(found[(booked.tracking, "total_over_quote")]["evidence"]["tolerance_percent"]) == "1"


def test_surcharges_no_live_quote_can_hold_are_caught_on_live_rated_shipments(live_world: World) -> None:
    commercial, residential = live_world.book(LIVE_SERVICE, residential=False), live_world.book(LIVE_SERVICE)
    adc = {
        "classification": "ACC",
        "category": "ADJ",
        "detail": "ADC",
        "description_code": "ADC",
        "description": "Address Correction",
    }
    rows = [
        live_row(live_world, commercial, 1169),
        live_world.row(commercial, "RES", 305),
        live_row(live_world, residential, 1169),
        live_row(live_world, residential, 1850, **adc),
    ]
    invoice_id, _ = live_world.run(rows)
    flagged = {
        (line["tracking_number"], line["charge_class"]): d
        for line in live_world.lines(invoice_id, flagged="true")
        for d in line["discrepancies"]
    }
    assert {k: d["class"] for k, d in flagged.items()} == {
        (commercial.tracking, "residential"): "surcharge_not_quoted",
        (residential.tracking, "address_correction"): "surcharge_not_quoted",
    }
    assert flagged[(commercial.tracking, "residential")]["evidence"]["quote_source"] == "live"


def _demo_order(booked: Booked, *, carrier: str = "ups", voided: bool = False) -> Any:
    from demo import day

    return day.Order(
        shop="recon-test",
        reference=f"ORD-{booked.id[-6:]}",
        service_level="standard",
        promise_date=booked.estimated_delivery,
        destination=booked.destination,
        weight_kg=Decimal("1.1"),
        dims_cm=(30, 22, 10),
        value=Decimal("49.99"),
        fragile=False,
        area="manhattan",
        shipment_id=booked.id,
        rates=booked.rates,
        carrier=carrier,
        service=booked.service_code,
        rate_id=booked.rate.get("id"),
        tracking_number=booked.tracking,
        voided=voided,
    )


def _fleet_deliveries(world: World, service_code: str = GROUND) -> list[Any]:
    """Two shipments the own fleet delivered yesterday, as demo orders (a partner must not bill them)."""
    fleet = []
    for _ in range(2):
        van = world.book(service_code, scanned=False)
        world.update_shipment(van, carrier="fleet")
        world.event(van, "delivered", utcnow() - timedelta(days=1), carrier="fleet")
        fleet.append(_demo_order(van, carrier="fleet"))
    return fleet


def _reconciled_findings(world: World, doc: Any, carrier: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Upload the demo's invoice in the carrier's layout, reconcile it, and return what was flagged."""
    resp = world.client.post(
        "/v1/invoices",
        data={
            "file": (io.BytesIO(doc.csv.encode()), f"{carrier}-demo.csv"),
            "format": carrier,
            "carrier": carrier,
        },
        headers=world.headers,
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_json()
    invoice_id = resp.get_json()["id"]
    world.reconcile(invoice_id)
    return world.findings(invoice_id)


def test_every_mistake_the_demo_invoice_injects_is_found_on_card_and_live_quotes(live_world: World) -> None:
    from demo import invoices as demo_invoices

    world = live_world
    card_mistakes = [kind for kind, _ in demo_invoices.MISTAKES] + ["residential_on_commercial"]
    mistakes: dict[str, str] = {}
    billed: list[Any] = []
    for kind in card_mistakes:
        booked = world.book(residential=kind != "residential_on_commercial")
        mistakes[booked.id] = kind
        billed.append(_demo_order(booked))
    # The demo day's UPS shipments are mostly live-rated: these are where 0 of 2 were found.
    for kind in ("address_correction", "residential_on_commercial", "duplicate_charge"):
        booked = world.book(LIVE_SERVICE, residential=kind != "residential_on_commercial")
        mistakes[booked.id] = kind
        billed.append(_demo_order(booked))
    clean_live, clean_card = world.book(LIVE_SERVICE), world.book()
    billed += [_demo_order(clean_live), _demo_order(clean_card)]
    voided = world.book(scanned=False)
    world.update_shipment(voided, status="voided")
    with world.container.sessions() as session:
        session.execute(
            sa.update(label_tables.Label)
            .where(label_tables.Label.shipment_id == voided.id)
            .values(status="voided", voided_at=utcnow() - timedelta(days=2))
        )
        session.commit()
    billed.append(_demo_order(voided, voided=True))
    fleet = _fleet_deliveries(world)

    doc = demo_invoices.ups_invoice(
        billed,
        fleet=fleet,
        invoice_number=world.invoice_number,
        account="H4ND0F",
        invoice_date=date.today(),
        seed="recon-test",
        mistakes=mistakes,
    )
    assert {i["mistake"] for i in doc.injected if "mistake" in i} == {*card_mistakes, "voided_label"}
    found = _reconciled_findings(world, doc, "ups")

    missed = [i for i in doc.injected if (i["tracking_number"], i["kind"]) not in found]
    assert missed == []
    assert {i["kind"] for i in doc.injected} == {
        *(demo_invoices.RECONCILIATION_CLASS.get(k, k) for k in card_mistakes),
        "voided_label",
        "fleet_delivered",
        "unknown_tracking",
    }
    injected_numbers = {i["tracking_number"] for i in doc.injected}
    assert [key for key in found if key[0] not in injected_numbers] == []  # clean shipments stay clean


# --- the demo's FedEx invoice (Billing Online CSV) against live FedEx quotes --------------------------


@pytest.fixture(scope="module")
def fedex_app(settings: dict[str, Any]) -> Any:
    """The gateway with the FedEx adapter enabled at https://fedex.invalid (mocked per test)."""
    from gateway import create_app

    fedex = {
        "adapter": "fedex",
        "id": "fedex",
        "config": {
            "client_id": "cid",
            "client_secret": "csecret",
            "account_number": "740561073",
            "base_url": "https://fedex.invalid",
        },
    }
    application = create_app({**settings, "CARRIERS": json.dumps([fedex]), "RATE_CACHE_TTL_SECONDS": 0})
    yield application
    application.extensions["handoff"].dispose()


@pytest.fixture
def fedex_world(fedex_app: Any) -> Any:
    import responses

    from tests.unit.adapters_fedex import fedex_fixtures as fedex

    def make_tenant(roles: tuple[str, ...]) -> Any:
        return _tenant_key(fedex_app, roles)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, "https://fedex.invalid/oauth/token", json=fedex.TOKEN_REPLY)
        mock.add(
            responses.POST, "https://fedex.invalid/rate/v1/rates/quotes", body=fedex.dumps(fedex.RATE_REPLY)
        )
        yield World(fedex_app, fedex_app.test_client(), make_tenant, carrier="fedex")


def test_every_mistake_the_demo_fedex_invoice_injects_is_found(fedex_world: World) -> None:
    from demo import invoices as demo_invoices

    world = fedex_world
    kinds = [kind for kind, _ in demo_invoices.MISTAKES] + ["residential_on_commercial"]
    mistakes: dict[str, str] = {}
    billed: list[Any] = []
    for kind in kinds:
        booked = world.book("FEDEX_GROUND", residential=kind != "residential_on_commercial")
        mistakes[booked.id] = kind
        billed.append(_demo_order(booked, carrier="fedex"))
    clean = world.book("FEDEX_GROUND")
    billed.append(_demo_order(clean, carrier="fedex"))
    fleet = _fleet_deliveries(world, "FEDEX_GROUND")

    doc = demo_invoices.fedex_invoice(
        billed,
        fleet=fleet,
        invoice_number=world.invoice_number,
        account="740561073",
        invoice_date=date.today(),
        seed="recon-test-fedex",
        mistakes=mistakes,
    )
    # FedEx's live quote itemises a base charge and fuel, so every kind can be billed on it.
    assert {i["mistake"] for i in doc.injected if "mistake" in i} == set(kinds)
    found = _reconciled_findings(world, doc, "fedex")

    missed = [i for i in doc.injected if (i["tracking_number"], i["kind"]) not in found]
    assert missed == []
    assert not [key for key in found if key[0] == clean.tracking]
    # What a live quote cannot hold (zone, billable weight, fuel percentage) is found as the total above it.
    assert {i["mistake"]: i["kind"] for i in doc.injected if "mistake" in i} == {
        **{kind: demo_invoices.RECONCILIATION_CLASS.get(kind, kind) for kind in kinds},
        **dict.fromkeys(demo_invoices.LIVE_TOTAL_ONLY, "total_over_quote"),
    }
