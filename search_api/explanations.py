"""Why a target item is close to a query or to another item: the service's explain operation.

Which explanations apply follows from the space and the two sides:
- words, in spaces with a text encoder: the query's words (or the source item's text) against
  the target's vector; in text-indexed spaces also the target's text against the source's
  vector. An item alone (no target) gets its words against its own empty baseline, read
  from the version's attributions/text.parquet when the indexer precomputed them;
- heatmaps, in spaces with an image encoder: the target's image against the source's vector
  (a neighbour's image vector, or a text query's joint vector), and the source item's image
  against the target's;
- metadata: attributes shared and differing, and the pair's similarity and rank in every space.

What does not apply is listed in `skipped` with the reason rather than refused, so a client
can always ask for every kind. Gradient work runs on the bounded ExplainPool; answers are
cached per (version, request), heatmaps per id for their PNG URL.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from vitrina.indexer.bundle.reader import Bundle, ItemRecord, Space
from vitrina.schemas import Modality
from vitrina.schemas.bundle_layout import write_atomic
from vitrina.search_api.errors import InvalidArgument, NotFound
from vitrina.search_api.explain_models import (
    ExplainRequest,
    ExplainView,
    HeatmapView,
    MetadataView,
    SideView,
    SpaceScore,
    WordScore,
    WordsView,
)
from vitrina.search_api.lookups import check_query, local_image, row_in, space_of
from vitrina.search_api.lru import LRUCache

# Grid of the heatmaps: 14 x 14 cells is ViT-B/16's patch grid at 224 px, coarse enough to read.
HEATMAP_GRID = 14
# Integrated Gradients steps of a heatmap whose request names none. On EfficientNet-Lite0 the
# completeness delta stays large at any affordable count (median 14% of the score change at
# 50 steps), so no convergence check can pick the count; instead 24 steps, whose grids rank cells
# like 50 steps' (Spearman median 0.97, min 0.95 over 6 openclipart pairs) at 1.9 s a heatmap
# against 4.4 s on 2 cores: an image pair's two heatmaps within 5 s (docs/benchmarks.md 12.5).
HEATMAP_STEPS = 24


def heatmap_url(heatmap_id: str) -> str:
    return f"/v1/explain/heatmaps/{heatmap_id}.png"


@dataclass(frozen=True)
class _Side:
    role: str  # "query", "item" or "target"
    vector: np.ndarray | None  # in the explained space; None when the item has no row there
    record: ItemRecord | None = None  # None for a query
    text: str | None = None


@dataclass(frozen=True)
class StoredHeatmap:
    version: str
    item_id: str
    image_path: Path
    heatmap: Any  # training.explain.image_heatmap.Heatmap


class Explainer:
    """Computes and caches explanations; `run` is where gradient work goes (ExplainPool.run)."""

    def __init__(self, run: Callable[[Callable[[], Any]], Any], max_steps: int, max_query_chars: int, max_image_pixels: int,
                 cache_entries: int, heatmap_entries: int, shared_dir: Path | None = None):
        self._run = run
        self.max_steps = max_steps
        self.max_query_chars = max_query_chars
        self.max_image_pixels = max_image_pixels
        self._answers: LRUCache[tuple[str, str], ExplainView] = LRUCache(cache_entries)
        self._heatmaps: LRUCache[str, StoredHeatmap] = LRUCache(heatmap_entries)
        self._pngs: LRUCache[str, bytes] = LRUCache(heatmap_entries)
        self._shared = SharedPngs(shared_dir, heatmap_entries) if shared_dir is not None else None

    # -- the operation --------------------------------------------------------------------

    def explain(self, bundle: Bundle, request: ExplainRequest) -> ExplainView:
        space = space_of(bundle, request.space, Modality.TEXT if request.query is not None else None)
        self._check(request)
        key = (bundle.version, request.model_dump_json())
        cached = self._answers.get(key)
        if cached is not None:
            return cached.model_copy(update={"cached": True, "seconds": 0.0})
        source = self._source(bundle, space, request)
        target = _item_side(bundle, space, request.target, "target") if request.target is not None else None
        started = time.perf_counter()
        skipped: dict[str, str] = {}
        words: list[WordsView] = []
        heatmaps: list[HeatmapView] = []
        do_words = "words" in request.kinds and _words_apply(space, skipped)
        do_heatmaps = "heatmap" in request.kinds and target is not None and _heatmaps_apply(space, skipped)
        if do_words or do_heatmaps:
            def work() -> None:
                if do_words:
                    words.extend(self._words(bundle, space, source, target, request))
                if do_heatmaps:
                    heatmaps.extend(self._heatmaps_of(bundle, space, source, target, request, skipped))

            self._run(work)
            if do_words and not words:
                skipped["words"] = "neither side has text"
        # _check allows no target only for words.
        metadata = _metadata(bundle, source, target, request) if "metadata" in request.kinds and target else None
        view = ExplainView(
            bundle_version=bundle.version,
            space=space.name,
            source=SideView(query=request.query) if request.query is not None else SideView(
                item=source.record.id, title=source.record.title),
            target=None if target is None else SideView(item=target.record.id, title=target.record.title),
            similarity=_similarity(source, target),
            words=words, heatmaps=heatmaps, metadata=metadata, skipped=skipped,
            seconds=round(time.perf_counter() - started, 4),
        )
        self._answers.put(key, view)
        return view

    def heatmap_png(self, heatmap_id: str, max_side: int = 512) -> bytes:
        stored = self._heatmaps.get(heatmap_id)
        if stored is None:
            png = self._shared.get(heatmap_id) if self._shared is not None else None
            if png is None:
                raise NotFound("heatmap (expired from the cache: request the explanation again)", heatmap_id)
            return png
        png = self._pngs.get(heatmap_id)
        if png is None:
            from vitrina.training.explain.image_heatmap import overlay_png

            png = overlay_png(self._image(stored.image_path, stored.item_id), stored.heatmap, max_side=max_side)
            self._pngs.put(heatmap_id, png)
        return png

    def forget_versions_but(self, version: str | None) -> None:
        """Drop what other versions left in the caches (called after a swap): they pin no bundle,
        but heatmaps and answers of a version nobody serves are memory for nothing."""
        self._answers.discard_if(lambda key, _: key[0] != version)
        gone = set(self._heatmaps.discard_if(lambda _, stored: stored.version != version))
        self._pngs.discard_if(lambda key, _: key in gone)

    # -- checks and sides -----------------------------------------------------------------

    def _check(self, request: ExplainRequest) -> None:
        if request.steps is not None and request.steps > self.max_steps:
            raise InvalidArgument("steps", f"steps must be at most {self.max_steps}, got {request.steps}")
        if request.query is not None:
            check_query(request.query, self.max_query_chars)
        if request.target is None and (request.query is not None or set(request.kinds) - {"words"}):
            raise InvalidArgument("target", "give a target item; only an item's own words (kinds: [words]) are "
                                            "explained without one")

    def _source(self, bundle: Bundle, space: Space, request: ExplainRequest) -> _Side:
        if request.query is not None:
            vector = space.encoder(Modality.TEXT).encode([request.query])[0]
            return _Side("query", vector, None, request.query)
        return _item_side(bundle, space, request.item, "item")

    # -- words ----------------------------------------------------------------------------

    def _words(self, bundle: Bundle, space: Space, source: _Side, target: _Side | None,
               request: ExplainRequest) -> list[WordsView]:
        encoder = space.encoder(Modality.TEXT)
        out = []
        if target is None:  # an item alone: its words against its own baseline (the map's hover)
            stored = bundle.text_attribution(space.name, source.record.id)
            if stored is not None and stored["reduction"] == request.reduction:
                return [_words_view(source, "baseline", source.text, stored, precomputed=True)]
            if source.text:
                result = _explain_words(encoder, source.text, None, request)
                out.append(_words_view(source, "baseline", source.text, result.to_dict()))
            return out
        pairs = [(source, target)]
        if space.manifest.indexed_modality is Modality.TEXT:
            pairs.append((target, source))
        for side, other in pairs:
            if side.text and other.vector is not None:
                result = _explain_words(encoder, side.text, other.vector, request)
                out.append(_words_view(side, other.role, side.text, result.to_dict()))
        return out

    # -- heatmaps -------------------------------------------------------------------------

    def _heatmaps_of(self, bundle: Bundle, space: Space, source: _Side, target: _Side, request: ExplainRequest,
                     skipped: dict[str, str]) -> list[HeatmapView]:
        from vitrina.training.explain.image_heatmap import explain_image

        encoder = space.encoder(Modality.IMAGE)
        out = []
        pairs = [(target, source)] + ([(source, target)] if source.record is not None else [])
        for side, other in pairs:
            path = local_image(side.record)
            if path is None or other.vector is None:
                continue
            image = self._image(path, side.record.id)
            steps = None if request.heatmap_method == "occlusion" else request.steps or HEATMAP_STEPS
            heatmap = explain_image(encoder, image, other.vector, method=request.heatmap_method,
                                    n_steps=steps or 1, grid=HEATMAP_GRID, baseline=request.heatmap_baseline)
            heatmap_id = hashlib.sha256(json.dumps(
                [bundle.version, space.name, side.record.id, other.role, _side_key(other), request.heatmap_method, steps,
                 request.heatmap_baseline],
            ).encode()).hexdigest()[:32]
            self._heatmaps.put(heatmap_id, StoredHeatmap(bundle.version, side.record.id, path, heatmap))
            if self._shared is not None:  # the PNG URL may reach another worker process
                self._shared.put(heatmap_id, self.heatmap_png(heatmap_id))
            out.append(HeatmapView(side=side.role, id=side.record.id, against=other.role, png_url=heatmap_url(heatmap_id),
                                   **heatmap.to_dict()))
        if not out:
            skipped["heatmap"] = "neither item has a readable image in this version"
        return out

    def _image(self, path: Path, item_id: str):
        from vitrina.training.images import load_image

        try:
            return load_image(path, max_pixels=self.max_image_pixels)
        except (OSError, ValueError) as exc:
            raise NotFound("readable image of item", item_id) from exc


# -- helpers ------------------------------------------------------------------------------


def _explain_words(encoder: Any, text: str, target: np.ndarray | None, request: ExplainRequest):
    """The request's steps when it names them; else as few as keep the delta under 1% of the change."""
    from vitrina.training.explain import text_words

    if request.steps is not None:
        return text_words.explain_text(encoder, text, target, n_steps=request.steps, reduction=request.reduction)
    targets = None if target is None else np.asarray(target, dtype=np.float32).reshape(1, -1)
    return text_words.explain_texts_until_complete(encoder, [text], targets, reduction=request.reduction)[0]


