"""A real `vitrina serve` on a loopback port and Debian's chromium driven by playwright.

The bundle is the tiny-model one (real `hf:` encoders: real search, stored word attributions,
explanations) with its PCA maps re-laid out: the tiny random models clump every item into a few
pixels, and a map test must be able to point at one item. Each category is a blob of items on a
sunflower spiral, far enough apart for the mouse to pick each one.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import free_port, wait_ready

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
VIEWPORT = {"width": 1100, "height": 700}
CHROMIUM_FLAGS = [
    "--no-sandbox",  # CI runs as root
    # Without these Chromium keeps calling Google hosts, which this network refuses.
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-quic", "--use-angle=swiftshader",
]
BLOBS = {"animals": 0, "plants": 1, "vehicles": 2}


def layout(category: str, index: int) -> tuple[float, float]:
    angle = 2 * math.pi * BLOBS[category] / 3 + math.pi / 2
    cx, cy = 0.55 * math.cos(angle), 0.55 * math.sin(angle)
    r, theta = 0.3 * math.sqrt((index + 0.5) / 20), index * 2.399963
    return cx + r * math.cos(theta), cy + r * math.sin(theta)


def _relay(version: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for path in version.glob("spaces/*/projections.parquet"):
        table = pq.read_table(path)
        ids = table.column("id").to_pylist()
        coords = [layout(i.rsplit("-", 1)[0], int(i.rsplit("-", 1)[1])) for i in ids]
        for axis, name in enumerate(("pca_x", "pca_y")):
            column = pa.array([c[axis] for c in coords], pa.float32())
            table = table.set_column(table.schema.get_field_index(name), table.schema.field(name), column)
        pq.write_table(table, path)


# Items an older, unpublished version of the map bundle lacks: "new since" that version.
NEW_SINCE_OLDER = {"animals-01", "plants-07", "vehicles-13"}


def _build_older_version(root: Path, tmp: Path, catalogue: Path) -> str:
    """A version of the same collection without NEW_SINCE_OLDER, with the same encoders, left
    unpublished: CURRENT stays on the full one."""
    from tests.conftest import FAST_MAPS, TABLE_OPTIONS, catalogue_without
    from vitrina.indexer.bundle.reader import Bundle
    from vitrina.indexer.build import BuildOptions, SpaceRequest, build_bundle

    served = Bundle.open(root, "tiny")
    spaces = []
    for name, space in served.spaces.items():
        modality = space.manifest.indexed_modality
        spec = space.manifest.encoders.get(modality) or next(iter(space.manifest.encoders.values()))
        spaces.append(SpaceRequest(name, spec.spec))
    options = BuildOptions(progress=False, workers=0, chunk_size=16, batch_size=8, table_options=TABLE_OPTIONS,
                           attribution_steps=0, parent=None, publish=False, **FAST_MAPS)
    older = catalogue_without(tmp / "older", catalogue, NEW_SINCE_OLDER)
    return build_bundle(f"table:{older}", root, "tiny", spaces, options).version


@pytest.fixture(scope="session")
def map_bundle_root(tmp_path_factory, tiny_model_bundle_root, tiny_catalogue) -> Path:
    tmp = tmp_path_factory.mktemp("map")
    root = tmp / "bundles"
    shutil.copytree(tiny_model_bundle_root, root)
    _build_older_version(root, tmp, tiny_catalogue)
    for version in (root / "tiny" / "versions").iterdir():
        _relay(version)
        _forget_attributions(version, UNSTORED)
    return root


# An item whose word attributions the build did not store (as for most items of a large
# collection): its detail panel asks the server to compute them.
UNSTORED = "vehicles-05"


def _forget_attributions(version: Path, item_id: str) -> None:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = version / "attributions" / "text.parquet"
    if path.is_file():
        table = pq.read_table(path)
        pq.write_table(table.filter(pc.not_equal(table.column("id"), item_id)), path)


@pytest.fixture(scope="session")
def older_version(map_bundle_root) -> str:
    from vitrina.schemas.bundle_layout import CollectionPaths

    coll = CollectionPaths.of(map_bundle_root, "tiny")
    [older] = [v for v in coll.versions() if v != coll.current()]
    return older


@pytest.fixture(scope="session")
def server(map_bundle_root):
    yield from serve(map_bundle_root, "server.log")


def serve(map_bundle_root: Path, log_name: str, *extra: str):
    """A real `vitrina serve` on a free loopback port, until the generator is closed."""
    from vitrina.search_api.rest import web

    if not (web.STATIC / "index.html").is_file():
        pytest.fail("the web map is not built: run `make web` (make test builds it)")
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [str(Path(sys.executable).parent / "vitrina"), "serve", "--bundles", str(map_bundle_root), "--collection", "tiny",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", *extra]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # To a file, not a pipe: a pipe nobody reads fills up with access log lines and stalls the server.
    log = open(ARTIFACTS / log_name, "wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    if not wait_ready(base, process, 120):
        process.kill()
        log.close()
        pytest.fail(f"vitrina serve did not start:\n{(ARTIFACTS / log_name).read_text()[-3000:]}")
    yield base
    process.terminate()
    process.wait(timeout=20)
    log.close()


def chromium_path() -> str | None:
    return os.environ.get("VITRINA_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="session")
def playwright_instance():
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    if chromium_path() is None:
        pytest.skip("no chromium on PATH (make test installs Debian's; or set VITRINA_CHROMIUM)")
    with sync_playwright() as p:
        yield p


def launch(playwright_instance, *extra: str):
    return playwright_instance.chromium.launch(executable_path=chromium_path(), headless=True,
                                               args=CHROMIUM_FLAGS + list(extra))


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = launch(playwright_instance)
    yield browser
    browser.close()


class Page:
    """A page of the map with what it asked of the network and what it logged."""

    def __init__(self, page, base: str):
        self.page, self.base = page, base
        self.outside: list[str] = []
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.route("**/*", self._route)

    def _route(self, route):
        # Anything not for the server is refused and counted: the page must work offline.
        if route.request.url.startswith(self.base + "/"):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def open(self, fragment: str = "") -> None:
        self.page.goto(f"{self.base}/{fragment}")
        self.page.wait_for_function("window.vitrinaMap !== undefined")
        self.page.evaluate("window.vitrinaMap.ready")

    def map(self, expression: str):
        return self.page.evaluate(f"window.vitrinaMap.{expression}")

    def point(self, item_id: str) -> tuple[float, float]:
        xy = self.map(f"screenXY({item_id!r})")
        assert xy is not None, f"{item_id} is not on the map"
        return xy[0], xy[1]


def open_page(browser, server, request, **context):
    ctx = browser.new_context(viewport=VIEWPORT, **context)
    page = Page(ctx.new_page(), server)
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page.page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    finally:
        ctx.close()
    assert page.outside == [], f"requests left the server's origin: {page.outside}"
    assert page.errors == [], f"the page logged errors: {page.errors}"


@pytest.fixture
def page(browser, server, request):
    yield from open_page(browser, server, request)
