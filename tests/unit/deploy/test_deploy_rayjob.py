"""deploy/k8s/ray: the KubeRay RayJob of a distributed build. Kubernetes has no schema for the
RayJob kind offline, so its pod templates are checked as PodTemplates by kubernetes-validate
--strict, its own fields against the fields of KubeRay's ray.io/v1 types, and the command it
runs against vitrina's real CLI."""
from __future__ import annotations

import re
import shlex
import tomllib
from functools import lru_cache

import click
import pytest
import typer
import yaml

from tests.unit.deploy._deploy import BUNDLES, DEPLOY, MEDIA, ROOT, option, run, tool

# Fields of KubeRay's RayJobSpec, RayClusterSpec, HeadGroupSpec and WorkerGroupSpec (ray.io/v1).
RAYJOB_FIELDS = {"activeDeadlineSeconds", "backoffLimit", "rayClusterSpec", "submitterPodTemplate", "metadata",
                 "clusterSelector", "submitterConfig", "managedBy", "deletionStrategy", "entrypoint",
                 "runtimeEnvYAML", "jobId", "submissionMode", "entrypointResources", "entrypointNumCpus",
                 "entrypointNumGpus", "ttlSecondsAfterFinished", "shutdownAfterJobFinishes", "suspend", "schedule"}
CLUSTER_FIELDS = {"headGroupSpec", "workerGroupSpecs", "rayVersion", "enableInTreeAutoscaling", "autoscalerOptions",
                  "headServiceAnnotations", "suspend", "managedBy", "gcsFaultToleranceOptions"}
HEAD_FIELDS = {"rayStartParams", "template", "serviceType", "enableIngress", "headService"}
WORKER_FIELDS = {"groupName", "replicas", "minReplicas", "maxReplicas", "rayStartParams", "template", "numOfHosts",
                 "suspend", "scaleStrategy", "idleTimeoutSeconds"}
KUBERNETES_VERSIONS = ("1.32.0", "1.37.0")


@lru_cache(maxsize=None)
def _rayjob() -> dict:
    done = run([tool("kubectl"), "kustomize", str(DEPLOY / "k8s" / "ray")])
    assert done.returncode == 0, done.stderr
    (job,) = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    return job


def _templates() -> dict[str, dict]:
    cluster = _rayjob()["spec"]["rayClusterSpec"]
    return {"head": cluster["headGroupSpec"]["template"],
            **{g["groupName"]: g["template"] for g in cluster["workerGroupSpecs"]}}


def _commands() -> list[list[str]]:
    words = shlex.split(_rayjob()["spec"]["entrypoint"])
    commands, current = [], []
    for word in words:
        if word == "&&":
            commands.append(current)
            current = []
        else:
            current.append(word)
    return [*commands, current]


def test_rayjob_uses_only_fields_kuberay_v1_knows():
    spec = _rayjob()["spec"]
    cluster = spec["rayClusterSpec"]
    assert set(spec) <= RAYJOB_FIELDS and set(cluster) <= CLUSTER_FIELDS
    assert set(cluster["headGroupSpec"]) <= HEAD_FIELDS
    assert all(set(group) <= WORKER_FIELDS for group in cluster["workerGroupSpecs"])
    # rayStartParams are strings for `ray start`; a bare YAML number would be refused.
    for params in [cluster["headGroupSpec"]["rayStartParams"], *(g["rayStartParams"] for g in cluster["workerGroupSpecs"])]:
        assert all(isinstance(value, str) for value in params.values())


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_rayjob_pod_templates_are_valid_kubernetes(version):
    wrapped = [{"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": name}, "template": template}
               for name, template in _templates().items()]
    done = run([tool("kubernetes-validate"), "--strict", "-k", version, "-"], stdin=yaml.safe_dump_all(wrapped))
    assert done.returncode == 0, done.stdout + done.stderr
    passed = re.findall(r"passed for resource (\S+)", done.stdout + done.stderr)
    assert sorted(passed) == sorted(f"podtemplate/{name}" for name in _templates())


def test_rayjob_builds_on_ray_with_the_real_cli_then_publishes_the_newest_version():
    from vitrina.cli import app

    build, publish = _commands()
    index = typer.main.get_command(app).commands["index"]
    for command in (build, publish):
        assert command[:2] == ["vitrina", "index"]
        # Parsing with the CLI's own options refuses any flag or value it does not know.
        try:
            index.commands[command[2]].make_context(command[2], command[3:])
        except click.UsageError as exc:
            pytest.fail(f"{shlex.join(command)}: {exc}")
    assert option(build, "--engine") == "ray" and "--no-publish" in build
    assert option(build, "--out") == option(publish, "--bundles") == BUNDLES
    assert option(build, "--catalogue").endswith(MEDIA) and option(publish, "--version") == "newest"
    assert option(build, "--collection") == option(publish, "--collection")
    # One actor per worker pod, each with the CPUs its pod asks for.
    (workers,) = _rayjob()["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    assert int(option(build, "--ray-actors")) == workers["maxReplicas"]
    (worker,) = workers["template"]["spec"]["containers"]
    assert option(build, "--ray-actor-cpus") == worker["resources"]["requests"]["cpu"]


def test_rayjob_runs_the_pinned_ray_and_image_on_the_bundle_volume_locked_down():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (ray_pin,) = project["optional-dependencies"]["ray"]
    ray_version = ray_pin.split("==")[1]
    assert _rayjob()["spec"]["rayClusterSpec"]["rayVersion"] == ray_version
    for name in ("Dockerfile", "Dockerfile.gpu"):
        assert f'"{ray_pin}"' in (DEPLOY / name).read_text(), f"{name} installs another Ray than the ray extra"
    for name, template in _templates().items():
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["automountServiceAccountToken"] is False
        claims = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in spec["volumes"]}
        (container,) = spec["containers"]
        assert container["image"] == f"vitrina:{project['version']}", name
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert claims[mounts[BUNDLES]] == "vitrina-bundles" and claims[mounts[MEDIA]] == "vitrina-media"
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
        assert {"/tmp", "/dev/shm"} <= set(mounts)  # Ray's session files and object store, writable
