"""Throughput of `vitrina serve --workers N` against one worker, measured with wrk.

    python bench/workers.py --bundles bundles --collection openclipart --workers 1,2 --seconds 20

For each worker count the server starts on the collection, then wrk (a C load generator; the
script installs Debian's `wrk` when it is missing) runs at each --connections for --seconds per
request kind, with two client threads:
- `neighbours`: GET /v1/items/{id}/neighbours?space=text&k=10, a precomputed neighbourhood;
- `item`: GET /v1/items/{id}, metadata only;
- `search`: POST /v1/search/text in the text space (encodes the query).
The ids and queries rotate through a Lua script. Prints requests/s, p50 and p99 per row, and
each worker count's requests/s relative to one worker; plus the resident memory of all the
server's processes together once it is warm.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx
from _server import served

QUERIES = ["cat", "red car", "flower", "house", "christmas tree", "coffee cup", "bicycle", "fish"]
LUA = """
local ids = {IDS}
local queries = {QUERIES}
local kind = "{KIND}"
local n = 0
request = function()
  n = n + 1
  local id = ids[(n % #ids) + 1]
  if kind == "neighbours" then
    return wrk.format("GET", "/v1/items/" .. id .. "/neighbours?space=text&k=10")
  elseif kind == "item" then
    return wrk.format("GET", "/v1/items/" .. id)
  end
  local body = '{"query": "' .. queries[(n % #queries) + 1] .. '", "space": "text", "k": 10}'
  return wrk.format("POST", "/v1/search/text", {["Content-Type"] = "application/json"}, body)
end
"""


def _wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    return found


def _lua_list(values: list[str]) -> str:
    return "{" + ", ".join(json.dumps(v) for v in values) + "}"


def _run_wrk(base: str, script: Path, connections: int, seconds: float) -> dict[str, float]:
    out = subprocess.run([_wrk(), "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds:.0f}s", "--latency",
                          "-s", str(script), base], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def ms(label: str) -> float:
        value, unit = re.search(rf"\s{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"rps": rate, "p50": ms("50%"), "p99": ms("99%"), "errors": int(errors.group(1)) if errors else 0}


def _rss_mib(base_pid: int) -> float:
    pids = [base_pid] + [int(p) for p in Path(f"/proc/{base_pid}/task/{base_pid}/children").read_text().split()]
    return sum(int(Path(f"/proc/{p}/statm").read_text().split()[1]) * 4096 for p in pids) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundles", type=Path, default=Path("bundles"))
    parser.add_argument("--collection", default="openclipart")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--connections", default="4,16")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    connections = [int(c) for c in args.connections.split(",")]

    rows, base_rate = [], {}
    with tempfile.TemporaryDirectory() as folder:
        for workers in counts:
            with served(args.bundles, args.collection, "--workers", str(workers)) as base:
                ids = [h["id"] for q in QUERIES for h in httpx.post(
                    f"{base}/v1/search/text", json={"query": q, "space": "text", "k": 20},
                    timeout=60).json()["hits"]]
                pid = int(subprocess.run(["pgrep", "-f", "--", f"--port {base.rsplit(':', 1)[1]}"], capture_output=True,
                                         text=True).stdout.split()[0])
                for kind in ("neighbours", "item", "search"):
                    script = Path(folder) / f"{kind}.lua"
                    script.write_text(LUA.replace("{IDS}", _lua_list(ids)).replace("{QUERIES}", _lua_list(QUERIES))
                                      .replace("{KIND}", kind))
                    _run_wrk(base, script, connections[0], 3)  # warm-up: first queries, caches
                    for c in connections:
                        result = _run_wrk(base, script, c, args.seconds)
                        base_rate.setdefault((kind, c), result["rps"])
                        rows.append((workers, kind, c, result, result["rps"] / base_rate[(kind, c)]))
                memory = _rss_mib(pid)
                rows.append((workers, "memory", 0, {"rss": memory}, 0))
    print(f"wrk, 2 threads, {args.seconds:.0f} s per row; collection {args.collection}\n")
    print("| workers | request | connections | req/s | p50 ms | p99 ms | non-2xx | vs 1 worker |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for workers, kind, c, result, ratio in rows:
        if kind == "memory":
            print(f"| {workers} | resident memory, all processes | | {result['rss']:.0f} MiB | | | | |")
            continue
        print(f"| {workers} | {kind} | {c} | {result['rps']:.0f} | {result['p50']:.1f} | {result['p99']:.1f} | "
              f"{result['errors']} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
