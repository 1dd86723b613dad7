"""The operations the web map needs beyond search: metadata columns, item cards, map pictures.

A mixin of SearchService, so both transports reach them through the one service layer. Each
reads one bundle snapshot and computes nothing a build could have (word attributions are
read from the bundle, never run at hover time).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from vitrina.schemas import Modality
from vitrina.search_api.errors import InvalidArgument, NotFound
from vitrina.search_api.lookups import item_fields, item_row, record_of
from vitrina.search_api.lru import LRUCache
from vitrina.search_api.map_queries import DEFAULT_PROJECTION, check_known, map_space
from vitrina.search_api.metadata_columns import CATEGORICAL, TAGS, MetadataColumns
from vitrina.search_api.models import (
    PROJECTION_FIELDS,
    ColumnsView,
    ColumnView,
    ItemCard,
    ProjectionColumns,
    SalientWord,
    SalientWords,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from vitrina.indexer.bundle.reader import Bundle, ItemRecord, Space

CARD_WORDS = 8
MAX_CARD_WORDS = 50
MAP_IMAGE_SIDES = (64, 2048)
# Map pictures kept per (version, space, method, colour, size, theme): the fallback page asks
# for the same one on every load.
MAP_IMAGE_CACHE = 16
# Word attributions computed for cards (item_card with compute) kept per (version, space, id).
CARD_WORDS_CACHE = 4096
MAP_COLOURS_BY = ("cluster", "none")
# Items per export: a million ids are about 20 MB of JSON, the most a map selection holds.
MAX_EXPORT_ITEMS = 1_000_000


class MapOperations:
    holder: object

    def _init_map_operations(self) -> None:
        self._metadata: LRUCache[str, MetadataColumns] = LRUCache(2)
        # (version, space) -> that version's stored map: the page asks for it once per switch.
        self._other_maps: LRUCache[tuple[str, str], object] = LRUCache(4)
        self._map_images: LRUCache[tuple, bytes] = LRUCache(MAP_IMAGE_CACHE)
        self._card_words: LRUCache[tuple[str, str, str], dict] = LRUCache(CARD_WORDS_CACHE)

    def _metadata_of(self, bundle: Bundle) -> MetadataColumns:
        found = self._metadata.get(bundle.version)
        if found is None:
            found = MetadataColumns(bundle.items.metadata)
            self._metadata.put(bundle.version, found)
        return found

    def columns(self) -> ColumnsView:
        """The catalogue of metadata columns: name, kind, counts, range or common values."""
        bundle = self.holder.get()
        meta = self._metadata_of(bundle)
        return ColumnsView(
            bundle_version=bundle.version,
            items=meta.rows,
            columns=[ColumnView.model_validate(info.to_dict()) for info in meta.columns.values()],
        )

    def column_table(self, space: str, names: Sequence[str] = ()) -> pa.Table:
        """Metadata columns `names` (empty: every column but text ones) for the items of
        `space`, in the space's row order, so row i lines up with the projection's row i.
        Categoricals are dictionary-encoded; the bundle version rides in the schema metadata."""
        return self._column_table(self.holder.get(), space, names)

    def _column_table(self, bundle: Bundle, space: str, names: Sequence[str]) -> pa.Table:
        sp = map_space(bundle, space)
        meta = self._metadata_of(bundle)
        bad = meta.check(names)
        if bad is not None:
            known = ", ".join(meta.sendable()) or "(none)"
            problem = "holds free text, too many distinct values to send" if bad in meta.columns else "is no column"
            raise InvalidArgument("names", f"{bad!r} {problem}; columns of this bundle: {known}")
        table = meta.arrow_table(names, sp.item_rows)
        return table.replace_schema_metadata({"bundle_version": bundle.version, "space": space})

    def item_card(self, item_id: str, words: int = CARD_WORDS, compute: bool = False) -> ItemCard:
        """Title, text, metadata, thumbnail URL and the `words` most salient words of the text in
        each text space, from the build's stored attributions of this very text.

        A build may store attributions for only some items (they cost tens of passes each). With
        `compute`, a text space that has none for this item computes them now, as the build
        would, on the explanation pool (429 when it is full), and keeps them for later cards.
        """
        if not 1 <= words <= MAX_CARD_WORDS:
            raise InvalidArgument("words", f"words must be between 1 and {MAX_CARD_WORDS}, got {words}")
        from vitrina.indexer.word_attributions import text_sha256
        bundle = self.holder.get()
        record = record_of(bundle, item_id)
        salient = []
        digest = text_sha256(record.text) if record.text else None
        for name, space in bundle.spaces.items():
            # A row for another text (the catalogue changed since) would highlight the wrong spans,
            # so a stale stored row gives way to one computed for this text.
            rows = (bundle.text_attribution(name, record.id), self._card_words.get((bundle.version, name, record.id)))
            stored = next((row for row in rows if row is not None and row["text_sha256"] == digest), None)
            if stored is None and compute and digest is not None:
                stored = self._attribute_now(bundle, space, record)
            if stored is None:
                continue
            ranked = salient_words(stored["words"])[:words]
            strongest = abs(ranked[0]["normalised"]) if ranked else 1.0
            top = [SalientWord(word=w["word"], start=w["start"], end=w["end"], score=abs(w["normalised"]) / strongest)
                   for w in ranked]
            salient.append(SalientWords(space=name, words=top))
        return ItemCard(**item_fields(bundle, record), salient=salient)

    def _attribute_now(self, bundle: Bundle, space: Space, record: ItemRecord) -> dict | None:
        """The word attribution row the build would have stored for `record` in `space` (None for
        a space that does not index texts, or whose encoder has no gradients)."""
        from vitrina.indexer.word_attributions import DEFAULT_STEPS, LEGACY_METHOD, attribute_space
        from vitrina.training.explain.errors import ExplainError

        if space.manifest.indexed_modality is not Modality.TEXT:
            return None
        encoder = space.encoder(Modality.TEXT)
        # The build's method and step count, so a computed card ranks words as a stored one would.
        built = bundle.manifest.build.get("options", {})
        steps = built.get("attribution_steps") or DEFAULT_STEPS
        # Versions built before the method was recorded used integrated gradients.
        method = built.get("attribution_method", LEGACY_METHOD)
        try:
            rows, _ = self._explain_pool.run(lambda: attribute_space(
                space.name, [record.id], [record.text], encoder, steps, progress=False, method=method))
        except ExplainError:
            return None
        self._card_words.put((bundle.version, space.name, record.id), rows[0])
        return rows[0]

    def map_image(self, space: str, method: str | None = None, colour: str = "cluster", width: int = 800,
                  height: int = 600, theme: str = "light") -> bytes:
        """PNG of the map of `space` by `method`, coloured by its first clustering ("cluster"), a
        categorical metadata column, or not at all ("none")."""
        from vitrina.search_api.map_image import BACKGROUND, render_map

        lo, hi = MAP_IMAGE_SIDES
        for name, value in (("width", width), ("height", height)):
            if not lo <= value <= hi:
                raise InvalidArgument(name, f"{name} must be between {lo} and {hi} pixels, got {value}")
        if theme not in BACKGROUND:
            raise InvalidArgument("theme", f"theme must be one of {', '.join(BACKGROUND)}, got {theme!r}")
        bundle = self.holder.get()
        columns = self._projection_of(bundle, space, method)
        key = (bundle.version, space, columns.method, colour, width, height, theme)
        cached = self._map_images.get(key)
        if cached is not None:
            return cached
        png = render_map(columns.coords, self._colour_codes(bundle, columns, colour, space), width, height, theme)
        self._map_images.put(key, png)
        return png

    def other_version_map(self, bundle: Bundle, space: str, version: str, method: str | None) -> ProjectionColumns:
        """The map of `space` as `version` (not the one served) stored it: ids and coordinates."""
        from vitrina.indexer.maps import read_space_projections
        coll = bundle.collection_paths
        try:
            paths = coll.version(version)
        except ValueError as exc:
            raise InvalidArgument("version", str(exc)) from None
        if version not in coll.versions():
            raise NotFound("version", version)
        maps = self._other_maps.get((version, space))
        if maps is None:
            path = paths.projections(space)
            if not path.is_file():
                raise NotFound(f"map of space {space!r} in version", version)
            maps = read_space_projections(path)
            self._other_maps.put((version, space), maps)
        methods = list(maps.coords)
        method = method or (DEFAULT_PROJECTION if DEFAULT_PROJECTION in methods else methods[0])
        check_known("method", "projection method", method, methods, space)
        return ProjectionColumns(bundle_version=version, space=space, method=method, methods=methods, clustering=None,
                                 clusterings=[], ids=maps.ids, coords=maps.coords[method], labels=None)

    def export_items(self, ids: Sequence[str], space: str | None = None) -> bytes:
        """The items `ids` as a Parquet file: id, title, text, their place on `space`'s default map
        (x, y) when a space is given, and every metadata column but free-text ones, typed as the
        catalogue lists them. For a selection made on the map, to study elsewhere."""
        import io

        import pyarrow.parquet as pq

        if not ids:
            raise InvalidArgument("ids", "ids is empty; send the ids of the items to export")
        if len(ids) > MAX_EXPORT_ITEMS:
            raise InvalidArgument("ids", f"{len(ids)} ids, more than the limit of {MAX_EXPORT_ITEMS} per export")
        bundle = self.holder.get()
        rows = [item_row(bundle, item_id) for item_id in ids]
        coords = None
        if space is not None:
            columns = self._projection_of(bundle, space)
            row_in_space = {item_id: i for i, item_id in enumerate(columns.ids)}
            missing = next((i for i in ids if i not in row_in_space), None)
            if missing is not None:
                raise InvalidArgument("ids", f"item {missing[:200]!r} has no place on the map of space {space!r}")
            coords = columns.coords[[row_in_space[i] for i in ids]]
        out = io.BytesIO()
        pq.write_table(_export_table(bundle, self._metadata_of(bundle), rows, coords), out)
        return out.getvalue()

    def _colour_codes(self, bundle: Bundle, columns, colour: str, space: str) -> np.ndarray | None:
        if colour == "none":
            return None
        if colour == "cluster":
            return columns.labels
        meta = self._metadata_of(bundle)
        info = meta.columns.get(colour)
        if info is None or info.kind not in (CATEGORICAL, TAGS):
            usable = [n for n, i in meta.columns.items() if i.kind == CATEGORICAL]
            raise InvalidArgument("colour", f"colour must be {' or '.join(MAP_COLOURS_BY)} or a categorical "
                                  f"column ({', '.join(usable) or 'none in this bundle'}), got {colour!r}")
        if info.kind == TAGS:
            raise InvalidArgument("colour", f"{colour!r} holds several values per item; colour by one of them "
                                  "on the live map instead")
        array = self._column_table(bundle, space, [colour]).column(0).combine_chunks()
        codes = array.indices.fill_null(-1).to_numpy()
        # Colours in order of frequency, as the page's legend lists them (ties: first seen first).
        counts = np.bincount(codes[codes >= 0], minlength=len(array.dictionary))
        colour_of = np.empty(len(counts), dtype=np.int64)
        colour_of[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
        return np.where(codes >= 0, colour_of[np.maximum(codes, 0)], -1)


def _export_table(bundle: Bundle, meta: MetadataColumns, rows: list[int], coords=None) -> pa.Table:
    import pyarrow as pa

    records = [bundle.items.record(r) for r in rows]
    columns = {"id": pa.array([r.id for r in records], pa.string()),
               "title": pa.array([r.title for r in records], pa.string()),
               "text": pa.array([r.text for r in records], pa.string())}
    if coords is not None:
        columns["x"], columns["y"] = pa.array(coords[:, 0], pa.float32()), pa.array(coords[:, 1], pa.float32())
    table = meta.arrow_table(meta.sendable(), np.asarray(rows, dtype=np.int64))
    for name in table.column_names:
        if name not in columns:  # a metadata column called "title" must not replace the title
            columns[name] = table.column(name)
    return pa.table(columns)


def salient_words(words: list[dict]) -> list[dict]:
    """Stored word attributions, strongest first. An item's words are attributed against its
    own empty text, so every word pulls its vector away from the empty one and most scores are
    negative: the magnitude says how much a word carries. Punctuation is left out."""
    kept = [w for w in words if any(ch.isalnum() for ch in w["word"])]
    return sorted(kept, key=lambda w: -abs(w["normalised"]))


def projection_fields(columns: str | None) -> tuple[str, ...]:
    """The Arrow projection's columns a request names ("x,y,cluster"); every one when None."""
    if columns is None or not columns.strip():
        return PROJECTION_FIELDS
    names = [c.strip() for c in columns.split(",") if c.strip()]
    for name in names:
        if name not in PROJECTION_FIELDS:
            raise InvalidArgument("columns", f"unknown projection column {name!r}; choose from "
                                  f"{', '.join(PROJECTION_FIELDS)}")
    if len(set(names)) != len(names):
        raise InvalidArgument("columns", "a projection column is named twice")
    return tuple(n for n in PROJECTION_FIELDS if n in names)
