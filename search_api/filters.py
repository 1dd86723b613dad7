"""Metadata filters: parse a JSON filter, compile it to a boolean mask over item rows.

Grammar (every key must match; keys are ANDed):

    {"category": "animals"}                    equality; on list metadata: membership
    {"tags": {"contains": "old"}}              the same, spelled for list fields
    {"category": {"in": ["animals", "plants"]}}
    {"year": {"gte": 1900, "lt": 1950}}        gt, gte, lt, lte take numbers only

Range operands are numbers, but metadata read from CSV is often text, so a
metadata string that parses as a finite number takes part in range tests.
On list metadata a key's range operators must hold for one same element.
"""
from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from vitrina.search_api.errors import InvalidArgument
from vitrina.search_api.lru import LRUCache

Scalar = str | int | float | bool
MEMBERSHIP_OPS = ("eq", "contains", "in")
RANGE_OPS = {"gt": np.greater, "gte": np.greater_equal, "lt": np.less, "lte": np.less_equal}
OPERATORS = (*MEMBERSHIP_OPS, *RANGE_OPS)
EXAMPLE = '{"category": "animals", "year": {"gte": 1900, "lt": 1950}}'
_FIELD = "filter"
_MAX_KEYS_LISTED = 50


@dataclass(frozen=True)
class Clause:
    """All conditions on one metadata key; hashable so compiled masks can be cached."""

    key: str
    ops: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class MetadataFilter:
    clauses: tuple[Clause, ...]

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.clauses]


def _fail(message: str) -> InvalidArgument:
    return InvalidArgument(_FIELD, message)


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, int, bool))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _operand(key: str, op: str, value: Any) -> Any:
    if op in RANGE_OPS:
        if not _is_number(value):
            raise _fail(f"filter {key!r}: operator {op!r} takes a number, got {json.dumps(value)}")
        return float(value)
    if op == "in":
        if not isinstance(value, list) or not value or not all(_is_scalar(v) for v in value):
            raise _fail(f"filter {key!r}: operator 'in' takes a non-empty list of strings or numbers")
        return tuple(value)
    if not _is_scalar(value):
        hint = "; to match any of several values use {\"in\": [...]}" if isinstance(value, list) else ""
        raise _fail(f"filter {key!r}: operator {op!r} takes a string, number or boolean{hint}")
    return value


def _clause(key: str, spec: Any) -> Clause:
    if not isinstance(spec, dict):
        return Clause(key, (("eq", _operand(key, "eq", spec)),))
    if not spec:
        raise _fail(f"filter {key!r}: empty operator object; use one of {', '.join(OPERATORS)}")
    ops = []
    for op, value in sorted(spec.items()):
        if op not in OPERATORS:
            raise _fail(f"filter {key!r}: unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
        ops.append((op, _operand(key, op, value)))
    return Clause(key, tuple(ops))


def parse_filter(raw: str | Mapping[str, Any] | None) -> MetadataFilter | None:
    """A filter from a JSON string (query/form fields) or an object (JSON bodies); None for no filter."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _fail(f"filter is not valid JSON ({exc.msg} at position {exc.pos}); example: {EXAMPLE}") from None
    if not isinstance(raw, Mapping):
        raise _fail(f"filter must be a JSON object of metadata key -> value or {{operator: value}}; example: {EXAMPLE}")
    if not raw:
        return None
    return MetadataFilter(tuple(_clause(str(key), spec) for key, spec in sorted(raw.items())))


def _norm(value: Any) -> tuple[str, Any] | None:
    """A hash key where True != 1 and 2 == 2.0, as JSON users expect."""
    if isinstance(value, bool):
        return ("b", value)
    if _is_number(value):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value)
    return None


def _as_number(value: Any) -> float | None:
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


class _Column:
    """One metadata key, inverted: value -> rows, and (row, number) pairs for ranges."""

    def __init__(self, metadata: Sequence[Mapping[str, Any]], key: str):
        postings: dict[tuple[str, Any], list[int]] = {}
        rows: list[int] = []
        numbers: list[float] = []
        for row, meta in enumerate(metadata):
            value = meta.get(key)
            for element in value if isinstance(value, list) else (value,):
                norm = _norm(element)
                if norm is not None:
                    postings.setdefault(norm, []).append(row)
                number = _as_number(element)
                if number is not None:
                    rows.append(row)
                    numbers.append(number)
        self.postings = {k: np.asarray(v, dtype=np.int64) for k, v in postings.items()}
        self.num_rows = np.asarray(rows, dtype=np.int64)
        self.numbers = np.asarray(numbers, dtype=np.float64)

    def rows_equal(self, value: Any) -> np.ndarray:
        return self.postings.get(_norm(value), np.empty(0, dtype=np.int64))

    def rows_in_range(self, ranges: list[tuple[str, float]]) -> np.ndarray:
        ok = np.ones(len(self.numbers), dtype=bool)
        for op, bound in ranges:
            ok &= RANGE_OPS[op](self.numbers, bound)
        return self.num_rows[ok]


class MetadataIndex:
    """Compiles filters against one bundle's item metadata; built once per loaded bundle."""

    def __init__(self, metadata: Sequence[Mapping[str, Any]], cache_size: int = 256):
        self._metadata = metadata
        self.size = len(metadata)
        self.keys: frozenset[str] = frozenset(k for meta in metadata for k in meta)
        self._columns: dict[str, _Column] = {}
        self._masks: LRUCache[MetadataFilter, np.ndarray] = LRUCache(cache_size)
        self._lock = threading.Lock()

    def check(self, flt: MetadataFilter) -> None:
        unknown = [key for key in flt.keys if key not in self.keys]
        if unknown:
            known = sorted(self.keys)
            listed = ", ".join(known[:_MAX_KEYS_LISTED]) + (" ..." if len(known) > _MAX_KEYS_LISTED else "")
            raise _fail(f"unknown metadata key {unknown[0]!r} in filter; known keys: {listed or '(none)'}")

    def mask(self, flt: MetadataFilter) -> np.ndarray:
        """Read-only bool [items]: True where the item matches every clause."""
        self.check(flt)
        cached = self._masks.get(flt)
        if cached is not None:
            return cached
        mask = np.ones(self.size, dtype=bool)
        for clause in flt.clauses:
            mask &= self._clause_mask(clause)
        mask.flags.writeable = False  # shared by every request that hits the cache
        self._masks.put(flt, mask)
        return mask

    def _column(self, key: str) -> _Column:
        with self._lock:
            column = self._columns.get(key)
        if column is None:
            # Built outside the lock: two racing requests build it twice, harmlessly.
            column = _Column(self._metadata, key)
            with self._lock:
                column = self._columns.setdefault(key, column)
        return column

    def _clause_mask(self, clause: Clause) -> np.ndarray:
        column = self._column(clause.key)
        mask = np.ones(self.size, dtype=bool)
        ranges = [(op, value) for op, value in clause.ops if op in RANGE_OPS]
        if ranges:
            mask &= self._rows_to_mask(column.rows_in_range(ranges))
        for op, value in clause.ops:
            if op in ("eq", "contains"):
                mask &= self._rows_to_mask(column.rows_equal(value))
            elif op == "in":
                mask &= self._rows_to_mask(np.concatenate([column.rows_equal(v) for v in value]))
        return mask

    def _rows_to_mask(self, rows: np.ndarray) -> np.ndarray:
        mask = np.zeros(self.size, dtype=bool)
        mask[rows] = True
        return mask
