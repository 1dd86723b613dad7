"""Regenerate vitrina/v1/*_pb2*.py from proto/vitrina/v1/*.proto (`make proto`).

    python -m vitrina.search_api.grpc.codegen           # rewrite the checked-in code
    python -m vitrina.search_api.grpc.codegen --check   # exit 1 when it is stale

The code is checked in so that installing vitrina needs no grpcio-tools; this keeps it
honest. It always generates into a temporary folder first: --check compares bytes, and a
failed protoc run never leaves half-written files behind. Works from a source checkout.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "proto"
# The proto path is also the Python package, so generated imports read `from vitrina.v1 import ...`.
PACKAGE = Path("vitrina", "v1")
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def protos() -> list[Path]:
    """The .proto files, relative to PROTO_ROOT (what protoc records in the generated code)."""
    return sorted(p.relative_to(PROTO_ROOT) for p in (PROTO_ROOT / PACKAGE).glob("*.proto"))


def generate(out: Path) -> dict[str, bytes]:
    """Run protoc into `out`; the generated files of the package by name."""
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"  # struct.proto, timestamp.proto
    files = protos()
    # Stubs only for files that declare a service: the others would get an empty module.
    with_services = [p for p in files if re.search(r"^service\s", (PROTO_ROOT / p).read_text(), re.MULTILINE)]
    _protoc(f"-I{well_known}", f"--python_out={out}", f"--pyi_out={out}", *map(str, files))
    _protoc(f"-I{well_known}", f"--grpc_python_out={out}", *map(str, with_services))
    return _generated_files(out / PACKAGE)


def _protoc(*args: str) -> None:
    command = [sys.executable, "-m", "grpc_tools.protoc", "-I.", *args]
    result = subprocess.run(command, cwd=PROTO_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"protoc failed:\n{result.stderr}")


def _generated_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name.endswith(GENERATED_SUFFIXES)}


def _differing(fresh: dict[str, bytes], current: dict[str, bytes]) -> list[str]:
    return sorted(name for name in fresh.keys() | current.keys() if fresh.get(name) != current.get(name))


def stale_files(target: Path = ROOT / PACKAGE) -> list[str]:
    """Generated files that differ from a fresh run, are missing, or have no .proto any more."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
    return _differing(fresh, _generated_files(target))


def write(target: Path = ROOT / PACKAGE) -> list[str]:
    """Bring the checked-in code up to date; the names of the files changed or removed."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        changed = _differing(fresh, _generated_files(target))
        for name in changed:
            if name in fresh:
                shutil.copyfile(Path(tmp) / PACKAGE / name, target / name)
            else:
                (target / name).unlink()
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vitrina.search_api.grpc.codegen", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale files; exit 1 when there are any")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print(f"stale generated code in {PACKAGE}: {', '.join(stale)}; run `make proto`", file=sys.stderr)
            return 1
        print(f"{PACKAGE}: up to date")
        return 0
    changed = write()
    print(f"{PACKAGE}: {', '.join(changed) if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
