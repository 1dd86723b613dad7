"""Bundles with odd ids or a planted mislabel, query images and a hit helper, shared by the search_api tests."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from PIL import Image

from tests.conftest import build_tiny_bundle

# Ids the REST routes must carry through paths: slashes, a space, a '#'.
ODD_IDS = ["animals/mammals/cat_01", "animals/mammals/dog_02", "plants/rose 2", "vehicles/car#3"]
NO_IMAGE_ID = "texts/no-image"


def build_odd_bundle(folder: Path) -> Path:
    """A bundle whose ids contain '/', and with one item whose image is missing."""
    images = folder / "catalogue" / "images"
    images.mkdir(parents=True)
    rows = []
    for n, item_id in enumerate([*ODD_IDS, NO_IMAGE_ID]):
        file = f"images/img{n}.png"
        if item_id != NO_IMAGE_ID:
            Image.new("RGB", (40, 20), (60 * n, 100, 200 - 40 * n)).save(folder / "catalogue" / file)
        category = item_id.split("/")[0]
        rows.append({"id": item_id, "title": item_id, "description": f"{category} thing", "image": file,
                     "category": category, "tags": "old", "year": str(1900 + n)})
    catalogue = folder / "catalogue" / "catalogue.csv"
    return _write_and_build(folder, catalogue, rows)


def _write_and_build(folder: Path, catalogue: Path, rows: list[dict]) -> Path:
    with open(catalogue, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    build_tiny_bundle(folder / "bundles", catalogue)
    return folder / "bundles"


MISLABELLED_ID = "plants-07"


def build_mislabelled_bundle(folder: Path, tiny_catalogue: Path) -> Path:
    """The tiny bundle with one plant labelled `category: vehicles`. Its picture is still green, so
    its image neighbours are plants: the label outlier the report must find."""
    import shutil

    shutil.copytree(tiny_catalogue.parent, folder / "catalogue")
    catalogue = folder / "catalogue" / "catalogue.csv"
    with open(catalogue, newline="") as fh:
        rows = list(csv.DictReader(fh))
    (planted,) = [row for row in rows if row["id"] == MISLABELLED_ID]
    planted["category"] = "vehicles"
    return _write_and_build(folder, catalogue, rows)


def png_bytes(colour=(40, 180, 60), size=(24, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def categories(hits) -> list[str]:
    return [h.metadata["category"] for h in hits.hits]
