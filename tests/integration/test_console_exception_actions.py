"""The console's exception queue actions: reattempt, hold, return, partner, note, proof review, bulk, filters."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.console.tables import ConsoleUser
from gateway.exceptions.tables import ShipmentException
from gateway.kernel import auth, models
from gateway.kernel.types import utcnow
from gateway.tracking import ingest, pod
from gateway.tracking.tables import ShipmentTracking
from schemas import events, taxonomy
from tests.helpers import shipment_body
from tests.integration.test_console_web import Seeded, csrf_of, make_user, seed, sign_in


class Signed:
    """A signed-in console client, its user's id and a CSRF token."""

    def __init__(self, app: Any, tenant_id: str, roles: tuple[str, ...] = ("ops",)) -> None:
        self.client = app.test_client()
        email = make_user(app, tenant_id, roles)
        assert sign_in(self.client, email).status_code == 303
        with app.extensions["handoff"].sessions() as session:
            self.user_id = session.execute(
                sa.select(ConsoleUser.id).where(
                    ConsoleUser.email == email, ConsoleUser.tenant_id == tenant_id
                )
            ).scalar_one()
        self.token = csrf_of(self.client.get("/console/exceptions").get_data(as_text=True))

    def post(self, url: str, **data: Any) -> Any:
        return self.client.post(url, data={"csrf_token": self.token, **data})


def _exception(app: Any, exception_id: str) -> ShipmentException:
    with app.extensions["handoff"].sessions() as session:
        row = session.get(ShipmentException, exception_id)
        session.expunge(row)
        return row


def _add_exception(app: Any, tenant_id: str, shipment_id: str, reason: str, opened_hours_ago: float) -> str:
    now = utcnow()
    with app.extensions["handoff"].sessions() as session:
        exc = ShipmentException(
            tenant_id=tenant_id,
            shipment_id=shipment_id,
            reason=reason,
            milestone="exception",
            status="open",
            owner="ops",
            created_at=now - timedelta(hours=opened_hours_ago),
            due_at=now + timedelta(hours=4),
            actions=[],
            detail={},
        )
        session.add(exc)
        session.commit()
        return exc.id


def _another_shipment(app: Any, tenant_id: str, metadata: dict[str, str]) -> tuple[str, str]:
    """A second shipment in the tenant (booked through the API with a key of its own), its metadata set."""
    reference = f"CON-{uuid.uuid4().hex[:8]}"
    with app.extensions["handoff"].sessions() as session:
        _row, key = auth.create_key(
            session, tenant_id, ["platform"], "second", pepper=app.config["SECRET_PEPPER"]
        )
        session.commit()
    created = app.test_client().post(
        "/v1/shipments", json=shipment_body(reference=reference), headers={"Authorization": f"Bearer {key}"}
    )
    assert created.status_code == 201, created.get_json()
    shipment_id = created.get_json()["id"]
    with app.extensions["handoff"].sessions() as session:
        session.get(models.Shipment, shipment_id).metadata_ = metadata
        session.commit()
    return shipment_id, reference


@pytest.fixture
def seeded(app: Any, make_tenant: Any) -> Seeded:
    return seed(app, make_tenant)


@pytest.mark.parametrize(
    ("action", "outcome", "says"),
    [
        ("request_reattempt", "manual", "ask the carrier for another delivery attempt"),
        ("hold_at_location", "manual", "ask the carrier to hold the parcel at a location"),
        ("return_to_sender", "manual", "ask the carrier to return the parcel to the sender"),
        ("move_to_partner", "not applicable", "the parcel is with ups, not the fleet"),
        ("note", "done", "called the recipient, back on Monday"),
    ],
)
def test_each_action_is_recorded_with_the_user_and_its_outcome(app, seeded, action, outcome, says):
    ops = Signed(app, seeded.tenant_id)
    done = ops.post(
        f"/console/exceptions/{seeded.exception_id}/act",
        action=action,
        note="called the recipient, back on Monday",
    )
    assert done.status_code == 303
    assert done.headers["Location"].startswith("/console/exceptions?done=")
    last = _exception(app, seeded.exception_id).actions[-1]
    assert (last["action"], last["by"], last["outcome"]) == (action, ops.user_id, outcome)
    assert says in last["detail"]
    assert _exception(app, seeded.exception_id).status == "open"  # an action is not a resolution
    page = ops.client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"{action.replace('_', ' ')} {outcome}" in page  # the outcome the use case returned
    assert f"{action} by {ops.user_id}: {outcome}" in page


