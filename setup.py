"""Builds the web map (web/ -> search_api/static/map) into the wheel and the sdist.

Everything else about the package is in pyproject.toml. The hook runs `npm ci && npm run build`
only when the built assets are missing, so a wheel built from the sdist (which carries them)
needs no Node. VITRINA_SKIP_WEB_BUILD=1 skips it (the Makefile builds the assets itself).
"""
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
MANIFEST = ROOT / "search_api" / "static" / "map" / "manifest.json"


def build_web_map() -> None:
    if os.environ.get("VITRINA_SKIP_WEB_BUILD") == "1" or MANIFEST.is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("building vitrina needs the web map's assets: install Node.js and npm, or build from "
                         "an sdist, which carries them (or set VITRINA_SKIP_WEB_BUILD=1 to leave the map out)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ROOT / "web", check=True)
    subprocess.run([npm, "run", "build"], cwd=ROOT / "web", check=True)


class BuildPyWithWebMap(build_py):
    def run(self):
        build_web_map()
        super().run()


class SdistWithWebMap(sdist):
    def run(self):
        build_web_map()
        super().run()


setup(cmdclass={"build_py": BuildPyWithWebMap, "sdist": SdistWithWebMap})
