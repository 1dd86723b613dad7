"""IVF indexes whose inverted lists live on disk: filled shard by shard, then merged.

Adding to an on-disk index directly rewrites its lists again and again, so the supported path
(FAISS's `contrib.ondisk`) is: train once, fill a copy of the trained index per shard of rows,
write each shard, and merge all their lists into one `.ivfdata` file. The index file keeps only
the quantizers and the list offsets; the codes stay in the `.ivfdata` file beside it, which the
server memory-maps (VectorIndex.load reads it from the index's own folder).
"""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
from faiss.contrib.ondisk import merge_ondisk
from tqdm import tqdm

from vitrina.indexer.index.build import ADD_BATCH
from vitrina.indexer.index.vector_index import ivfdata_path

__all__ = ["build_ondisk_ivf", "ivfdata_path"]

SHARD_ROWS = 1_000_000


def build_ondisk_ivf(trained: faiss.Index, vectors: np.ndarray, index_path: Path, shard_rows: int = SHARD_ROWS,
                     progress: bool = True) -> faiss.Index:
    """Fill the trained, empty IVF index `trained` with `vectors` (row i gets id i), its lists
    merged into `<index_path>.ivfdata`; writes the index to `index_path` and returns it."""
    if faiss.extract_index_ivf(trained).ntotal != 0 or not trained.is_trained:
        raise ValueError("trained must be a trained, empty IVF index")
    index_path = Path(index_path)
    index_path.parent.mkdir(parents=True, exist_ok=True)
    shards = []
    with tqdm(total=len(vectors), desc="add shards", unit="vec", disable=not progress) as bar:
        for number, start in enumerate(range(0, len(vectors), shard_rows)):
            shard = faiss.clone_index(trained)
            for b0 in range(start, min(start + shard_rows, len(vectors)), ADD_BATCH):
                batch = np.ascontiguousarray(vectors[b0 : min(b0 + ADD_BATCH, start + shard_rows, len(vectors))])
                shard.add_with_ids(batch, np.arange(b0, b0 + len(batch), dtype=np.int64))
                bar.update(len(batch))
            path = index_path.with_name(f".{index_path.name}.shard{number:04d}")
            faiss.write_index(shard, str(path))
            shards.append(path)
            del shard
    merged = faiss.clone_index(trained)
    try:
        # VectorIndex.load looks for the lists file in the index's own folder (IO_FLAG_ONDISK_SAME_DIR).
        merge_ondisk(merged, [str(p) for p in shards], str(ivfdata_path(index_path)))
        faiss.write_index(merged, str(index_path))
    finally:
        for path in shards:
            path.unlink(missing_ok=True)
    return merged