def test_a_fleet_parcel_is_handed_to_a_partner_and_the_choice_is_offered_only_for_it(app, seeded):
    ops = Signed(app, seeded.tenant_id)

    def offered() -> str:  # the choices of the row's own action form
        page = ops.client.get("/console/exceptions").get_data(as_text=True)
        start = page.index(f'id="action-{seeded.exception_id}"')
        return page[start : page.index("</select>", start)]

    assert 'value="move_to_partner"' not in offered()  # a UPS parcel
    with app.extensions["handoff"].sessions() as session:
        session.get(models.Shipment, seeded.shipment_id).carrier = "fleet"
        session.commit()
    assert 'value="move_to_partner"' in offered()
    assert (
        ops.post(f"/console/exceptions/{seeded.exception_id}/act", action="move_to_partner").status_code
        == 303
    )
    last = _exception(app, seeded.exception_id).actions[-1]
    assert (last["action"], last["by"], last["outcome"]) == ("move_to_partner", ops.user_id, "done")
    with app.extensions["handoff"].sessions() as session:
        assert "move_to_partner" in session.get(models.Shipment, seeded.shipment_id).metadata_["tags"]


def test_an_unknown_action_or_an_empty_note_is_refused_and_nothing_recorded(app, seeded):
    ops = Signed(app, seeded.tenant_id)
    before = len(_exception(app, seeded.exception_id).actions)
    assert ops.post(f"/console/exceptions/{seeded.exception_id}/act", action="open_claim").status_code == 422
    assert (
        ops.post(f"/console/exceptions/{seeded.exception_id}/act", action="note", note=" ").status_code == 422
    )
    assert ops.post("/console/exceptions/exc_nope/act", action="note", note="x").status_code == 404
    assert len(_exception(app, seeded.exception_id).actions) == before


def _flag_proof(app: Any, s: Seeded) -> str:
    """The seeded parcel delivered with a proof the checks flagged: the tracking state and its exception."""
    now = utcnow()
    delivered = events.CanonicalEvent(
        tracking_number=s.tracking_number,
        carrier="ups",
        occurred_at=now - timedelta(hours=1),
        raw_code="D",
        milestone=taxonomy.Milestone.DELIVERED,
        source_event_id=uuid.uuid4().hex,
        pod=events.ProofOfDelivery(latitude=Decimal("40.1"), longitude=Decimal("-74.2")),
    )
    flag = pod.PodFlag(pod.FlagCode.GPS_TOO_FAR, s.tracking_number, "proof 70 km from the address")
    with app.extensions["handoff"].sessions() as session:
        ingest.ingest(session, [delivered])
        ingest.ingest(session, [pod.flag_event(delivered, [flag], now - timedelta(minutes=50))])
        session.commit()
        assert session.get(ShipmentTracking, s.shipment_id).reason == "pod_suspicious"
    return _add_exception(app, s.tenant_id, s.shipment_id, "pod_suspicious", 0.5)


def test_accepting_a_suspicious_proof_delivers_the_parcel_as_the_api_does(app, seeded):
    exception_id = _flag_proof(app, seeded)
    ops = Signed(app, seeded.tenant_id)
    page = ops.client.get("/console/exceptions").get_data(as_text=True)
    assert f'action="/console/exceptions/{exception_id}/proof-review"' in page
    assert f'action="/console/exceptions/{seeded.exception_id}/proof-review"' not in page  # not about a proof
    done = ops.post(
        f"/console/exceptions/{exception_id}/proof-review", decision="accepted", note="called them"
    )
    assert done.status_code == 303 and "proof-accepted" in done.headers["Location"]
    with app.extensions["handoff"].sessions() as session:
        tracking = session.get(ShipmentTracking, seeded.shipment_id)
        assert (tracking.milestone, tracking.reason) == ("delivered", None)
    timeline = ops.client.get(f"/console/shipments/{seeded.shipment_id}").get_data(as_text=True)
    assert f"proof accepted by {ops.user_id}: called them" in timeline  # the manual event names the user
    exc = _exception(app, exception_id)
    assert (exc.status, exc.resolved_by) == ("resolved", ops.user_id)
    assert [(a["action"], a["by"]) for a in exc.actions[-2:]] == [
        ("proof_accepted", ops.user_id),
        ("resolved", ops.user_id),
    ]
    # settled: a second review finds no open exception about a proof
    assert (
        ops.post(f"/console/exceptions/{exception_id}/proof-review", decision="accepted").status_code == 404
    )


def test_rejecting_a_suspicious_proof_makes_the_parcel_missing(app, seeded):
    exception_id = _flag_proof(app, seeded)
    ops = Signed(app, seeded.tenant_id)
    assert (
        ops.post(f"/console/exceptions/{exception_id}/proof-review", decision="rejected").status_code == 303
    )
    with app.extensions["handoff"].sessions() as session:
        tracking = session.get(ShipmentTracking, seeded.shipment_id)
        assert (tracking.milestone, tracking.reason) == ("exception", "lost")
    assert _exception(app, exception_id).actions[-1]["by"] == ops.user_id
    assert ops.post(f"/console/exceptions/{exception_id}/proof-review", decision="maybe").status_code == 422


