from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from adapters import codes
from schemas import events, taxonomy

ROOT = Path(__file__).resolve().parents[3]
HEADER = ",".join(codes.COLUMNS) + "\n"


@pytest.mark.parametrize("carrier", ["ups", "dhl_express", "fleet", "fedex", "usps"])
def test_every_packaged_table_loads_and_validates(carrier: str) -> None:
    table = codes.load_table(carrier)
    assert len(table) > 10
    for row in table.rows():
        assert row.informational or row.milestone is not None


def test_ups_pair_is_mapped_on_type_and_code() -> None:
    row = codes.lookup("ups", "I", "OT")
    assert row is not None and row.milestone is taxonomy.Milestone.OUT_FOR_DELIVERY


def test_unknown_code_is_unmapped_not_defaulted_to_in_transit() -> None:
    assert codes.lookup("dhl_express", "QQ") is None
    assert codes.lookup("ups", "D", "ZZ") is None
    event = codes.to_event(
        codes.load_table("dhl_express"),
        tracking_number="1234567890",
        occurred_at=datetime(2026, 1, 5, 10, 0, tzinfo=UTC),
        code="QQ",
        message="Mystery checkpoint",
    )
    assert event.unmapped
    assert event.milestone is None
    assert (event.raw_code, event.raw_message) == ("QQ", "Mystery checkpoint")


def test_informational_code_is_known_but_drives_nothing() -> None:
    row = codes.lookup("dhl_express", "RW")
    assert row is not None and row.informational and row.milestone is None


def test_override_row_wins_over_the_file_row_and_can_add_new_codes() -> None:
    overrides = [
        {
            "code": "NH",
            "milestone": "exception",
            "detail": "action_required",
            "reason": "recipient_unavailable",
        },
        {"code": "ZZ", "milestone": "in_transit", "detail": "processed_at_facility", "note": "ops ticket 42"},
    ]
    row = codes.lookup("dhl_express", "NH", overrides=overrides)
    assert row is not None and row.milestone is taxonomy.Milestone.EXCEPTION and row.origin == "override"
    added = codes.lookup("dhl_express", "ZZ", overrides=overrides)
    assert added is not None and added.detail == "processed_at_facility"
    # The packaged table itself is untouched.
    file_row = codes.lookup("dhl_express", "NH")
    assert file_row is not None and file_row.milestone is taxonomy.Milestone.ATTEMPT_FAILED


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("AB,,teleported,,,,\n", "unknown milestone"),
        ("AB,,in_transit,nowhere,,,\n", "detail 'nowhere'"),
        ("AB,,exception,held,gremlins,,\n", "unknown exception reason"),
        ("AB,,in_transit,,,,\nAB,,delivered,,,,\n", "duplicate row"),
        ("AB,,in_transit,,,maybe,\n", "informational must be"),
        ("AB,,in_transit,,,yes,\n", "informational row names no milestone"),
        (",,in_transit,,,,\n", "code is required"),
        ("AB,,,,,,\n", "milestone is required"),
    ],
)
def test_a_row_naming_something_outside_the_taxonomy_fails_at_load(row: str, message: str) -> None:
    with pytest.raises(codes.MappingError, match=message):
        codes.parse_table("acme", HEADER + row)


def test_a_table_with_wrong_columns_is_rejected() -> None:
    with pytest.raises(codes.MappingError, match="columns"):
        codes.parse_table("acme", "code,status\nAB,in_transit\n")


def test_a_carrier_without_a_table_is_a_clear_error() -> None:
    with pytest.raises(codes.MappingError, match="no tracking code table"):
        codes.load_table("nosuchcarrier")


def test_importing_the_module_reads_no_table() -> None:
    probe = "import adapters.codes as c; print(c.load_table.cache_info().currsize)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_event_time_is_normalised_to_utc_and_naive_times_are_refused() -> None:
    local = datetime(2026, 4, 23, 9, 15, 19, tzinfo=timezone(timedelta(hours=-4)))
    ups = codes.load_table("ups")
    event = codes.to_event(ups, tracking_number="1Z1", occurred_at=local, code="I", subcode="OT")
    assert event.occurred_at == datetime(2026, 4, 23, 13, 15, 19, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(0)
    with pytest.raises(events.EventError, match="timezone-aware"):
        codes.to_event(ups, tracking_number="1Z1", occurred_at=datetime(2026, 4, 23), code="I")


def test_a_mapped_event_with_an_invalid_detail_is_refused() -> None:
    with pytest.raises(events.EventError, match="detail"):
        events.CanonicalEvent(
            tracking_number="1Z1",
            carrier="ups",
            occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
            raw_code="X",
            milestone=taxonomy.Milestone.DELIVERED,
            detail="customs_cleared",
        )


def test_serialised_events_validate_against_the_json_schema_and_round_trip() -> None:
    schema = json.loads((ROOT / "schemas" / "json" / "canonical_event.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    delivered = codes.to_event(
        codes.load_table("fleet"),
        tracking_number="HF000123",
        occurred_at=datetime(2026, 5, 4, 14, 3, tzinfo=UTC),
        code="delivered",
        subcode="recipient",
        location=events.Location(city="Lyon", postal_code="69003", country_code="FR"),
        estimated_delivery=date(2026, 5, 4),
        source_event_id="drv-1",
        source=events.EventSource.SCAN,
        pod=events.ProofOfDelivery(
            signature_sha256="a" * 64,
            latitude=Decimal("45.7578"),
            longitude=Decimal("4.8320"),
            one_time_code="482913",
        ),
    )
    unmapped = codes.to_event(
        codes.load_table("dhl_express"),
        tracking_number="1234567890",
        occurred_at=datetime(2026, 5, 4, 9, 0, tzinfo=UTC),
        code="QQ",
    )
    for event in (delivered, unmapped):
        data = event.to_dict()
        validator.validate(data)
        assert events.CanonicalEvent.from_dict(json.loads(json.dumps(data))) == event
    broken = delivered.to_dict() | {"milestone": "teleported"}
    assert not validator.is_valid(broken)
    lying = unmapped.to_dict() | {"milestone": "delivered"}
    assert not validator.is_valid(lying)


def test_json_schema_enums_match_the_taxonomy() -> None:
    schema = json.loads((ROOT / "schemas" / "json" / "canonical_event.schema.json").read_text())
    props = schema["properties"]
    assert set(props["milestone"]["enum"]) - {None} == {m.value for m in taxonomy.Milestone}
    assert set(props["reason"]["enum"]) - {None} == {r.value for r in taxonomy.ExceptionReason}
