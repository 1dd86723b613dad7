"""Text search under concurrency: each query encoded alone against queries batched as they arrive.

    python bench/query_batching.py --bundles bundles --collection openclipart --connections 1,4,16

Starts `vitrina serve` (one worker) twice on the collection: with VITRINA_QUERY_BATCH_MAX=1
(every request encodes its own query, as before micro-batching) and with the default lane of
up to 32 queries. wrk (2 threads) then posts text searches in the `text` space at each
--connections for --seconds; also the batch endpoint, 16 queries a request, whose requests/s
times 16 is its queries/s. Prints requests/s, p50 and p99, and queries/s relative to
unbatched at the same connections, all in one run.

    python bench/query_batching.py --bundles bundles --collection openclipart --runtimes torch,onnx \
        --encoder-threads 1,2

compares instead the query encoder's runtime (VITRINA_ENCODER_RUNTIME) and its threads
(VITRINA_ENCODER_THREADS), every server batching as queries arrive; the ratio column is then
against the first configuration.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _server import served
from workers import LUA, QUERIES, _lua_list, _run_wrk

BATCH_LUA = """
local queries = {QUERIES}
local n = 0
request = function()
  n = n + 1
  local picked = {}
  for i = 1, 16 do picked[i] = '"' .. queries[((n + i) % #queries) + 1] .. '"' end
  local body = '{"queries": [' .. table.concat(picked, ", ") .. '], "space": "text", "k": 10}'
  return wrk.format("POST", "/v1/search/text:batch", {["Content-Type"] = "application/json"}, body)
end
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundles", type=Path, default=Path("bundles"))
    parser.add_argument("--collection", default="openclipart")
    parser.add_argument("--connections", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--runtimes", help="compare query encoder runtimes, e.g. torch,onnx")
    parser.add_argument("--encoder-threads", default="0", help="with --runtimes: threads per encoder, e.g. 1,2")
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    if args.runtimes:
        configs = [(f"{runtime}, {threads or 'default'} encoder threads", {"VITRINA_ENCODER_RUNTIME": runtime,
                                                                            "VITRINA_ENCODER_THREADS": threads})
                   for runtime in args.runtimes.split(",") for threads in args.encoder_threads.split(",")]
    else:
        configs = [("each query alone", {"VITRINA_QUERY_BATCH_MAX": "1"}), ("batched as they arrive", {})]

    rows, unbatched = [], {}
    with tempfile.TemporaryDirectory() as folder:
        single = Path(folder) / "search.lua"
        single.write_text(LUA.replace("{IDS}", _lua_list(["unused"])).replace("{QUERIES}", _lua_list(QUERIES))
                          .replace("{KIND}", "search"))
        batch = Path(folder) / "batch.lua"
        batch.write_text(BATCH_LUA.replace("{QUERIES}", _lua_list(QUERIES)))
        for label, env in configs:
            with served(args.bundles, args.collection, env=env) as base:
                scripts = [("POST /v1/search/text", single, 1)]
                if env.get("VITRINA_QUERY_BATCH_MAX") != "1":
                    scripts.append(("POST /v1/search/text:batch (16 queries)", batch, 16))
                for request, script, per_request in scripts:
                    _run_wrk(base, script, connections[0], 3)  # warm-up
                    for c in connections:
                        result = _run_wrk(base, script, c, args.seconds)
                        queries = result["rps"] * per_request
                        unbatched.setdefault(c, queries)
                        rows.append((label, request, c, result, queries, queries / unbatched[c]))
    print(f"wrk, 2 threads, {args.seconds:.0f} s per row; collection {args.collection}, space text, one worker\n")
    print(f"| encoding | request | connections | req/s | queries/s | p50 ms | p99 ms | non-2xx | queries/s vs "
          f"{configs[0][0]} |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, request, c, result, queries, ratio in rows:
        print(f"| {label} | {request} | {c} | {result['rps']:.0f} | {queries:.0f} | {result['p50']:.1f} | "
              f"{result['p99']:.1f} | {result['errors']} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
