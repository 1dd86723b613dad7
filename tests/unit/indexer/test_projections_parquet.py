"""projections.parquet: the round trip, schema errors naming file and field, the table's own checks."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.unit.indexer._projection_helpers import item_ids
from vitrina.indexer.maps import (
    InvalidFieldError,
    align_to_parent,
    projections_table,
    read_projections,
    write_projections,
)
from vitrina.schemas import SchemaMismatchError


# numba and OpenMP run single-threaded here (the `one_thread` fixture in conftest.py).
pytestmark = pytest.mark.usefixtures("one_thread")


# --- projections.parquet ------------------------------------------------------------------------


def test_parquet_round_trip(tmp_path, space, umap_run, pca_run):
    path = tmp_path / "projections.parquet"
    aligned, _ = align_to_parent(umap_run.refit.coords, space.ids, umap_run.fitted.coords, space.ids[space.old])
    write_projections(projections_table(space.ids, {"umap": aligned, "pca": pca_run.refit}), path)
    ids, maps = read_projections(path)
    assert ids == space.ids and list(maps) == ["umap", "pca"]
    np.testing.assert_array_equal(maps["umap"], aligned)
    np.testing.assert_array_equal(maps["pca"], pca_run.refit.coords)
    _, only_pca = read_projections(path, methods=["pca"])
    assert list(only_pca) == ["pca"]


def test_parquet_schema_errors_name_file_and_field(tmp_path):
    path = tmp_path / "projections.parquet"
    ids = pa.array(["a", "b"], pa.string())
    xy = pa.array([0.1, 0.2], pa.float32())

    pq.write_table(pa.table({"id": ids, "pca_x": xy}), path)
    with pytest.raises(SchemaMismatchError) as caught:
        read_projections(path)
    assert caught.value.field == "pca_y" and str(path) in str(caught.value)

    pq.write_table(pa.table({"id": ids, "pca_x": xy, "pca_y": pa.array([0.1, 0.2], pa.float64())}), path)
    with pytest.raises(SchemaMismatchError) as caught:
        read_projections(path)
    assert caught.value.field == "pca_y"

    pq.write_table(pa.table({"id": ids, "pca_x": xy, "pca_y": pa.array([0.1, None], pa.float32())}), path)
    with pytest.raises(InvalidFieldError) as caught:
        read_projections(path)
    assert caught.value.field == "pca_y" and caught.value.path == str(path)

    pq.write_table(pa.table({"id": ids, "pca_x": xy, "pca_y": xy}), path)
    with pytest.raises(SchemaMismatchError) as caught:
        read_projections(path, methods=["umap"])
    assert caught.value.field == "umap_x"


def test_projections_table_errors_name_the_field():
    coords = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(InvalidFieldError) as caught:
        projections_table(item_ids(3), {"pca": coords, "umap": coords[:2]})
    assert caught.value.field == "umap"
    with pytest.raises(InvalidFieldError) as caught:
        projections_table(item_ids(3), {"isomap": coords})
    assert caught.value.field == "methods"
    with pytest.raises(InvalidFieldError) as caught:
        projections_table(item_ids(2), {"pca": coords})
    assert caught.value.field == "ids"
