"""ASGI middleware of the REST app: access logs and metrics, and the request timeout.

Plain ASGI rather than BaseHTTPMiddleware: the timeout must answer while a handler's thread
is still running, and the access log must see streamed responses end.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import anyio
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vitrina.search_api.errors import DeadlineExceeded, spec_for
from vitrina.search_api.observability import Metrics, operation_of
from vitrina.search_api.request_context import opened
from vitrina.search_api.rest.errors import error_body

log = logging.getLogger("vitrina.search_api")
# Requests that matched no route (404, or refused by the body limit before routing).
UNROUTED = "other"


def _operation(scope: Scope) -> str | None:
    """The operation of the route that answered; None for routes that are no API operation
    (probes, /metrics, the docs), which are neither counted nor logged."""
    if "endpoint" not in scope:
        return UNROUTED
    return operation_of(scope["endpoint"])


class AccessLogMiddleware:
    """Counts and logs each API request once its answer is sent, whoever answered: the route,
    an error handler, the timeout or the body limit. The router fills `scope["endpoint"]` in
    the very dict passed down, so the operation is known by the time the answer goes out."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server sends when the app raises before answering
        recorded = False

        with opened() as info:

            def record() -> None:
                nonlocal recorded
                if recorded:
                    return
                recorded = True
                operation = _operation(scope)
                if operation is not None:
                    client = scope.get("client")
                    self.metrics.observe("rest", operation, str(status), time.perf_counter() - started,
                                         f"{client[0]}:{client[1]}" if client else None, info.bundle_version)

            async def observed_send(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)
                if message["type"] == "http.response.body" and not message.get("more_body", False):
                    record()  # at the last byte, not when the app returns (a timed-out one returns later)

            try:
                await self.app(scope, receive, observed_send)
            finally:
                record()


class TimeoutMiddleware:
    """504 with the error envelope when no answer has started within `timeout_s`.

    Sync handlers run in worker threads that cannot be interrupted, and awaiting one is not
    cancellable either, so the app runs in a task of its own and this one answers when the
    time is up; what the app sends later is dropped. The thread finishes its work (the
    timeout bounds the client's wait, not the CPU). Exempt operations (reload: a swap
    half-reported as failed would mislead) and answers that have started streaming run on.
    """

    def __init__(self, app: ASGIApp, timeout_s: float, exempt: Callable[[str | None], bool]):
        self.app = app
        self.timeout_s = timeout_s
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = abandoned = False
        failure: Exception | None = None
        done = anyio.Event()

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if abandoned:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def run() -> None:
            nonlocal failure
            try:
                await self.app(scope, receive, guarded_send)
            except Exception as exc:  # re-raised below as itself, not wrapped in an ExceptionGroup
                failure = exc
            finally:
                done.set()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(run)
            with anyio.move_on_after(self.timeout_s):
                await done.wait()
            if not done.is_set() and not started and not self.exempt(operation_of(scope.get("endpoint"))):
                abandoned = True
                error = DeadlineExceeded(f"no answer within the server's request timeout of {self.timeout_s:g} s")
                spec = spec_for(error)
                await JSONResponse(error_body(spec.code, error.message), status_code=spec.http_status)(
                    scope, receive, send)
                tasks.cancel_scope.cancel()  # takes effect once the handler's thread returns
        if failure is not None:
            if abandoned:
                log.warning("a request failed after its timeout answer", exc_info=failure)
            else:
                raise failure
