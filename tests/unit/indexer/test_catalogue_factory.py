"""open_catalogue spec parsing, collect and catalogue_fingerprint."""
from __future__ import annotations

from pathlib import Path

import pytest

import vitrina.indexer.catalogue as catalogue_pkg
from tests.unit._catalogue_fixtures import make_openclipart_tree, tiny_png
from vitrina.indexer.catalogue import (
    CatalogueError,
    DuplicateIdError,
    FolderCatalogue,
    Item,
    OpenClipartCatalogue,
    TableCatalogue,
    catalogue_fingerprint,
    collect,
    open_catalogue,
)


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "items.csv"
    path.write_text("id,title,kind\nb,Bee,insect\na,Ant,insect\nc,Cow,mammal\n")
    return path


def test_schemes(tmp_path: Path, table: Path, monkeypatch) -> None:
    cat = open_catalogue(f"table:{table}", text_columns=["title"])
    assert isinstance(cat, TableCatalogue) and cat.spec == f"table:{table}" and cat.root == table.parent
    tiny_png(tmp_path / "imgs" / "x.png")
    folder = open_catalogue(f"folder:{tmp_path / 'imgs'}")
    assert isinstance(folder, FolderCatalogue) and folder.root == tmp_path / "imgs"
    root = make_openclipart_tree(tmp_path / "oc")
    clip = open_catalogue(f"openclipart:{root}")
    assert isinstance(clip, OpenClipartCatalogue) and clip.spec == f"openclipart:{root}"
    # Relative paths are made absolute so the manifest's spec means the same file later.
    monkeypatch.chdir(tmp_path)
    assert open_catalogue("table:items.csv").spec == f"table:{table}"
    # A CLI may pass its unset table options as None to any scheme.
    assert isinstance(open_catalogue("folder:imgs", id_column=None), FolderCatalogue)


def test_bad_specs(tmp_path: Path, table: Path) -> None:
    with pytest.raises(CatalogueError, match=r"unknown catalogue spec 'csv:.*valid forms: table:.*folder:.*openclipart"):
        open_catalogue(f"csv:{table}")
    with pytest.raises(CatalogueError, match=r"write table:"):
        open_catalogue(str(table))
    with pytest.raises(CatalogueError, match=r"nope\.csv does not exist"):
        open_catalogue(f"table:{tmp_path / 'nope.csv'}")
    with pytest.raises(CatalogueError, match="needs a path"):
        open_catalogue("folder:")
    with pytest.raises(CatalogueError, match="only apply to table"):
        open_catalogue(f"folder:{tmp_path}", text_columns=["x"])


def test_openclipart_default_root() -> None:
    if (Path("/usr/share/openclipart") / "png").is_dir():
        cat = open_catalogue("openclipart")
        assert cat.spec == "openclipart" and cat.root == Path("/usr/share/openclipart")
    else:
        with pytest.raises(CatalogueError, match="openclipart-png"):
            open_catalogue("openclipart")


def test_collect_limit_and_fingerprint(table: Path) -> None:
    items = collect(open_catalogue(f"table:{table}"))
    assert [it.id for it in items] == ["b", "a", "c"]
    assert [it.id for it in collect(open_catalogue(f"table:{table}"), limit=2)] == ["b", "a"]
    fp = catalogue_fingerprint(items)
    assert len(fp) == 64 and fp == catalogue_fingerprint(list(reversed(items)))
    items[0].text = "changed"
    items[0].content_hash = items[0].compute_hash()
    assert catalogue_fingerprint(items) != fp
    with pytest.raises(CatalogueError, match="'x' has no content_hash"):
        catalogue_fingerprint([Item(id="x")])
    with pytest.raises(CatalogueError, match="limit must be >= 0"):
        collect(open_catalogue(f"table:{table}"), limit=-1)


def test_collect_catches_duplicates_from_any_catalogue() -> None:
    class Listed:
        spec, root, report = "test:", None, {}

        def __iter__(self):
            for i in ["a", "b", "a"]:
                item = Item(id=i)
                item.content_hash = item.compute_hash()
                yield item

    with pytest.raises(DuplicateIdError, match="'a' x2"):
        collect(Listed())


def test_public_api() -> None:
    assert set(catalogue_pkg.__all__) >= {"open_catalogue", "collect", "catalogue_fingerprint", "Item",
                                          "CatalogueError", "DuplicateIdError", "TableColumns"}
    for name in catalogue_pkg.__all__:
        assert hasattr(catalogue_pkg, name)
