from __future__ import annotations

import json

import pytest

from schemas import taxonomy

M = taxonomy.Milestone


def test_terminal_milestones_are_the_end_states() -> None:
    terminal = {m for m in M if m.terminal}
    assert terminal == {M.DELIVERED, M.RETURNED, M.FAILED, M.CANCELLED, M.EXPIRED}


def test_every_milestone_has_details_and_terminal_ones_outrank_the_rest() -> None:
    top = min(m.rank for m in M if m.terminal)
    for m in M:
        assert taxonomy.DETAILS[m], m
        if not m.terminal:
            assert m.rank < top


def test_every_reason_names_a_party_and_pod_suspicious_needs_action() -> None:
    assert len(taxonomy.ExceptionReason) >= 25
    assert set(taxonomy.REASONS) == set(taxonomy.ExceptionReason)
    pod = taxonomy.ExceptionReason.POD_SUSPICIOUS
    assert pod.action_required and pod.party is taxonomy.Party.CARRIER
    assert taxonomy.ExceptionReason.WEATHER_DELAY.party is taxonomy.Party.NONE


def test_unknown_names_raise_a_taxonomy_error() -> None:
    with pytest.raises(taxonomy.TaxonomyError, match="unknown milestone 'lost_in_space'"):
        taxonomy.milestone("lost_in_space")
    with pytest.raises(taxonomy.TaxonomyError, match="not defined for milestone 'delivered'"):
        taxonomy.detail(M.DELIVERED, "picked_up")
    with pytest.raises(taxonomy.TaxonomyError, match="cannot carry a reason"):
        taxonomy.validate(M.OUT_FOR_DELIVERY, None, taxonomy.ExceptionReason.DAMAGED)


def test_describe_is_plain_json_covering_every_code() -> None:
    doc = json.loads(json.dumps(taxonomy.describe()))
    assert [m["code"] for m in doc["milestones"]] == [m.value for m in M]
    assert {r["code"] for r in doc["reasons"]} == {r.value for r in taxonomy.ExceptionReason}
    delivered = next(m for m in doc["milestones"] if m["code"] == "delivered")
    assert delivered["terminal"] is True
    assert "returned" in delivered["reopened_by"]
    assert {"code": "signed", "description": "Delivered and signed for."} in delivered["details"]


def test_taxonomy_doc_lists_every_code_and_crosswalk_value() -> None:
    from pathlib import Path

    from schemas import taxonomy_crosswalk

    doc = (Path(__file__).resolve().parents[3] / "docs" / "TAXONOMY.md").read_text(encoding="utf-8")
    codes = [m.value for m in M] + [r.value for r in taxonomy.ExceptionReason]
    codes += [v for voc in taxonomy_crosswalk.vocabularies() for v in taxonomy_crosswalk.values(voc)]
    assert [c for c in codes if f"`{c}`" not in doc] == []


def test_crosswalk_places_are_valid_taxonomy_combinations() -> None:
    from schemas import taxonomy_crosswalk

    for voc in taxonomy_crosswalk.vocabularies():
        for value in taxonomy_crosswalk.values(voc):
            place = taxonomy_crosswalk.place(voc, value)
            assert place is not None
            if place.milestone is not None:
                taxonomy.validate(place.milestone, place.detail, place.reason)
            else:
                assert place.kind in {"informational", "unmapped"}
    assert taxonomy_crosswalk.place("easypost.status", "teleported") is None
