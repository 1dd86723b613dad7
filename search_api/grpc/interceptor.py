"""What every Vitrina RPC goes through around its servicer method: the API key check, the
server's request timeout, metrics and the access log line; REST does the same in its
middleware and `require_key` dependency. Health and reflection pass untouched.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from vitrina.search_api.auth import ADMIN_OPERATIONS, authorize, presented_key
from vitrina.search_api.errors import ServiceError
from vitrina.search_api.grpc.status import abort
from vitrina.search_api.observability import operation_of
from vitrina.search_api.request_context import opened
from vitrina.search_api.service import SearchService


class Budget:
    """A ServicerContext whose time_remaining also counts down the server's request timeout,
    so servicer.check_deadline applies whichever ends first."""

    def __init__(self, context: grpc.ServicerContext, timeout_s: float):
        self._context = context
        self._timeout_s = timeout_s
        self._deadline = time.monotonic() + timeout_s

    def time_remaining(self) -> float:
        return min(self._context.time_remaining(), max(self._deadline - time.monotonic(), 0.0))

    @property
    def expired_timeout_s(self) -> float | None:
        """The server's timeout once it has run out (check_deadline then answers as REST's 504)."""
        return self._timeout_s if time.monotonic() >= self._deadline else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class ServiceInterceptor(grpc.ServerInterceptor):
    def __init__(self, service: SearchService, descriptor: ServiceDescriptor, servicer_type: type):
        self.service = service
        # Full method name -> operation, from the service method each RPC is marked with; an
        # unmarked one goes by its RPC name, still checked (as a read) rather than skipped.
        self._operations = {
            f"/{descriptor.full_name}/{method.name}": operation_of(getattr(servicer_type, method.name)) or method.name
            for method in descriptor.methods
        }

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        operation = self._operations.get(handler_call_details.method)
        if handler is None or operation is None:
            return handler
        options = {"request_deserializer": handler.request_deserializer,
                   "response_serializer": handler.response_serializer}
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(self._unary(handler.unary_unary, operation), **options)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(self._stream(handler.unary_stream, operation), **options)
        return handler  # no client-streaming RPCs in the service

    def _unary(self, behaviour: Callable, operation: str) -> Callable:
        def observed(request, context):
            with self._observed(context, operation) as budgeted:
                return behaviour(request, budgeted)

        return observed

    def _stream(self, behaviour: Callable, operation: str) -> Callable:
        def observed(request, context):
            # Inside the generator, so the time and the code are those of the whole stream.
            with self._observed(context, operation) as budgeted:
                yield from behaviour(request, budgeted)

        return observed

    @contextmanager
    def _observed(self, context: grpc.ServicerContext, operation: str) -> Iterator[grpc.ServicerContext]:
        settings, started, code = self.service.settings, time.perf_counter(), "OK"
        with opened() as info:
            try:
                try:
                    authorize(settings, operation, presented_key(dict(context.invocation_metadata())))
                except ServiceError as error:
                    abort(context, error)
                timeout = settings.request_timeout_s
                # Admin calls are exempt, as on REST: a reload cannot stop halfway.
                yield Budget(context, timeout) if timeout and operation not in ADMIN_OPERATIONS else context
            except GeneratorExit:  # the client went away mid-stream
                code = grpc.StatusCode.CANCELLED.name
                raise
            except BaseException:
                code = (context.code() or grpc.StatusCode.UNKNOWN).name
                raise
            finally:
                self.service.metrics.observe("grpc", operation, code, time.perf_counter() - started, context.peer(),
                                             info.bundle_version)
