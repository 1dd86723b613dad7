"""The one-way dependencies of the architecture, checked on every import statement.

`search_api` -> `indexer` -> `training` -> `schemas`: a package may import its own layer and the
ones below it, never one above. `search_api` reaches into `training` only through the encoder,
image-decoding and explanation interfaces; only `search_api` speaks the generated gRPC code.
Imports inside functions count as much as those at the top of a file.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAYERS = ("schemas", "training", "indexer", "search_api")
SEARCH_API_MAY_USE_FROM_TRAINING = ("vitrina.training.encoders", "vitrina.training.explain", "vitrina.training.images")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}:{node.lineno}: relative import; name the module from `vitrina.`")
    return [(line, name) for line, name in found if name == "vitrina" or name.startswith("vitrina.")]


def violation(layer: str, module: str) -> str | None:
    if module == "vitrina":
        return None  # the package root holds only __version__
    parts = module.split(".")
    target = parts[1] if len(parts) > 1 else ""
    if target == "v1":
        return None if layer == "search_api" else "only search_api speaks the generated gRPC code"
    if target not in LAYERS:
        return f"{module} is outside the four layers (the `vitrina` entry points import them, not the reverse)"
    if LAYERS.index(target) > LAYERS.index(layer):
        return f"{layer} must not import {target}, a layer above it"
    if layer == "search_api" and target == "training" and not module.startswith(SEARCH_API_MAY_USE_FROM_TRAINING):
        return "search_api reaches training only through its encoder, image and explanation interfaces"
    return None


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_point_one_way(layer):
    files = sorted((REPO / layer).rglob("*.py"))
    assert files
    problems = [
        f"{path.relative_to(REPO)}:{line}: {module}: {why}"
        for path in files
        for line, module in imported_modules(path)
        if (why := violation(layer, module))
    ]
    assert not problems, "\n".join(problems)


def test_the_rule_catches_each_kind_of_edge():
    assert violation("training", "vitrina.indexer.build")
    assert violation("schemas", "vitrina.training.images")
    assert violation("indexer", "vitrina.v1.items_pb2")
    assert violation("search_api", "vitrina.training.recipes.align")
    assert violation("indexer", "vitrina.demo")
    assert violation("search_api", "vitrina.training.explain.text_words") is None
    assert violation("search_api", "vitrina.indexer.bundle.reader") is None
    assert violation("training", "vitrina.schemas.bundle_layout") is None
