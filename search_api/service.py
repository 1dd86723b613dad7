"""The service layer: every operation REST and gRPC expose, as plain Python (maps, clusters and
outliers are in map_queries.py, the web map's own operations in map_operations.py).

Each public method takes ONE snapshot from the holder and passes it down, so
a hot swap during a request cannot mix versions. Errors are the typed ones
of `errors.py`; transports map them.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from vitrina.indexer.bundle.reader import Bundle, Space
from vitrina.schemas import Modality
from vitrina.search_api.admin import Reloader
from vitrina.search_api.errors import BadImage, InvalidArgument, NotFound, PayloadTooLarge, UnsupportedMedia
from vitrina.search_api.explain_models import ExplainRequest, ExplainView
from vitrina.search_api.explain_pool import ExplainPool
from vitrina.search_api.explanations import Explainer
from vitrina.search_api.filters import parse_filter
from vitrina.search_api.map_operations import MapOperations
from vitrina.search_api.map_queries import MapQueries
from vitrina.search_api.lookups import check_query, image_path_of, image_url_of, item_fields, record_of, row_in, space_of
from vitrina.search_api.holder import BundleHolder, Served
from vitrina.search_api.lru import LRUCache
from vitrina.search_api.models import (
    BundleView,
    EncoderView,
    Hit,
    Hits,
    HitsBatch,
    ItemView,
    ReloadView,
    SpaceView,
    Thumbnail,
)
from vitrina.search_api.observability import Metrics
from vitrina.search_api.query_batcher import QueryBatcher
from vitrina.search_api.settings import Settings

FilterInput = str | Mapping[str, Any] | None
# Browsers and curl send this for files they cannot type; the decoder decides.
_GENERIC_MEDIA = {"application/octet-stream", "binary/octet-stream"}


class SearchService(MapQueries, MapOperations):
    def __init__(self, holder: BundleHolder, settings: Settings | None = None):
        self.holder = holder
        self.settings = settings or Settings()
        self._thumbnails: LRUCache[tuple[str, str, int], Thumbnail] = LRUCache(self.settings.thumbnail_cache_entries)
        # (version, space, clustering, cluster) -> member rows in stored order: pages of one cluster gather once.
        self._members: LRUCache[tuple[str, str, str, int], np.ndarray] = LRUCache(self.settings.cluster_cache_entries)
        s = self.settings
        self._explain_pool = ExplainPool(s.explain_workers, s.explain_queue, s.explain_timeout_s)
        self.queries = QueryBatcher(s.query_batch_max, s.query_batch_window_ms / 1000)
        self._explainer = Explainer(self._explain_pool.run, s.explain_max_steps, s.max_query_chars, s.max_image_pixels,
                                    s.explain_cache_entries, s.heatmap_cache_entries, s.shared_heatmap_dir)
        # Both transports of one service count into the same registry: one /metrics for both.
        self.metrics = Metrics()
        self.metrics.follow_holder(holder)
        self.metrics.follow_explanations(self._explain_pool)
        self.reloader = Reloader(holder, self.settings, self.metrics)
        self._init_map_operations()
        holder.subscribe(self._forget_other_versions)

    def _forget_other_versions(self) -> None:
        """After a swap, drop cache entries of versions no longer served: keyed by version they
        never pin the old Bundle, but would hold its thumbnails and member lists until evicted."""
        version = self.holder.version
        self._thumbnails.discard_if(lambda key, _: key[0] != version)
        self._members.discard_if(lambda key, _: key[0] != version)
        self._map_images.discard_if(lambda key, _: key[0] != version)
        self._card_words.discard_if(lambda key, _: key[0] != version)
        self._explainer.forget_versions_but(version)

    # -- items --------------------------------------------------------------------------

    def get_item(self, item_id: str) -> ItemView:
        bundle = self.holder.get()
        return ItemView(**item_fields(bundle, record_of(bundle, item_id)))

    def image_path(self, item_id: str) -> Path:
        return image_path_of(self.holder.get(), item_id)

    def thumbnail(self, item_id: str, size: int) -> Thumbnail:
        """PNG that fits in size x size (aspect kept, never enlarged), cached per version."""
        lo, hi = self.settings.thumbnail_min, self.settings.thumbnail_max
        if not lo <= size <= hi:
            raise InvalidArgument("size", f"size must be between {lo} and {hi} pixels, got {size}")
        bundle = self.holder.get()
        key = (bundle.version, item_id, size)
        cached = self._thumbnails.get(key)
        if cached is not None:
            return cached
        from vitrina.training.images import ImageError, load_image, thumbnail

        path = image_path_of(bundle, item_id)
        try:
            image = load_image(path, max_pixels=self.settings.max_image_pixels)
        except (OSError, ImageError):
            # The indexer read this file once; it has since vanished or broken on disk.
            raise NotFound("image of item", item_id) from None
        etag = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
        result = Thumbnail(thumbnail(image, size, format="PNG"), "image/png", f'"{etag}"')
        self._thumbnails.put(key, result)
        return result

    # -- search -------------------------------------------------------------------------

    def neighbours(self, item_id: str, space: str = "image", k: int = 10, filter: FilterInput = None) -> Hits:
        served = self.holder.snapshot()
        sp = space_of(served.bundle, space)
        _check_k(k, self.settings.max_k)
        return _neighbours_of(served.bundle, sp, item_id, k, _allowed(served, sp, filter))

    def neighbours_batch(self, item_ids: list[str], space: str = "image", k: int = 10,
                         filter: FilterInput = None) -> HitsBatch:
        """`neighbours` of each id, in order, all from one version; 404 naming the first unknown id."""
        _check_batch(item_ids, "item_ids", self.settings.max_batch_queries)
        served = self.holder.snapshot()
        sp = space_of(served.bundle, space)
        _check_k(k, self.settings.max_k)
        allowed = _allowed(served, sp, filter)
        return HitsBatch(bundle_version=served.bundle.version,
                         results=[_neighbours_of(served.bundle, sp, item_id, k, allowed) for item_id in item_ids])

    def search_text(self, query: str, space: str = "text", k: int = 10, filter: FilterInput = None) -> Hits:
        served = self.holder.snapshot()
        sp = space_of(served.bundle, space, Modality.TEXT)
        _check_k(k, self.settings.max_k)
        allowed = _allowed(served, sp, filter)
        check_query(query, self.settings.max_query_chars)
        vector = self.queries.encode(sp.encoder(Modality.TEXT), query)
        return _search(served.bundle, sp, vector, k, allowed)[0]

    def search_text_batch(self, queries: list[str], space: str = "text", k: int = 10,
                          filter: FilterInput = None) -> HitsBatch:
        """`search_text` of each query, in order: encoded in one batch, searched in one index call."""
        _check_batch(queries, "queries", self.settings.max_batch_queries)
        served = self.holder.snapshot()
        sp = space_of(served.bundle, space, Modality.TEXT)
        _check_k(k, self.settings.max_k)
        allowed = _allowed(served, sp, filter)
        for query in queries:
            check_query(query, self.settings.max_query_chars)
        vectors = sp.encoder(Modality.TEXT).encode(list(queries))
        return HitsBatch(bundle_version=served.bundle.version, results=_search(served.bundle, sp, vectors, k, allowed))

    def search_image(
        self,
        image: bytes,
        space: str = "image",
        k: int = 10,
        filter: FilterInput = None,
        content_type: str | None = None,
    ) -> Hits:
        served = self.holder.snapshot()
        sp = space_of(served.bundle, space, Modality.IMAGE)
        _check_k(k, self.settings.max_k)
        allowed = _allowed(served, sp, filter)
        picture = self._decode(image, content_type)
        vector = self.queries.encode(sp.encoder(Modality.IMAGE), picture)
        return _search(served.bundle, sp, vector, k, allowed)[0]

    def _decode(self, data: bytes, content_type: str | None):
        from vitrina.training.images import ImageDecodeError, ImageTooLarge, load_image

        limit = self.settings.max_upload_bytes
        if len(data) > limit:
            raise PayloadTooLarge(limit, f"upload is {len(data)} bytes, over the limit of {limit} bytes")
        media = (content_type or "").split(";")[0].strip().lower()
        if media and not media.startswith("image/") and media not in _GENERIC_MEDIA:
            raise UnsupportedMedia(f"upload has content type {media!r}; send an image (image/png, image/jpeg ...)")
        if not data:
            raise BadImage("the upload is empty; send an image file in the 'file' field")
        try:
            return load_image(data, max_pixels=self.settings.max_image_pixels)
        except ImageTooLarge as exc:
            raise PayloadTooLarge(self.settings.max_image_pixels, f"image too large: {exc}") from None
        except ImageDecodeError as exc:
            raise BadImage(f"cannot decode the upload as an image: {exc}") from None

    # -- maps -----------------------------------------------------------------------------

    # -- explanations -------------------------------------------------------------------

    def explain(self, request: ExplainRequest) -> ExplainView:
        """Why request.target is close to the query or item (explanations.py); gradient work
        runs on a bounded pool: TooManyRequests when it is full."""
        return self._explainer.explain(self.holder.get(), request)

    def explain_heatmap_png(self, heatmap_id: str) -> bytes:
        """The overlay PNG of a heatmap an explanation named (NotFound once it left the cache)."""
        return self._explainer.heatmap_png(heatmap_id)

    # -- bundle ---------------------------------------------------------------------------

    def reload(self, version: str | None = None) -> ReloadView:
        """Serve another version (None: the one CURRENT names); admin.Reloader has the details."""
        return self.reloader.reload(version)

    def bundle_info(self) -> BundleView:
        bundle = self.holder.get()
        manifest = bundle.manifest
        collection = bundle.collection_paths
        return BundleView(
            collection=manifest.collection,
            version=manifest.version,
            parent=manifest.parent,
            created_at=manifest.created_at,
            items=len(bundle.items),
            spaces=[_space_view(space) for space in bundle.spaces.values()],
            current_version=collection.current(),
            versions=collection.versions(),
        )


# -- helpers shared by the operations above ------------------------------------------------


def _check_k(k: int, max_k: int) -> None:
    if not 1 <= k <= max_k:
        raise InvalidArgument("k", f"k must be between 1 and {max_k}, got {k}")


def _allowed(served: Served, space: Space, raw: FilterInput) -> np.ndarray | None:
    """The filter as a mask over the space's rows (None: no filter, search everything)."""
    flt = parse_filter(raw)
    if flt is None:
        return None
    return served.metadata.mask(flt)[space.item_rows]


