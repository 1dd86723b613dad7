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