def _item_side(bundle: Bundle, space: Space, item_id: str, role: str) -> _Side:
    row = row_in(bundle, space, item_id)
    record = bundle.items.get(item_id)
    return _Side(role, space.vectors[row], record, record.text or record.title or None)


def _side_key(side: _Side) -> str:
    return side.record.id if side.record is not None else "query:" + (side.text or "")


def _words_apply(space: Space, skipped: dict[str, str]) -> bool:
    if Modality.TEXT in space.manifest.encoders:
        return True
    skipped["words"] = f"space {space.name!r} has no text encoder; explain words in a text or joint space"
    return False


def _heatmaps_apply(space: Space, skipped: dict[str, str]) -> bool:
    if Modality.IMAGE in space.manifest.encoders and space.manifest.indexed_modality is Modality.IMAGE:
        return True
    skipped["heatmap"] = f"space {space.name!r} has no image encoder; explain images in an image or joint space"
    return False


def _words_view(side: _Side, against: str, text: str, result: dict[str, Any], precomputed: bool = False) -> WordsView:
    return WordsView(
        side=side.role, id=side.record.id if side.record is not None else None, against=against, text=text,
        words=[WordScore(**{k: w[k] for k in ("word", "start", "end", "score", "normalised")}) for w in result["words"]],
        score=result["score"], baseline_score=result["baseline_score"], delta=result["delta"],
        n_steps=result["n_steps"], reduction=result["reduction"], method=result["method"],
        precomputed=precomputed,
    )


