"""The console's what-ifs, rule-set create/deactivate/activate and the common-rules form (Flask test client)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.allocation import tables
from tests.integration import test_console_allocation as base
from tests.integration.test_allocation import depot_body, vehicle_body
from tests.integration.test_allocation_plans import run_jobs
from tests.integration.test_console_allocation import (  # noqa: F401 - fixtures
    PLANTED,
    RULE,
    TINY,
    Ops,
    partners_sell_labels,
    signed_in_ops,
    text_of,
    versions,
)
from tests.integration.test_console_web import csrf_of, make_user, sign_in

pytestmark = pytest.mark.integration
ops = base.ops  # the fixture: a seeded day, a depot with a van, a rule set, an ops user


def token(ops: Ops, path: str = "/console/allocation/simulations") -> str:
    return csrf_of(text_of(ops.client.get(path)))


def simulations_of(app: Any, tenant_id: str) -> list[tables.PlanRun]:
    with app.extensions["handoff"].sessions() as session:
        rows = session.execute(
            sa.select(tables.PlanRun).where(
                tables.PlanRun.tenant_id == tenant_id, tables.PlanRun.kind == "simulation"
            )
        ).scalars()
        return list(rows)


def request_whatif(ops: Ops, **fields: Any) -> Any:
    data = {
        "csrf_token": token(ops),
        "depot_id": ops.depot_id,
        "day": ops.day.isoformat(),
        "include": [ops.rule_set_id],
        **TINY,
        **fields,
    }
    return ops.client.post("/console/allocation/simulations", data=data)


def cells(body: str, row_id: str) -> list[str]:
    row = re.search(rf'<tr id="{row_id}">(.*?)</tr>', body, re.S)
    assert row, body
    return [html.unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row.group(1), re.S)]


def test_a_whatif_with_an_extra_van_and_without_the_rules_runs_and_shows_both_columns_and_the_differences(
    app, ops
):
    form = text_of(ops.client.get("/console/allocation/simulations"))
    assert 'id="whatif-form"' in form and "Van 1 (Secaucus, 800 kg)" in form
    assert PLANTED not in form and "&lt;script&gt;" in form  # the rule set's name, as text
    resp = request_whatif(ops, include=[], extra_vans="1", like_van=ops.van_id)
    assert resp.status_code == 303, text_of(resp)
    url = resp.headers["Location"]
    assert re.fullmatch(r"/console/allocation/simulations/asm_\w+", url)

    queued = text_of(ops.client.get(url))
    assert 'id="sim-state">queued<' in queued and "<progress" in queued
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in queued
    assert 'src="/console/static/allocation.js"' in queued
    assert "http-equiv" not in text_of(ops.client.get(f"{url}?reload=off"))
    assert "0 rule(s)" in queued and "Van 1 (copy 1)" in queued

    run_jobs(app)
    body = text_of(ops.client.get(url))
    assert 'id="sim-state">done<' in body and "refresh" not in body
    [row] = simulations_of(app, ops.tenant.tenant_id)
    assert row.created_by == ops.user_id and row.state == "done"
    assert row.request["rules"]["rules"] == [] and len(row.request["vehicles"]) == 2
    result = row.result
    a, c = result["active"], result["candidate"]

    head = re.search(r'<table class="list compare" id="compare">.*?<thead>(.*?)</thead>', body, re.S)
    assert head and "Active configuration" in head.group(1) and "Candidate" in head.group(1)
    total = cells(body, "row-total")
    assert total[1] == f"{a['total_cost']['amount']} {result['currency']}"
    assert total[2] == f"{c['total_cost']['amount']} {result['currency']}"
    delta = result["difference"]["total_cost"]["amount"]
    assert total[3].startswith(
        delta if delta.startswith("-") else ("0" if delta.strip("0.") == "" else f"+{delta}")
    )
    per_parcel = cells(body, "row-per-parcel")
    assert per_parcel[1].startswith(a["cost_per_package"]["amount"])
    assert per_parcel[2].startswith(c["cost_per_package"]["amount"])
    vans = cells(body, "row-vans")
    assert vans[1] == f"{a['fleet']['vans_used']} of 1" and vans[2] == f"{c['fleet']['vans_used']} of 2"
    unassigned = cells(body, "row-unassigned")
    assert unassigned[1:3] == [str(a["missed_promises"]), str(c["missed_promises"])]
    assert cells(body, "row-kept")[0].startswith("Promises kept")
    assert cells(body, "row-at-risk")[0].startswith("Parcels at on-time risk")
    # How likely each side's chosen options are to arrive on time, as stored (unknown says n/a).
    on_time = cells(body, "row-on-time")
    for side, cell in ((a, on_time[1]), (c, on_time[2])):
        mean = side["on_time"]["mean_probability"]
        assert side["on_time"]["known"] + side["on_time"]["unknown"] == side["packages"]
        assert cell == ("n/a" if mean is None else f"{float(mean) * 100:.1f} %")
    # Carrier shares on both sides: the fleet's parcels and percentages as stored.
    fleet = cells(body, "share-fleet")
    if "fleet" in a["share"]:
        assert fleet[1].startswith(f"{a['share']['fleet']['packages']} ({a['share']['fleet']['percent']} %)")
    assert fleet[2].startswith(f"{c['share']['fleet']['packages']} ({c['share']['fleet']['percent']} %)")
    # Without the rule, vans may go to Philadelphia: PHL-0 may change hands, and the list says so.
    assert 'id="changed"' in body and 'id="verdict"' in body
    for change in result["changed"]:
        assert f">{ops.refs[change['shipment_id']]}</a>" in body

    listed = text_of(ops.client.get("/console/allocation/simulations"))
    assert f'href="/console/allocation/simulations/{row.id}"' in listed
    assert f'href="/console/allocation/simulations/{row.id}"' in text_of(
        ops.client.get("/console/allocation")
    )


def test_a_rule_set_version_as_the_candidate_is_sent_in_its_sets_place(app, ops):
    changed = {**RULE, "when": {"postal_prefix": ["190"]}}
    page = text_of(ops.client.get(f"/console/allocation/rule-sets/{ops.rule_set_id}"))
    saved = ops.client.post(
        f"/console/allocation/rule-sets/{ops.rule_set_id}",
        data={
            "document": f'{{"rules": [{json.dumps(changed)}]}}',
            "csrf_token": csrf_of(page),
            "base_version": "1",
        },
    )
    assert saved.status_code == 303
    resp = request_whatif(ops, rules_version=f"{ops.rule_set_id}:1")
    assert resp.status_code == 303, text_of(resp)
    [row] = simulations_of(app, ops.tenant.tenant_id)
    assert row.request["rules"]["rules"] == [RULE] and "vehicles" not in row.request


def test_a_bad_candidate_is_refused_with_its_errors_as_text_and_nothing_is_queued(app, ops):
    nothing = request_whatif(ops)  # every active set ticked, no version, no van: nothing to compare
    assert nothing.status_code == 422
    assert 'id="whatif-errors"' in text_of(nothing) and "give rules and/or vehicles" in text_of(nothing)

    too_many = request_whatif(ops, extra_vans="99", like_van=ops.van_id)
    assert too_many.status_code == 422 and "a whole number from 0 to 20" in text_of(too_many)

    no_van = request_whatif(ops, extra_vans="1", like_van="veh_nope")
    assert no_van.status_code == 422 and "choose the van to copy" in text_of(no_van)

    # A digit int() refuses ("²" is a digit to str.isdigit) is a refusal, not a server error.
    squared = request_whatif(ops, extra_vans="\u00b2", like_van=ops.van_id)
    assert squared.status_code == 422 and "a whole number from 0 to 20" in text_of(squared)
    squared_version = request_whatif(ops, rules_version=f"{ops.rule_set_id}:\u00b2")
    assert squared_version.status_code == 422 and "no such rule set version" in text_of(squared_version)

    # A van of a depot costing in another currency would have its amounts read in this one's.
    api = app.test_client()
    euro = api.post(
        "/v1/allocation/depots", json=depot_body(name="Rotterdam", currency="EUR"), headers=ops.tenant.headers
    )
    assert euro.status_code == 201, euro.get_json()
    euro_van = api.post(
        "/v1/allocation/vehicles", json=vehicle_body(euro.get_json()["id"]), headers=ops.tenant.headers
    )
    assert euro_van.status_code == 201, euro_van.get_json()
    foreign = request_whatif(ops, extra_vans="1", like_van=euro_van.get_json()["id"])
    assert foreign.status_code == 422 and "costs in EUR, this depot in USD" in text_of(foreign)

    bad_version = request_whatif(ops, rules_version=f"{ops.rule_set_id}:7")
    assert bad_version.status_code == 422 and "no such rule set version" in text_of(bad_version)

    bad_budget = request_whatif(ops, include=[], time_limit_s="0")
    assert bad_budget.status_code == 422
    assert '<code class="path">time_limit_s</code>' in text_of(bad_budget)

    # The current rules plus version 1 of the same set again: the duplicate ids are refused by path.
    with app.extensions["handoff"].sessions() as session:
        rs = session.get(tables.RuleSet, ops.rule_set_id)
        other = tables.RuleSet(
            id="rls_copyofcityrules0000000000",
            tenant_id=rs.tenant_id,
            name="inactive copy",
            active=False,
            current_version=1,
            created_at=rs.created_at,
            updated_at=rs.updated_at,
        )
        session.add(other)
        session.flush()
        session.add(
            tables.RuleSetVersion(
                rule_set_id=other.id,
                tenant_id=rs.tenant_id,
                version=1,
                document={"version": 1, "name": "inactive copy", "rules": [RULE]},
                created_at=rs.created_at,
            )
        )
        session.commit()
    dup = request_whatif(ops, rules_version=f"{other.id}:1")
    assert dup.status_code == 422, text_of(dup)
    assert '<code class="path">rules.1.id</code>' in text_of(dup) and "duplicate rule id" in text_of(dup)
    assert simulations_of(app, ops.tenant.tenant_id) == []


def test_ops_create_a_rule_set_from_another_deactivate_and_activate_it(app, ops):
    overview = text_of(ops.client.get("/console/allocation"))
    made = ops.client.post(
        "/console/allocation/rule-sets",
        data={"csrf_token": csrf_of(overview), "name": f"copy {PLANTED}", "start_from": ops.rule_set_id},
    )
    assert made.status_code == 303, text_of(made)
    new_id = made.headers["Location"].rsplit("/", 1)[1]
    with app.extensions["handoff"].sessions() as session:
        rs = session.get(tables.RuleSet, new_id)
        assert rs.tenant_id == ops.tenant.tenant_id and rs.active
        doc = session.execute(
            sa.select(tables.RuleSetVersion.document).where(tables.RuleSetVersion.rule_set_id == new_id)
        ).scalar_one()
        assert [r["id"] for r in doc["rules"]] == ["no-vans-191-copy"]  # ids are unique across active sets
        audit = session.execute(
            sa.select(tables.AuditEntry.action, tables.AuditEntry.actor).where(
                tables.AuditEntry.entity_id == new_id
            )
        ).all()
        assert [tuple(a) for a in audit] == [("create", ops.user_id)]
    page = text_of(ops.client.get(f"/console/allocation/rule-sets/{new_id}"))
    assert PLANTED not in page and "copy &lt;script&gt;" in page

    token_ = csrf_of(text_of(ops.client.get("/console/allocation")))
    off = ops.client.post(f"/console/allocation/rule-sets/{new_id}/deactivate", data={"csrf_token": token_})
    assert off.status_code == 303
    listed = text_of(ops.client.get(off.headers["Location"]))
    assert 'id="rs-done"' in listed and "deactivated" in cells(listed, f"rs-{new_id}")[1]
    assert PLANTED not in listed
    on = ops.client.post(f"/console/allocation/rule-sets/{new_id}/activate", data={"csrf_token": token_})
    assert on.status_code == 303
    with app.extensions["handoff"].sessions() as session:
        rs = session.get(tables.RuleSet, new_id)
        assert rs.active and rs.current_version == 2  # activating saves the rules again
        actions = session.execute(
            sa.select(tables.AuditEntry.action, tables.AuditEntry.actor)
            .where(tables.AuditEntry.entity_id == new_id)
            .order_by(tables.AuditEntry.id)
        ).all()
        assert [tuple(a) for a in actions] == [
            ("create", ops.user_id),
            ("deactivate", ops.user_id),
            ("update", ops.user_id),
        ]

    empty = ops.client.post(
        "/console/allocation/rule-sets", data={"csrf_token": token_, "name": "blank", "draft": "on"}
    )
    assert empty.status_code == 303
    with app.extensions["handoff"].sessions() as session:
        blank = session.execute(sa.select(tables.RuleSet).where(tables.RuleSet.name == "blank")).scalar_one()
        assert not blank.active

    # Activating a set whose rule ids another active set now uses is refused, the reason as text.
    assert (
        ops.client.post(
            f"/console/allocation/rule-sets/{ops.rule_set_id}/deactivate", data={"csrf_token": token_}
        ).status_code
        == 303
    )
    twin = ops.client.post(
        "/console/allocation/rule-sets",
        data={"csrf_token": token_, "name": "twin", "start_from": ops.rule_set_id},
    )
    assert twin.status_code == 303  # the source is deactivated: its rule ids are kept
    clash = ops.client.post(
        f"/console/allocation/rule-sets/{ops.rule_set_id}/activate", data={"csrf_token": token_}
    )
    assert clash.status_code == 409 and 'id="rs-errors"' in text_of(clash)
    assert "is already used by active rule set" in html.unescape(text_of(clash))
    assert versions(app, ops.rule_set_id) == [1]

    nameless = ops.client.post("/console/allocation/rule-sets", data={"csrf_token": token_, "name": ""})
    assert nameless.status_code == 422 and 'id="rs-errors"' in text_of(nameless)
    assert '<code class="path">name</code>' in text_of(nameless)


def test_the_rule_form_saves_a_rule_edits_it_removes_it_and_shows_a_bad_value_by_its_field(app, ops):
    url = f"/console/allocation/rule-sets/{ops.rule_set_id}"
    page = text_of(ops.client.get(url))
    assert 'id="form-service_on_time"' in page and 'id="common-rules"' in page
    # RULE keeps vans out of a region: one of the form's kinds, in plain words, with an edit link.
    listed = cells(page, f"common-{RULE['id']}")
    assert listed[1] == "Carrier or vans not used in a region"
    assert listed[2] == "The own vans are not used for postal codes starting 191"
    assert "0 other rule(s)" in page
    fields = {"csrf_token": csrf_of(page), "base_version": "1", "kind": "service_on_time"}
    bad = ops.client.post(f"{url}/rules", data={**fields, "service_level": "express", "probability": "1.5"})
    assert bad.status_code == 422
    body = text_of(bad)
    assert '<code class="path">rules.1.action.probability</code>' in body
    assert "probability must be between 0 and 1, got 1.5" in body
    assert 'id="service_on_time-probability-error"' in body and 'aria-invalid="true"' in body
    assert 'value="1.5"' in body  # kept as typed
    assert versions(app, ops.rule_set_id) == [1]

    good = ops.client.post(
        f"{url}/rules", data={**fields, "service_level": "express, priority", "probability": "0.95"}
    )
    assert good.status_code == 303 and "saved=2" in good.headers["Location"]
    with app.extensions["handoff"].sessions() as session:
        doc = session.execute(
            sa.select(tables.RuleSetVersion.document).where(
                tables.RuleSetVersion.rule_set_id == ops.rule_set_id, tables.RuleSetVersion.version == 2
            )
        ).scalar_one()
        actor = session.execute(
            sa.select(tables.AuditEntry.actor).where(
                tables.AuditEntry.entity_id == ops.rule_set_id, tables.AuditEntry.action == "update"
            )
        ).scalar_one()
    assert doc["rules"] == [
        RULE,
        {
            "id": "service_on_time-1",
            "when": {"service_level": ["express", "priority"]},
            "action": {"type": "min_on_time", "probability": 0.95},
        },
    ]
    assert actor == ops.user_id
    shown = text_of(ops.client.get(url))
    assert "need an on-time probability of at least 0.95" in cells(shown, "common-service_on_time-1")[2]
    assert "&#34;probability&#34;: 0.95" in shown  # the JSON editor shows the same document

    edit = text_of(ops.client.get(f"{url}?edit=service_on_time-1"))
    assert 'value="express, priority"' in edit and 'value="service_on_time-1"' in edit
    heavy = ops.client.post(
        f"{url}/rules",
        data={"csrf_token": csrf_of(edit), "base_version": "2", "kind": "van_max_weight", "min_kg": "heavy"},
    )
    assert heavy.status_code == 422
    assert '<code class="path">rules.2.when.weight_kg.min</code>' in text_of(heavy)
    assert 'id="van_max_weight-min_kg-error"' in text_of(heavy)
    replaced = ops.client.post(
        f"{url}/rules",
        data={
            "csrf_token": csrf_of(edit),
            "base_version": "2",
            "kind": "service_on_time",
            "rule_id": "service_on_time-1",
            "service_level": "express",
            "probability": "0.9",
        },
    )
    assert replaced.status_code == 303
    removed = ops.client.post(
        f"{url}/rules/remove",
        data={"csrf_token": csrf_of(edit), "base_version": "3", "rule_id": "service_on_time-1"},
    )
    assert removed.status_code == 303
    with app.extensions["handoff"].sessions() as session:
        docs = dict(
            session.execute(
                sa.select(tables.RuleSetVersion.version, tables.RuleSetVersion.document).where(
                    tables.RuleSetVersion.rule_set_id == ops.rule_set_id
                )
            ).all()
        )
    assert docs[3]["rules"][1]["action"] == {"type": "min_on_time", "probability": 0.9}
    assert docs[4]["rules"] == [RULE]

    again = text_of(ops.client.get(f"{url}?edit={RULE['id']}"))
    assert 'value="191"' in again and 'value="fleet"' in again
    region = ops.client.post(
        f"{url}/rules",
        data={
            "csrf_token": csrf_of(again),
            "base_version": "4",
            "kind": "region_exclusion",
            "rule_id": RULE["id"],
            "postal_prefix": "191, 190",
            "target": "fleet",
        },
    )
    assert region.status_code == 303
    with app.extensions["handoff"].sessions() as session:
        latest = session.execute(
            sa.select(tables.RuleSetVersion.document).where(
                tables.RuleSetVersion.rule_set_id == ops.rule_set_id, tables.RuleSetVersion.version == 5
            )
        ).scalar_one()
    assert latest["rules"] == [{**RULE, "when": {"postal_prefix": ["191", "190"]}}]


def test_posts_without_the_csrf_token_are_refused_and_change_nothing(app, ops):
    for path, data in (
        (
            "/console/allocation/simulations",
            {"day": ops.day.isoformat(), "extra_vans": "1", "like_van": ops.van_id},
        ),
        ("/console/allocation/rule-sets", {"name": "sneaky"}),
        (f"/console/allocation/rule-sets/{ops.rule_set_id}/deactivate", {}),
        (
            f"/console/allocation/rule-sets/{ops.rule_set_id}/rules",
            {"kind": "van_max_weight", "min_kg": "30"},
        ),
        (f"/console/allocation/rule-sets/{ops.rule_set_id}/rules/remove", {"rule_id": RULE["id"]}),
    ):
        resp = ops.client.post(path, data={**data, "csrf_token": "0" * 64})
        assert resp.status_code == 403 and resp.mimetype == "text/html", path
    assert simulations_of(app, ops.tenant.tenant_id) == []
    assert versions(app, ops.rule_set_id) == [1]
    with app.extensions["handoff"].sessions() as session:
        sets = session.execute(
            sa.select(tables.RuleSet.name, tables.RuleSet.active).where(
                tables.RuleSet.tenant_id == ops.tenant.tenant_id
            )
        ).all()
    assert len(sets) == 1 and sets[0][1] is True


def test_finance_may_not_open_or_run_whatifs(app, ops):
    email = make_user(app, ops.tenant.tenant_id, ("finance",))
    client = app.test_client()
    assert sign_in(client, email).status_code == 303
    assert client.get("/console/allocation/simulations").status_code == 403
    token_ = csrf_of(text_of(client.get("/console/")))
    assert (
        client.post(
            "/console/allocation/simulations",
            data={
                "csrf_token": token_,
                "day": ops.day.isoformat(),
                "extra_vans": "1",
                "like_van": ops.van_id,
            },
        ).status_code
        == 403
    )
    assert (
        client.post("/console/allocation/rule-sets", data={"csrf_token": token_, "name": "x"}).status_code
        == 403
    )
    assert simulations_of(app, ops.tenant.tenant_id) == []


def test_another_tenants_whatif_and_rule_set_are_404_and_cannot_be_changed(app, ops, make_tenant):
    assert request_whatif(ops, include=[]).status_code == 303
    [row] = simulations_of(app, ops.tenant.tenant_id)
    other = make_tenant(("ops",))
    stranger, _ = signed_in_ops(app, other.tenant_id)
    assert stranger.get(f"/console/allocation/simulations/{row.id}").status_code == 404
    assert row.id not in text_of(stranger.get("/console/allocation/simulations"))
    token_ = csrf_of(text_of(stranger.get("/console/allocation")))
    for path in ("deactivate", "activate"):
        resp = stranger.post(
            f"/console/allocation/rule-sets/{ops.rule_set_id}/{path}", data={"csrf_token": token_}
        )
        assert resp.status_code == 404
    form = stranger.post(
        f"/console/allocation/rule-sets/{ops.rule_set_id}/rules",
        data={"csrf_token": token_, "kind": "van_max_weight", "min_kg": "30"},
    )
    assert form.status_code == 404
    # Another tenant's rule set, version or van cannot be used as a candidate.
    copy = stranger.post(
        "/console/allocation/rule-sets",
        data={"csrf_token": token_, "name": "theirs", "start_from": ops.rule_set_id},
    )
    assert copy.status_code == 422 and "no such rule set" in text_of(copy)
    with app.extensions["handoff"].sessions() as session:
        rs = session.get(tables.RuleSet, ops.rule_set_id)
        assert rs.active and rs.current_version == 1


def test_a_draft_edited_in_the_console_stays_out_of_plans_and_new_ids_avoid_other_sets(app, ops):
    token_ = csrf_of(text_of(ops.client.get("/console/allocation")))
    made = ops.client.post(
        "/console/allocation/rule-sets",
        data={"csrf_token": token_, "name": "draft for what-ifs", "draft": "on"},
    )
    assert made.status_code == 303
    draft_id = made.headers["Location"].rsplit("/", 1)[1]

    def add_heavy(rule_set_id: str, base: str) -> Any:
        page = text_of(ops.client.get(f"/console/allocation/rule-sets/{rule_set_id}"))
        return ops.client.post(
            f"/console/allocation/rule-sets/{rule_set_id}/rules",
            data={
                "csrf_token": csrf_of(page),
                "base_version": base,
                "kind": "van_max_weight",
                "min_kg": "30",
            },
        )

    # The same kind of rule, id left empty, first in the active set and then in the draft.
    assert add_heavy(ops.rule_set_id, "1").status_code == 303
    saved = add_heavy(draft_id, "1")
    assert saved.status_code == 303, text_of(saved)
    with app.extensions["handoff"].sessions() as session:
        draft = session.get(tables.RuleSet, draft_id)
        assert not draft.active and draft.current_version == 2  # saved, and still a draft
        ids = {
            rs_id: [r["id"] for r in doc["rules"]]
            for rs_id, doc in session.execute(
                sa.select(tables.RuleSetVersion.rule_set_id, tables.RuleSetVersion.document).where(
                    tables.RuleSetVersion.version == 2,
                    tables.RuleSetVersion.rule_set_id.in_([ops.rule_set_id, draft_id]),
                )
            ).all()
        }
    assert ids[ops.rule_set_id][-1] == "van_max_weight-1"
    assert ids[draft_id] == ["van_max_weight-2"]  # not the active set's id
    page = text_of(ops.client.get(f"/console/allocation/rule-sets/{draft_id}"))
    assert "saving keeps it out of plans" in page
    # Activating it is what puts it into plans.
    on = ops.client.post(f"/console/allocation/rule-sets/{draft_id}/activate", data={"csrf_token": token_})
    assert on.status_code == 303
    with app.extensions["handoff"].sessions() as session:
        assert session.get(tables.RuleSet, draft_id).active