def _check_batch(values: list[str], field: str, most: int) -> None:
    if not isinstance(values, list) or not values:
        raise InvalidArgument(field, f"{field} must be a non-empty list")
    if len(values) > most:
        raise InvalidArgument(field, f"{field} may hold at most {most} entries, got {len(values)}")


def _neighbours_of(bundle: Bundle, sp: Space, item_id: str, k: int, allowed: np.ndarray | None) -> Hits:
    row = row_in(bundle, sp, item_id)
    table = sp.neighbours
    # `allowed is None` also covers an empty filter; a filter needs the live search to
    # reach past the precomputed k.
    if allowed is None and table is not None and k <= table.k:
        # Computed at build time through this version's index: the answer the search below gives.
        present = table.rows[row, :k] >= 0
        pairs = zip(table.scores[row, :k][present].tolist(), table.rows[row, :k][present].tolist())
        return _hits(bundle, sp, pairs)
    return _search(bundle, sp, sp.vectors[row : row + 1], k, allowed, exclude_row=row)[0]


def _search(
    bundle: Bundle,
    space: Space,
    queries: np.ndarray,
    k: int,
    allowed: np.ndarray | None,
    exclude_row: int | None = None,
) -> list[Hits]:
    """Hits per query row ([n, dim]), in one index call; exclude_row drops that row (an item's own)."""
    ask = k
    if exclude_row is not None:
        if allowed is None:
            ask = k + 1  # the item finds itself first; one extra keeps k after dropping it
        else:
            allowed = allowed.copy()
            allowed[exclude_row] = False
    if allowed is not None and not allowed.any():
        # Nothing can match; the index is not asked.
        return [Hits(bundle_version=bundle.version, hits=[]) for _ in range(len(queries))]
    ask = min(ask, len(space.ids))
    scores, rows = space.index.search(np.ascontiguousarray(queries, dtype=np.float32), ask, allowed)
    return [_hits(bundle, space, [(float(s), int(r)) for s, r in zip(row_scores, row_ids)
                                  if r >= 0 and r != exclude_row][:k])
            for row_scores, row_ids in zip(scores, rows)]


def _hits(bundle: Bundle, space: Space, pairs: Iterable[tuple[float, int]]) -> Hits:
    """Hits for (score, space row) pairs, best first."""
    hits = []
    for rank, (score, row) in enumerate(pairs, start=1):
        record = bundle.items.record(int(space.item_rows[row]))
        hits.append(
            Hit(id=record.id, score=score, rank=rank, title=record.title, metadata=record.metadata, image_url=image_url_of(record))
        )
    return Hits(bundle_version=bundle.version, hits=hits)


def _space_view(space: Space) -> SpaceView:
    manifest = space.manifest
    return SpaceView(
        name=space.name,
        rows=manifest.rows,
        dim=manifest.dim,
        metric=manifest.metric.value,
        indexed_modality=manifest.indexed_modality.value,
        query_modalities=[m.value for m in manifest.encoders],
        index_factory=manifest.index.factory,
        recall_at_10=manifest.index.recall_at_10,
        encoders=[EncoderView(modality=m.value, spec=e.spec, fingerprint=e.fingerprint) for m, e in manifest.encoders.items()],
    )