def _similarity(source: _Side, target: _Side | None) -> float | None:
    if target is None or source.vector is None or target.vector is None:
        return None
    return float(np.dot(source.vector, target.vector))


def _metadata(bundle: Bundle, source: _Side, target: _Side, request: ExplainRequest) -> MetadataView:
    mine = source.record.metadata if source.record is not None else {}
    theirs = target.record.metadata
    shared, differing = {}, {}
    for key in sorted(set(mine) & set(theirs)):
        a, b = mine[key], theirs[key]
        if isinstance(a, list) and isinstance(b, list):
            common = [v for v in a if v in b]
            if common:
                shared[key] = common
            if sorted(map(str, a)) != sorted(map(str, b)):
                differing[key] = {"source": a, "target": b}
        elif a == b:
            shared[key] = a
        else:
            differing[key] = {"source": a, "target": b}
    return MetadataView(
        shared=shared, differing=differing,
        only_source={k: v for k, v in mine.items() if k not in theirs},
        only_target={k: v for k, v in theirs.items() if k not in mine},
        spaces=[_space_score(space, source, target.record.id, request) for space in bundle.spaces.values()],
    )


def _space_score(space: Space, source: _Side, target_id: str, request: ExplainRequest) -> SpaceScore:
    """Similarity and exact rank of the target for the source in one space (close in one space
    and far in another is itself worth knowing)."""
    target_row = space.row_of.get(target_id)
    exclude = None
    if request.query is not None:
        if Modality.TEXT not in space.manifest.encoders:
            return SpaceScore(space=space.name, similarity=None, rank=None, of=None, note="takes no text queries")
        # The explained space's query vector is the source's own; the others encode it here.
        query = (source.vector if space.name == request.space
                 else space.encoder(Modality.TEXT).encode([request.query])[0])
    else:
        exclude = space.row_of.get(source.record.id)
        if exclude is None:
            return SpaceScore(space=space.name, similarity=None, rank=None, of=None, note="the source item is not in it")
        query = space.vectors[exclude]
    if target_row is None:
        return SpaceScore(space=space.name, similarity=None, rank=None, of=None, note="the target item is not in it")
    scores = space.vectors @ query
    similarity = float(scores[target_row])
    others = np.ones(len(scores), dtype=bool)
    if exclude is not None:
        others[exclude] = False
    rank = int((scores[others] > similarity).sum()) + 1
    return SpaceScore(space=space.name, similarity=similarity, rank=rank, of=int(others.sum()))


class SharedPngs:
    """Heatmap PNGs in a folder every worker process of one server reads, the newest `entries` kept."""

    def __init__(self, folder: Path, entries: int):
        self.folder, self.entries = Path(folder), entries
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, heatmap_id: str) -> Path:
        return self.folder / f"{heatmap_id}.png"

    def get(self, heatmap_id: str) -> bytes | None:
        if not heatmap_id.isalnum():  # ids are hex digests; anything else names no file of ours
            return None
        try:
            return self._path(heatmap_id).read_bytes()
        except OSError:
            return None

    def put(self, heatmap_id: str, png: bytes) -> None:
        write_atomic(self._path(heatmap_id), png)
        files = sorted(self.folder.glob("*.png"), key=_modified)
        for old in files[: max(0, len(files) - self.entries)]:
            old.unlink(missing_ok=True)


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # another worker pruned it meanwhile
        return 0.0
