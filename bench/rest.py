"""End-to-end REST latency against a real uvicorn server over HTTP.

    python bench/rest.py --bundles bundles --collection openclipart --requests 300

Starts `vitrina serve` in a subprocess on a free loopback port, waits for
/readyz, then times sequential requests (one client, keep-alive) for
neighbours (image and text spaces) and text search, and prints p50/p99 and
requests/s per operation as a markdown table.
"""
from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

QUERIES = ["cat", "dog", "red car", "flower", "computer keyboard", "house", "airplane", "smiling face",
           "christmas tree", "musical instrument", "map of europe", "coffee cup", "bicycle", "sun", "fish"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def timed(client: httpx.Client, n: int, make_request) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        response = make_request(i)
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundles", type=Path, default=Path("bundles"))
    parser.add_argument("--collection", default="openclipart")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()

    port = free_port()
    vitrina = Path(sys.executable).with_name("vitrina")
    server = subprocess.Popen(
        [str(vitrina), "--log-level", "warning", "serve", "--bundles", str(args.bundles), "--collection",
         args.collection, "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            deadline = time.time() + 300
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("server did not become ready")
                time.sleep(0.5)
            info = client.get("/v1/bundle").json()
            rng = random.Random(0)
            sample = [h["id"] for q in QUERIES for h in client.post(
                "/v1/search/text", json={"query": q, "space": "text", "k": 50}).json()["hits"]]
            rng.shuffle(sample)
            ops = {
                "neighbours (image)": lambda i: client.get(f"/v1/items/{sample[i % len(sample)]}/neighbours", params={"space": "image", "k": args.k}),
                "neighbours (text)": lambda i: client.get(f"/v1/items/{sample[i % len(sample)]}/neighbours", params={"space": "text", "k": args.k}),
                "neighbours (image, filter)": lambda i: client.get(
                    f"/v1/items/{sample[i % len(sample)]}/neighbours",
                    params={"space": "image", "k": args.k, "filter": '{"category": "animals"}'}),
                "text search (text space)": lambda i: client.post(
                    "/v1/search/text", json={"query": QUERIES[i % len(QUERIES)] + f" {i}", "space": "text", "k": args.k}),
            }
            print(f"bundle {info['collection']} {info['version']}, {info['items']} items, "
                  f"{args.requests} sequential requests per operation, k={args.k}\n")
            print("| operation | p50 ms | p99 ms | req/s |")
            print("|---|---|---|---|")
            for name, make in ops.items():
                timed(client, 10, make)  # warm-up
                times = timed(client, args.requests, make)
                print(f"| {name} | {statistics.median(times):.2f} | {percentile(times, 0.99):.2f} | "
                      f"{1000 * len(times) / sum(times):.0f} |")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
