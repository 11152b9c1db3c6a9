"""Playbooks as data: validation, the entry a reason gets, and timers counted in business hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.exceptions import playbooks

FRIDAY_4PM = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
HOURS = playbooks.BusinessHours()


def test_a_business_hours_timer_skips_the_night_and_the_weekend():
    due = playbooks.deadline(FRIDAY_4PM, playbooks.Timer(4, business=True), HOURS)
    # One hour on Friday (16:00-17:00), three on Monday from 09:00.
    assert due == datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_a_timer_started_outside_business_hours_starts_counting_at_the_next_opening():
    saturday = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)
    assert playbooks.deadline(saturday, playbooks.Timer(1, business=True), HOURS) == datetime(
        2026, 12, 7, 10, 0, tzinfo=UTC
    )
    assert playbooks.deadline(saturday, playbooks.Timer(1), HOURS) == saturday + timedelta(hours=1)
    assert playbooks.deadline(saturday, None, HOURS) is None


def test_business_hours_are_the_playbooks_local_hours_across_a_daylight_saving_change():
    new_york = playbooks.BusinessHours(timezone="America/New_York")
    # Friday 30 October 2026, 16:00 in New York (EDT); clocks go back on Sunday 1 November.
    start = datetime(2026, 10, 30, 16, 0, tzinfo=ZoneInfo("America/New_York"))
    due = playbooks.deadline(start, playbooks.Timer(2, business=True), new_york)
    assert due.astimezone(ZoneInfo("America/New_York")).replace(tzinfo=None) == datetime(2026, 11, 2, 10, 0)
    assert due.tzinfo == start.tzinfo and due.utcoffset() == timedelta(hours=-5)  # EST by then


@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    st.floats(min_value=0.25, max_value=100),
)
def test_a_business_timer_never_ends_before_the_plain_one_nor_outside_business_hours(start, hours):
    due = playbooks.deadline(start, playbooks.Timer(hours, business=True), HOURS)
    assert due >= start + timedelta(hours=hours) - timedelta(microseconds=1)
    assert due.weekday() < 5 and (9, 0) <= (due.hour, due.minute) <= (17, 0)


def test_without_an_entry_a_reason_gets_the_taxonomys_party_and_claims_for_lost_parcels():
    book = playbooks.parse({"entries": [{"reason": "address_issue", "owner": "ops"}]}, version=3)
    assert book.entry_for("address_issue", "exception").owner == "ops"
    assert book.entry_for("recipient_unavailable", "attempt_failed").owner == "recipient"
    assert "notify_recipient" in book.entry_for("recipient_unavailable", None).actions
    assert book.entry_for("lost", "exception").actions == ("open_claim",)
    assert book.entry_for("weather_delay", "exception").owner == "ops"  # nobody must act: ops watch
    assert book.entry_for(playbooks.AT_RISK, None).owner == "ops"


def test_an_entry_naming_a_milestone_applies_only_there_and_the_first_match_wins():
    book = playbooks.parse(
        {
            "entries": [
                {"reason": "recipient_unavailable", "milestone": "attempt_failed", "owner": "carrier"},
                {"reason": "*", "owner": "shipper"},
            ]
        }
    )
    assert book.entry_for("recipient_unavailable", "attempt_failed").owner == "carrier"
    assert book.entry_for("recipient_unavailable", "exception").owner == "shipper"
    assert book.entry_for("lost", "exception").owner == "shipper"


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ({"entries": [{"reason": "gremlins", "owner": "ops"}]}, "unknown reason 'gremlins'"),
        ({"entries": [{"reason": "lost", "owner": "ops", "milestone": "lost"}]}, "unknown milestone"),
        ({"entries": [{"reason": "lost", "owner": "nobody"}]}, "entries/0/owner"),
        ({"entries": [], "at_risk_threshold": 0}, "at_risk_threshold"),
        ({"entries": [], "business_hours": {"start": "17:00", "end": "09:00"}}, "end must be after start"),
        ({"entries": [], "business_hours": {"timezone": "Mars/Olympus"}}, "unknown time zone"),
        ({"entries": [{"reason": "lost", "owner": "ops", "actions": ["teleport"]}]}, "entries/0/actions/0"),
    ],
)
def test_a_bad_playbook_is_refused_with_where_and_why(document, complaint):
    errors = playbooks.validate(document)
    assert any(complaint in e for e in errors), errors
    with pytest.raises(playbooks.PlaybookError):
        playbooks.parse(document)
