"""End-to-end REST latency against a real uvicorn server over HTTP.

    python bench/rest.py --bundles bundles --collection openclipart --requests 300

Starts `vitrina serve` in a subprocess on a free loopback port, waits for
/readyz, then times sequential requests (one client, keep-alive) for
neighbours (image and text spaces) and text search, and prints p50/p99 and
requests/s per operation as a markdown table.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

import httpx
from _server import served
from _stats import percentile

QUERIES = ["cat", "dog", "red car", "flower", "computer keyboard", "house", "airplane", "smiling face",
           "christmas tree", "musical instrument", "map of europe", "coffee cup", "bicycle", "sun", "fish"]


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

    with served(args.bundles, args.collection) as base, httpx.Client(base_url=base, timeout=60) as client:
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


if __name__ == "__main__":
    main()
