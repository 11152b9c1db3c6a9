"""Every UPS and DHL Express code in ../shared/carriers/EVENT_CODES.md has a row in our tables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters import codes

pytestmark = pytest.mark.contract

EVENT_CODES = Path(__file__).resolve().parents[2] / ".." / "shared" / "carriers" / "EVENT_CODES.md"


def _section(title: str) -> str:
    if not EVENT_CODES.is_file():
        pytest.skip(
            f"{EVENT_CODES} is absent: the shared carrier reference is not checked out next to the repo"
        )
    text = EVENT_CODES.read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    for part in parts:
        if part.startswith(title):
            return part
    raise AssertionError(f"section {title!r} not found in EVENT_CODES.md")


def _first_cells(section: str) -> list[str]:
    cells = []
    for line in section.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells.append(line.split("|")[1].strip())
    return cells


def _has_explicit_row(carrier: str, value: str) -> bool:
    return any(value in (row.code, row.subcode) for row in codes.load_table(carrier).rows())


def _ups_codes() -> tuple[list[str], list[tuple[str, str]], list[str]]:
    section = _section("UPS")
    types, pairs = [], []
    for cell in _first_cells(section):
        found = re.findall(r"\b([A-Z]{1,2}) / ([A-Z]{2})\b", cell)
        if found:
            pairs.extend(found)
        elif re.fullmatch(r"[A-Z]{1,2}", cell):
            types.append(cell)
    grouping = section[section.index("karrio's UPS grouping") : section.index("Recommendation")]
    listed = [code for group in re.findall(r"`([^`]+)`", grouping) for code in group.split()]
    return types, pairs, listed


def test_every_ups_status_type_has_an_explicit_row() -> None:
    types, _, _ = _ups_codes()
    assert len(types) >= 13, "parser no longer finds the UPS status type table"
    missing = [t for t in types if not any(row.code == t for row in codes.load_table("ups").rows())]
    assert missing == []
    for t in types:
        assert codes.lookup("ups", t) is not None, t


def test_every_ups_type_and_code_pair_is_mapped() -> None:
    _, pairs, _ = _ups_codes()
    assert len(pairs) >= 7
    missing = [p for p in pairs if codes.lookup("ups", *p) is None]
    assert missing == []


def test_every_ups_code_in_third_party_groupings_has_a_row() -> None:
    _, _, listed = _ups_codes()
    assert len(listed) >= 50
    assert [c for c in listed if not _has_explicit_row("ups", c)] == []


def test_every_dhl_express_checkpoint_code_is_mapped_or_informational() -> None:
    section = _section("DHL Express")
    listed = [c for c in _first_cells(section) if re.fullmatch(r"[A-Z]{2}", c)]
    listed += [c for c in re.findall(r"`([A-Z_]+)`", section) if re.fullmatch(r"[A-Z]{2}|DUMMY_[A-Z]+", c)]
    assert len(listed) >= 60, "parser no longer finds the DHL Express checkpoint table"
    unmapped = [c for c in listed if codes.lookup("dhl_express", c) is None]
    assert unmapped == []
