"""`index build --runtime onnx` and `serve --runtime onnx` with tiny hf: models: torch's vectors, faster."""
from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from tests.conftest import FAST_MAPS, TABLE_OPTIONS, build_tiny_bundle
from tests.unit._tiny_models import save_tiny_bert, save_tiny_vit
from vitrina.indexer.build import BuildOptions, SpaceRequest, build_bundle
from vitrina.schemas import Modality
from vitrina.search_api.rest.app import create_app
from vitrina.search_api.settings import Settings
from vitrina.training.encoders import create_encoder


@pytest.fixture(scope="module")
def onnx_build(tmp_path_factory, tiny_catalogue):
    models = tmp_path_factory.mktemp("runtime-models")
    spaces = [SpaceRequest("image", f"hf:{save_tiny_vit(models / 'vit')}"),
              SpaceRequest("text", f"hf:{save_tiny_bert(models / 'bert')}")]
    root = tmp_path_factory.mktemp("runtime") / "bundles"
    options = BuildOptions(progress=False, workers=0, chunk_size=16, batch_size=8, table_options=TABLE_OPTIONS,
                           attribution_steps=0, runtime="onnx", **FAST_MAPS)
    return root, spaces, build_bundle(f"table:{tiny_catalogue}", root, "tiny", spaces, options)


def test_onnx_build_stores_torchs_vectors_under_torchs_fingerprint(onnx_build):
    _, spaces, result = onnx_build
    assert result.manifest.build["options"]["runtime"] == "onnx"
    for request in spaces:
        modality = Modality.TEXT if request.name == "text" else Modality.IMAGE
        torch_encoder = create_encoder(request.spec, modality=modality, device="cpu")
        # The same fingerprint: a bundle built under one runtime is served under the other.
        assert result.manifest.spaces[request.name].encoders[modality].fingerprint == torch_encoder.fingerprint
        table = pq.read_table(result.paths.embeddings(request.name))
        stored = np.asarray(table.column("vector").to_pylist(), dtype=np.float32)
        assert len(stored) > 20
        if request.name == "text":
            items = {row["id"]: row for row in pq.read_table(result.paths.items).to_pylist()}
            texts = [items[i]["text"] for i in table.column("id").to_pylist()]
            assert np.min(np.sum(stored * torch_encoder.encode(texts), axis=1)) >= 0.9999


def test_onnx_server_ranks_like_torch(onnx_build):
    root, _, _ = onnx_build
    answers = {}
    for runtime in ("torch", "onnx"):
        with TestClient(create_app(Settings(bundles_root=root, collection="tiny", encoder_runtime=runtime,
                                            encoder_threads=1))) as client:
            response = client.post("/v1/search/text", json={"query": "a red car", "space": "text", "k": 5})
            assert response.status_code == 200, response.text
            answers[runtime] = [(hit["id"], hit["score"]) for hit in response.json()["hits"]]
    assert [i for i, _ in answers["onnx"]] == [i for i, _ in answers["torch"]]
    np.testing.assert_allclose([s for _, s in answers["onnx"]], [s for _, s in answers["torch"]], atol=1e-4)


def test_unknown_runtime_names_the_field(tmp_path, tiny_catalogue):
    with pytest.raises(ValueError, match="runtime: must be one of torch, onnx, onnx-int8, got 'tensorrt'"):
        build_tiny_bundle(tmp_path, tiny_catalogue, runtime="tensorrt")
    with pytest.raises(ValueError, match="encoder_runtime"):
        Settings(encoder_runtime="tensorrt")
