"""Postal areas: longest prefix wins, ranges, normalization and conflicting tables."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rating import errors, zones


def test_the_longest_matching_prefix_wins_over_shorter_ones_and_the_whole_country():
    index = zones.AreaIndex(
        [
            ({"country": "US"}, "country"),
            ({"country": "US", "postal_prefixes": ["1"]}, "one"),
            ({"country": "US", "postal_ranges": [{"from": "120", "to": "129"}]}, "twelve"),
            ({"country": "US", "postal_prefixes": ["12345"]}, "exact"),
        ]
    )
    assert index.lookup("US", "90210") == "country"
    assert index.lookup("US", "10001") == "one"
    assert index.lookup("US", "12999") == "twelve"
    assert index.lookup("US", "12345") == "exact"
    assert index.lookup("US", "12346") == "twelve"
    assert index.lookup("CA", "12345") is None


def test_postal_codes_are_compared_without_spaces_hyphens_or_case():
    index = zones.AreaIndex([({"country": "GB", "postal_prefixes": ["HS"]}, True)])
    assert index.covers("GB", zones.normalize_postal("hs1 2ab"))
    assert not index.covers("GB", zones.normalize_postal("SW1A 1AA"))
    assert zones.normalize_postal("10001-1234") == "100011234"


def test_a_postal_code_shorter_than_the_range_keys_does_not_match():
    index = zones.AreaIndex([({"country": "US", "postal_ranges": [{"from": "100", "to": "199"}]}, "z")])
    assert index.lookup("US", "15") is None
    assert index.lookup("US", "") is None


def test_overlapping_ranges_with_different_zones_are_a_card_error():
    with pytest.raises(errors.CardError, match="overlaps"):
        zones.AreaIndex(
            [
                ({"country": "US", "postal_ranges": [{"from": "100", "to": "150"}]}, "a"),
                ({"country": "US", "postal_ranges": [{"from": "150", "to": "199"}]}, "b"),
            ]
        )


def test_a_range_with_unequal_bounds_is_a_card_error():
    with pytest.raises(errors.CardError, match="equal-length"):
        zones.AreaIndex([({"country": "US", "postal_ranges": [{"from": "10", "to": "199"}]}, "a")])


def test_distance_bands_include_their_upper_bound():
    bands = zones.build_distance_zones(
        [{"zone": "A", "up_to_km": "10"}, {"zone": "B", "up_to_km": "25"}], None
    )
    assert bands.zone_for_km(Decimal("10")) == "A"
    assert bands.zone_for_km(Decimal("10.1")) == "B"
    assert bands.zone_for_km(Decimal("25.1")) is None
    assert bands.road_factor == Decimal("1.3")
