from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import codes
from gateway.tracking import timeline
from schemas import events, taxonomy

M = taxonomy.Milestone
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def ups(code: str, sub: str | None, minutes: int, **kw: object) -> events.CanonicalEvent:
    return codes.to_event(
        codes.load_table("ups"),
        tracking_number="1Z999AA10123456784",
        occurred_at=T0 + timedelta(minutes=minutes),
        code=code,
        subcode=sub,
        message=f"{code}/{sub}",
        **kw,
    )


def test_no_events_means_pending() -> None:
    state = timeline.derive([])
    assert state.milestone is M.PENDING
    assert state.events == ()


def test_status_follows_carrier_time_not_arrival_order() -> None:
    picked = ups("I", "OR", 0)
    ofd = ups("I", "OT", 600)
    delivered = ups("D", "FS", 700)
    state = timeline.derive([delivered, picked, ofd])
    assert state.milestone is M.DELIVERED
    assert [e.raw_subcode for e in state.events] == ["OR", "OT", "FS"]
    assert state.delivered_at == delivered.occurred_at


def test_late_older_event_is_inserted_in_place_and_does_not_move_status_back() -> None:
    state = timeline.derive([ups("I", "OR", 0), ups("I", "OT", 600)])
    late = ups("I", "DP", 60)
    after = timeline.apply(state, [late])
    assert after.milestone is M.OUT_FOR_DELIVERY
    assert [e.raw_subcode for e in after.events] == ["OR", "DP", "OT"]


def test_in_order_regression_does_not_move_status_back() -> None:
    state = timeline.derive([ups("I", "OT", 0), ups("I", "DP", 30)])
    assert state.milestone is M.OUT_FOR_DELIVERY


def test_exception_floats_and_is_resolved_by_later_progress() -> None:
    held = ups("X", "HX", 30)
    state = timeline.derive([ups("I", "OT", 0), held])
    assert state.milestone is M.EXCEPTION
    assert state.reason is taxonomy.ExceptionReason.HELD_BY_CARRIER
    assert state.action_party is taxonomy.Party.CARRIER
    resolved = timeline.apply(state, [ups("I", "DP", 120)])
    assert resolved.milestone is M.IN_TRANSIT
    assert resolved.reason is None


def test_delivered_is_sticky_against_later_ordinary_scans() -> None:
    state = timeline.derive([ups("D", "FS", 0), ups("I", "DP", 60), ups("X", "HX", 90)])
    assert state.milestone is M.DELIVERED


def test_explicit_return_after_delivery_reopens_it() -> None:
    state = timeline.derive([ups("D", "FS", 0), ups("RS", None, 600)])
    assert state.milestone is M.RETURNED


def test_correction_event_reopens_a_terminal_state() -> None:
    correction = events.CanonicalEvent(
        tracking_number="1Z999AA10123456784",
        carrier="ups",
        occurred_at=T0 + timedelta(minutes=30),
        raw_code="MANUAL",
        milestone=M.IN_TRANSIT,
        detail=taxonomy.CORRECTION_DETAIL,
        source=events.EventSource.MANUAL,
    )
    state = timeline.derive([ups("D", "FS", 0), correction])
    assert state.milestone is M.IN_TRANSIT
    assert state.detail == taxonomy.CORRECTION_DETAIL


def test_unmapped_event_is_kept_and_counted_but_does_not_drive_status() -> None:
    odd = ups("D", "ZZ", 60)
    assert odd.unmapped and odd.milestone is None
    state = timeline.derive([ups("I", "OR", 0), odd])
    assert state.milestone is M.IN_TRANSIT
    assert state.unmapped_count == 1
    assert state.unmapped_events == (odd,)
    assert state.events[-1].raw_code == "D" and state.events[-1].raw_message == "D/ZZ"


def test_estimated_delivery_comes_from_the_latest_carrier_estimate() -> None:
    early = ups("I", "OR", 0, estimated_delivery=date(2026, 3, 4))
    later = ups("U", None, 300, estimated_delivery=date(2026, 3, 6))
    middle = ups("I", "DP", 100, estimated_delivery=date(2026, 3, 3))
    state = timeline.derive([later, early, middle])
    assert state.estimated_delivery == date(2026, 3, 6)
    assert state.milestone is M.IN_TRANSIT  # U is informational


def test_duplicates_by_source_id_or_content_collapse_to_one_event() -> None:
    a = ups("I", "OR", 0, source_event_id="evt-1")
    same_id_other_copy = dataclasses.replace(a, raw_message="On the Way")
    no_id_same_content = ups("I", "OR", 0)
    state = timeline.derive([a, same_id_other_copy, no_id_same_content, a])
    assert len(state.events) == 1
    assert state.duplicates_dropped == 3


