"""Every FedEx code in ../shared/carriers/EVENT_CODES.md and fedex/NOTES.md has a row in our FedEx table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters import codes
from schemas import taxonomy

pytestmark = pytest.mark.contract

CARRIERS = Path(__file__).resolve().parents[2] / ".." / "shared" / "carriers"
EVENT_CODES = CARRIERS / "EVENT_CODES.md"
NOTES = CARRIERS / "fedex" / "NOTES.md"

# What each "suggested" value of EVENT_CODES.md may become in the taxonomy.
SUGGESTED: dict[str, set[taxonomy.Milestone | None]] = {
    "pre_transit": {taxonomy.Milestone.INFO_RECEIVED},
    "picked_up": {taxonomy.Milestone.IN_TRANSIT},
    "in_transit": {taxonomy.Milestone.IN_TRANSIT},
    "out_for_delivery": {taxonomy.Milestone.OUT_FOR_DELIVERY},
    "delivered": {taxonomy.Milestone.DELIVERED},
    "available_for_pickup": {taxonomy.Milestone.AVAILABLE_FOR_PICKUP},
    "exception": {taxonomy.Milestone.EXCEPTION},
    "delayed": {taxonomy.Milestone.EXCEPTION},
    # FedEx's RS is "return to shipper" while the parcel travels back; the arrival is a DL on the return.
    "returned": {taxonomy.Milestone.RETURNED, taxonomy.Milestone.RETURNING},
    "cancelled": {taxonomy.Milestone.CANCELLED},
    "info": {None},
}
# Deliberate departures from the suggestion (a hint, not a carrier fact), each explained in the table.
DEPARTURES = {"DS": taxonomy.Milestone.INFO_RECEIVED}
# Exception-party codes sit beside status details, not in event fields; those that collide with no
# event code must stay unmapped so that nobody reads them as events.
PARTY_ONLY_CODES = ("SH", "CU", "BR", "TP")


def _read(path: Path) -> str:
    if not path.is_file():
        pytest.skip(f"{path} is absent: the shared carrier reference is not checked out next to the repo")
    return path.read_text(encoding="utf-8")


def _fedex_section() -> str:
    for part in re.split(r"^## ", _read(EVENT_CODES), flags=re.MULTILINE):
        if part.startswith("FedEx"):
            return part
    raise AssertionError("FedEx section not found in EVENT_CODES.md")


def _table_rows(section: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.split("|")[1:-1]]
        for line in section.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]


def _table() -> codes.CodeTable:
    return codes.load_table("fedex")


def _explicit(code: str) -> codes.CodeMapping | None:
    return next((row for row in _table().rows() if row.code == code), None)


def test_every_fedex_code_in_the_event_table_has_an_explicit_row():
    listed = [row[0] for row in _table_rows(_fedex_section()) if re.fullmatch(r"[A-Z]{2}", row[0])]
    assert len(listed) >= 50, "parser no longer finds the FedEx code table"
    assert [c for c in listed if _explicit(c) is None] == []
    for code in listed:
        # With or without an exception code (the subcode), the row applies.
        assert _table().lookup(code) is not None
        assert _table().lookup(code, "A25") is not None


def test_mappings_follow_the_suggested_status_unless_a_departure_is_declared():
    wrong = []
    for row in _table_rows(_fedex_section()):
        code, suggested = row[0], row[-1]
        if not re.fullmatch(r"[A-Z]{2}", code):
            continue
        mapped = _explicit(code)
        assert mapped is not None
        allowed = DEPARTURES.get(code)
        key = suggested.split(" (")[0]
        expected = {allowed} if allowed else SUGGESTED[key]
        if mapped.milestone not in expected:
            wrong.append((code, suggested, mapped.milestone))
        if key == "info":
            assert mapped.informational, code
    assert wrong == []


def test_codes_only_third_parties_use_have_rows_too():
    section = _fedex_section()
    line = next(line for line in section.splitlines() if line.startswith("karrio also uses"))
    extra = re.findall(r"`([A-Za-z]{2})`", line)
    assert len(extra) >= 5
    assert [c for c in extra if _explicit(c) is None] == []


def test_every_code_in_the_notes_table_is_mapped():
    notes = _read(NOTES)
    section = notes[notes.index("### Tracking status and event codes") : notes.index("## 8.")]
    listed = [c for row in _table_rows(section) for c in re.findall(r"\b[A-Z]{2}\b", row[0])]
    assert len(listed) >= 18
    assert [c for c in listed if _table().lookup(c) is None] == []


def test_exception_party_codes_that_are_not_events_stay_unmapped():
    assert [c for c in PARTY_ONLY_CODES if _table().lookup(c) is not None] == []


def test_an_unknown_code_stays_unmapped():
    assert codes.lookup("fedex", "ZZ") is None
    assert codes.lookup("fedex", "ZZ", "A25") is None
