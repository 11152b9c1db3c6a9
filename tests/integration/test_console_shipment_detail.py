"""The console's shipment page: proof of delivery with its map, rates quoted, allocation, carrier exchanges."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from gateway.allocation import tables as allocation_tables
from gateway.exchanges.tables import CarrierExchange
from gateway.kernel import models
from gateway.kernel.types import utcnow
from gateway.rates.tables import RateQuote, ShipmentQuoteSnapshot
from gateway.tracking import ingest
from schemas import events, taxonomy
from tests.integration.test_console_web import PLANT, Seeded, make_user, seed, sign_in

CODE = "493817"  # the one-time code the recipient gave: never shown


@dataclass
class Shown:
    seeded: Seeded
    selected_rate: str
    other_rate: str
    exchange_id: int


def _quote(tenant_id: str, shipment_id: str, service_name: str, sell: int) -> RateQuote:
    now = utcnow()
    return RateQuote(
        tenant_id=tenant_id,
        shipment_id=shipment_id,
        spec_hash="0" * 64,
        source="contract",
        carrier="ups",
        service_code="03" if sell < 2000 else "02",
        service_name=service_name,
        currency="USD",
        total_cost_minor=sell - 300,
        total_sell_minor=sell,
        estimated_delivery=date.today() + timedelta(days=2),
        snapshot={"lines": []},
        created_at=now - timedelta(hours=3),
        expires_at=now + timedelta(hours=1),
    )


def _deliver(app: Any, make_tenant: Any) -> Shown:
    """A seeded shipment delivered with a proof (location near its geocoded address), two rates quoted
    (the cheaper bought), an allocation decision and two carrier exchanges, HTML planted in them."""
    s = seed(app, make_tenant)
    now = utcnow()
    with app.extensions["handoff"].sessions() as session:
        shipment = session.get(models.Shipment, s.shipment_id)
        shipment.destination.latitude, shipment.destination.longitude = (
            Decimal("40.7608"),
            Decimal("-73.9777"),
        )
        ingest.ingest(
            session,
            [
                events.CanonicalEvent(
                    tracking_number=s.tracking_number,
                    carrier="ups",
                    occurred_at=now - timedelta(hours=1),
                    raw_code="D",
                    raw_message="Delivered",
                    milestone=taxonomy.Milestone.DELIVERED,
                    source_event_id=uuid.uuid4().hex,
                    pod=events.ProofOfDelivery(
                        signature_sha256="a" * 64,
                        photo_sha256="b" * 64,
                        latitude=Decimal("40.7615"),
                        longitude=Decimal("-73.9770"),
                        accuracy_m=Decimal("8"),
                        one_time_code=CODE,
                        signed_by="J DOE",
                        captured_at=now - timedelta(hours=1),
                    ),
                )
            ],
        )
        cheap = _quote(s.tenant_id, s.shipment_id, "Ground", 1250)
        dear = _quote(s.tenant_id, s.shipment_id, f"Air {PLANT}", 4100)
        session.add_all([cheap, dear])
        session.flush()
        session.add(
            ShipmentQuoteSnapshot(
                tenant_id=s.tenant_id,
                shipment_id=s.shipment_id,
                rate_id=cheap.id,
                source="contract",
                carrier="ups",
                service_code="03",
                service_name="Ground",
                currency="USD",
                lines=[],
                total_cost_minor=950,
                total_sell_minor=1250,
            )
        )
        depot = allocation_tables.Depot(
            tenant_id=s.tenant_id,
            name="Midtown",
            latitude=Decimal("40.75"),
            longitude=Decimal("-73.99"),
            opens=480,
            closes=1080,
            timezone="America/New_York",
            currency="USD",
            road_factor=Decimal("1.3"),
        )
        session.add(depot)
        session.flush()
        session.add(
            allocation_tables.ShipmentAllocation(
                shipment_id=s.shipment_id,
                tenant_id=s.tenant_id,
                depot_id=depot.id,
                day=date.today(),
                source="online",
                assignee="ups",
                service="03",
                cost_minor=1250,
                currency="USD",
                reason="cheapest",
                detail="the fleet was full; UPS Ground was the cheapest partner on time",
                rule_ids=["rule-big-parcels"],
            )
        )
        exchange = CarrierExchange(
            carrier="ups",
            operation="track",
            tenant_id=s.tenant_id,
            shipment_id=s.shipment_id,
            method="GET",
            url=f"https://onlinetools.ups.com/track/v1/details/{s.tracking_number}?x={PLANT}",
            http_status=502,
            duration_ms=840,
            error=f"upstream said {PLANT}",
            request={"headers": {}},
            response={"body": PLANT},
        )
        session.add(exchange)
        session.commit()
        return Shown(s, cheap.id, dear.id, exchange.id)


def _ops(app: Any, tenant_id: str, roles: tuple[str, ...] = ("ops",)) -> Any:
    client = app.test_client()
    assert sign_in(client, make_user(app, tenant_id, roles)).status_code == 303
    return client


def test_a_delivered_shipment_shows_its_proof_with_a_map_of_where_it_was_captured(app, make_tenant):
    shown = _deliver(app, make_tenant)
    page = _ops(app, shown.seeded.tenant_id).get(f"/console/shipments/{shown.seeded.shipment_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    proof = html[html.index('id="proof-h"') : html.index('id="rates-h"')]
    assert "a" * 64 in proof and "b" * 64 in proof and "J DOE" in proof
    assert "40.76150, -73.97700" in proof and "(± 8 m)" in proof
    assert CODE not in html and "given" in proof  # the code proves delivery: only whether one was given
    svg = proof[proof.index("<svg") : proof.index("</svg>")]
    assert 'id="pod-map"' in svg and svg.count("<circle") == 1  # the proof's point
    assert "Destination address" in svg  # and the geocoded address, as a square
    assert re.search(r"<text [^>]*>\d+ m</text>", svg), svg  # the scale bar in metres at this distance
    assert "m as the crow flies" in proof  # the distance from the address
    assert 'href="/console/static/allocation.css"' in html  # the map's styles, not inline (CSP)
    assert "style=" not in html and "<script" not in html


def test_the_rates_quoted_are_listed_with_the_selected_one_marked(app, make_tenant):
    shown = _deliver(app, make_tenant)
    html = (
        _ops(app, shown.seeded.tenant_id)
        .get(f"/console/shipments/{shown.seeded.shipment_id}")
        .get_data(as_text=True)
    )
    rates = html[html.index('id="rates"') : html.index("</table>", html.index('id="rates"'))]
    rows = re.findall(r'<tr class="([^"]*)" id="rate-([^"]+)">(.*?)</tr>', rates, re.S)
    by_id = {r[1]: r for r in rows}  # booking rate-shopped too: those quotes are listed as well
    assert [r[1] for r in rows if r[0] == "selected"] == [shown.selected_rate]
    chosen, other = by_id[shown.selected_rate], by_id[shown.other_rate]
    assert "<strong>selected</strong>" in chosen[2] and "selected" not in other[2]
    assert "12.50 USD" in chosen[2] and "41.00 USD" in other[2]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in other[2]
    allocation = html[html.index('id="allocation"') :]
    assert "UPS Ground was the cheapest partner on time" in allocation
    assert "cheapest" in allocation and "rule-big-parcels" in allocation and "12.50 USD" in allocation


def test_the_carrier_exchanges_are_listed_as_text_with_links_to_each(app, make_tenant):
    shown = _deliver(app, make_tenant)
    html = (
        _ops(app, shown.seeded.tenant_id)
        .get(f"/console/shipments/{shown.seeded.shipment_id}")
        .get_data(as_text=True)
    )
    exchanges = html[html.index('id="exchanges"') :]
    assert f'href="/console/carriers/exchanges/{shown.exchange_id}"' in exchanges
    assert "502" in exchanges and "840 ms" in exchanges and "track" in exchanges
    assert "upstream said &lt;script&gt;" in exchanges
    assert "<script>" not in html and "<b>bold</b>" not in html
    finance = _ops(app, shown.seeded.tenant_id, ("finance",))
    seen = finance.get(f"/console/shipments/{shown.seeded.shipment_id}").get_data(as_text=True)
    assert "840 ms" in seen and "/console/carriers/exchanges/" not in seen  # that page is ops'


def test_another_tenants_shipment_is_a_404_and_its_parts_never_show(app, make_tenant):
    shown = _deliver(app, make_tenant)
    other = seed(app, make_tenant)
    client = _ops(app, other.tenant_id)
    assert client.get(f"/console/shipments/{shown.seeded.shipment_id}").status_code == 404
    own = client.get(f"/console/shipments/{other.shipment_id}").get_data(as_text=True)
    assert "No proof of delivery recorded." in own and "No allocation decision" in own
    assert "No carrier exchange recorded" in own
    assert shown.selected_rate not in own and shown.other_rate not in own and "J DOE" not in own
