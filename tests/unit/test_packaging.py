"""pyproject lists packages by hand (folders map into the vitrina namespace): keep it complete."""
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = config["package-dir"]
    found = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *rel.parts]))
    assert found <= listed, f"add to [tool.setuptools].packages: {sorted(found - listed)}"


def test_dependencies_point_one_way():
    """search_api -> indexer -> training -> schemas; nothing imports search_api."""
    forbidden = {
        "schemas": ["vitrina.training", "vitrina.indexer", "vitrina.search_api"],
        "training": ["vitrina.indexer", "vitrina.search_api"],
        "indexer": ["vitrina.search_api"],
    }
    for folder, names in forbidden.items():
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            for name in names:
                assert f"import {name}" not in text and f"from {name}" not in text, f"{path} imports {name}"


def test_the_wheel_carries_the_built_web_map(tmp_path):
    """`pip install vitrina` users get the map without Node: the wheel holds the built page and
    every asset it names."""
    import json
    import subprocess
    import sys
    import zipfile

    manifest = ROOT / "search_api" / "static" / "map" / "manifest.json"
    assert manifest.is_file(), "the web map is not built: run `make web` (make test does)"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
                    str(ROOT)], check=True, capture_output=True, timeout=600)
    [wheel] = tmp_path.glob("vitrina-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    built = json.loads(manifest.read_text())
    static = "vitrina/search_api/static/map"
    assert {f"{static}/index.html", f"{static}/assets/{built['js']}", f"{static}/assets/{built['css']}"} <= names
    assert not any(name.startswith("web/") or "node_modules" in name for name in names)
