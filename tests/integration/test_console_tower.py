"""The control tower's day-by-day charts: on time, ETA error and at-risk alerts over the last 7 days."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest

from gateway.kernel import models
from gateway.kernel.types import utcnow
from gateway.tracking import ingest
from schemas import events, taxonomy
from tests.integration.test_console_web import Seeded, make_user, seed, sign_in


@pytest.fixture
def seeded(app: Any, make_tenant: Any) -> Seeded:
    return seed(app, make_tenant)


def _chart(page: str, title: str) -> list[tuple[str, str, str]]:
    """A column chart's columns as (link, day label, value shown)."""
    found = re.search(rf'<svg role="group" aria-label="{re.escape(title)}".*?</svg>', page, re.S)
    assert found is not None, f"no chart {title!r}"
    return re.findall(
        r'<a href="([^"]+)">\s*<title>[^<]*</title>\s*<rect[^>]*></rect>\s*'
        r'<text[^>]*class="value"[^>]*>([^<]*)</text>\s*<text[^>]*class="label"[^>]*>([^<]*)</text>',
        found.group(0),
    )


def test_the_tower_draws_the_last_seven_days_one_column_each_linking_to_that_days_shipments(
    app: Any, seeded: Seeded
) -> None:
    today = utcnow().date()
    with app.extensions["handoff"].sessions() as session:
        session.get(models.Shipment, seeded.shipment_id).promise_date = today + timedelta(days=2)
        ingest.ingest(
            session,
            [
                events.CanonicalEvent(
                    tracking_number=seeded.tracking_number,
                    carrier="ups",
                    occurred_at=utcnow() - timedelta(minutes=5),
                    raw_code="DL",
                    milestone=taxonomy.Milestone.DELIVERED,
                    source_event_id=uuid.uuid4().hex,
                )
            ],
        )
        session.commit()
    client = app.test_client()
    sign_in(client, make_user(app, seeded.tenant_id, ("ops",)))

    page = client.get("/console/").get_data(as_text=True)

    on_time = _chart(page, "On time, by day booked")
    days = [today - timedelta(days=6 - i) for i in range(7)]
    assert [label for _href, _value, label in on_time] == [d.strftime("%a %d") for d in days]
    assert [href for href, _value, _label in on_time] == [
        f"/console/shipments?booked_from={d.isoformat()}&amp;booked_to={d.isoformat()}" for d in days
    ]
    # Only today has a delivery with a promise: kept, so 100 %; the other days have nothing to measure.
    assert [value for _href, value, _label in on_time] == ["\u2013"] * 6 + ["100.0"]  # an en dash: no figure
    alerts = _chart(page, "At-risk alerts, by day booked")
    assert [value for _href, value, _label in alerts] == ["0"] * 7  # none raised
    assert len(_chart(page, "ETA error (business days), by day booked")) == 7
    # The link opens the list behind the column: today's shipments, the seeded one among them.
    listed = client.get(on_time[-1][0].replace("&amp;", "&")).get_data(as_text=True)
    assert f"/console/shipments/{seeded.shipment_id}" in listed


def test_the_tower_task_keeps_the_figures_of_tenants_someone_is_looking_at(
    app: Any, seeded: Seeded, make_tenant: Any
) -> None:
    from gateway.console import jobs as console_jobs
    from gateway.jobs import context

    unwatched = seed(app, make_tenant)  # nobody of this tenant is signed in
    client = app.test_client()
    sign_in(client, make_user(app, seeded.tenant_id, ("ops",)))
    cache = app.extensions["handoff"].redis
    today = utcnow().date().isoformat()
    for tenant_id in (seeded.tenant_id, unwatched.tenant_id):
        cache.delete(f"handoff:console:tower:{tenant_id}:{today}")
    context.set_app(app)

    assert console_jobs.warm_towers() >= 1
    first = cache.get(f"handoff:console:tower:{seeded.tenant_id}:{today}")
    console_jobs.warm_towers()  # just computed: the kept figures are fresh, nothing to redo
    assert cache.get(f"handoff:console:tower:{seeded.tenant_id}:{today}") == first

    assert cache.get(f"handoff:console:tower:{seeded.tenant_id}:{today}") is not None
    assert cache.get(f"handoff:console:tower:{unwatched.tenant_id}:{today}") is None
    # The page shows the kept figures, computed by the task, not by the request.
    kept = re.search(
        r'"at": "([^"]+)"', cache.get(f"handoff:console:tower:{seeded.tenant_id}:{today}").decode()
    )
    assert kept is not None
    page = client.get("/console/").get_data(as_text=True)
    assert f"as of {kept.group(1)[11:19]} UTC" in page
