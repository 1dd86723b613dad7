"""A dataset of images with one categorical label per attribute (e.g. `category`, `subcategory`).

Images are either file paths (decoded on demand with `training.images.load_image`,
the same safe decoder the indexer uses) or in-memory uint8 arrays (Fashion-MNIST).
Labels are integer codes per attribute, -1 where an item has no value.

`groups` name near-duplicates: openclipart files the same drawing under a
category and a sub-category folder, so the group (the image file name) keeps
both copies on the same side of a train/test split.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Sequence

import numpy as np
from PIL import Image

from vitrina.schemas import ITEMS_SCHEMA, read_table_checked
from vitrina.schemas.bundle_layout import CollectionPaths
from vitrina.schemas.errors import FieldError
from vitrina.training.images import DEFAULT_MAX_PIXELS, load_image

MISSING = -1


class DatasetError(FieldError):
    """A dataset that cannot be used for classification; names the source and the field."""

    def __init__(self, source: str | Path, field: str, problem: str):
        self.source = str(source)
        super().__init__(field, problem)

    def describe(self) -> str:
        return f"{self.source}: {self.field} {self.problem}"


@dataclass(frozen=True)
class Attribute:
    """Codes of one categorical attribute: `classes[codes[i]]` is item i's value, -1 = none."""

    name: str
    classes: tuple[str, ...]
    codes: np.ndarray

    @classmethod
    def from_values(cls, name: str, values: Sequence[str | None]) -> "Attribute":
        classes = tuple(sorted({v for v in values if v is not None}))
        index = {c: i for i, c in enumerate(classes)}
        codes = np.array([MISSING if v is None else index[v] for v in values], dtype=np.int64)
        return cls(name, classes, codes)

    def take(self, rows: np.ndarray) -> "Attribute":
        return Attribute(self.name, self.classes, self.codes[rows])


