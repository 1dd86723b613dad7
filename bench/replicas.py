"""Two replicas behind an ordinary load balancer (HAProxy) while CURRENT moves back and forth.

    python bench/replicas.py --bundles bundles --collection openclipart --seconds 60 --swaps 4

Starts two independent `vitrina serve --watch-current 1` processes on the collection (what two
Kubernetes pods do) and Debian's HAProxy in front of them (round robin, a new backend choice
per request; the script installs `haproxy` when it is missing). Then:
1. the same requests sent to each replica directly must get the same answers (ids and scores);
2. client threads send the swap benchmark's request mix through HAProxy for --seconds while
   the script publishes the other version (`--other`, default CURRENT's parent) and back,
   --swaps times, with `index publish`'s atomic CURRENT switch and no reload call: each replica
   follows CURRENT by itself.
Prints requests, errors (must be 0), p50/p99 and how many answers each version gave, per
replica as seen through the balancer.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from _server import free_port, served
from swap import QUERIES, Traffic, swap_arguments, versions_to_swap
from _stats import percentile

HAPROXY = """
global
  maxconn 256
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-server-close
frontend api
  bind 127.0.0.1:{port}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /readyz
  server a 127.0.0.1:{a} check inter 1s
  server b 127.0.0.1:{b} check inter 1s
"""


def _haproxy() -> str:
    found = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(found).exists():
        subprocess.run(["apt-get", "install", "-y", "-q", "haproxy"], check=True, capture_output=True)
    return found


def _same_answers(a: str, b: str, ids: list[str]) -> int:
    from vitrina.search_api.client import RestClient

    with RestClient(a) as one, RestClient(b) as two:
        for item in ids[:20]:
            left, right = one.neighbours(item, space="image", k=10), two.neighbours(item, space="image", k=10)
            assert [(h.id, h.score) for h in left.hits] == [(h.id, h.score) for h in right.hits], item
        for query in QUERIES:
            left, right = one.search_text(query, space="text", k=10), two.search_text(query, space="text", k=10)
            assert [(h.id, h.score) for h in left.hits] == [(h.id, h.score) for h in right.hits], query
    return 20 + len(QUERIES)


def main() -> None:
    parser = swap_arguments(__doc__)
    parser.add_argument("--clients", type=int, default=4, help="Client threads through the balancer")
    args = parser.parse_args()

    from vitrina.indexer.publishing import publish_version
    from vitrina.schemas import Manifest
    from vitrina.search_api.client import RestClient

    coll, first, other = versions_to_swap(args)
    watch = ("--watch-current", "1")
    with served(args.bundles, args.collection, *watch) as a, served(args.bundles, args.collection, *watch) as b, \
            tempfile.TemporaryDirectory() as folder:
        port = free_port()
        config = Path(folder) / "haproxy.cfg"
        config.write_text(HAPROXY.format(port=port, a=a.rsplit(":", 1)[1], b=b.rsplit(":", 1)[1]))
        balancer = subprocess.Popen([_haproxy(), "-f", str(config)])
        time.sleep(2)
        base = f"http://127.0.0.1:{port}"
        try:
            with RestClient(base) as probe:
                hits = {h.id for q in QUERIES for h in probe.search_text(q, space="text", k=50).hits}
                ids = sorted(i for i in hits if {"image", "text"} <= set(probe.get_item(i).spaces))
            compared = _same_answers(a, b, ids)
            stop = threading.Event()
            # Text searches only in spaces both versions have (a joint space may be new in one).
            spaces = tuple(s for s in ("text", "joint") if all(
                s in Manifest.read(coll.version(v).manifest).spaces for v in (first, other)))
            traffic = Traffic("REST via HAProxy", lambda: RestClient(base), ids, args.clients, stop, spaces)
            for thread in traffic.threads:
                thread.start()
            started, switches = time.perf_counter(), []
            for n, version in enumerate(([other, first] * args.swaps)[: args.swaps]):
                time.sleep(max(0.0, started + (n + 1) * args.seconds / (args.swaps + 1) - time.perf_counter()))
                publish_version(coll, version, force=True)
                switches.append((round(time.perf_counter() - started, 1), version))
            time.sleep(max(0.0, started + args.seconds - time.perf_counter()))
            stop.set()
            for thread in traffic.threads:
                thread.join(60)
            elapsed = time.perf_counter() - started
        finally:
            balancer.terminate()
            balancer.wait(timeout=10)
            if coll.current() != first:
                publish_version(coll, first, force=True)
    lat = traffic.latencies or [float("nan")]
    print(f"two replicas (--watch-current 1) behind HAProxy round robin; {args.clients} client threads, "
          f"{args.seconds:.0f} s, CURRENT switched {len(switches)} times between {first} and {other}\n")
    print(f"same answers from both replicas directly: {compared} requests compared, all identical\n")
    print("| requests | errors | p50 ms | p99 ms | req/s | answers per version |")
    print("|---:|---:|---:|---:|---:|---|")
    print(f"| {len(traffic.latencies) + len(traffic.errors)} | {len(traffic.errors)} | {sorted(lat)[len(lat) // 2]:.1f} | "
          f"{percentile(lat, 0.99):.1f} | {len(traffic.latencies) / elapsed:.0f} | "
          f"{', '.join(f'{v[-6:]}: {c}' for v, c in sorted(traffic.versions.items()))} |")
    print("\nswitches (seconds into the run, version): " + ", ".join(f"{t} s {v[-6:]}" for t, v in switches))
    for error in traffic.errors[:5]:
        print("error:", error)


if __name__ == "__main__":
    main()
