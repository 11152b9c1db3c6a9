"""The console's allocation pages over the Flask test client: rule editor, versions and diff, plans, map, apply."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import markupsafe
import pytest
import sqlalchemy as sa

from gateway.allocation import tables
from tests.integration.test_allocation_plans import (  # noqa: F401 - partners_sell_labels is an autouse fixture
    MIDTOWN,
    PHILADELPHIA,
    book,
    local_day,
    partners_sell_labels,
    run_jobs,
    setup_fleet,
)
from tests.integration.test_console_web import csrf_of, make_user, sign_in

pytestmark = pytest.mark.integration

PLANTED = '<script>alert("rs")</script>'
# The smallest budget the API allows: one second, and a few iterations with a fixed seed.
TINY = {"time_limit_s": "1", "seed": "1", "max_iterations": "50"}
RULE = {
    "id": "no-vans-191",
    "when": {"postal_prefix": ["191"]},
    "action": {"type": "forbid", "target": "fleet"},
}


@dataclass
class Ops:
    tenant: Any
    client: Any
    user_id: str
    day: date
    depot_id: str
    van_id: str
    rule_set_id: str
    refs: dict[str, str]


def signed_in_ops(app: Any, tenant_id: str) -> tuple[Any, str]:
    email = make_user(app, tenant_id, ("ops",))
    client = app.test_client()
    assert sign_in(client, email).status_code == 303
    from gateway.console.tables import ConsoleUser

    with app.extensions["handoff"].sessions() as session:
        user_id = session.execute(sa.select(ConsoleUser.id).where(ConsoleUser.email == email)).scalar_one()
    return client, user_id


@pytest.fixture
def ops(app: Any, client: Any, make_tenant: Any) -> Ops:
    """A tenant with three Midtown parcels and one in Philadelphia, a depot and a van, and a rule set."""
    tenant = make_tenant(("platform", "ops"))
    shipments = [book(client, tenant, w, f"MID-{i}") for i, w in enumerate(MIDTOWN[:3])]
    shipments.append(book(client, tenant, PHILADELPHIA[0], "PHL-0"))
    depot_id, van_id = setup_fleet(client, tenant)
    written = client.post(
        "/v1/allocation/rule-sets",
        json={"name": f"city {PLANTED}", "rules": [RULE]},
        headers=tenant.headers,
    )
    assert written.status_code == 201, written.get_json()
    console, user_id = signed_in_ops(app, tenant.tenant_id)
    return Ops(
        tenant,
        console,
        user_id,
        local_day(shipments[0]),
        depot_id,
        van_id,
        written.get_json()["id"],
        {s["id"]: s["reference"] for s in shipments},
    )


def text_of(resp: Any) -> str:
    return resp.get_data(as_text=True)


def versions(app: Any, rule_set_id: str) -> list[int]:
    with app.extensions["handoff"].sessions() as session:
        return list(
            session.execute(
                sa.select(tables.RuleSetVersion.version)
                .where(tables.RuleSetVersion.rule_set_id == rule_set_id)
                .order_by(tables.RuleSetVersion.version)
            ).scalars()
        )


def save(ops: Ops, document: str, **extra: str) -> Any:
    page = ops.client.get(f"/console/allocation/rule-sets/{ops.rule_set_id}")
    assert page.status_code == 200
    return ops.client.post(
        f"/console/allocation/rule-sets/{ops.rule_set_id}",
        data={"document": document, "csrf_token": csrf_of(text_of(page)), "base_version": "1", **extra},
    )


def test_the_overview_lists_rule_sets_depots_vans_and_shows_a_planted_name_as_text(app, ops):
    page = ops.client.get("/console/allocation")
    assert page.status_code == 200
    body = text_of(page)
    assert 'href="/console/allocation"' in body  # in the navigation
    assert PLANTED not in body and html.escape(PLANTED, quote=False) in body.replace("&#34;", '"')
    assert "Secaucus" in body and "Van 1" in body and "800 kg" in body
    assert f'href="/console/allocation/rule-sets/{ops.rule_set_id}"' in body


def test_an_invalid_document_is_refused_with_its_json_path_kept_in_the_textarea_and_nothing_saved(app, ops):
    broken = {"name": "city", "rules": [{"id": "bad", "when": {}, "action": {"type": "forbid"}}]}
    typed = json.dumps(broken, indent=2)
    resp = save(ops, typed)
    assert resp.status_code == 422
    body = text_of(resp)
    assert 'id="rule-errors"' in body
    assert '<code class="path">rules.0.action</code>' in body
    assert "target" in body  # 'target' is a required property
    assert str(markupsafe.escape(typed)) in body  # kept as typed in the textarea
    assert versions(app, ops.rule_set_id) == [1]

    not_json = save(ops, '{"name": "city", "rules": [')
    assert not_json.status_code == 422
    assert "not valid JSON" in text_of(not_json) and "line 1" in text_of(not_json)
    assert versions(app, ops.rule_set_id) == [1]


def test_a_valid_edit_writes_a_new_version_by_the_user_and_the_diff_marks_the_change(app, ops):
    changed = {**RULE, "when": {"postal_prefix": ["191", "190"]}}
    resp = save(ops, json.dumps({"name": "city two", "rules": [changed]}))
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(f"/console/allocation/rule-sets/{ops.rule_set_id}?saved=2")
    assert versions(app, ops.rule_set_id) == [1, 2]
    with app.extensions["handoff"].sessions() as session:
        audit = session.execute(
            sa.select(tables.AuditEntry).where(tables.AuditEntry.entity_id == ops.rule_set_id)
        ).scalars()
        assert [(a.action, a.actor) for a in audit if a.action == "update"] == [("update", ops.user_id)]

    page = text_of(ops.client.get(resp.headers["Location"]))
    assert 'id="saved"' in page and "version 2" in page
    diff = re.search(r'<pre class="diff" id="diff"><code>(.*?)</code></pre>', page, re.S)
    assert diff, page
    added = re.findall(r'<span class="add">(.*?)</span>', diff.group(1))
    removed = re.findall(r'<span class="del">(.*?)</span>', diff.group(1))
    assert any("&#34;190&#34;" in line for line in added), added
    assert any("city two" in line for line in added) and any("city" in line for line in removed)
    # Comparing a version with itself shows no difference.
    same = text_of(ops.client.get(f"/console/allocation/rule-sets/{ops.rule_set_id}?a=2&b=2"))
    assert "No difference." in same

    stale = save(ops, json.dumps({"name": "late", "rules": [RULE]}))  # base_version 1, now at 2
    assert stale.status_code == 422 and "is at version 2" in text_of(stale)
    assert versions(app, ops.rule_set_id) == [1, 2]


def test_conflicts_and_dead_ends_are_shown_with_the_packages_they_hit(app, ops):
    both = [RULE, {**RULE, "id": "vans-only-191", "action": {"type": "require", "target": "fleet"}}]
    assert save(ops, json.dumps({"name": "city", "rules": both})).status_code == 303
    page = text_of(ops.client.get(f"/console/allocation/rule-sets/{ops.rule_set_id}"))
    table = re.search(r'<table class="list" id="issues">(.*?)</table>', page, re.S)
    assert table, page
    assert "vans-only-191" in table.group(1) and "(this set)" in table.group(1)
    assert ">PHL-0</a>" in table.group(1)


def test_a_plan_runs_shows_progress_then_its_map_and_routes_and_is_applied_by_the_user(app, ops):
    overview = ops.client.get("/console/allocation")
    resp = ops.client.post(
        "/console/allocation/plans",
        data={
            "csrf_token": csrf_of(text_of(overview)),
            "depot_id": ops.depot_id,
            "day": ops.day.isoformat(),
            **TINY,
        },
    )
    assert resp.status_code == 303, text_of(resp)
    plan_url = resp.headers["Location"]
    plan_id = plan_url.rsplit("/", 1)[1]
    queued = text_of(ops.client.get(plan_url))
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in queued and "<progress" in queued
    assert 'src="/console/static/allocation.js"' in queued
    quiet = text_of(ops.client.get(f"{plan_url}?reload=off"))
    assert "http-equiv" not in quiet and "reload to see the progress" in quiet

    run_jobs(app)
    page = ops.client.get(plan_url)
    body = text_of(page)
    assert page.status_code == 200 and 'id="plan-state">done<' in body
    assert "refresh" not in body
    assert '<svg id="plan-map"' in body
    with app.extensions["handoff"].sessions() as session:
        row = session.get(tables.PlanRun, plan_id)
        assert row.created_by == ops.user_id
        used = [r for r in row.result["routes"] if r["stops"]]
        partner_refs = {p["reference"] for p in row.result["packages"] if p["assignee"] == "partner"}
    assert used and body.count("<polyline") == len(used)
    assert "PHL-0" in partner_refs  # the rule keeps vans out of Philadelphia
    assert body.count('<g class="partner">') == len(partner_refs)
    assert "km</text>" in body or " m</text>" in body  # the scale bar
    assert "Secaucus" in body
    route = re.search(rf'id="route-{ops.van_id}">(.*?)</table>', body, re.S)
    assert (
        route and "MID-" in route.group(1) and "New York" in route.group(1) and "any time" in route.group(1)
    )
    assert 'id="handovers"' in body and "PHL-0" in body

    applied = ops.client.post(f"{plan_url}/apply", data={"csrf_token": csrf_of(body)})
    assert applied.status_code == 303
    after = text_of(ops.client.get(applied.headers["Location"]))
    assert 'id="plan-state">applied<' in after and 'id="applied"' in after
    assert f"Applied: {len(ops.refs)} shipment(s)" in after
    with app.extensions["handoff"].sessions() as session:
        row = session.get(tables.PlanRun, plan_id)
        assert row.state == "applied" and row.applied_by == ops.user_id
        audit = session.execute(
            sa.select(tables.AuditEntry.actor).where(
                tables.AuditEntry.entity_id == plan_id, tables.AuditEntry.action == "apply"
            )
        ).scalars()
        assert list(audit) == [ops.user_id]


def test_a_plan_form_with_a_bad_budget_is_refused_and_nothing_is_queued(app, ops):
    overview = ops.client.get("/console/allocation")
    resp = ops.client.post(
        "/console/allocation/plans",
        data={"csrf_token": csrf_of(text_of(overview)), "day": ops.day.isoformat(), "time_limit_s": "0"},
    )
    assert resp.status_code == 422 and 'id="plan-errors"' in text_of(resp)
    assert "time_limit_s" in text_of(resp)
    with app.extensions["handoff"].sessions() as session:
        count = session.execute(
            sa.select(sa.func.count())
            .select_from(tables.PlanRun)
            .where(tables.PlanRun.tenant_id == ops.tenant.tenant_id)
        ).scalar_one()
    assert count == 0


def test_posts_without_the_csrf_token_are_refused_and_change_nothing(app, ops):
    edit = ops.client.post(
        f"/console/allocation/rule-sets/{ops.rule_set_id}",
        data={"document": json.dumps({"name": "x", "rules": [RULE]})},
    )
    assert edit.status_code == 403 and edit.mimetype == "text/html"
    assert versions(app, ops.rule_set_id) == [1]
    run = ops.client.post(
        "/console/allocation/plans", data={"day": ops.day.isoformat(), "csrf_token": "0" * 64}
    )
    assert run.status_code == 403
    with app.extensions["handoff"].sessions() as session:
        assert (
            session.execute(
                sa.select(sa.func.count())
                .select_from(tables.PlanRun)
                .where(tables.PlanRun.tenant_id == ops.tenant.tenant_id)
            ).scalar_one()
            == 0
        )


def test_another_tenants_rule_set_and_plan_are_404_and_cannot_be_written(app, ops, make_tenant):
    other = make_tenant(("ops",))
    stranger, _ = signed_in_ops(app, other.tenant_id)
    page = stranger.get(f"/console/allocation/rule-sets/{ops.rule_set_id}")
    assert page.status_code == 404
    token = csrf_of(text_of(stranger.get("/console/allocation")))
    write = stranger.post(
        f"/console/allocation/rule-sets/{ops.rule_set_id}",
        data={"document": json.dumps({"name": "mine", "rules": [RULE]}), "csrf_token": token},
    )
    assert write.status_code == 404
    assert versions(app, ops.rule_set_id) == [1]
    assert PLANTED not in text_of(stranger.get("/console/allocation"))
    assert ops.rule_set_id not in text_of(stranger.get("/console/allocation"))
    assert stranger.get("/console/allocation/plans/alp_nope").status_code == 404
    assert (
        stranger.post("/console/allocation/plans/alp_nope/apply", data={"csrf_token": token}).status_code
        == 404
    )


def test_finance_does_not_see_allocation(app, ops):
    email = make_user(app, ops.tenant.tenant_id, ("finance",))
    client = app.test_client()
    assert sign_in(client, email).status_code == 303
    assert client.get("/console/allocation").status_code == 403
    assert 'href="/console/allocation"' not in text_of(client.get("/console/"))


def test_the_rule_set_page_shows_a_planted_name_as_text(app, ops):
    body = text_of(ops.client.get(f"/console/allocation/rule-sets/{ops.rule_set_id}"))
    assert PLANTED not in body
    assert "&lt;script&gt;" in body
