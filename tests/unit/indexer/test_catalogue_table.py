"""table: adapter on generated CSV / TSV / Parquet / JSON Lines files."""
from __future__ import annotations

import csv
import gzip
import json
import operator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.unit._catalogue_fixtures import tiny_png
from vitrina.indexer.catalogue import CatalogueError, DuplicateIdError, TableCatalogue, TableColumns

OPTIONS = dict(
    text_columns=["title", "description"],
    image_column="image",
    list_columns=["tags"],
)


def write_csv(path: Path, rows: list[dict], delimiter: str = ",") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def csv_table(tmp_path: Path) -> Path:
    tiny_png(tmp_path / "images" / "a.png")
    rows = [
        {"id": "a", "title": "Red jar", "description": "Clay jar.\nFrom the north", "image": "images/a.png",
         "tags": "clay| red ||jar", "year": "1950", "weight": "1.5", "note": ""},
        {"id": "", "title": "no id", "description": "", "image": "", "tags": "", "year": "", "weight": "", "note": ""},
        {"id": "b", "title": "", "description": "only a description", "image": "images/missing.png",
         "tags": "", "year": "1960", "weight": "", "note": "x"},
        {"id": "  ", "title": "blank id", "description": "", "image": "", "tags": "", "year": "", "weight": "", "note": ""},
        {"id": "c", "title": "No image", "description": "", "image": "", "tags": "wood", "year": "", "weight": "2", "note": ""},
    ]
    return write_csv(tmp_path / "items.csv", rows)


def test_csv_items_text_metadata_lists_and_images(csv_table: Path) -> None:
    cat = TableCatalogue(csv_table, **OPTIONS)
    items = {it.id: it for it in cat}
    assert list(items) == ["a", "b", "c"]
    a = items["a"]
    assert a.title == "Red jar"
    # Joined with ". ", newlines collapsed, no doubled period after "jar.".
    assert a.text == "Red jar. Clay jar. From the north"
    assert a.image_ref == str(csv_table.parent / "images" / "a.png")
    assert a.image_status is None
    assert a.metadata == {"tags": ["clay", "red", "jar"], "year": 1950, "weight": 1.5, "note": None}
    assert a.content_hash == a.compute_hash()
    b = items["b"]
    assert b.title == "" and b.text == "only a description"
    # A missing image keeps its resolved path so the report can show which file is absent.
    assert b.image_ref == str(csv_table.parent / "images" / "missing.png")
    assert b.image_status == "missing"
    assert items["c"].image_ref is None and items["c"].metadata["tags"] == ["wood"]
    report = cat.report
    assert report["items"] == 3 and report["rows"] == 5
    assert report["skipped_rows"] == {"empty id": 2}
    assert report["skipped_examples"] == ["row 2: empty id", "row 4: empty id"]
    assert report["images_missing"] == 1 and report["without_image"] == 1
    assert report["columns"]["metadata"] == ["tags", "year", "weight", "note"]


def test_iterating_twice_does_not_double_count(csv_table: Path) -> None:
    cat = TableCatalogue(csv_table, **OPTIONS)
    list(cat)
    list(cat)
    assert cat.report["items"] == 3 and cat.report["skipped_rows"] == {"empty id": 2}


def test_duplicate_ids_listed_before_any_item(tmp_path: Path) -> None:
    rows = [{"id": i, "title": "t"} for i in ["x", "y", "x", "z", "y", "y"]]
    cat = TableCatalogue(write_csv(tmp_path / "dup.csv", rows))
    with pytest.raises(DuplicateIdError) as err:
        next(iter(cat))
    assert err.value.duplicates == {"x": 2, "y": 3}
    assert "'x' x2" in str(err.value) and "'y' x3" in str(err.value)
    assert "id_column" in str(err.value)


@pytest.mark.parametrize("option,value", [("id_column", "ident"), ("text_columns", ["title", "desc"]),
                                          ("image_column", "picture"), ("metadata_columns", ["colour"])])
def test_missing_column_names_it_and_lists_available(csv_table: Path, option: str, value) -> None:
    cat = TableCatalogue(csv_table, **{option: value})
    with pytest.raises(CatalogueError) as err:
        list(cat)
    missing = value if isinstance(value, str) else value[-1]
    message = str(err.value)
    assert repr(missing) in message and option in message
    assert "available columns: id, title, description, image, tags, year, weight, note" in message


def test_ids_are_never_type_inferred(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "items.tsv", [{"id": "007", "title": "1984"}, {"id": "010", "title": "x"}], delimiter="\t")
    items = list(TableCatalogue(path))
    assert [it.id for it in items] == ["007", "010"]
    assert items[0].title == "1984" and items[0].text == "1984"


