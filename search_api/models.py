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


class HitsBatch(_View):
    bundle_version: str = Field(description="The one version every result comes from")
    results: list[Hits] = Field(description="One result per query or id, in the request's order")


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


class ReloadView(_View):
    previous_version: str | None = Field(description="Version served before; null when none was")
    version: str = Field(description="Version served now")
    seconds: float = Field(description="Time the load took (0 when nothing was loaded)")
    changed: bool = Field(description="False when the version asked for was already served: nothing was loaded")


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


# Longest side of a thumbnail when a request names no size, on every transport.
THUMBNAIL_SIZE = 256


@dataclass(frozen=True)
class Thumbnail:
    """Bytes for a transport to send as-is; not a wire model."""

    content: bytes
    media_type: str
    etag: str


# -- maps: projections and clusters -------------------------------------------------------------


class MapItem(_View):
    id: str
    title: str
    image_url: str | None = Field(description="Thumbnail URL, null when the item has no usable image")


class MapPoint(_View):
    id: str
    x: float = Field(description="In [-1, 1]; both axes share one scale, so distances on the map mean the same across")
    y: float
    cluster: int | None = Field(description="The item's cluster in `clustering`, -1 for noise; null without a clustering")


class ProjectionView(_View):
    bundle_version: str
    space: str
    method: str = Field(description="Projection method of these coordinates")
    methods: list[str] = Field(description="Projection methods this space has")
    clustering: str | None = Field(description="Clustering the `cluster` labels come from; null: the space has none")
    clusterings: list[str] = Field(description="Clusterings this space has")
    points: list[MapPoint] = Field(description="One per item of the space, in the space's row order")


class ClusterView(_View):
    method: str = Field(description="Clustering method")
    cluster: int = Field(description="0.. by decreasing size; -1 is the noise row")
    size: int
    name: str = Field(description="Its keywords joined, 'cluster <n>' without any, 'noise' for noise")
    keywords: list[str] = Field(description="c-TF-IDF keywords of its members' texts, best first")
    representatives: list[MapItem] = Field(description="Most central members first; empty for noise")


class ClustersView(_View):
    bundle_version: str
    space: str
    method: str | None = Field(description="The clustering asked for; null: every clustering")
    methods: list[str] = Field(description="Clusterings this space has")
    clusters: list[ClusterView]


class ClusterItemsView(_View):
    bundle_version: str
    space: str
    method: str
    cluster: int
    name: str
    total: int = Field(description="Members of the cluster, before offset and limit")
    offset: int
    items: list[MapItem] = Field(description="Most central first (noise: in row order)")


@dataclass(frozen=True, eq=False)
class ProjectionColumns:
    """A map as columns, for transports that ship it without one object per point (Arrow IPC).

    ids[i], coords[i] (float32, x and y) and labels[i] (int32, or None without a clustering)
    describe the space's row i. view() gives the same points as a ProjectionView.
    """

    bundle_version: str
    space: str
    method: str
    methods: list[str]
    clustering: str | None
    clusterings: list[str]
    ids: list[str]
    coords: Any
    labels: Any

    def view(self) -> ProjectionView:
        xs, ys = self.coords[:, 0].tolist(), self.coords[:, 1].tolist()
        labels = self.labels.tolist() if self.labels is not None else [None] * len(self.ids)
        # Built unvalidated: the values come typed from the bundle, and a map may have 100k+ points.
        points = [
            MapPoint.model_construct(id=i, x=x, y=y, cluster=c) for i, x, y, c in zip(self.ids, xs, ys, labels)
        ]
        return ProjectionView(**self.header(), points=points)

    def header(self) -> dict[str, Any]:
        """What the map is: every field of its ProjectionView but the points."""
        return {name: getattr(self, name) for name in ProjectionView.model_fields if name != "points"}

    def arrow_schema(self, fields: tuple[str, ...] = None):
        """id (string), x, y (float32), cluster (int32, null without a clustering), or only
        `fields` of them, in that order; what the map is (version, space, method, clustering)
        rides along as schema metadata, with the methods and clusterings the
        space has (comma-separated)."""
        import pyarrow as pa

        metadata = {
            "bundle_version": self.bundle_version,
            "space": self.space,
            "method": self.method,
            "clustering": self.clustering or "",
            "methods": ",".join(self.methods),
            "clusterings": ",".join(self.clusterings),
        }
        every = {
            "id": pa.field("id", pa.string(), nullable=False),
            "x": pa.field("x", pa.float32(), nullable=False),
            "y": pa.field("y", pa.float32(), nullable=False),
            "cluster": pa.field("cluster", pa.int32()),
        }
        return pa.schema([every[name] for name in fields or PROJECTION_FIELDS], metadata=metadata)

    def record_batches(self, rows: int = 65_536, fields: tuple[str, ...] = None):
        """The points as Arrow record batches of at most `rows` rows, made one at a time."""
        import pyarrow as pa

        fields = fields or PROJECTION_FIELDS
        schema = self.arrow_schema(fields)
        columns = {
            "id": lambda a, b: pa.array(self.ids[a:b], pa.string()),
            "x": lambda a, b: pa.array(self.coords[a:b, 0], pa.float32()),
            "y": lambda a, b: pa.array(self.coords[a:b, 1], pa.float32()),
            "cluster": lambda a, b: (
                pa.array(self.labels[a:b], pa.int32())
                if self.labels is not None
                else pa.nulls(len(self.ids[a:b]), pa.int32())
            ),
        }
        for start in range(0, len(self.ids), rows):
            stop = start + rows
            yield pa.record_batch([columns[name](start, stop) for name in fields], schema=schema)


# The Arrow projection's columns, in order; a client may ask for a subset (the map's first
# paint needs x, y and cluster, and the ids can follow).
PROJECTION_FIELDS = ("id", "x", "y", "cluster")


# -- the web map: metadata columns and item cards -----------------------------------------------


class ValueCount(_View):
    value: str
    count: int


class ColumnView(_View):
    name: str
    kind: str = Field(description="numeric, categorical, tags (a list of categories per item), or text (too many "
                      "distinct values to colour or filter by; never sent as a column)")
    present: int = Field(description="Items with a value")
    distinct: int = Field(description="Distinct values (tags: distinct tags)")
    min: float | None = Field(description="numeric: the smallest value; otherwise null")
    max: float | None = Field(description="numeric: the largest value; otherwise null")
    top: list[ValueCount] = Field(description="categorical and tags: the most common values, most common first")


class ColumnsView(_View):
    bundle_version: str
    items: int
    columns: list[ColumnView] = Field(description="In the order the catalogue first names them")


class SalientWord(_View):
    word: str
    start: int = Field(description="Character offset of the word in the card's `text`")
    end: int
    score: float = Field(description="Size of its Integrated Gradients attribution, scaled so the strongest word is 1")


class SalientWords(_View):
    space: str = Field(description="The text space whose encoder the words were attributed with")
    words: list[SalientWord] = Field(description="The words that carry the item's vector most, strongest first")


class ItemCard(_View):
    """What the map's hover card shows: read from the bundle only, never computed at request time."""

    bundle_version: str
    id: str
    title: str
    text: str
    metadata: dict[str, Any]
    image_url: str | None = Field(description="Thumbnail URL, null when the item has no usable image")
    spaces: list[str] = Field(description="Spaces that hold a vector of this item")
    salient: list[SalientWords] = Field(
        description="Per text space with stored word attributions for this very text; empty when the build "
        "stored none (vitrina index build --attribution-steps 0)")
