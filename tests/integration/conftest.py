"""One real openclipart demo run that every integration module reads.

Building a real bundle (EfficientNet-Lite0 on the pictures, MiniLM-L6 on the texts) is most of
the integration tests' time, so `vitrina demo` runs once per session on a 400-item subset:
its first version holds `image` and `text`, the published one adds the trained `joint` space.
"""
from pathlib import Path

import pytest

OPENCLIPART = Path("/usr/share/openclipart")
DEMO_LIMIT = 400
DEMO_ATTRIBUTION_ITEMS = 10


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    if not (OPENCLIPART / "png").is_dir():
        pytest.skip("needs Debian openclipart-png + openclipart-svg")
    from vitrina.demo import demo

    root = tmp_path_factory.mktemp("demo")
    # Few stored word attributions: no integration test reads them, and each costs an Integrated
    # Gradients pass (tests/unit covers storing and serving them).
    kwargs = dict(bundles=root / "bundles", collection="oc", openclipart_root=OPENCLIPART, limit=DEMO_LIMIT,
                  checkpoint=root / "ckpt", serve_after=False, attribution_items=DEMO_ATTRIBUTION_ITEMS)
    demo(**kwargs)
    return root, kwargs
