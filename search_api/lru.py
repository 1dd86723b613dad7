"""A small thread-safe LRU map, for values that are costly to rebuild (filter masks, thumbnails)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def discard_if(self, stale: Callable[[K, V], bool]) -> list[K]:
        """Drop the entries `stale(key, value)` picks (an old bundle version's); their keys."""
        with self._lock:
            keys = [key for key, value in self._data.items() if stale(key, value)]
            for key in keys:
                del self._data[key]
        return keys
