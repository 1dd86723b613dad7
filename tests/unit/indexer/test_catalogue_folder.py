"""folder: adapter on a generated image tree."""
from __future__ import annotations

import operator
from pathlib import Path

import pytest

from tests.unit._catalogue_fixtures import tiny_png
from vitrina.indexer.catalogue import CatalogueError, DuplicateIdError, FolderCatalogue, collect


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    for rel in ["animals/mammals/big-cats/snow_leopard.PNG", "animals/frog.jpg", "plants/oak_tree-01.webp",
                "plants/ferns/fern.TIFF", "loose.gif"]:
        tiny_png(root / rel)
    (root / "animals" / "notes.txt").write_text("not an image")
    tiny_png(root / ".hidden" / "secret.png")
    tiny_png(root / "animals" / "._frog.jpg")
    return root


def test_ids_titles_categories_sorted(tree: Path) -> None:
    cat = FolderCatalogue(tree)
    assert operator.length_hint(cat) == 5
    items = list(cat)
    assert [it.id for it in items] == [
        "animals/frog", "animals/mammals/big-cats/snow_leopard", "loose", "plants/ferns/fern", "plants/oak_tree-01"]
    leopard = items[1]
    assert leopard.title == "snow leopard" and leopard.text == "snow leopard"
    assert leopard.metadata == {"category": "animals", "subcategory": "mammals/big-cats"}
    assert leopard.image_ref == str(tree / "animals/mammals/big-cats/snow_leopard.PNG")
    assert items[0].metadata == {"category": "animals", "subcategory": None}
    assert items[2].metadata == {"category": None, "subcategory": None}
    assert items[4].title == "oak tree 01"
    assert all(it.content_hash == it.compute_hash() for it in items)
    assert cat.report["items"] == 5 and cat.report["files_ignored"] == 2  # notes.txt, ._frog.jpg


def test_same_stem_two_extensions_is_a_duplicate(tmp_path: Path) -> None:
    tiny_png(tmp_path / "a" / "cat.png")
    tiny_png(tmp_path / "a" / "cat.jpg")
    with pytest.raises(DuplicateIdError, match="'a/cat' x2.*rename or remove"):
        list(FolderCatalogue(tmp_path))


def test_dangling_symlink_is_missing(tmp_path: Path) -> None:
    tiny_png(tmp_path / "x" / "ok.png")
    (tmp_path / "x" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    cat = FolderCatalogue(tmp_path)
    items = {it.id: it for it in cat}
    assert items["x/gone"].image_status == "missing" and items["x/ok"].image_status is None
    assert cat.report["images_missing"] == 1


def test_limit_is_balanced_across_categories(tmp_path: Path) -> None:
    for i in range(30):
        tiny_png(tmp_path / "big" / f"b{i:02d}.png")
    for i in range(3):
        tiny_png(tmp_path / "small" / f"s{i}.png")
    cat = FolderCatalogue(tmp_path)
    items = collect(cat, limit=8)
    ids = [it.id for it in items]
    assert ids == [it.id for it in collect(FolderCatalogue(tmp_path), limit=8)]
    # 3 + 5: the small folder gives all it has, the big one evenly spaced picks.
    assert [i for i in ids if i.startswith("big/")] == ["big/b03", "big/b09", "big/b15", "big/b21", "big/b27"]
    assert sum(i.startswith("small/") for i in ids) == 3 and len(ids) == 8
    assert cat.report["items"] == 8 and cat.report["available"] == 33 and cat.report["limit"] == 8


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="does not exist"):
        FolderCatalogue(tmp_path / "nope")
