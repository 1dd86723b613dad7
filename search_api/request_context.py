"""What the transports learn about a request while the service answers it.

A transport opens a `RequestInfo` per request (`opened`); the holder notes the bundle version
a request's snapshot came from, so the access log names the version that answered without
every service method returning it (thumbnails and PNGs carry no version). A context variable
rather than an argument: REST copies the context into the worker thread that runs a handler,
and the object itself is shared, so what the service notes there the middleware reads after.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator


@dataclass
class RequestInfo:
    bundle_version: str | None = None


_CURRENT: ContextVar[RequestInfo | None] = ContextVar("vitrina_request", default=None)


@contextmanager
def opened() -> Iterator[RequestInfo]:
    info = RequestInfo()
    token = _CURRENT.set(info)
    try:
        yield info
    finally:
        try:
            _CURRENT.reset(token)
        except ValueError:
            # A streaming RPC's generator closed from another context (collected elsewhere):
            # that context never saw the value, so there is nothing to undo.
            pass


def note_version(version: str) -> None:
    """Called on every snapshot; outside a request (tests, the reloader) it does nothing."""
    info = _CURRENT.get()
    if info is not None:
        info.bundle_version = version