def test_remapping_a_code_rederives_the_status() -> None:
    state = timeline.derive([ups("I", "OR", 0), ups("D", "ZZ", 60)])
    assert state.milestone is M.IN_TRANSIT
    table = codes.load_table("ups").with_overrides(
        [{"code": "D", "subcode": "ZZ", "milestone": "delivered", "detail": "delivered_safe_place"}]
    )
    fixed = timeline.remap(state, lambda e: codes.remap_event(table, e))
    assert fixed.milestone is M.DELIVERED
    assert fixed.detail == "delivered_safe_place"
    assert fixed.unmapped_count == 0


# --- order and duplicate independence -------------------------------------------------------

_CODES = [
    ("M", "MP"),
    ("I", "OR"),
    ("I", "DP"),
    ("I", "YP"),
    ("I", "OT"),
    ("X", "HX"),
    ("X", "DE"),
    ("*", "RF"),
    ("D", "FS"),
    ("RS", None),
    ("*", "RT"),
    ("U", "SD"),
    ("D", "ZZ"),
    ("*", "WC"),
    ("MV", None),
]


@st.composite
def event_sets(draw: st.DrawFn) -> list[events.CanonicalEvent]:
    n = draw(st.integers(min_value=0, max_value=14))
    out = []
    for i in range(n):
        code, sub = draw(st.sampled_from(_CODES))
        minute = draw(st.integers(min_value=0, max_value=20)) * 30  # many ties on purpose
        eta = draw(st.one_of(st.none(), st.dates(date(2026, 3, 1), date(2026, 3, 20))))
        sid = draw(st.one_of(st.none(), st.just(f"id-{i}")))
        out.append(
            ups(code if code != "*" else "I", sub, minute, estimated_delivery=eta, source_event_id=sid)
        )
    return out


@st.composite
def delivery_streams(draw: st.DrawFn) -> tuple[list[events.CanonicalEvent], list[events.CanonicalEvent]]:
    base = draw(event_sets())
    stream = list(base)
    for e in base:
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            # A redelivered copy may differ in message text but shares the carrier's identity.
            copy = e if e.source_event_id is None else dataclasses.replace(e, raw_message="resent")
            stream.append(copy)
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    random.Random(seed).shuffle(stream)
    return base, stream


@settings(max_examples=300, deadline=None)
@given(delivery_streams())
def test_final_state_is_independent_of_arrival_order_and_duplicates(
    streams: tuple[list[events.CanonicalEvent], list[events.CanonicalEvent]],
) -> None:
    base, stream = streams
    assert timeline.derive(stream) == timeline.derive(list(reversed(stream)))
    reference = timeline.derive(stream)
    # The same set of distinct events without any duplicates gives the same status and timeline.
    distinct, _ = timeline.deduplicate(base)
    assert timeline.derive(distinct) == reference


@settings(max_examples=200, deadline=None)
@given(delivery_streams(), st.data())
def test_incremental_application_in_any_batches_equals_batch_derivation(
    streams: tuple[list[events.CanonicalEvent], list[events.CanonicalEvent]], data: st.DataObject
) -> None:
    _, stream = streams
    state = timeline.derive([])
    rest = list(stream)
    while rest:
        k = data.draw(st.integers(min_value=1, max_value=len(rest)))
        state, rest = timeline.apply(state, rest[:k]), rest[k:]
    assert state == timeline.derive(stream)
    assert state.duplicates_dropped == len(stream) - len(state.events)


@settings(max_examples=500, deadline=None)
@given(event_sets(), st.sampled_from([c for c in _CODES if c[0] not in {"X", "*"}]), st.integers(0, 600))
def test_a_late_older_progress_event_never_lowers_a_settled_status(
    base: list[events.CanonicalEvent], code: tuple[str, str | None], minute: int
) -> None:
    before = timeline.derive(base)
    if before.milestone in taxonomy.FLOATING_MILESTONES or not before.events:
        return
    late = ups(code[0], code[1], minute)
    # A late terminal event can legitimately reorder the story (delivered, then an explicit return) and
    # a late exception is news, so the claim is about ordinary progress scans arriving late.
    if late.milestone is None or late.milestone.terminal or late.milestone in taxonomy.FLOATING_MILESTONES:
        return
    if late.occurred_at >= before.events[-1].occurred_at:
        return
    after = timeline.apply(before, [late])
    assert after.milestone.rank >= before.milestone.rank
