"""Batch plans, what-ifs and online decisions through the API, with the jobs run by a real RQ worker."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from gateway.jobs import worker
from gateway.rates.tables import ShipmentQuoteSnapshot
from tests.helpers import label_sellers, shipment_body
from tests.integration.test_allocation import depot_body, vehicle_body

pytestmark = pytest.mark.integration

NEW_YORK = ZoneInfo("America/New_York")
# A tight cluster in Midtown Manhattan, close to the Secaucus depot, and a few in Philadelphia.
MIDTOWN = [
    ("10019", "40.7616", "-73.9777"),
    ("10019", "40.7648", "-73.9808"),
    ("10036", "40.7590", "-73.9845"),
    ("10036", "40.7577", "-73.9857"),
    ("10020", "40.7587", "-73.9787"),
    ("10018", "40.7552", "-73.9932"),
    ("10001", "40.7506", "-73.9972"),
    ("10001", "40.7484", "-73.9967"),
]
PHILADELPHIA = [("19103", "39.9526", "-75.1652"), ("19107", "39.9496", "-75.1503")]
FAST = {"time_limit_s": "3", "seed": 1, "max_iterations": 300}


def book(
    client: Any, tenant: Any, where: tuple[str, str, str], reference: str, meta: dict[str, str] | None = None
) -> dict[str, Any]:
    postal, lat, lon = where
    body = shipment_body(reference)
    body["destination"].update(postal_code=postal, latitude=lat, longitude=lon)
    body["metadata"] = meta or {}
    resp = client.post("/v1/shipments", json=body, headers=tenant.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def local_day(shipment: dict[str, Any]) -> date:
    return datetime.fromisoformat(shipment["created_at"]).astimezone(NEW_YORK).date()


def setup_fleet(client: Any, tenant: Any, **van: Any) -> tuple[str, str]:
    depot = client.post("/v1/allocation/depots", json=depot_body(), headers=tenant.headers)
    assert depot.status_code == 201, depot.get_json()
    depot_id = depot.get_json()["id"]
    vehicle = client.post(
        "/v1/allocation/vehicles", json=vehicle_body(depot_id, **van), headers=tenant.headers
    )
    assert vehicle.status_code == 201, vehicle.get_json()
    return depot_id, vehicle.get_json()["id"]


def run_jobs(app: Any) -> None:
    worker.run(app, burst=True, worker_class=SimpleWorker)


def plan_day(client: Any, app: Any, tenant: Any, day: date, **extra: Any) -> dict[str, Any]:
    resp = client.post(
        "/v1/allocation/plans", json={"day": day.isoformat(), **FAST, **extra}, headers=tenant.headers
    )
    assert resp.status_code == 202, resp.get_json()
    queued = resp.get_json()
    assert queued["state"] == "queued" and queued["result"] is None
    assert resp.headers["Location"].endswith(f"/v1/allocation/plans/{queued['id']}")
    run_jobs(app)
    done = client.get(f"/v1/allocation/plans/{queued['id']}", headers=tenant.headers).get_json()
    assert done["state"] == "done", done
    assert done["progress"] == 100
    return done


def money(m: dict[str, str]) -> Decimal:
    return Decimal(m["amount"])


@pytest.fixture(autouse=True)
def partners_sell_labels(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """This installation buys UPS and DHL Express labels, so their rates are partner offers."""
    monkeypatch.setattr(app.extensions["handoff"], "_carriers", label_sellers("ups", "dhl_express"))


@pytest.fixture
def day_of_bookings(client: Any, make_tenant: Any) -> tuple[Any, date, dict[str, str]]:
    tenant = make_tenant(("platform", "ops"))
    refs: dict[str, str] = {}
    shipments = [book(client, tenant, w, f"MID-{i}") for i, w in enumerate(MIDTOWN)]
    shipments += [book(client, tenant, w, f"PHL-{i}") for i, w in enumerate(PHILADELPHIA)]
    for s in shipments:
        refs[s["id"]] = s["reference"]
    return tenant, local_day(shipments[0]), refs


def test_a_plan_runs_as_a_job_and_routes_the_city_by_van_and_hands_far_packages_to_partners(
    client, app, day_of_bookings
):
    tenant, day, refs = day_of_bookings
    _, van_id = setup_fleet(client, tenant)
    plan = plan_day(client, app, tenant, day)
    result = plan["result"]

    decisions = {p["shipment_id"]: p for p in result["packages"]}
    assert set(decisions) == set(refs)
    fleet = [p for p in result["packages"] if p["assignee"] == "fleet"]
    partner = [p for p in result["packages"] if p["assignee"] == "partner"]
    assert fleet and partner and len(fleet) + len(partner) == len(refs)
    assert {refs[p["shipment_id"]][:3] for p in fleet} == {"MID"}
    assert {refs[p["shipment_id"]] for p in partner} >= {"PHL-0", "PHL-1"}
    for p in fleet:
        assert p["carrier"] == "fleet" and p["vehicle_id"] == van_id and p["stop"] >= 1 and p["eta"]
    for p in partner:
        assert p["carrier"] and p["service"] and money(p["cost"]) > 0

    # One route with the stops in order and ETAs that never go back in time.
    (route,) = result["routes"]
    assert route["vehicle_id"] == van_id
    assert [s["sequence"] for s in route["stops"]] == list(range(1, len(fleet) + 1))
    etas = [datetime.fromisoformat(s["eta"]) for s in route["stops"]]
    assert etas == sorted(etas)
    assert (
        datetime.fromisoformat(route["depart"])
        <= etas[0]
        <= etas[-1]
        <= datetime.fromisoformat(route["back"])
    )

    # Handovers list every partner package once; totals add up; never dearer than rate shopping.
    handed = [i for h in result["handovers"] for i in h["shipment_ids"]]
    assert sorted(handed) == sorted(p["shipment_id"] for p in partner)
    totals = result["totals"]
    assert money(totals["fleet"]) + money(totals["partners"]) == money(totals["total"])
    assert money(totals["partners"]) == sum((money(h["cost"]) for h in result["handovers"]), Decimal(0))
    assert money(totals["total"]) <= money(result["baseline"]["total"])
    assert money(result["savings"]["amount"]) == money(result["baseline"]["total"]) - money(totals["total"])
    assert result["infeasible"] == [] and result["baseline"]["unassigned"] == 0
    assert result["configuration"]["vehicles"][0]["id"] == van_id
    # How far from optimal it may be: a proven lower bound on the day's cost, and the gap to it.
    bound = money(result["lower_bound"])
    assert Decimal(0) < bound <= money(totals["total"])
    gap = (money(totals["total"]) - bound) / money(totals["total"])
    assert abs(Decimal(result["gap"]) - gap) < Decimal("0.001")  # the total shown is rounded to cents
    assert result["gap_percent"] == f"{Decimal(result['gap']) * 100:.2f}"


def test_applying_a_plan_gives_every_shipment_its_carrier_and_is_audited(client, app, day_of_bookings):
    tenant, day, refs = day_of_bookings
    setup_fleet(client, tenant)
    plan = plan_day(client, app, tenant, day)
    resp = client.post(f"/v1/allocation/plans/{plan['id']}/apply", json={}, headers=tenant.headers)
    assert resp.status_code == 200, resp.get_json()
    applied = resp.get_json()
    assert applied["state"] == "applied" and len(applied["applied"]) == len(refs) and applied["skipped"] == []

    for p in plan["result"]["packages"]:
        shipment = client.get(f"/v1/shipments/{p['shipment_id']}", headers=tenant.headers).get_json()
        assert (shipment["carrier"], shipment["service"]) == (p["carrier"], p["service"])
        assert shipment["status"] == "draft"
        alloc = client.get(f"/v1/shipments/{p['shipment_id']}/allocation", headers=tenant.headers).get_json()
        assert (
            alloc["source"] == "plan" and alloc["plan_id"] == plan["id"] and alloc["carrier"] == p["carrier"]
        )
    assert (
        client.get(f"/v1/allocation/plans/{plan['id']}", headers=tenant.headers).get_json()["state"]
        == "applied"
    )
    # Partner rates were still valid, so they are frozen on the shipments as POST /rate would.
    with app.extensions["handoff"].sessions() as session:
        frozen = dict(
            session.execute(
                sa.select(ShipmentQuoteSnapshot.shipment_id, ShipmentQuoteSnapshot.rate_id).where(
                    ShipmentQuoteSnapshot.shipment_id.in_(list(refs))
                )
            ).all()
        )
    partners = {
        p["shipment_id"]: p["rate_id"] for p in plan["result"]["packages"] if p["assignee"] == "partner"
    }
    assert partners and frozen == partners
    again = client.post(
        f"/v1/allocation/plans/{plan['id']}/apply", json={}, headers=tenant.headers
    ).get_json()
    assert again["already_applied"] is True
    audit = client.get(f"/v1/allocation/audit?entity_id={plan['id']}", headers=tenant.headers).get_json()[
        "data"
    ]
    assert [(e["action"], e["changes"]["applied"]) for e in audit] == [("apply", len(refs))]


def test_a_rule_forbidding_the_fleet_for_a_postal_prefix_is_honoured(client, app, day_of_bookings):
    tenant, day, refs = day_of_bookings
    setup_fleet(client, tenant)
    rule = {
        "id": "no-vans-10019",
        "when": {"postal_prefix": ["10019"]},
        "action": {"type": "forbid", "target": "fleet"},
    }
    written = client.post(
        "/v1/allocation/rule-sets", json={"name": "city", "rules": [rule]}, headers=tenant.headers
    )
    assert written.status_code == 201, written.get_json()
    assert written.get_json()["issues"] == []

    result = plan_day(client, app, tenant, day)["result"]
    kept_off = [p for p in result["packages"] if refs[p["shipment_id"]] in ("MID-0", "MID-1")]
    assert len(kept_off) == 2
    for p in kept_off:
        assert p["assignee"] == "partner"
        assert p["reason"] == "rule" and p["rule_ids"] == ["no-vans-10019"]
    routed = {s["shipment_id"] for r in result["routes"] for s in r["stops"]}
    assert not routed & {p["shipment_id"] for p in kept_off}
    assert routed, "the other Midtown packages still go by van"
    assert result["configuration"]["rule_sets"][0]["version"] == 1


def test_an_infeasible_rule_combination_is_reported_with_the_rules_involved(client, app, day_of_bookings):
    tenant, day, refs = day_of_bookings
    setup_fleet(client, tenant)
    rules = [
        {
            "id": "vans-only-191",
            "when": {"postal_prefix": ["191"]},
            "action": {"type": "require", "target": "fleet"},
        },
        {
            "id": "no-vans-191",
            "when": {"postal_prefix": ["191"]},
            "action": {"type": "forbid", "target": "fleet"},
        },
    ]
    written = client.post(
        "/v1/allocation/rule-sets", json={"name": "philly", "rules": rules}, headers=tenant.headers
    )
    assert written.status_code == 201, written.get_json()
    body = written.get_json()
    assert body["checked_against"]["day"] == day.isoformat()
    kinds = {i["kind"]: i for i in body["issues"]}
    assert set(kinds) == {"conflict", "no_feasible_option"}
    philly = {s for s, r in refs.items() if r.startswith("PHL")}
    for issue in kinds.values():
        assert issue["rule_ids"] == ["no-vans-191", "vans-only-191"]
        assert set(issue["shipment_ids"]) == philly
    checked = client.get("/v1/allocation/rule-sets/check", headers=tenant.headers).get_json()
    assert {i["kind"] for i in checked["issues"]} == {"conflict", "no_feasible_option"}

    plan = plan_day(client, app, tenant, day)
    result = plan["result"]
    assert {i["shipment_id"] for i in result["infeasible"]} == philly
    for i in result["infeasible"]:
        assert i["rule_ids"] == ["no-vans-191", "vans-only-191"]
        assert i["reasons"]
    for p in result["packages"]:
        if p["shipment_id"] in philly:
            assert p["assignee"] == "none" and p["carrier"] is None
    assert result["totals"]["infeasible_packages"] == len(philly)
    applied = client.post(f"/v1/allocation/plans/{plan['id']}/apply", json={}, headers=tenant.headers)
    skipped = {s["shipment_id"]: s["reason"] for s in applied.get_json()["skipped"]}
    assert set(skipped) == philly


def test_a_booking_is_decided_online_against_the_days_plan(client, app, day_of_bookings):
    tenant, day, _ = day_of_bookings
    _, van_id = setup_fleet(client, tenant)
    plan_day(client, app, tenant, day)

    near = book(client, tenant, ("10036", "40.7580", "-73.9855"), "LATE-MID")
    assert (near["carrier"], near["service"]) == ("fleet", "van")
    alloc = client.get(f"/v1/shipments/{near['id']}/allocation", headers=tenant.headers).get_json()
    assert alloc["source"] == "online" and alloc["assignee"] == "fleet" and alloc["vehicle_id"] == van_id
    assert alloc["eta"] and alloc["reason"] == "cost"

    far = book(client, tenant, ("19103", "39.9530", "-75.1660"), "LATE-PHL")
    assert far["carrier"] not in (None, "fleet")
    alloc = client.get(f"/v1/shipments/{far['id']}/allocation", headers=tenant.headers).get_json()
    assert (
        alloc["assignee"] == "partner"
        and alloc["carrier"] == far["carrier"]
        and Decimal(alloc["cost"]["amount"]) > 0
    )

    again = client.post(f"/v1/shipments/{near['id']}/allocate", json={}, headers=tenant.headers)
    assert again.status_code == 200 and again.get_json()["carrier"] == "fleet"


def test_without_a_fleet_booking_is_unchanged_and_allocate_says_why(client, make_tenant):
    tenant = make_tenant(("platform", "ops"))
    shipment = book(client, tenant, MIDTOWN[0], "NO-FLEET")
    assert shipment["carrier"] is None
    resp = client.post(f"/v1/shipments/{shipment['id']}/allocate", json={}, headers=tenant.headers)
    assert resp.status_code == 409
    assert client.get(f"/v1/shipments/{shipment['id']}/allocation", headers=tenant.headers).status_code == 404


def test_a_simulation_compares_a_candidate_fleet_with_the_active_one_and_applies_nothing(
    client, app, day_of_bookings
):
    tenant, day, refs = day_of_bookings
    setup_fleet(client, tenant)
    plan = plan_day(client, app, tenant, day)
    resp = client.post(
        "/v1/allocation/simulations",
        json={"day": day.isoformat(), "vehicles": [], **FAST},
        headers=tenant.headers,
    )
    assert resp.status_code == 202, resp.get_json()
    sim_id = resp.get_json()["id"]
    run_jobs(app)
    sim = client.get(f"/v1/allocation/simulations/{sim_id}", headers=tenant.headers).get_json()
    assert sim["state"] == "done", sim
    result = sim["result"]
    assert result["packages"] == len(refs)
    assert result["candidate"]["fleet"]["vans_used"] == 0
    assert result["candidate"]["share"].get("fleet") is None
    assert result["active"]["fleet"]["vans_used"] == 1
    assert money(result["difference"]["total_cost"]) > 0 and result["difference"]["cheaper"] is False
    assert result["current_plan"]["plan_id"] == plan["id"]
    assert result["changed_count"] == len(result["changed"]) > 0
    # Nothing was applied: the shipments still have no carrier.
    for shipment_id in refs:
        assert (
            client.get(f"/v1/shipments/{shipment_id}", headers=tenant.headers).get_json()["carrier"] is None
        )


def test_bad_plan_and_simulation_requests_are_422s(client, make_tenant):
    tenant = make_tenant(("platform", "ops"))
    no_depot = client.post("/v1/allocation/plans", json={"day": "2026-11-20"}, headers=tenant.headers)
    # No depot yet: the request is well formed, the tenant's fleet refuses it (409, not 422).
    assert no_depot.status_code == 409 and "depot_id" in no_depot.get_json()["errors"]
    setup_fleet(client, tenant)
    nothing = client.post("/v1/allocation/simulations", json={"day": "2026-11-20"}, headers=tenant.headers)
    assert nothing.status_code == 422
    bad_rule = client.post(
        "/v1/allocation/simulations",
        json={"day": "2026-11-20", "rules": [{"id": "x", "when": {}, "action": {"type": "forbid"}}]},
        headers=tenant.headers,
    )
    assert bad_rule.status_code == 422 and "rules.0.action" in bad_rule.get_json()["errors"]
    too_long = client.post(
        "/v1/allocation/plans", json={"day": "2026-11-20", "time_limit_s": "999"}, headers=tenant.headers
    )
    assert too_long.status_code == 422 and "time_limit_s" in too_long.get_json()["errors"]
    other = make_tenant(("ops",))
    plan_id = client.post(
        "/v1/allocation/plans", json={"day": "2026-11-20"}, headers=tenant.headers
    ).get_json()["id"]
    assert client.get(f"/v1/allocation/plans/{plan_id}", headers=other.headers).status_code == 404
    assert (
        client.post(f"/v1/allocation/plans/{plan_id}/apply", json={}, headers=tenant.headers).status_code
        == 409
    )


def test_a_plan_can_be_limited_to_some_merchants_and_places_addresses_without_coordinates(
    client, app, make_tenant
):
    tenant = make_tenant(("platform", "ops"))
    acme = book(client, tenant, MIDTOWN[0], "ACME-1", {"tenant": "acme"})
    book(client, tenant, MIDTOWN[1], "GLOBEX-1", {"tenant": "globex"})
    body = shipment_body("ACME-NO-COORDS")
    body["destination"]["postal_code"] = "10036"
    body["metadata"] = {"tenant": "acme"}
    no_coords = client.post("/v1/shipments", json=body, headers=tenant.headers).get_json()
    setup_fleet(client, tenant)

    result = plan_day(client, app, tenant, local_day(acme), tenants=["acme"])["result"]
    decisions = {p["reference"]: p for p in result["packages"]}
    assert set(decisions) == {"ACME-1", "ACME-NO-COORDS"}
    assert decisions["ACME-NO-COORDS"]["approximate_location"] is True
    assert decisions["ACME-1"]["approximate_location"] is False
    assert decisions["ACME-NO-COORDS"]["shipment_id"] == no_coords["id"]


def test_the_plan_job_reports_progress_in_its_rq_meta_and_a_redelivery_changes_nothing(
    client, app, day_of_bookings
):
    from rq.job import Job

    from gateway.allocation import jobs as jobs_allocation
    from gateway.jobs.tables import OutboxEntry

    tenant, day, _ = day_of_bookings
    setup_fleet(client, tenant)
    plan = plan_day(client, app, tenant, day)
    container = app.extensions["handoff"]
    with container.sessions() as session:
        entry = session.execute(
            sa.select(OutboxEntry).where(
                OutboxEntry.job == "gateway.allocation.jobs.run_plan", OutboxEntry.args == [plan["id"]]
            )
        ).scalar_one()
    assert entry.state == "done"
    job = Job.fetch(entry.rq_job_id, connection=container.redis)
    assert job.meta["allocation"] == {"id": plan["id"], "stage": "done", "progress": 100}

    worker.set_app(app)
    assert jobs_allocation.run_plan(plan["id"]) == "skipped"
    again = client.get(f"/v1/allocation/plans/{plan['id']}", headers=tenant.headers).get_json()
    assert again["result"] == plan["result"] and again["finished_at"] == plan["finished_at"]
