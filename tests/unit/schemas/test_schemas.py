import json
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vitrina.indexer.bundle.chunks import table_to_vectors, vectors_to_table
from vitrina.indexer.bundle.writer import items_to_table
from vitrina.indexer.catalogue.base import Item
from vitrina.schemas import (
    ITEMS_SCHEMA,
    EncoderInfo,
    IndexInfo,
    Manifest,
    Modality,
    SchemaMismatchError,
    SpaceManifest,
    embeddings_schema,
    manifest_json_schema,
    read_table_checked,
)
from vitrina.schemas.manifest import SCHEMA_PATH, CatalogueInfo


def _manifest() -> Manifest:
    enc = EncoderInfo(spec="builtin:minilm-l6", modality=Modality.TEXT, dim=384, fingerprint="abc", preprocessing={"max_length": 256})
    space = SpaceManifest(
        name="text", indexed_modality=Modality.TEXT, encoders={Modality.TEXT: enc}, dim=384, rows=10,
        index=IndexInfo(factory="HNSW32", search_params={"efSearch": 64}, recall_at_10=0.97, recall_sample=1000),
    )
    return Manifest(
        collection="c", version="v1", parent=None, created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        catalogue=CatalogueInfo(spec="table:x.csv", fingerprint="f", items=10), spaces={"text": space},
    )


def test_manifest_round_trip(tmp_path):
    m = _manifest()
    path = tmp_path / "manifest.json"
    path.write_text(m.to_json())
    assert Manifest.read(path) == m


def test_manifest_rejects_unknown_fields_naming_them(tmp_path):
    data = json.loads(_manifest().to_json())
    data["spaces"]["text"]["index"]["nprobe_typo"] = 3
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="nprobe_typo"):
        Manifest.read(path)


def test_manifest_validates_against_checked_in_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text())
    # Stale schema file: regenerate with `python -m vitrina.schemas.manifest`.
    assert schema == json.loads(json.dumps(manifest_json_schema(), sort_keys=True))
    jsonschema.validate(json.loads(_manifest().to_json()), schema)


def test_items_round_trip_keeps_list_metadata(tmp_path):
    items = [Item(id="a", title="A", text="t", image_ref="/x.png", metadata={"materials": ["clay", "straw"], "year": 1950}, content_hash="h")]
    path = tmp_path / "items.parquet"
    pq.write_table(items_to_table(items), path)
    table = read_table_checked(path, ITEMS_SCHEMA)
    assert json.loads(table.column("metadata")[0].as_py()) == {"materials": ["clay", "straw"], "year": 1950}


def test_embeddings_round_trip_is_fixed_size_float32(tmp_path):
    vectors = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    table = vectors_to_table(list("abcde"), vectors, "fp", 8)
    assert table.schema.field("vector").type == pa.list_(pa.float32(), 8)
    path = tmp_path / "e.parquet"
    pq.write_table(table, path)
    back = read_table_checked(path, embeddings_schema(8))
    np.testing.assert_array_equal(table_to_vectors(back, 8), vectors)


def test_schema_mismatch_names_file_and_field(tmp_path):
    path = tmp_path / "embeddings.parquet"
    pq.write_table(pa.table({"id": ["a"], "vector": pa.array([[1.0, 2.0]], pa.list_(pa.float64())), "model_fingerprint": ["x"]}), path)
    with pytest.raises(SchemaMismatchError, match=r"embeddings\.parquet: field 'vector' has type"):
        read_table_checked(path, embeddings_schema(2))
    pq.write_table(pa.table({"id": ["a"]}), path)
    with pytest.raises(SchemaMismatchError, match="field 'vector' is missing"):
        read_table_checked(path, embeddings_schema(2))
