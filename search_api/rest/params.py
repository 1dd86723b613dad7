"""Query parameters shared by several routes, declared once."""
from __future__ import annotations

from typing import Annotated

from fastapi import Query

K_HELP = "Number of hits, 1..max_k (server setting, 1000 by default)"
FILTER_HELP = (
    'Metadata filter as JSON, e.g. {"category": "animals", "year": {"gte": 1900, "lt": 1950}}; '
    "operators: in, contains, gt, gte, lt, lte"
)

KQuery = Annotated[int, Query(description=K_HELP)]
FilterQuery = Annotated[str | None, Query(description=FILTER_HELP)]
