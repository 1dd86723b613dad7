"""`--engine ray`: the embed stage's chunks encoded by an actor pool on Ray Data.

Only the encoding moves: the driver still reads the catalogue, resumes finished chunks, builds
the indexes and maps and commits the version exactly as a local build does. Ray Data gets one
row per pending chunk; `ChunkEncoder` actors load the encoder once, encode each chunk as the
local engine would and save its part file into the collection's chunk folder, which on a cluster
must be shared storage (the bundles volume). The driver then reads the part files back.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Callable

from tqdm.auto import tqdm

from vitrina.indexer.bundle.chunks import ChunkResult, ChunkStore, chunk_key
from vitrina.indexer.catalogue.base import Item
from vitrina.indexer.embed import EmbedSettings
from vitrina.indexer.engines.chunk_encoder import ChunkEncoder, EncoderRecipe, chunk_rows

log = logging.getLogger("vitrina.indexer")

# Ray only moves chunk descriptions and counts; the vectors go to the part files.
_LOCAL_OBJECT_STORE_BYTES = 256 * 2**20


class RayEngine:
    name = "ray"

    def __init__(self, factory: Callable[..., Any], address: str | None = None, actors: int = 1,
                 actor_cpus: int | None = None):
        import torch

        self.factory = factory
        self.address = address
        self.actors = actors
        # The local engine's thread count by default: the same threads give the same bits.
        self.actor_cpus = actor_cpus or torch.get_num_threads()
        self._started = False

    def _ray(self):
        import ray

        if ray.is_initialized():
            return ray
        if self.address or os.environ.get("RAY_ADDRESS"):
            ray.init(address=self.address, include_dashboard=False, logging_level=logging.WARNING)
        else:
            # A cluster of our own for this build. Its logical CPUs exceed the actors' needs, so
            # Ray Data's own tasks are never starved of a slot by the pool (they use little CPU).
            ray.init(num_cpus=self.actors * self.actor_cpus + 2, include_dashboard=False,
                     object_store_memory=_LOCAL_OBJECT_STORE_BYTES, logging_level=logging.WARNING)
        self._started = True
        log.info("ray connected", extra={"resources": ray.cluster_resources(), "actors": self.actors,
                                         "actor_cpus": self.actor_cpus})
        return ray

    def __call__(self, pending: dict[int, list[Item]], encoder, store: ChunkStore, settings: EmbedSettings,
                 bar: tqdm) -> dict[int, ChunkResult]:
        ray = self._ray()
        ray.data.DataContext.get_current().enable_progress_bars = False  # the build's bar counts items
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        recipe = EncoderRecipe.of(encoder, self.factory, threads=None if gpus else self.actor_cpus)
        encoded = ray.data.from_items(chunk_rows(pending), override_num_blocks=len(pending)).map_batches(
            ChunkEncoder, fn_constructor_args=(recipe, str(store.folder), settings),
            batch_size=1, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=self.actors),
            num_cpus=self.actor_cpus, num_gpus=gpus,
        )
        for row in encoded.iter_rows():
            bar.update(int(row["items"]))
        results = {index: store.load(chunk_key(chunk)) for index, chunk in pending.items()}
        missing = sorted(index for index, result in results.items() if result is None)
        if missing:
            raise RuntimeError(f"Ray finished, but chunks {missing} have no part file in {store.folder}: "
                               "is the chunk folder shared storage that every worker writes to?")
        return results  # type: ignore[return-value]

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False