def test_parquet_native_lists_int_ids_and_image_root(tmp_path: Path) -> None:
    images = tmp_path / "pictures"
    tiny_png(images / "p1.png")
    table = pa.table({
        "object_id": pa.array([1, 2, None], pa.int64()),
        "name": ["Bowl", "Spoon", "ghost"],
        "materials": pa.array([["clay", "glaze"], None, ["x"]], pa.list_(pa.string())),
        "height": [10.5, float("nan"), 1.0],
        "file": ["p1.png", str(images / "nope.png"), None],
    })
    path = tmp_path / "items.parquet"
    pq.write_table(table, path)
    cat = TableCatalogue(path, id_column="object_id", text_columns=["name"], image_column="file", image_root=str(images))
    assert operator.length_hint(cat) == 3
    items = list(cat)
    assert [it.id for it in items] == ["1", "2"]
    assert items[0].metadata == {"materials": ["clay", "glaze"], "height": 10.5}
    assert items[1].metadata == {"materials": [], "height": None}
    assert items[0].image_ref == str(images / "p1.png") and items[0].image_status is None
    assert items[1].image_status == "missing"
    assert cat.report["skipped_rows"] == {"empty id": 1}


def test_jsonl_arrays_numbers_and_columns_dataclass(tmp_path: Path) -> None:
    lines = [
        {"id": 10, "caption": "A boat", "kw": ["sea", "sail"], "n": 3, "flag": True},
        {"id": 11, "caption": "A car", "kw": [], "n": None, "flag": False},
    ]
    path = tmp_path / "items.ndjson"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    items = list(TableCatalogue(path, columns=TableColumns(text_columns=("caption",))))
    assert [it.id for it in items] == ["10", "11"]
    assert items[0].title == "A boat"
    assert items[0].metadata == {"kw": ["sea", "sail"], "n": 3, "flag": True}
    assert items[1].metadata == {"kw": [], "n": None, "flag": False}


def test_text_columns_default_to_known_names_and_lists_join(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps({"id": "a", "name": "Kettle", "description": "Iron", "tags": ["old", "black"]}) + "\n")
    [item] = TableCatalogue(path, title_column="name", text_columns="description,tags")
    assert item.title == "Kettle" and item.text == "Iron. old, black"
    [item] = TableCatalogue(path)
    assert item.title == "Kettle" and item.text == "Kettle. Iron"
    assert item.metadata == {"tags": ["old", "black"]}


def test_gzip_csv(tmp_path: Path) -> None:
    path = tmp_path / "items.csv.gz"
    path.write_bytes(gzip.compress(b"id,title\nq,Quill\n"))
    assert [it.title for it in TableCatalogue(path)] == ["Quill"]


def test_corrupt_and_unreadable_images(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    (tmp_path / "adir.png").mkdir()
    path = write_csv(tmp_path / "items.csv", [{"id": "corrupt", "image": "broken.png"}, {"id": "dir", "image": "adir.png"},
                                               {"id": "url", "image": "https://example.org/x.png"}])
    cat = TableCatalogue(path, image_column="image")
    items = {it.id: it for it in cat}
    # Decoding is the indexer's job: the bytes hash fine and the status stays clear.
    assert items["corrupt"].image_status is None and len(items["corrupt"].content_hash) == 32
    assert items["dir"].image_status.startswith("unreadable")
    assert items["url"].image_ref == "https://example.org/x.png"
    assert items["url"].image_status.startswith("unsupported")
    assert cat.report["images_unreadable"] == 1 and cat.report["images_unsupported"] == 1


def test_bad_options_and_files(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "items.csv", [{"id": "a"}])
    with pytest.raises(CatalogueError, match="unknown table option.*idcolumn.*valid options: id_column"):
        TableCatalogue(path, idcolumn="x")
    xlsx = tmp_path / "items.xlsx"
    xlsx.write_text("")
    with pytest.raises(CatalogueError, match="unsupported extension"):
        TableCatalogue(xlsx)
    with pytest.raises(CatalogueError, match="does not exist"):
        TableCatalogue(tmp_path / "nope.csv")
    with pytest.raises(CatalogueError, match="image_root.*is not a folder"):
        TableCatalogue(path, image_root=str(tmp_path / "nowhere"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n{"id": "x"\n')
    with pytest.raises(CatalogueError, match=r"cannot read .*bad\.jsonl as jsonl"):
        list(TableCatalogue(bad))
