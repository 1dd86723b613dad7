"""Filter grammar and masks, on hand-written metadata with an obvious answer."""
from __future__ import annotations

import numpy as np
import pytest

from vitrina.search_api.errors import InvalidArgument
from vitrina.search_api.filters import MetadataIndex, parse_filter

METADATA = [
    {"category": "animals", "tags": ["old", "large"], "year": 1900, "public": True},
    {"category": "animals", "tags": [], "year": 1950},
    {"category": "plants", "tags": ["old"], "year": "1975", "public": False},  # CSV-style number
    {"category": "vehicles", "tags": ["new"], "year": 1990, "public": 1},
    {"category": "plants", "decades": [1910, 1960]},
    {},
]


@pytest.fixture
def index() -> MetadataIndex:
    return MetadataIndex(METADATA)


def rows(index: MetadataIndex, raw) -> list[int]:
    return np.flatnonzero(index.mask(parse_filter(raw))).tolist()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"category": "animals"}, [0, 1]),
        ('{"category": "plants"}', [2, 4]),
        ({"tags": "old"}, [0, 2]),  # list metadata: membership
        ({"tags": {"contains": "large"}}, [0]),
        ({"category": {"in": ["plants", "vehicles"]}}, [2, 3, 4]),
        ({"year": {"gte": 1950, "lt": 1990}}, [1, 2]),
        ({"year": {"gt": 1950}}, [2, 3]),
        ({"year": {"lte": 1950}}, [0, 1]),
        ({"year": 1950}, [1]),
        ({"year": 1950.0}, [1]),
        ({"category": "animals", "tags": "old"}, [0]),  # keys are ANDed
        ({"public": True}, [0]),  # True is not 1
        ({"public": 1}, [3]),
        ({"category": "fungi"}, []),
    ],
)
def test_masks(index, raw, expected):
    assert rows(index, raw) == expected


def test_range_on_a_list_needs_one_element_in_range(index):
    assert rows(index, {"decades": {"gte": 1950}}) == [4]
    assert rows(index, {"decades": {"gt": 1915, "lt": 1955}}) == []


@pytest.mark.parametrize("raw", [None, "", "  ", "{}", {}])
def test_no_filter(raw):
    assert parse_filter(raw) is None


def test_masks_are_cached_and_read_only(index):
    flt = parse_filter({"category": "animals"})
    mask = index.mask(flt)
    assert index.mask(parse_filter('{"category":"animals"}')) is mask
    with pytest.raises(ValueError):
        mask[0] = False


@pytest.mark.parametrize(
    "raw, message",
    [
        ("{bad json", r"filter is not valid JSON \(Expecting property name"),
        ('["animals"]', "filter must be a JSON object"),
        ("42", "filter must be a JSON object"),
        ({"year": {"between": [1, 2]}}, "filter 'year': unknown operator 'between'; use one of eq, contains, in, gt"),
        ({"year": {}}, "filter 'year': empty operator object"),
        ({"year": {"gte": "1950"}}, "filter 'year': operator 'gte' takes a number, got \"1950\""),
        ({"year": {"lt": True}}, "operator 'lt' takes a number"),
        ({"category": ["a", "b"]}, r"to match any of several values use \{\"in\": \[...\]\}"),
        ({"category": None}, "filter 'category': operator 'eq' takes a string, number or boolean"),
        ({"category": {"in": []}}, "operator 'in' takes a non-empty list"),
        ({"category": {"in": "animals"}}, "operator 'in' takes a non-empty list"),
        ({"category": {"in": [["a"]]}}, "operator 'in' takes a non-empty list"),
    ],
)
def test_bad_filters_name_the_problem(raw, message):
    with pytest.raises(InvalidArgument, match=message) as err:
        parse_filter(raw)
    assert err.value.field == "filter"


def test_unknown_key_lists_known_keys(index):
    message = "unknown metadata key 'colour' in filter; known keys: category, decades, public, tags, year"
    with pytest.raises(InvalidArgument, match=message):
        index.mask(parse_filter({"category": "animals", "colour": "red"}))


def test_vectorised_on_many_rows():
    """Columns are built once per key; masks over 100k items stay fast and right."""
    n = 100_000
    index = MetadataIndex([{"year": 1800 + i % 300, "tags": ["a"] if i % 2 else ["b"]} for i in range(n)])
    mask = index.mask(parse_filter({"year": {"gte": 1900, "lt": 1910}, "tags": "a"}))
    years = 1800 + np.arange(n) % 300
    assert np.array_equal(mask, (years >= 1900) & (years < 1910) & (np.arange(n) % 2 == 1))
