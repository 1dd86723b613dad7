"""The web map in headless Chromium: time to first paint, bytes on the wire, hover-to-card and
lasso latency, at growing collection sizes.

    .venv/bin/python bench/webmap.py --sizes 10000,100000,1000000

For each size it builds a bundle with the real indexer (a `text` space of N synthetic items in
20 categories, embedded by the test suite's deterministic hashing encoder, PCA map, k-means
clusters, exact index, no neighbour lists), serves it with `vitrina serve`, and opens `/` in
Debian's chromium (software WebGL: SwiftShader on the CPU, so these are worst-case figures) at
1280x800. Timings come from the page's own performance marks:
- first paint: navigation start to the first frame with every point drawn
  (`vitrina:first-paint`, after x, y and cluster arrived);
- ready: ids, metadata columns and cluster names loaded too (`vitrina:ready`);
- bytes: transferred bytes of every response (the page, its assets, the API), first-paint bytes
  being those up to the first paint;
- hover-to-card: from the mouse move onto a point to its card shown, over 10 items (this
  includes the page's 120 ms dwell, which keeps a sweep across the map from fetching cards);
- lasso: from releasing a lasso around a fifth of the map to its selection grid shown.
"""
from __future__ import annotations

import argparse
import csv
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._server import served  # noqa: E402

CATEGORIES = [f"category-{c:02d}" for c in range(20)]
WORDS = ["red", "blue", "old", "new", "large", "small", "round", "square", "wooden", "metal", "glass", "paper"]


def write_catalogue(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "catalogue.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "title", "description", "category", "year"])
        for i in range(n):
            category = CATEGORIES[(i * 7919) % len(CATEGORIES)]
            words = " ".join(WORDS[(i >> k) % len(WORDS)] for k in range(3))
            writer.writerow([f"item-{i:07d}", f"{words} {i}", f"a {words} thing of {category}", category,
                             1800 + i % 220])
    return path


def build(root: Path, n: int) -> float:
    from tests.fakes import FakeFactory
    from vitrina.indexer.build import BuildOptions, SpaceRequest, build_bundle

    catalogue = write_catalogue(root / "catalogue", n)
    options = BuildOptions(
        progress=False, table_options=dict(id_column="id", title_column="title", text_columns=["title", "description"],
                                           metadata_columns=["category", "year"]),
        neighbours_k=0, projections=("pca",), clusterings=("kmeans",), attribution_steps=0, index_spec="Flat",
    )
    start = time.perf_counter()
    build_bundle(f"table:{catalogue}", root / "bundles", "bench", [SpaceRequest("text", "fake:text")], options,
                 encoder_factory=FakeFactory())
    return time.perf_counter() - start


def measure(page, base: str, n: int) -> dict[str, float]:
    page.goto(f"{base}/#space=text")
    page.wait_for_function("window.vitrinaMap !== undefined")
    page.evaluate("window.vitrinaMap.ready")
    marks = page.evaluate("""() => {
        const at = (name) => performance.getEntriesByName(name)[0].startTime;
        const paint = at('vitrina:first-paint');
        const entries = [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')];
        const bytes = (until) => entries.filter((e) => e.responseEnd <= until).reduce((s, e) => s + e.transferSize, 0);
        return {paint, ready: at('vitrina:ready'), paintBytes: bytes(paint), bytes: bytes(Infinity)};
    }""")
    assert page.evaluate("window.vitrinaMap.drawnCount()") == n
    hovers = []
    ids = [f"item-{i:07d}" for i in range(1, n, max(1, n // 10))][:10]
    for item_id in ids:
        page.mouse.move(5, 5)
        x, y = page.evaluate(f"window.vitrinaMap.screenXY({item_id!r})")
        start = time.perf_counter()
        page.mouse.move(x, y)
        try:
            page.wait_for_selector("#card:not([hidden])", timeout=20_000)
        except Exception:
            continue  # another point lies on top of this one; the card shows that one, or none
        hovers.append(time.perf_counter() - start)
    box = page.evaluate("(() => { const r = document.getElementById('map').getBoundingClientRect(); "
                        "return [r.left, r.top, r.width, r.height]; })()")
    left, top, width, height = box
    cx, cy, r = left + width / 2, top + height / 2, min(width, height) * 0.25
    page.keyboard.press("l")
    page.mouse.move(cx + r, cy)
    page.mouse.down()
    for k in range(1, 25):
        page.mouse.move(cx + r * math.cos(2 * math.pi * k / 24), cy + r * math.sin(2 * math.pi * k / 24))
    start = time.perf_counter()
    page.mouse.up()
    page.wait_for_selector("#selection h2", timeout=120_000)
    lasso = time.perf_counter() - start
    return {"paint_s": marks["paint"] / 1000, "ready_s": marks["ready"] / 1000, "paint_mb": marks["paintBytes"] / 1e6,
            "mb": marks["bytes"] / 1e6, "hover_p50_ms": 1000 * statistics.median(hovers) if hovers else float("nan"),
            "hovers": len(hovers), "lasso_s": lasso, "selected": len(page.evaluate("window.vitrinaMap.selection()"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated item counts")
    parser.add_argument("--chromium", default=shutil.which("chromium"), help="the browser to drive")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_FLAGS

    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_FLAGS)
        for n in (int(s) for s in args.sizes.split(",")):
            with tempfile.TemporaryDirectory() as tmp:
                build_s = build(Path(tmp), n)
                with served(Path(tmp) / "bundles", "bench", "--no-preload-encoders") as base:
                    page = browser.new_page(viewport={"width": 1280, "height": 800})
                    result = measure(page, base, n)
                    page.close()
            rows.append((n, build_s, result))
            print(f"{n:>9,} items: {result} (bundle built in {build_s:.0f} s)", flush=True)
        browser.close()
    print("\n| points | first paint | ready | bytes to first paint | bytes in all | hover → card p50 | lasso |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, _, r in rows:
        print(f"| {n:,} | {r['paint_s']:.2f} s | {r['ready_s']:.2f} s | {r['paint_mb']:.2f} MB | {r['mb']:.2f} MB | "
              f"{r['hover_p50_ms']:.0f} ms ({r['hovers']}/10) | {r['lasso_s']:.2f} s ({r['selected']:,} selected) |")


if __name__ == "__main__":
    main()
