"""The one piece of mutable server state: which bundle is being served.

A request takes one `Served` snapshot and uses only it, so a hot swap in the
middle of a request cannot mix two versions (vectors of one, items of another).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from vitrina.indexer.bundle.reader import Bundle
from vitrina.search_api.errors import Unavailable
from vitrina.search_api.filters import MetadataIndex
from vitrina.search_api.request_context import note_version

log = logging.getLogger("vitrina.search_api")


@dataclass(frozen=True)
class Served:
    """A bundle plus what the service derives from it once (filter columns)."""

    bundle: Bundle
    metadata: MetadataIndex

    @classmethod
    def of(cls, bundle: Bundle, filter_cache_entries: int = 256) -> "Served":
        return cls(bundle, MetadataIndex(bundle.items.metadata, cache_size=filter_cache_entries))


class BundleHolder:
    def __init__(
        self,
        encoder_factory: Callable[..., Any] | None = None,
        use_gpu: bool | None = None,
        filter_cache_entries: int = 256,
    ):
        self._encoder_factory = encoder_factory
        self._use_gpu = use_gpu
        self._filter_cache_entries = filter_cache_entries
        self._served: Served | None = None
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    @property
    def ready(self) -> bool:
        return self._served is not None

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener()` now and after every swap or clear (gRPC health follows `ready` so)."""
        self._listeners.append(listener)
        listener()

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def snapshot(self) -> Served:
        with self._lock:
            served = self._served
        if served is None:
            raise Unavailable("no bundle is loaded yet; retry when /readyz answers 200")
        note_version(served.bundle.version)
        return served

    def peek(self) -> Bundle | None:
        """The bundle served now (None: none), for listeners and metrics: not a request's
        snapshot, so it is neither counted nor noted as the version that answered."""
        served = self._served
        return None if served is None else served.bundle

    @property
    def version(self) -> str | None:
        """The version served now (None: none), without taking a snapshot that would pin it."""
        bundle = self.peek()
        return None if bundle is None else bundle.version

    def get(self) -> Bundle:
        return self.snapshot().bundle

    def swap(self, bundle: Bundle) -> Bundle | None:
        """Serve `bundle` from now on; returns the previous one (requests in flight keep it)."""
        served = Served.of(bundle, self._filter_cache_entries)
        with self._lock:
            previous, self._served = self._served, served
        log.info("serving bundle", extra={"collection": bundle.collection, "version": bundle.version})
        self._changed()
        return previous.bundle if previous else None

    def clear(self) -> None:
        with self._lock:
            self._served = None
        self._changed()

    def load(
        self,
        bundles_root: str | Path,
        collection: str,
        version: str | None = None,
        preload_encoders: bool = False,
    ) -> Bundle:
        """Open a version (CURRENT by default) fully, then swap it in; the old one serves meanwhile."""
        bundle = Bundle.open(
            bundles_root, collection, version=version, use_gpu=self._use_gpu, encoder_factory=self._encoder_factory
        )
        if preload_encoders:
            for space in bundle.spaces.values():
                space.preload_encoders()
        self.swap(bundle)
        return bundle