class LabelledImages:
    """Items with an image and categorical labels; `image(i)` gives an RGB PIL image."""

    def __init__(
        self,
        ids: Sequence[str],
        attributes: dict[str, Attribute],
        paths: Sequence[str] | None = None,
        arrays: np.ndarray | None = None,
        groups: Sequence[str] | None = None,
        source: str = "<memory>",
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ):
        if (paths is None) == (arrays is None):
            raise DatasetError(source, "images", "need exactly one of paths or arrays")
        self.ids = list(ids)
        n = len(self.ids)
        images_len = len(paths) if paths is not None else len(arrays)
        if images_len != n:
            raise DatasetError(source, "images", f"has {images_len} entries for {n} ids")
        for name, attribute in attributes.items():
            if len(attribute.codes) != n:
                raise DatasetError(source, f"attribute {name!r}", f"has {len(attribute.codes)} labels for {n} items")
        self.attributes = dict(attributes)
        self.paths = list(paths) if paths is not None else None
        self.arrays = arrays
        self.groups = list(groups) if groups is not None else list(self.ids)
        self.source = source
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.ids)

    def image(self, i: int) -> Image.Image:
        if self.paths is not None:
            return load_image(self.paths[i], self.max_pixels)
        return Image.fromarray(np.asarray(self.arrays[i], dtype=np.uint8)).convert("RGB")

    def codes(self, attribute: str) -> np.ndarray:
        return self.attribute(attribute).codes

    def attribute(self, name: str) -> Attribute:
        if name not in self.attributes:
            raise DatasetError(self.source, "attribute", f"{name!r} is not loaded; have {sorted(self.attributes)}")
        return self.attributes[name]

    def subset(self, rows: Sequence[int] | np.ndarray) -> "LabelledImages":
        rows = np.asarray(rows, dtype=np.int64)
        return LabelledImages(
            ids=[self.ids[i] for i in rows],
            attributes={name: a.take(rows) for name, a in self.attributes.items()},
            paths=[self.paths[i] for i in rows] if self.paths is not None else None,
            arrays=self.arrays[rows] if self.arrays is not None else None,
            groups=[self.groups[i] for i in rows],
            source=self.source,
            max_pixels=self.max_pixels,
        )

    @classmethod
    def from_arrays(
        cls, images: np.ndarray, labels: dict[str, tuple[np.ndarray, Sequence[str]]], id_prefix: str = "", source: str = "<memory>"
    ) -> "LabelledImages":
        """uint8 images [n, H, W] or [n, H, W, 3] with {attribute: (codes, class names)}."""
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim not in (3, 4):
            raise DatasetError(source, "images", f"must be uint8 [n, H, W] or [n, H, W, 3], got {images.dtype} {images.shape}")
        attributes = {}
        for name, (codes, classes) in labels.items():
            codes = np.asarray(codes, dtype=np.int64)
            if len(codes) and codes.max() >= len(classes):
                raise DatasetError(source, f"attribute {name!r}", f"has code {codes.max()} but only {len(classes)} classes")
            attributes[name] = Attribute(name, tuple(classes), codes)
        ids = [f"{id_prefix}{i}" for i in range(len(images))]
        return cls(ids, attributes, arrays=images, source=source)

    @classmethod
    def from_bundle(cls, bundle: str | Path, attributes: Sequence[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> "LabelledImages":
        """Items with a usable image from the published version of a bundle (`<root>/<collection>`).

        Labels come from the items' metadata JSON; items whose image the
        indexer could not read (image_status set) are left out.
        """
        items_path = current_items_path(bundle)
        table = read_table_checked(items_path, ITEMS_SCHEMA, columns=["id", "image_ref", "image_status", "metadata"])
        ids, refs, statuses, metadata = (table.column(c).to_pylist() for c in ("id", "image_ref", "image_status", "metadata"))
        keep = [i for i in range(len(ids)) if refs[i] and not statuses[i]]
        if not keep:
            raise DatasetError(items_path, "image_ref", "is empty for every item: the bundle has no usable images")
        parsed = [_parse_metadata(items_path, ids[i], metadata[i]) for i in keep]
        values = {name: [_scalar_value(items_path, ids[i], name, m.get(name)) for i, m in zip(keep, parsed)] for name in attributes}
        for name, column in values.items():
            if all(v is None for v in column):
                known = sorted({k for m in parsed for k in m})
                raise DatasetError(items_path, f"attribute {name!r}", f"has no values; metadata keys are {known}")
        paths = [refs[i] for i in keep]
        return cls(
            ids=[ids[i] for i in keep],
            attributes={name: Attribute.from_values(name, column) for name, column in values.items()},
            paths=paths,
            # The same drawing filed in two folders shares its file name.
            groups=[PurePath(p).name for p in paths],
            source=str(items_path),
            max_pixels=max_pixels,
        )


def current_items_path(bundle: str | Path) -> Path:
    """items.parquet of the published version of `<root>/<collection>`, read afresh."""
    try:
        return CollectionPaths(Path(bundle)).published().items
    except FieldError as exc:
        raise DatasetError(bundle, exc.field, exc.problem) from None


def dedupe_groups(dataset: LabelledImages, primary: str) -> np.ndarray:
    """Rows keeping one item per (group, primary label): the one with most labelled attributes.

    Identical drawings filed twice would otherwise count double in training.
    """
    codes = dataset.codes(primary)
    labelled = sum((a.codes != MISSING).astype(np.int64) for a in dataset.attributes.values())
    best: dict[tuple[str, int], int] = {}
    for row, (group, code) in enumerate(zip(dataset.groups, codes.tolist())):
        key = (group, code)
        if key not in best or labelled[row] > labelled[best[key]]:
            best[key] = row
    return np.array(sorted(best.values()), dtype=np.int64)


def labelled_rows(dataset: LabelledImages, attributes: Sequence[str]) -> np.ndarray:
    """Rows with a value for at least one of `attributes` (the others teach nothing)."""
    mask = np.zeros(len(dataset), dtype=bool)
    for name in attributes:
        mask |= dataset.codes(name) != MISSING
    return np.flatnonzero(mask)


def _parse_metadata(source: Path, item_id: str, text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(source, "metadata", f"of item {item_id!r} is not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise DatasetError(source, "metadata", f"of item {item_id!r} must be a JSON object")
    return value


def _scalar_value(source: Path, item_id: str, name: str, value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (list, dict)):
        raise DatasetError(
            source, f"attribute {name!r}", f"is list- or object-valued (item {item_id!r}); classification needs one value per item"
        )
    return str(value)


def bundle_datasets(
    bundle: str | Path, attributes: Sequence[str], test_fraction: float = 0.2, seed: int = 0, dedupe: bool = True,
    limit: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[LabelledImages, LabelledImages]:
    """(train, test) from a bundle: labelled items only, near-duplicates deduplicated and never split apart.

    The split is stratified on the first attribute and made over groups (see
    `splits.group_stratified_split`); `limit` first keeps a stratified subsample
    of that many items (quick trials).
    """
    from vitrina.training.data.splits import group_stratified_split, stratified_subsample

    dataset = LabelledImages.from_bundle(bundle, attributes, max_pixels)
    dataset = dataset.subset(labelled_rows(dataset, attributes))
    if dedupe:
        dataset = dataset.subset(dedupe_groups(dataset, attributes[0]))
    if limit is not None:
        dataset = dataset.subset(stratified_subsample(dataset.codes(attributes[0]), limit, seed))
    test_rows, train_rows = group_stratified_split(dataset.codes(attributes[0]), dataset.groups, [test_fraction], seed)
    return dataset.subset(train_rows), dataset.subset(test_rows)
