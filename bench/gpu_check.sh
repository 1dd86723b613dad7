#!/usr/bin/env bash
# The GPU path on one NVIDIA GPU, in under 8 minutes: install the gpu extra into a scratch venv,
# run the GPU unit tests' real counterpart (bench/gpu_index.py: IVF build, search, CPU round trip,
# CAGRA -> HNSW when faiss has cuVS) and print its table for docs/benchmarks.md.
#   bash bench/gpu_check.sh [N]        # N vectors, default 1000000
# A wheel folder (VITRINA_WHEELS=/path) is used first, for machines without a package index.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
venv="${TMPDIR:-/tmp}/vitrina-gpu-check"
find_links=()
if [ -n "${VITRINA_WHEELS:-}" ]; then find_links=(--find-links "$VITRINA_WHEELS"); fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -m venv "$venv"
"$venv/bin/pip" install -q "${find_links[@]}" torch==2.13.0
VITRINA_SKIP_WEB_BUILD=1 "$venv/bin/pip" install -q "${find_links[@]}" -e .
# faiss-gpu and faiss-cpu install the same module: replace, never install both.
"$venv/bin/pip" uninstall -q -y faiss-cpu
"$venv/bin/pip" install -q "${find_links[@]}" 'faiss-gpu==1.15.1'
"$venv/bin/python" -c "import faiss; print('faiss', faiss.__version__, 'GPUs:', faiss.get_num_gpus())"
timeout 420 "$venv/bin/python" bench/gpu_index.py --n "$n" --dim 384 --queries 10000
