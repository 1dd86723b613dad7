"""`vitrina serve --workers 2`: two processes answer on one REST port and one gRPC port, and a
publish moves both of them without a failed request; a reload naming a version is refused."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import pytest

from tests.conftest import build_tiny_bundle, catalogue_without
from tests.servers import free_port, wait_ready
from vitrina.schemas.bundle_layout import CollectionPaths, write_atomic
from vitrina.search_api.client import GrpcClient

pytestmark = pytest.mark.e2e
KEY = "workers-test-key"


def _children(pid: int) -> list[int]:
    """The server's worker processes (multiprocessing's resource tracker is a child too)."""
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        children = [int(p) for p in fh.read().split()]
    return [c for c in children if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]


def _versions_seen(base: str, connections: int) -> list[str]:
    # A new connection each time: the kernel hands each to whichever worker accepts first.
    return [httpx.get(f"{base}/readyz", timeout=5).json()["bundle_version"] for _ in range(connections)]


def test_two_workers_share_the_ports_and_follow_current_together(tmp_path, tiny_bundle_root, tiny_catalogue):
    root = tmp_path / "bundles"
    shutil.copytree(tiny_bundle_root, root)
    coll = CollectionPaths.of(root, "tiny")
    first = coll.current()
    build_tiny_bundle(root, catalogue_without(tmp_path / "catalogue", tiny_catalogue, {"animals-05"}))
    second = coll.current()
    write_atomic(coll.current_file, first + "\n")

    rest, grpc_port = free_port(), free_port()
    log = tmp_path / "serve.log"
    command = [str(Path(sys.executable).parent / "vitrina"), "serve", "--bundles", str(root), "--collection", "tiny",
               "--port", str(rest), "--grpc-port", str(grpc_port), "--workers", "2", "--watch-current", "0.5",
               "--no-preload-encoders"]  # the bundle's fake encoders exist only in tests; these calls need none
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                   env={**os.environ, "VITRINA_API_KEYS": KEY})
    base = f"http://127.0.0.1:{rest}"
    try:
        assert wait_ready(base, process, 120), log.read_text()[-3000:]
        deadline = time.monotonic() + 60
        while len(_children(process.pid)) < 2 or set(_versions_seen(base, 6)) != {first}:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        workers = _children(process.pid)
        assert len(workers) == 2
        with GrpcClient(f"127.0.0.1:{grpc_port}", timeout=10) as client:
            assert client.get_item("animals-00").id == "animals-00"

        # A named version would move only the worker that answered: refused, naming the field.
        refused = httpx.post(f"{base}/v1/admin/reload", json={"version": second}, headers={"X-API-Key": KEY})
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "version"
        assert "worker processes" in refused.json()["error"]["message"]

        write_atomic(coll.current_file, second + "\n")  # what `vitrina index publish` does
        deadline = time.monotonic() + 30
        seen: list[str] = []
        while set(seen[-8:]) != {second} or len(seen) < 8:
            assert time.monotonic() < deadline, f"workers did not all follow CURRENT: {seen[-8:]}\n{log.read_text()[-3000:]}"
            seen += _versions_seen(base, 4)  # every answer is one version or the other, never an error
        assert set(seen) <= {first, second}
        with GrpcClient(f"127.0.0.1:{grpc_port}", timeout=10) as client:
            with pytest.raises(Exception, match="animals-05"):  # gone from the second version
                client.get_item("animals-05")
        assert _children(process.pid) == workers  # nobody restarted
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    text = log.read_text()
    assert process.returncode == 0, text[-3000:]
    assert "died" not in text
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        with pytest.raises(grpc.FutureTimeoutError):
            grpc.channel_ready_future(channel).result(timeout=0.5)