def test_a_proof_review_with_no_flagged_proof_is_a_409_and_changes_nothing(app, seeded):
    # an exception says pod_suspicious, but the tracking state has no proof waiting
    exception_id = _add_exception(app, seeded.tenant_id, seeded.shipment_id, "pod_suspicious", 1)
    ops = Signed(app, seeded.tenant_id)
    refused = ops.post(f"/console/exceptions/{exception_id}/proof-review", decision="accepted")
    assert refused.status_code == 409
    assert "no flagged proof of delivery" in refused.get_data(as_text=True)
    assert _exception(app, exception_id).status == "open" and _exception(app, exception_id).actions == []


def test_bulk_notify_notifies_every_checked_recipient_in_the_users_name(app, seeded, make_tenant):
    second_shipment, _ref = _another_shipment(app, seeded.tenant_id, {})
    second = _add_exception(app, seeded.tenant_id, second_shipment, "address_issue", 2)
    foreign = seed(app, make_tenant)
    ops = Signed(app, seeded.tenant_id)
    done = ops.post(
        "/console/exceptions/notify", ids=[seeded.exception_id, second, foreign.exception_id], note=""
    )
    assert done.status_code == 303 and "notified-2-no-endpoint" in done.headers["Location"]
    for exception_id in (seeded.exception_id, second):
        last = _exception(app, exception_id).actions[-1]
        assert (last["action"], last["by"], last["outcome"]) == (
            "notify_recipient",
            ops.user_id,
            "no endpoint",
        )
    assert _exception(app, foreign.exception_id).actions[-1]["by"] == "system"  # another tenant's: untouched
    page = ops.client.get("/console/exceptions").get_data(as_text=True)
    assert 'formaction="/console/exceptions/notify"' in page


def test_the_queue_filters_by_the_day_opened_and_by_merchant(app, seeded, make_tenant):
    shipment_id, reference = _another_shipment(app, seeded.tenant_id, {"merchant": "Bloom <b>&Co</b>"})
    _add_exception(app, seeded.tenant_id, shipment_id, "address_issue", 24 * 10)  # opened ten days ago
    ops = Signed(app, seeded.tenant_id)

    def shown(**query: str) -> set[str]:
        html = ops.client.get("/console/exceptions", query_string=query).get_data(as_text=True)
        return {ref for ref in (seeded.reference, reference) if f">{ref}</a>" in html}

    today = utcnow().date()
    old = (today - timedelta(days=10)).isoformat()
    assert shown() == {seeded.reference, reference}
    assert shown(opened_from=(today - timedelta(days=1)).isoformat()) == {seeded.reference}
    assert shown(opened_to=old) == {reference}
    assert shown(opened_from=old, opened_to=old) == {reference}
    assert shown(merchant="Bloom <b>&Co</b>") == {reference}
    assert shown(merchant="Bloom") == set()
    assert shown(opened_from="not a day", owner="ops") == {seeded.reference, reference}  # ignored
    html = ops.client.get("/console/exceptions").get_data(as_text=True)
    assert "Bloom &lt;b&gt;&amp;Co&lt;/b&gt;" in html and "<b>&Co" not in html


def test_posts_without_the_csrf_token_are_refused_and_change_nothing(app, seeded):
    exception_id = _flag_proof(app, seeded)
    ops = Signed(app, seeded.tenant_id)
    for url, data in (
        (f"/console/exceptions/{seeded.exception_id}/act", {"action": "note", "note": "x"}),
        (f"/console/exceptions/{exception_id}/proof-review", {"decision": "accepted"}),
        ("/console/exceptions/notify", {"ids": [seeded.exception_id]}),
    ):
        assert ops.client.post(url, data=data).status_code == 403
        assert ops.client.post(url, data={**data, "csrf_token": "0" * 64}).status_code == 403
    assert len(_exception(app, seeded.exception_id).actions) == 1  # only the seeded note
    with app.extensions["handoff"].sessions() as session:
        assert session.get(ShipmentTracking, seeded.shipment_id).reason == "pod_suspicious"


def test_finance_sees_the_queue_but_cannot_act(app, seeded):
    exception_id = _flag_proof(app, seeded)
    finance = Signed(app, seeded.tenant_id, ("finance",))
    page = finance.client.get("/console/exceptions").get_data(as_text=True)
    assert seeded.reference in page
    assert "/act" not in page and "proof-review" not in page and "/console/exceptions/notify" not in page
    for url, data in (
        (f"/console/exceptions/{seeded.exception_id}/act", {"action": "request_reattempt"}),
        (f"/console/exceptions/{exception_id}/proof-review", {"decision": "rejected"}),
        ("/console/exceptions/notify", {"ids": [seeded.exception_id]}),
    ):
        assert finance.post(url, **data).status_code == 403
    assert len(_exception(app, seeded.exception_id).actions) == 1
    assert _exception(app, exception_id).status == "open"


