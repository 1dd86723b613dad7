"""The images' commands without a container daemon: the exact arguments of deploy/'s index Job
(build, then publish `newest`) and of the CPU image's CMD and HEALTHCHECK, run from this
environment's `vitrina` console script on 24 real openclipart items with the real encoders.

Only the paths (bundle volume -> a temp folder, media volume -> the Debian openclipart tree),
the ports (free ones) and four speed flags on the build (fewer items, PCA and k-means maps, few
word attributions) differ from what the containers run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import OPENCLIPART
from tests.servers import free_port, wait_ready
from tests.unit.deploy._deploy import BUNDLES, MEDIA, container, exec_form, find, instruction, pod_spec

SPEED_FLAGS = ["--limit", "24", "--projection", "pca", "--clustering", "kmeans", "--attribution-items", "4"]


def _swap(args: list[str], bundles: Path, ports: dict[str, int] | None = None) -> list[str]:
    out = [a.replace(BUNDLES, str(bundles)).replace(f"openclipart:{MEDIA}", f"openclipart:{OPENCLIPART}") for a in args]
    for flag, port in (ports or {}).items():
        out[out.index(flag) + 1] = str(port)
    return out


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    vitrina = str(Path(sys.executable).parent / "vitrina")
    return subprocess.run([vitrina, *args], capture_output=True, text=True, timeout=600, env=env)


def _container_env(spec: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in spec.get("env", []) if "value" in e}


def test_index_job_then_image_cmd_serve_a_published_bundle(tmp_path):
    if not (OPENCLIPART / "png").is_dir():
        pytest.skip("needs Debian openclipart-png + openclipart-svg")
    bundles = tmp_path / "bundles"
    job = pod_spec(find("cpu", "Job", "vitrina-index"))
    build, publish = container(job, "build"), container(job, "publish")
    env = {**os.environ, **_container_env(build)}

    built = _run(_swap(build["args"], bundles) + SPEED_FLAGS, env)
    assert built.returncode == 0, built.stderr[-3000:]
    version = json.loads(built.stdout)["version"]
    assert not (bundles / "openclipart" / "CURRENT").exists()  # --no-publish: the publish container decides

    published = _run(_swap(publish["args"], bundles), {**os.environ, **_container_env(publish)})
    assert published.returncode == 0, published.stderr[-3000:]
    assert (bundles / "openclipart" / "CURRENT").read_text().strip() == version

    rest, grpc_port = free_port(), free_port()
    command = exec_form(instruction("Dockerfile", "ENTRYPOINT")[-1]) + exec_form(instruction("Dockerfile", "CMD")[-1])
    assert command[0] == "vitrina"
    serve = _swap(command[1:], bundles, {"--port": rest, "--grpc-port": grpc_port})
    vitrina = str(Path(sys.executable).parent / "vitrina")
    # Logs to a file, not a pipe: a pipe nobody reads can fill up and stall the server.
    log = tmp_path / "serve.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen([vitrina, *serve], stdout=subprocess.DEVNULL, stderr=sink,
                                   env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    try:
        base = f"http://127.0.0.1:{rest}"
        assert wait_ready(base, process, 180), log.read_text()[-3000:]
        # The image's HEALTHCHECK command, as Docker would run it inside the container.
        health = exec_form(instruction("Dockerfile", "HEALTHCHECK")[0].split("CMD", 1)[1].strip())
        health = [a.replace("127.0.0.1:8080", f"127.0.0.1:{rest}") for a in health]
        assert health[0] == "python"
        assert subprocess.run([sys.executable, *health[1:]], timeout=30).returncode == 0
        hits = httpx.post(f"{base}/v1/search/text", json={"query": "animal", "space": "text", "k": 5}, timeout=60).json()
        assert len(hits["hits"]) == 5
        assert httpx.get(f"{base}/readyz", timeout=5).json()["bundle_version"] == version
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status
        assert status == health_pb2.HealthCheckResponse.SERVING
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    # A graceful stop on SIGTERM (what Kubernetes sends): uvicorn finishes shutting down, then
    # re-raises the signal, so the exit status is the signal's.
    assert process.returncode in (0, -signal.SIGTERM), log.read_text()[-2000:]
    assert "Application shutdown complete" in log.read_text()
