"""A bounded worker pool for explanations, so they cannot starve search.

An explanation runs tens of forward and backward passes; searches run one forward pass or
none. Explanations therefore run on their own few threads, and at most `queue` more wait:
beyond that a request is refused at once (429 / RESOURCE_EXHAUSTED) instead of piling up
behind the others and holding a transport thread that a search needs.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable, TypeVar

from vitrina.search_api.errors import TooManyRequests, Unavailable

T = TypeVar("T")


class ExplainPool:
    def __init__(self, workers: int, queue: int, timeout_s: float):
        self.workers = workers
        self.capacity = workers + queue
        self.timeout_s = timeout_s
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="explain")
        # Explanations holding a slot (running or waiting), for the metrics' gauges.
        self._in_use = 0
        self._count_lock = threading.Lock()

    @property
    def waiting(self) -> int:
        """Explanations queued for a worker (approximate: a finished one frees its slot a moment late)."""
        return max(0, self._in_use - self.workers)

    @property
    def running(self) -> int:
        return min(self._in_use, self.workers)

    def _count(self, change: int) -> None:
        with self._count_lock:
            self._in_use += change

    def run(self, work: Callable[[], T]) -> T:
        """work() on a pool thread; TooManyRequests when `capacity` explanations are already
        running or waiting, Unavailable when it does not finish within timeout_s."""
        if not self._slots.acquire(blocking=False):
            raise TooManyRequests(
                f"{self.capacity} explanations are running or queued (limit); retry shortly", retry_after_s=1
            )
        self._count(1)
        try:
            future = self._executor.submit(work)
        except BaseException:
            self._release()
            raise
        # The slot is freed when the work ends, not when the caller stops waiting: a timed-out
        # explanation still occupies its thread until it finishes.
        future.add_done_callback(lambda _: self._release())
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            raise Unavailable(f"explanation did not finish within {self.timeout_s:g} s; try fewer steps") from None

    def _release(self) -> None:
        self._count(-1)
        self._slots.release()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
