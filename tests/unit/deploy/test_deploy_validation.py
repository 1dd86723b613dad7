"""deploy/ passes the real validators offline: kustomize + kubernetes-validate --strict for the
oldest and newest Kubernetes we support, hadolint, the compose-spec parser and yamllint. Each
check is also shown to refuse a broken copy, so a silently passing validator cannot hide."""
from __future__ import annotations

import re

import pytest

from tests.unit.deploy._deploy import DEPLOY, SOURCES, rendered, resources, run, tool

KUBERNETES_VERSIONS = ("1.32.0", "1.37.0")


def _validate(manifests: str, version: str):
    return run([tool("kubernetes-validate"), "--strict", "-k", version, "-"], stdin=manifests)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", SOURCES)
def test_overlay_is_valid_kubernetes(overlay, version):
    done = _validate(rendered(overlay), version)
    assert done.returncode == 0, done.stdout + done.stderr
    passed = re.findall(r"passed for resource (\S+)", done.stdout + done.stderr)
    kinds = {f"{r['kind'].lower()}/{r['metadata']['name']}" for r in resources(overlay)}
    # Every resource was checked against a schema: none skipped as unknown.
    assert set(passed) == kinds and "WARN" not in done.stdout + done.stderr


def test_kubernetes_validate_refuses_a_broken_manifest():
    broken = rendered("cpu").replace("replicas: 2", 'replicas: "two"', 1)
    assert broken != rendered("cpu")
    assert _validate(broken, KUBERNETES_VERSIONS[0]).returncode != 0
    misspelt = rendered("cpu").replace("readinessProbe:", "readynessProbe:", 1)
    assert _validate(misspelt, KUBERNETES_VERSIONS[0]).returncode != 0  # strict: unknown fields fail


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_dockerfile_passes_hadolint(name):
    done = run([tool("hadolint"), "--config", str(DEPLOY / ".hadolint.yaml"), str(DEPLOY / name)])
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_refuses_a_shell_form_cmd_and_unpinned_pip(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11.14-slim-bookworm\nRUN pip install requests\nCMD vitrina serve\n")
    done = run([tool("hadolint"), "--config", str(DEPLOY / ".hadolint.yaml"), str(bad)])
    assert done.returncode != 0
    assert {"DL3013", "DL3025"} <= set(re.findall(r"DL\d{4}", done.stdout))


def test_compose_file_parses_with_the_compose_spec():
    from compose_spec import PyOptions

    text = (DEPLOY / "compose.yaml").read_text()
    spec = PyOptions(apply_merge=True).from_yaml(text)
    assert set(spec.services) == {"api", "indexer", "indexer-gpu"}
    with pytest.raises(ValueError, match="port"):
        PyOptions(apply_merge=True).from_yaml(text.replace('"8080:8080"', '"80800:8080"'))


def test_yaml_is_lint_clean():
    done = run([tool("yamllint"), "--strict", "-c", str(DEPLOY / ".yamllint.yaml"), str(DEPLOY)])
    assert done.returncode == 0, done.stdout + done.stderr
