"""The one error shape every layer raises for a value it cannot use.

Library code names *fields* (`epochs`, `image_ref`, `heads[0].name`), never CLI flags: the
CLI maps fields to its flags, and the search API's error table maps `FieldError` to
`invalid_argument`, so a message reaches a user, whichever door they came in by, pointing at
what to fix.
"""
from __future__ import annotations

from pathlib import Path


class FieldError(ValueError):
    """`field` holds a value that cannot work, and `problem` says why.

    `path` is the file that holds the value, for stored data. Subclasses keep their own
    names (so callers can catch one layer's errors) and may set `scope`, a prefix that says
    whose field it is ("classify." for the classify recipe's options).
    """

    scope = ""

    def __init__(self, field: str, problem: str, path: str | Path | None = None):
        self.field = field
        self.problem = problem
        self.path = None if path is None else str(path)
        super().__init__(self.describe())

    def describe(self) -> str:
        name = f"{self.scope}{self.field}"
        if self.path is not None:
            return f"{self.path}: field '{name}' {self.problem}"
        return f"{name}: {self.problem}"


class InvalidFieldError(FieldError):
    """An argument, or a column of a stored file, holds a value the indexer's maps cannot use.

    Without a file its message reads as a sentence about the argument ("k must be ...").
    """

    def describe(self) -> str:
        return super().describe() if self.path is not None else f"{self.field} {self.problem}"
