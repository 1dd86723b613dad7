"""`vitrina serve` in a subprocess for the end-to-end benchmarks (rest.py, maps.py, swap.py)."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(bundles: Path, collection: str, *extra: str, env: dict[str, str] | None = None,
           ready_timeout_s: float = 300) -> Iterator[str]:
    """Start the server on a free loopback port, wait for /readyz, yield its base URL, stop it."""
    port = free_port()
    vitrina = Path(sys.executable).with_name("vitrina")
    server = subprocess.Popen(
        [str(vitrina), "--log-level", "warning", "serve", "--bundles", str(bundles), "--collection", collection,
         "--port", str(port), "--log-level", "warning", *extra],
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            deadline = time.time() + ready_timeout_s
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("server did not become ready")
                time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
