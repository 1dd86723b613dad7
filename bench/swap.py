"""Load under a hot swap: REST and gRPC traffic while versions are published and reloaded.

    python bench/swap.py --bundles bundles --collection openclipart --seconds 60 --swaps 4

Starts `vitrina serve --grpc-port` on the collection, then for `--seconds` runs `--workers`
client threads per transport, each looping over the same requests (neighbours in the image and
text spaces, text searches in the text and joint spaces), while a swapper publishes the other version (`--other`, default
CURRENT's parent) and reloads the server through POST /v1/admin/reload, back and forth `--swaps`
times. Prints, per transport: requests, errors (must be 0), p50/p99 latency and requests/s, and
every reload with its duration, and how many answers each version gave (a request is answered
by one snapshot of the holder: its bundle_version says which).
"""
from __future__ import annotations

import argparse
import random
import secrets
import statistics
import threading
import time
from collections import Counter
from pathlib import Path

from _server import free_port, served
from _stats import percentile

QUERIES = ["cat", "red car", "flower", "house", "christmas tree", "coffee cup", "bicycle", "fish"]


class Traffic:
    """One transport's workers: the same request mix, latencies and errors recorded."""

    def __init__(self, name: str, make_client, ids: list[str], workers: int, stop: threading.Event,
                 search_spaces: tuple[str, ...] = ("text", "joint")):
        self.name, self.make_client, self.ids, self.stop = name, make_client, ids, stop
        self.search_spaces = search_spaces
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.versions: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(seed,), daemon=True) for seed in range(workers)]

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        with self.make_client() as client:
            calls = [
                lambda: client.neighbours(rng.choice(self.ids), space="image", k=10),
                lambda: client.neighbours(rng.choice(self.ids), space="text", k=10),
                *[lambda space=space: client.search_text(rng.choice(QUERIES), space=space, k=10)
                  for space in self.search_spaces],
            ]
            i = 0
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    hits = calls[i % len(calls)]()
                    elapsed = time.perf_counter() - started
                    with self._lock:
                        self.latencies.append(elapsed * 1000)
                        self.versions[hits.bundle_version] += 1
                except Exception as exc:  # every failure counts: the run must have none
                    with self._lock:
                        self.errors.append(f"{type(exc).__name__}: {exc}")
                i += 1


def swap_arguments(doc: str) -> argparse.ArgumentParser:
    """The options every swap benchmark takes: where the collection is, how long, how many switches."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundles", type=Path, default=Path("bundles"))
    parser.add_argument("--collection", default="openclipart")
    parser.add_argument("--other", help="Version to swap to and back from (default: CURRENT's parent)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--swaps", type=int, default=4)
    return parser


def versions_to_swap(args: argparse.Namespace):
    """(collection paths, CURRENT, the version to swap with)."""
    from vitrina.schemas import Manifest
    from vitrina.schemas.bundle_layout import CollectionPaths

    coll = CollectionPaths.of(args.bundles, args.collection)
    first = coll.current()
    other = args.other or Manifest.read(coll.version(first).manifest).parent
    if other is None:
        raise SystemExit(f"{first} has no parent; pass --other VERSION")
    return coll, first, other


def main() -> None:
    parser = swap_arguments(__doc__)
    parser.add_argument("--workers", type=int, default=2, help="Client threads per transport")
    args = parser.parse_args()

    from vitrina.indexer.publishing import publish_version
    from vitrina.search_api.client import GrpcClient, RestClient

    coll, first, other = versions_to_swap(args)
    key = secrets.token_hex(8)
    grpc_port = free_port()
    with served(args.bundles, args.collection, "--grpc-port", str(grpc_port), env={"VITRINA_API_KEYS": key}) as base:
        with RestClient(base) as probe:
            # Items in both spaces: a text hit may have no picture (skipped by the indexer).
            hits = {h.id for q in QUERIES for h in probe.search_text(q, space="text", k=50).hits}
            ids = sorted(i for i in hits if {"image", "text"} <= set(probe.get_item(i).spaces))
        stop = threading.Event()
        traffic = [
            Traffic("REST", lambda: RestClient(base), ids, args.workers, stop),
            Traffic("gRPC", lambda: GrpcClient(f"127.0.0.1:{grpc_port}"), ids, args.workers, stop),
        ]
        for t in traffic:
            for thread in t.threads:
                thread.start()
        reloads = []
        started = time.perf_counter()
        versions = [other, first] * args.swaps
        with RestClient(base, api_key=key) as admin:
            for n, version in enumerate(versions[: args.swaps]):
                time.sleep(max(0.0, started + (n + 1) * args.seconds / (args.swaps + 1) - time.perf_counter()))
                publish_version(coll, version, force=True)  # CURRENT moves; the server follows on reload
                t0 = time.perf_counter()
                reply = admin.reload()
                reloads.append((reply.previous_version, reply.version, time.perf_counter() - t0))
        time.sleep(max(0.0, started + args.seconds - time.perf_counter()))
        stop.set()
        for t in traffic:
            for thread in t.threads:
                thread.join(60)
        elapsed = time.perf_counter() - started
    if coll.current() != first:
        publish_version(coll, first, force=True)  # leave the collection as it was found

    _print_tables(args, traffic, reloads, elapsed, first, other)


def _print_tables(args: argparse.Namespace, traffic: list, reloads: list, elapsed: float, first: str, other: str) -> None:
    print(f"{args.seconds:.0f} s, {args.workers} client threads per transport, {len(reloads)} reloads "
          f"between {first} and {other}\n")
    print("| transport | requests | errors | p50 ms | p99 ms | req/s | answers per version |")
    print("|---|---|---|---|---|---|---|")
    for t in traffic:
        lat = t.latencies or [float("nan")]
        print(f"| {t.name} | {len(t.latencies) + len(t.errors)} | {len(t.errors)} | {statistics.median(lat):.2f} | "
              f"{percentile(lat, 0.99):.2f} | {len(t.latencies) / elapsed:.0f} | "
              f"{', '.join(f'{v[-6:]}: {c}' for v, c in sorted(t.versions.items()))} |")
    print("\n| reload | from | to | seconds |")
    print("|---|---|---|---|")
    for n, (previous, version, seconds) in enumerate(reloads, 1):
        print(f"| {n} | {previous} | {version} | {seconds:.2f} |")
    for t in traffic:
        for error in t.errors[:5]:
            print(f"{t.name} error: {error}")


if __name__ == "__main__":
    main()