def test_a_fleet_parcel_returned_to_sender_turns_back_on_its_timeline_and_leaves_the_fleets_day(
    app, make_tenant
):
    from gateway.allocation import day_input
    from gateway.allocation import tables as allocation_tables
    from tests.integration.test_allocation_plans import PHILADELPHIA, book, local_day, setup_fleet

    client = app.test_client()
    tenant = make_tenant(("platform", "ops"))
    depot_id, _van = setup_fleet(client, tenant)
    going_back = book(client, tenant, PHILADELPHIA[0], "ORD-BACK")
    staying = book(client, tenant, PHILADELPHIA[1], "ORD-STAY")
    number = "HF" + uuid.uuid4().hex[:12].upper()
    with app.extensions["handoff"].sessions() as session:
        row = session.get(models.Shipment, going_back["id"])
        row.carrier, row.tracking_number = "fleet", number
        session.commit()
    exception_id = _add_exception(app, tenant.tenant_id, going_back["id"], "refused", 1)
    ops = Signed(app, tenant.tenant_id)
    # Ops have their own reading of some fleet code: the gateway's own event must keep its meaning.
    mapped = client.put(
        "/v1/tracking/mappings/fleet",
        json={"code": "loaded", "milestone": "in_transit", "detail": "in_transit", "note": "ours"},
        headers=tenant.headers,
    )
    assert mapped.status_code == 200, mapped.get_json()

    done = ops.post(
        f"/console/exceptions/{exception_id}/act", action="return_to_sender", note="refused at the door"
    )

    assert done.status_code == 303 and "return-to-sender-done" in done.headers["Location"]
    last = _exception(app, exception_id).actions[-1]
    assert (last["action"], last["by"], last["outcome"]) == ("return_to_sender", ops.user_id, "done")
    with app.extensions["handoff"].sessions() as session:
        status = session.execute(
            sa.select(ShipmentTracking).where(ShipmentTracking.shipment_id == going_back["id"])
        ).scalar_one()
        assert (status.milestone, status.reason) == ("returning", "refused")
        depot = session.get(allocation_tables.Depot, depot_id)
        day = day_input.build_day(session, tenant.tenant_id, depot, local_day(staying))
    assert staying["id"] in day.meta and going_back["id"] not in day.meta
    timeline = client.get(f"/v1/shipments/{going_back['id']}/events", headers=tenant.headers).get_json()
    assert [e["milestone"] for e in timeline["events"]][-1:] == ["returning"], timeline
    unmapped = client.get("/v1/tracking/unmapped", headers=tenant.headers).get_json()["data"]
    assert not [r for r in unmapped if r["code"] == "return_to_sender"]
    # Another mapping change later re-reads the tenant's fleet events: the return keeps its meaning.
    again = client.put(
        "/v1/tracking/mappings/fleet",
        json={"code": "*", "milestone": "in_transit", "detail": "in_transit", "note": "catch-all"},
        headers=tenant.headers,
    )
    assert again.status_code == 200, again.get_json()
    with app.extensions["handoff"].sessions() as session:
        status = session.execute(
            sa.select(ShipmentTracking).where(ShipmentTracking.shipment_id == going_back["id"])
        ).scalar_one()
        assert status.milestone == "returning"


def test_a_bulk_action_is_taken_on_every_checked_exception_of_the_tenant_only(app, seeded, make_tenant):
    second_shipment, _ref = _another_shipment(app, seeded.tenant_id, {})
    second = _add_exception(app, seeded.tenant_id, second_shipment, "address_issue", 2)
    foreign = seed(app, make_tenant)
    ops = Signed(app, seeded.tenant_id)
    page = ops.client.get("/console/exceptions").get_data(as_text=True)
    assert 'formaction="/console/exceptions/act"' in page and 'id="bulk-action"' in page

    done = ops.post(
        "/console/exceptions/act",
        ids=[seeded.exception_id, second, foreign.exception_id],
        action="request_reattempt",
        note="",
    )

    assert done.status_code == 303 and "request-reattempt-2-manual" in done.headers["Location"]
    for exception_id in (seeded.exception_id, second):
        last = _exception(app, exception_id).actions[-1]
        assert (last["action"], last["by"], last["outcome"]) == ("request_reattempt", ops.user_id, "manual")
    assert _exception(app, foreign.exception_id).actions[-1]["by"] == "system"  # another tenant's: untouched
    refused = ops.post("/console/exceptions/act", ids=[second], action="void_everything")
    assert refused.status_code == 422
    assert ops.post("/console/exceptions/act", ids=[second], action="note", note="").status_code == 422
    assert len(_exception(app, second).actions) == 1
