"""What the service returns: one set of pydantic models for every transport.

REST uses them as `response_model` directly (so OpenAPI documents them), and
gRPC converts them in its conversions module; no transport re-declares them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field


def image_url(item_id: str) -> str:
    # '/' stays readable: the REST routes take ids as paths, so it needs no escaping.
    return f"/v1/items/{quote(item_id, safe='/')}/image"


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class Hit(_View):
    id: str
    score: float = Field(description="Cosine similarity to the query")
    rank: int = Field(description="1-based position in the result list")
    title: str
    metadata: dict[str, Any]
    image_url: str | None = Field(description="Thumbnail URL, null when the item has no usable image")


class Hits(_View):
    bundle_version: str
    hits: list[Hit]


class ItemView(_View):
    bundle_version: str
    id: str
    title: str
    text: str
    metadata: dict[str, Any]
    image_url: str | None
    spaces: list[str] = Field(default_factory=list, description="Spaces that hold a vector of this item")


class EncoderView(_View):
    modality: str
    spec: str
    fingerprint: str


class SpaceView(_View):
    name: str
    rows: int
    dim: int
    metric: str
    indexed_modality: str
    query_modalities: list[str]
    index_factory: str
    recall_at_10: float | None = Field(description="Measured against exact search when the index was built")
    encoders: list[EncoderView]


class BundleView(_View):
    collection: str
    version: str
    parent: str | None
    created_at: datetime
    items: int
    spaces: list[SpaceView]
    current_version: str | None = Field(description="Version CURRENT points at on disk now; differs from `version` until a reload")
    versions: list[str]


class OutlierView(_View):
    id: str
    attribute: str
    label: str = Field(description="The item's own label")
    majority_label: str = Field(description="The label most of its neighbours carry")
    majority_share: float = Field(description="Share of its labelled neighbours carrying majority_label")
    own_label_share: float = Field(description="Share of its labelled neighbours carrying its own label")
    confidence: float = Field(description="majority_share - own_label_share; higher: likelier mislabelled")
    title: str
    image_url: str | None = Field(description="Thumbnail URL, null when the item has no usable image")


class OutliersView(_View):
    bundle_version: str
    space: str
    attribute: str | None = Field(description="The attribute asked for; null: every attribute")
    total: int = Field(description="Outliers matching the request, before `limit`")
    outliers: list[OutlierView] = Field(description="Most confident first")


@dataclass(frozen=True)
class Thumbnail:
    """Bytes for a transport to send as-is; not a wire model."""

    content: bytes
    media_type: str
    etag: str
