"""docs/ADAPTERS.md's carrier-by-capability table names real tests: a renamed or deleted test fails here.

Each cell cites tests as ``u:`` (tests/unit), ``c:`` (tests/contract), ``i:`` (tests/integration) or
``e:`` (tests/e2e), then a path and optionally ``::function``.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "ADAPTERS.md"
PREFIXES = {"u": "unit", "c": "contract", "i": "integration", "e": "e2e"}
CITATION = re.compile(r"\b([ucie]):([\w/]+\.py)(?:::(\w+))?")


def _table() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## Carriers \u00d7 capabilities")
    rows = [line for line in text[start:].splitlines() if line.startswith("| ")]
    assert len(rows) > 10, "the carrier-by-capability table is missing or lost its rows"
    return rows


def test_every_test_the_table_names_exists() -> None:
    missing = []
    cited = 0
    for row in _table():
        for prefix, path, function in CITATION.findall(row):
            cited += 1
            file = ROOT / "tests" / PREFIXES[prefix] / path
            if not file.is_file():
                missing.append(f"{prefix}:{path} (no such file)")
            elif function and not re.search(rf"^def {function}\(", file.read_text(encoding="utf-8"), re.M):
                missing.append(f"{prefix}:{path}::{function} (no such test)")
    assert cited > 30
    assert missing == []


def test_every_carrier_column_is_filled_in_every_row() -> None:
    header, _rule, *rows = _table()
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns[1:] == ["UPS", "DHL Express", "FedEx", "USPS"]
    for row in rows:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert len(cells) == len(columns), row
        assert all(cells), f"an empty cell in: {row}"
