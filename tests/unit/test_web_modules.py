"""The web map's pure JavaScript modules under `node --test` (URL state, filter masks, colour
scales, label placement, text highlighting), and its Arrow decoding of files this test writes
with pyarrow through the server's own endpoints, so both sides agree on the encoding."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeFactory
from vitrina.search_api import Settings, create_app

WEB = Path(__file__).resolve().parents[2] / "web"
ARROW = {"accept": "application/vnd.apache.arrow.stream"}


def test_javascript_modules(tmp_path, tiny_bundle_root):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: make test installs Node.js with the web map's build")
    if not (WEB / "node_modules" / "@uwdata" / "flechette").is_dir():
        pytest.fail("the web map's npm packages are missing: run `make web` (make test does)")
    settings = Settings(bundles_root=tiny_bundle_root, collection="tiny")
    with TestClient(create_app(settings, encoder_factory=FakeFactory())) as client:
        columns = client.get("/v1/spaces/image/columns").content
        projection = client.get("/v1/spaces/image/projection", headers=ARROW).content
    (tmp_path / "columns.arrow").write_bytes(columns)
    (tmp_path / "projection.arrow").write_bytes(projection)
    (tmp_path / "columns.json").write_text(json.dumps(pa.ipc.open_stream(columns).read_all().to_pylist()))
    (tmp_path / "projection.json").write_text(json.dumps(pa.ipc.open_stream(projection).read_all().to_pylist()))
    result = subprocess.run([node, "--test", "--test-reporter=tap", "test/"], cwd=WEB, capture_output=True, text=True,
                            env={"PATH": str(Path(node).parent), "VITRINA_ARROW_FIXTURE": str(tmp_path)}, timeout=300)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "# skipped 0" in result.stdout and "# fail 0" in result.stdout
