"""Answers built from the service's own models, serialised once.

FastAPI validates a route's return value against its response_model again, then walks it with
jsonable_encoder before json.dumps: for a model the service has just built (valid by
construction), that is a second validation and two more passes in Python, a large part of a
precomputed-neighbours request. A route that returns `json_of(view)` keeps its response_model
for the OpenAPI schema and sends pydantic-core's one serialisation as it is.
"""
from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def json_of(view: BaseModel) -> Response:
    return Response(view.model_dump_json(), media_type="application/json")
