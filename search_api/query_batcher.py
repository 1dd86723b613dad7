"""Queries that arrive together are encoded together.

One text query through MiniLM on a CPU costs about as much as eight in one batch: the matrix
products are too small to keep the cores busy, and each call pays Python and tokenizer
overhead. So request threads do not call the encoder themselves. Each hands its query to the
encoder's lane and waits; one thread per lane takes whatever has queued (up to `max_batch`),
encodes it as one batch and hands each caller its row, as dynamic batching in Triton or Ray
Serve does. While a batch runs, the next one gathers, so batches grow with load and a lone
query waits for nobody (unless `window_s` asks the lane to wait that long for company).

A lane belongs to one encoder object and ends after IDLE_S without queries, so the encoders of
a version that was swapped out are not kept alive by it.
"""
from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from typing import Any

import numpy as np

IDLE_S = 30.0


class _Lane:
    def __init__(self, encoder: Any):
        self.encoder = encoder
        self.pending: queue.SimpleQueue[tuple[Any, Future]] = queue.SimpleQueue()


class QueryBatcher:
    """encode(encoder, query) -> float32 [1, dim], batched with concurrent queries to the same encoder."""

    def __init__(self, max_batch: int = 32, window_s: float = 0.0):
        if max_batch < 1 or window_s < 0:
            raise ValueError(f"max_batch must be >= 1 and window_s >= 0, got {max_batch}, {window_s}")
        self.max_batch = max_batch
        self.window_s = window_s
        self._lanes: dict[int, _Lane] = {}
        self._lock = threading.Lock()
        self.batches = 0  # encoder calls made, and queries they carried: for tests and metrics
        self.queries = 0

    def encode(self, encoder: Any, query: Any) -> np.ndarray:
        if self.max_batch == 1:
            return encoder.encode([query])
        done: Future = Future()
        with self._lock:
            lane = self._lanes.get(id(encoder))
            if lane is None or lane.encoder is not encoder:
                lane = self._lanes[id(encoder)] = _Lane(encoder)
                threading.Thread(target=self._serve, args=(lane,), name="query-batcher", daemon=True).start()
            lane.pending.put((query, done))
        return done.result()

    def _serve(self, lane: _Lane) -> None:
        while True:
            try:
                first = lane.pending.get(timeout=IDLE_S)
            except queue.Empty:
                with self._lock:
                    if lane.pending.empty():
                        if self._lanes.get(id(lane.encoder)) is lane:
                            del self._lanes[id(lane.encoder)]
                        return
                continue
            self._run(lane, self._gather(lane, first))

    def _gather(self, lane: _Lane, first: tuple[Any, Future]) -> list[tuple[Any, Future]]:
        batch = [first]
        deadline = time.monotonic() + self.window_s
        while len(batch) < self.max_batch:
            wait = deadline - time.monotonic()
            try:
                batch.append(lane.pending.get(timeout=wait) if wait > 0 else lane.pending.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self, lane: _Lane, batch: list[tuple[Any, Future]]) -> None:
        self.batches += 1
        self.queries += len(batch)
        try:
            vectors = lane.encoder.encode([query for query, _ in batch])
        except Exception as exc:  # noqa: BLE001 - re-raised in the caller's thread
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            # One bad query must not fail the others: find whose it was, one by one.
            for query, done in batch:
                self._settle(done, lane.encoder, query)
            return
        for row, (_, done) in enumerate(batch):
            done.set_result(vectors[row : row + 1])

    @staticmethod
    def _settle(done: Future, encoder: Any, query: Any) -> None:
        try:
            done.set_result(encoder.encode([query]))
        except BaseException as exc:  # noqa: BLE001 - the caller's thread re-raises it
            done.set_exception(exc)
