"""Where a build's embedding chunks are encoded: in this process, or on a Ray cluster.

Every engine encodes each pending chunk the same way and saves it to the build's chunk store,
so the choice changes neither the key nor a single bit of the version.
"""
from __future__ import annotations

from typing import Any, Callable

from vitrina.indexer.embed import encode_locally

ENGINES = ("local", "ray")


class LocalEngine:
    name = "local"

    def __call__(self, *args, **kwargs):
        return encode_locally(*args, **kwargs)

    def close(self) -> None:
        pass


def open_engine(name: str, factory: Callable[..., Any], address: str | None = None, actors: int = 1,
                actor_cpus: int | None = None):
    if name == "ray":
        from vitrina.indexer.engines.ray_data import RayEngine

        return RayEngine(factory, address=address, actors=actors, actor_cpus=actor_cpus)
    return LocalEngine()
