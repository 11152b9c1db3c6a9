"""Every status listed in ../shared/TAXONOMY-ANCHORS.md has a documented place in our taxonomy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from schemas import taxonomy, taxonomy_crosswalk

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
ANCHORS = ROOT / ".." / "shared" / "TAXONOMY-ANCHORS.md"
DOC = ROOT / "docs" / "TAXONOMY.md"


def _text() -> str:
    if not ANCHORS.is_file():
        pytest.skip(f"{ANCHORS} is absent: the shared taxonomy reference is not checked out next to the repo")
    return ANCHORS.read_text(encoding="utf-8")


def _between(text: str, start: str, end: str) -> str:
    i = text.index(start) + len(start)
    return text[i : text.index(end, i)]


def _ticks(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def _aftership_subtags(section: str) -> list[str]:
    # Lines wrap and abbreviate ("Delivered_001 ... · _002 ..."), so a bare "_NNN" belongs to the last
    # tag named; the "New (effective ...)" bullet lists Exception subtags without naming the tag.
    found: list[str] = []
    tag = None
    for line in section.splitlines():
        if line.startswith("- New"):
            tag = "Exception"
        for match in re.finditer(
            r"\b([A-Z][A-Za-z]+)_(\d{3})(?:…_(\d{3}))?|(?<![A-Za-z0-9])_(\d{3})\b", line
        ):
            if match.group(1):
                tag = match.group(1)
                first = int(match.group(2))
                last = int(match.group(3) or first)
                found += [f"{tag}_{n:03d}" for n in range(first, last + 1)]
            elif tag is not None:
                found.append(f"{tag}_{match.group(4)}")
    return found


def anchored_values() -> dict[str, list[str]]:
    """Parse the vendor lists from the anchors document, vocabulary by vocabulary."""
    text = _text()
    aftership = _between(text, "### 1.1", "### 1.2")
    easypost = _between(text, "### 1.2", "### 1.3")
    shippo = _between(text, "### 1.3", "### 1.4")
    shipengine = _between(text, "### 1.4", "### 1.5")
    karrio = text[text.index("### 1.7") :]
    detail_codes = []
    for code in _ticks(_between(shipengine, "status_detail_code (", "Note:")):
        match = re.fullmatch(r"([A-Z_]+)\((_[A-Z_]+)\|(_[A-Z_]+)\)", code)
        detail_codes += (
            [match.group(1), *(match.group(1) + s for s in match.groups()[1:])] if match else [code]
        )
    return {
        "aftership.tag": _ticks(_between(aftership, "Tags (9)", "(Expired =")),
        "aftership.subtag": _aftership_subtags(_between(aftership, "Subtags", "AfterShip also has")),
        "aftership.event": _ticks(_between(aftership, "**Events** enum", "[A6]")),
        "easypost.status": _ticks(_between(easypost, "status (10)", "status_detail (28")),
        "easypost.status_detail": _ticks(
            _between(easypost, "`tracking_details[]` event):", "(list confirmed")
        ),
        "shippo.status": _ticks(_between(shippo, "status (6)", "(+`status_details`")),
        "shippo.substatus": _ticks(_between(shippo, "substatus codes", "**`action_required")),
        "shipengine.status_code": re.findall(
            r"`([A-Z]{2})`", _between(shipengine, "status_code (8)", "Events also")
        ),
        "shipengine.status_detail_code": detail_codes,
        "karrio.tracking_status": _ticks(_between(karrio, "one-element list of its own name", "(12 values)")),
        "karrio.shipment_status": _ticks(_between(karrio, "derived from tracker status", "**`PickupStatus`")),
        "karrio.pickup_status": _ticks(_between(karrio, "**`PickupStatus`**", "#### 2.2")),
        "karrio.incident_reason": [
            v
            for v in _ticks(_between(karrio, "| Group | Values |", "`TrackingEvent`"))
            if re.fullmatch(r"[a-z_]+", v)
        ],
    }


EXPECTED_COUNTS = {
    "aftership.tag": 9,
    "easypost.status": 10,
    "easypost.status_detail": 28,
    "shippo.status": 6,
    "shipengine.status_code": 8,
    "karrio.tracking_status": 12,
    "karrio.incident_reason": 35,
}


def test_the_parser_finds_the_lists_the_document_announces() -> None:
    found = anchored_values()
    for vocabulary, count in EXPECTED_COUNTS.items():
        assert len(set(found[vocabulary])) == count, vocabulary
    assert len(found["aftership.subtag"]) >= 45
    assert len(found["shipengine.status_detail_code"]) >= 70
    assert "PARCEL_UPDATE_NOTIFICATION_VIA_SMS" in found["shipengine.status_detail_code"]


def test_every_vendor_value_has_a_place_in_the_crosswalk() -> None:
    missing = {
        vocabulary: [v for v in vals if taxonomy_crosswalk.place(vocabulary, v) is None]
        for vocabulary, vals in anchored_values().items()
    }
    assert {k: v for k, v in missing.items() if v} == {}


def test_every_crosswalk_place_is_valid_in_the_taxonomy() -> None:
    for vocabulary in taxonomy_crosswalk.vocabularies():
        for value in taxonomy_crosswalk.values(vocabulary):
            p = taxonomy_crosswalk.place(vocabulary, value)
            assert p is not None
            if p.milestone is not None:
                taxonomy.validate(p.milestone, p.detail, p.reason)


def test_every_vendor_value_is_documented_in_taxonomy_md() -> None:
    doc = DOC.read_text(encoding="utf-8")
    undocumented = [
        (vocabulary, v) for vocabulary, vals in anchored_values().items() for v in vals if f"`{v}`" not in doc
    ]
    assert undocumented == []
