"""What the deploy tests read: the rendered overlays, the Dockerfiles, compose.yaml, and the tools
(kubectl, kubernetes-validate, hadolint, yamllint) that `make test` installs with the dev extra."""
from __future__ import annotations

import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("cpu", "gpu")
JOBS = "jobs"  # one-off manifests under k8s/jobs/, applied by hand
SOURCES = (*OVERLAYS, JOBS)
BUNDLES = "/var/lib/vitrina/bundles"
MEDIA = "/var/lib/vitrina/media"
GRPC_PORT = 50051


def tool(name: str) -> str:
    """A command-line tool from this environment's bin folder (the wheels), else from PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: `make test` installs it with the dev extra (pip install -e '.[dev]')")
    return found


def run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=120)


@lru_cache(maxsize=None)
def rendered(overlay: str) -> str:
    """An overlay as `kubectl kustomize` renders it, or the one-off jobs as written."""
    if overlay == JOBS:
        return "\n---\n".join(p.read_text() for p in sorted((DEPLOY / "k8s" / JOBS).glob("*.yaml")))
    done = run([tool("kubectl"), "kustomize", str(DEPLOY / "k8s" / "overlays" / overlay)])
    assert done.returncode == 0, done.stderr
    return done.stdout


def resources(overlay: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(rendered(overlay)) if doc]


def find(overlay: str, kind: str, name: str) -> dict:
    matches = [r for r in resources(overlay) if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(matches) == 1, f"{overlay}: expected one {kind}/{name}"
    return matches[0]


def pod_spec(resource: dict) -> dict:
    return resource["spec"]["template"]["spec"]


def containers(spec: dict) -> list[dict]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def container(spec: dict, name: str) -> dict:
    return next(c for c in containers(spec) if c["name"] == name)


def option(args: list[str], flag: str) -> str:
    """The value after `flag` in an argument list."""
    assert flag in args, f"{flag} missing from {args}"
    return args[args.index(flag) + 1]


def options(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


def dockerfile(name: str):
    import io

    from dockerfile_parse import DockerfileParser

    # From a file object: given a path, the parser treats any name but `Dockerfile` as a folder.
    return DockerfileParser(fileobj=io.BytesIO((DEPLOY / name).read_bytes()))


def instruction(name: str, what: str) -> list[str]:
    """Values of every `what` instruction in the final stage of deploy/<name>."""
    structure = dockerfile(name).structure
    last_from = max(i for i, s in enumerate(structure) if s["instruction"] == "FROM")
    return [s["value"] for s in structure[last_from:] if s["instruction"] == what]


def exec_form(value: str) -> list[str]:
    """A JSON-form CMD/ENTRYPOINT as its argument list (hadolint rejects the shell form)."""
    import json

    return json.loads(value)


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())
