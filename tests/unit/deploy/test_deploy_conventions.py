"""The project's own rules for deploy/, beyond what the schemas check: probes, ports that match the
server, one bundle path everywhere, pinned images, locked-down containers, keys from a Secret."""
from __future__ import annotations

import inspect
import re
import tomllib

import pytest

from tests.unit.deploy._deploy import (
    BUNDLES, DEPLOY, GRPC_PORT, MEDIA, OVERLAYS, ROOT, SOURCES, compose, container, containers, exec_form, find, instruction,
    option, options, pod_spec, resources,
)

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _serve_default_port() -> int:
    from vitrina.search_api.cli import serve

    return inspect.signature(serve).parameters["port"].default


def _api(overlay: str) -> dict:
    return container(pod_spec(find(overlay, "Deployment", "vitrina-api")), "api")


def _dockerfile_command(name: str) -> list[str]:
    return exec_form(instruction(name, "ENTRYPOINT")[-1]) + exec_form(instruction(name, "CMD")[-1])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_api_probes_use_the_servers_health_endpoints(overlay):
    api = _api(overlay)
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"  # 503 until a bundle is loaded
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    startup = api["startupProbe"]
    assert startup["httpGet"]["path"] == "/healthz"
    # Loading a large bundle takes minutes: the startup probe gives it five before liveness applies.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert api[probe]["httpGet"]["port"] == "http"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ports_match_the_server_everywhere(overlay):
    http = _serve_default_port()
    api = _api(overlay)
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    assert ports == {"http": http, "grpc": GRPC_PORT}
    assert int(option(api["args"], "--port")) == http and int(option(api["args"], "--grpc-port")) == GRPC_PORT
    service = find(overlay, "Service", "vitrina-api")
    assert {(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        ("http", http, "http"), ("grpc", GRPC_PORT, "grpc")}
    command = _dockerfile_command("Dockerfile")
    assert int(option(command, "--port")) == http and int(option(command, "--grpc-port")) == GRPC_PORT
    assert instruction("Dockerfile", "EXPOSE") == [f"{http} {GRPC_PORT}"]
    assert f"127.0.0.1:{http}/healthz" in instruction("Dockerfile", "HEALTHCHECK")[0]
    api_service = compose()["services"]["api"]
    assert api_service["ports"] == [f"{http}:{http}", f"{GRPC_PORT}:{GRPC_PORT}"]
    assert int(option(api_service["command"], "--port")) == http
    assert f"127.0.0.1:{http}/readyz" in " ".join(api_service["healthcheck"]["test"])


def test_one_bundle_path_and_one_media_path_everywhere():
    mounts = {}
    for overlay in SOURCES:
        for resource in resources(overlay):
            if resource["kind"] not in ("Deployment", "Job"):
                continue
            for c in containers(pod_spec(resource)):
                for mount in c["volumeMounts"]:
                    mounts.setdefault(mount["name"], set()).add(mount["mountPath"])
                for flag in ("--bundles", "--out"):
                    if flag in c["args"]:
                        assert option(c["args"], flag) == BUNDLES, c["name"]
                if "--catalogue" in c["args"]:
                    assert option(c["args"], "--catalogue").endswith(f":{MEDIA}")
    assert mounts == {"bundles": {BUNDLES}, "media": {MEDIA}, "tmp": {"/tmp"}}
    for service in compose()["services"].values():
        assert {v.split(":")[1] for v in service["volumes"]} == {BUNDLES, MEDIA}
        args = service["command"]
        assert option(args, "--bundles" if "serve" in args else "--out") == BUNDLES
    for name in ("Dockerfile", "Dockerfile.gpu"):
        assert instruction(name, "VOLUME") == [f'["{BUNDLES}"]']
    assert option(_dockerfile_command("Dockerfile"), "--bundles") == BUNDLES


@pytest.mark.parametrize("overlay", SOURCES)
def test_images_are_pinned_to_the_project_version(overlay):
    for resource in resources(overlay):
        if resource["kind"] in ("Deployment", "Job"):
            for c in containers(pod_spec(resource)):
                assert re.fullmatch(rf"[\w./-]+:{re.escape(VERSION)}(-gpu)?", c["image"]), c["image"]
    for service in compose()["services"].values():
        assert re.fullmatch(rf"vitrina:{re.escape(VERSION)}(-gpu)?", service["image"])
    for name in ("Dockerfile", "Dockerfile.gpu"):
        for image in [line.split()[1] for line in (DEPLOY / name).read_text().splitlines() if line.startswith("FROM ")]:
            # An exact release (x.y or x.y.z) in every tag, never `latest` or a bare major.
            assert re.search(r":\d+\.\d+(\.\d+)?-", image), image


def test_gpu_overlay_puts_only_the_build_on_a_gpu():
    job = pod_spec(find("gpu", "Job", "vitrina-index"))
    build = container(job, "build")
    assert build["resources"]["limits"]["nvidia.com/gpu"] == 1 and build["image"].endswith("-gpu")
    assert job["tolerations"] and job["nodeSelector"]
    assert not container(job, "publish")["image"].endswith("-gpu")
    assert not _api("gpu")["image"].endswith("-gpu")
    cpu_job = pod_spec(find("cpu", "Job", "vitrina-index"))
    assert "nvidia.com/gpu" not in container(cpu_job, "build")["resources"]["limits"]
    gpu_service = compose()["services"]["indexer-gpu"]
    assert gpu_service["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


@pytest.mark.parametrize("overlay", SOURCES)
def test_every_container_runs_locked_down(overlay):
    for resource in resources(overlay):
        if resource["kind"] not in ("Deployment", "Job"):
            continue
        spec = pod_spec(resource)
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["automountServiceAccountToken"] is False
        for c in containers(spec):
            context = c["securityContext"]
            assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    for name in ("Dockerfile", "Dockerfile.gpu"):
        assert instruction(name, "USER") == ["10001:10001"]
    for service in compose()["services"].values():
        assert service["read_only"] is True and service["user"] == "10001:10001"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_api_key_comes_from_a_secret_and_disruptions_spare_a_replica(overlay):
    env = {e["name"]: e for e in _api(overlay)["env"]}
    assert env["VITRINA_API_KEYS"]["valueFrom"]["secretKeyRef"] == {"name": "vitrina-api-keys", "key": "keys"}
    assert "value" not in env["VITRINA_API_KEYS"]
    labels = find(overlay, "Deployment", "vitrina-api")["spec"]["template"]["metadata"]["labels"]
    budget = find(overlay, "PodDisruptionBudget", "vitrina-api")["spec"]
    assert budget["minAvailable"] == 1 and budget["selector"]["matchLabels"].items() <= labels.items()
    assert find(overlay, "Service", "vitrina-api")["spec"]["selector"].items() <= labels.items()
    scaler = find(overlay, "HorizontalPodAutoscaler", "vitrina-api")["spec"]
    assert scaler["scaleTargetRef"]["name"] == "vitrina-api" and scaler["minReplicas"] >= 2


def test_the_index_job_builds_then_publishes_the_newest_version():
    job = pod_spec(find("cpu", "Job", "vitrina-index"))
    build, publish = container(job, "build"), container(job, "publish")
    assert [c["name"] for c in job["initContainers"]] == ["build"]  # finishes before publish starts
    assert build["args"][:2] == ["index", "build"] and "--no-publish" in build["args"]
    assert publish["args"][:2] == ["index", "publish"] and option(publish["args"], "--version") == "newest"
    assert option(build["args"], "--collection") == option(publish["args"], "--collection") == option(
        _api("cpu")["args"], "--collection")
    assert options(build["args"], "--space") == ["image=builtin:efficientnet-lite0", "text=builtin:minilm-l6"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_cluster_runs_the_images_own_command(overlay):
    # The entrypoint smoke test (tests/integration/test_deploy_entrypoints.py) runs the image's CMD:
    # the Deployment must run that same command, and Compose too.
    command = _dockerfile_command("Dockerfile")
    assert command[0] == "vitrina" and _api(overlay)["args"] == command[1:]
    compose_api = [a.replace("${VITRINA_COLLECTION:-openclipart}", "openclipart") for a in compose()["services"]["api"]["command"]]
    assert compose_api == command[1:]
