"""Every USPS event code in ../shared/carriers/EVENT_CODES.md (and the USPS NOTES.md table) has a row."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters import codes
from schemas import taxonomy

pytestmark = pytest.mark.contract

CARRIERS = Path(__file__).resolve().parents[2] / ".." / "shared" / "carriers"
EVENT_CODES = CARRIERS / "EVENT_CODES.md"
NOTES = CARRIERS / "usps" / "NOTES.md"

# EVENT_CODES.md's "suggested" column, in the canonical taxonomy. ``returned`` there means "being
# returned to the sender", which our taxonomy calls returning (returned = back with the sender).
SUGGESTED: dict[str, set[taxonomy.Milestone]] = {
    "pre_transit": {taxonomy.Milestone.INFO_RECEIVED},
    "picked_up": {taxonomy.Milestone.IN_TRANSIT},
    "in_transit": {taxonomy.Milestone.IN_TRANSIT},
    "out_for_delivery": {taxonomy.Milestone.OUT_FOR_DELIVERY},
    "delivered": {taxonomy.Milestone.DELIVERED},
    "available_for_pickup": {taxonomy.Milestone.AVAILABLE_FOR_PICKUP},
    "exception": {taxonomy.Milestone.EXCEPTION, taxonomy.Milestone.ATTEMPT_FAILED, taxonomy.Milestone.FAILED},
    "delayed": {taxonomy.Milestone.EXCEPTION},
    "returned": {taxonomy.Milestone.RETURNING, taxonomy.Milestone.RETURNED},
}


def _text(path: Path) -> str:
    if not path.is_file():
        pytest.skip(f"{path} is absent: the shared carrier reference is not checked out next to the repo")
    return path.read_text(encoding="utf-8")


def _usps_section() -> str:
    for part in re.split(r"^## ", _text(EVENT_CODES), flags=re.MULTILINE):
        if part.startswith("USPS"):
            return part
    raise AssertionError("section 'USPS' not found in EVENT_CODES.md")


def _rows(section: str) -> list[tuple[str, str]]:
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] != "code" and cells[0] != "eventCode":
                rows.append((cells[0], cells[-1]))
    return rows


def _expand(cell: str) -> list[str]:
    """``02 / 52-56 / 30 / 51`` or ``09, 21-29, 31`` (en or hyphen dashes) -> every code named."""
    found: list[str] = []
    for token in re.split(r"\s*[/,]\s*", cell):
        token = token.strip()
        span = re.fullmatch(r"(\d{2})\s*[\u2013-]\s*(\d{2})", token)
        if span:
            found += [f"{n:02d}" for n in range(int(span.group(1)), int(span.group(2)) + 1)]
        elif re.fullmatch(r"[0-9A-Z]{2}", token):
            found.append(token)
    return found


def _event_codes() -> list[tuple[str, str]]:
    rows = [
        (code, suggested) for code, suggested in _rows(_usps_section()) if re.fullmatch(r"[0-9A-Z]{2}", code)
    ]
    assert len(rows) >= 50, "parser no longer finds the USPS table in EVENT_CODES.md"
    return rows


def test_every_usps_code_in_event_codes_has_a_row():
    table = codes.load_table("usps")
    missing = [code for code, _ in _event_codes() if table.lookup(code) is None]
    assert missing == []


def test_every_usps_code_follows_the_suggested_canonical_status():
    table = codes.load_table("usps")
    off = []
    for code, suggested in _event_codes():
        row = table.lookup(code)
        assert row is not None
        if row.milestone not in SUGGESTED[suggested]:
            off.append((code, suggested, row.milestone))
    assert off == []


def test_every_code_in_the_notes_table_has_a_row():
    text = _text(NOTES)
    section = text[text.index("### Event codes") : text.index("## 9.")]
    listed = [code for cell, _ in _rows(section) for code in _expand(cell)]
    assert len(listed) >= 40, "parser no longer finds the event code table in NOTES.md"
    table = codes.load_table("usps")
    assert [code for code in listed if table.lookup(code) is None] == []


def test_an_unknown_usps_code_stays_unmapped():
    assert codes.lookup("usps", "Z9") is None
    assert codes.lookup("usps", "UNCODED") is None


def test_every_row_names_a_code_usps_documents():
    documented = {code for code, _ in _event_codes()}
    assert [row.code for row in codes.load_table("usps").rows() if row.code not in documented] == []
