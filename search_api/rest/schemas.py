"""REST-only wire models: request bodies, health and the error envelope.

Responses of the operations are the service's own models (`search_api.models`).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StatusPublic(BaseModel):
    status: str
    bundle_version: str | None = None


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorPublic(BaseModel):
    error: ErrorDetail


class TextSearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(description="Words to search for", examples=["a red car"])
    space: str = Field(default="text", description="A space that takes text queries (text, joint)")
    k: int = Field(default=10, description="Number of hits")
    filter: dict[str, Any] | None = Field(
        default=None, description="Metadata filter", examples=[{"category": "vehicles", "year": {"gte": 1950}}]
    )


class TextSearchBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: list[str] = Field(description="Queries, encoded in one batch", examples=[["a red car", "a cat"]])
    space: str = Field(default="text", description="A space that takes text queries (text, joint)")
    k: int = Field(default=10, description="Number of hits per query")
    filter: dict[str, Any] | None = Field(default=None, description="Metadata filter, applied to every query")


class NeighboursBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_ids: list[str] = Field(description="Items whose neighbours are wanted", examples=[["animals-01", "plants-02"]])
    space: str = Field(default="image", description="image, text, joint")
    k: int = Field(default=10, description="Number of neighbours per item")
    filter: dict[str, Any] | None = Field(default=None, description="Metadata filter, applied to every item")


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(description="Ids of the items to export, in the order wanted")
    space: str | None = Field(default=None, description="A space whose default map gives each item's x and y")


class ReloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str | None = Field(default=None, description="Version to serve; omitted: the one CURRENT names now")


# Documented on every route so clients see the error envelope in OpenAPI.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorPublic} for status in (400, 401, 404, 413, 415, 422, 503, 504)
}
