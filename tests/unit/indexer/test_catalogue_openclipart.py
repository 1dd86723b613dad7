"""openclipart adapter on a generated fake tree, plus one check on the real Debian package."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit._catalogue_fixtures import make_openclipart_tree, svg_with_rdf
from vitrina.indexer.catalogue import CatalogueError, OpenClipartCatalogue, collect, read_svg_metadata
from vitrina.indexer.catalogue.openclipart import DEFAULT_ROOT


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    return make_openclipart_tree(tmp_path / "openclipart")


def test_items_from_rdf_metadata(fake_root: Path) -> None:
    cat = OpenClipartCatalogue(fake_root)
    items = {it.id: it for it in cat}
    assert sorted(items) == [
        "animals/bird_01", "animals/dog_bob_01", "animals/mammals/housecats/cat_01",
        "food/calzettoni", "food/fruit/cat_alias_01", "food/fruit/green_apple_01", "food/no_svg_pear_01"]
    cat_item = items["animals/mammals/housecats/cat_01"]
    assert cat_item.title == "Sleeping cat"
    # Empty <rdf:li/>, the repeated "cat" and the "unsorted" placeholder are dropped.
    assert cat_item.metadata == {"category": "animals", "subcategory": "mammals/housecats",
                                 "keywords": ["cat", "mammal", "lemon_theme_icon"], "author": "Ann Artist"}
    assert cat_item.text == "Sleeping cat. cat, mammal, lemon theme icon. A cat asleep."
    assert cat_item.image_ref == str(fake_root / "png/animals/mammals/housecats/cat_01.png")
    assert cat_item.content_hash == cat_item.compute_hash()
    # SVG without a default namespace; Perl "hash" artifacts dropped.
    assert items["animals/bird_01"].metadata["keywords"] == ["bird"]
    assert items["animals/bird_01"].metadata["subcategory"] is None
    # The alias is its own item in its own category, with the same picture and text.
    alias = items["food/fruit/cat_alias_01"]
    assert alias.metadata["category"] == "food" and alias.title == "Sleeping cat"
    assert items["food/calzettoni"].text == "Various Cliparts. calzettoni"


def test_malformed_svg_and_png_without_svg(fake_root: Path) -> None:
    cat = OpenClipartCatalogue(fake_root)
    items = {it.id: it for it in cat}
    dog = items["animals/dog_bob_01"]  # bare "&": the regex fallback still reads it
    assert dog.title == "Dogs & cats"
    assert dog.metadata["keywords"] == ["dog"] and dog.metadata["author"] == "Bob"
    assert dog.text.endswith("Good dog")
    assert items["food/fruit/green_apple_01"].title == "green apple"  # not XML: file name, counter dropped
    assert items["food/no_svg_pear_01"].title == "no svg pear"
    report = cat.report
    assert report["items"] == 7
    assert report["metadata_fallbacks"] == 2 and report["svg_missing"] == 1
    assert report["titles_from_filename"] == 2 and report["image_aliases"] == 1
    assert report["keywords_dropped"] == 4  # "unsorted" in cat and its alias, hash, hash(0x...)


def test_limit_spreads_over_categories(fake_root: Path) -> None:
    items = collect(OpenClipartCatalogue(fake_root), limit=2)
    assert {it.metadata["category"] for it in items} == {"animals", "food"}


def test_read_svg_metadata_direct(tmp_path: Path) -> None:
    path = tmp_path / "x.svg"
    path.write_text(svg_with_rdf("T", ["a", "b"], "D", "Me"))
    meta, fallback = read_svg_metadata(path)
    assert (meta.title, meta.keywords, meta.description, meta.author, fallback) == ("T", ["a", "b", ""], "D", "Me", False)


def test_root_without_png_folder(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="has no png/ folder.*openclipart-png"):
        OpenClipartCatalogue(tmp_path)


@pytest.mark.skipif(not (DEFAULT_ROOT / "png").is_dir(), reason="Debian openclipart-png not installed")
def test_real_debian_tree() -> None:
    cat = OpenClipartCatalogue()
    entries = cat.entries()  # listing only: parsing all 8,121 files takes seconds
    assert len({e.category for e in entries}) == 22
    first_cat = next(e for e in entries if e.id.startswith("animals/mammals/housecats/"))
    [item] = list(cat.iter_entries([first_cat]))
    assert item.title.strip() and item.image_status is None
    assert item.metadata["category"] == "animals" and item.metadata["subcategory"] == "mammals/housecats"
