"""Prometheus metrics and access logs, the same for both transports.

Operations are named after the SearchService method a transport handler calls (`serves`), so
GET /v1/items/{id}/neighbours and the GetNeighbours RPC both count as "neighbours" and a
dashboard can add the transports up. Each service has its own CollectorRegistry: two apps
in one process (tests) never share counters, and nothing registers globally.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest


F = TypeVar("F", bound=Callable[..., Any])
access_log = logging.getLogger("vitrina.access")

# From sub-millisecond lookups (precomputed neighbours) to explanations and reloads.
SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def serves(method: Callable[..., Any]) -> Callable[[F], F]:
    """Mark a REST route or gRPC method as exposing the service method `method`, whose name
    becomes the operation of its metrics, access log lines and authorisation."""
    name = method.__name__

    def mark(handler: F) -> F:
        handler.operation = name  # type: ignore[attr-defined]
        return handler

    return mark


def operation_of(handler: Any) -> str | None:
    return getattr(handler, "operation", None)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("vitrina_requests", "Requests answered, by transport, operation and status code",
                                ("transport", "operation", "code"), registry=r)
        self.seconds = Histogram("vitrina_request_seconds", "Time from a request's arrival to its answer",
                                 ("transport", "operation"), buckets=SECONDS_BUCKETS, registry=r)
        self.bundle = Gauge("vitrina_bundle_info", "1 for the bundle version being served", ("collection", "version"),
                            registry=r)
        self.reloads = Counter("vitrina_reloads", "Reloads by result: loaded, unchanged or failed", ("result",),
                               registry=r)
        self._bundle_lock = threading.Lock()

    def follow_holder(self, holder) -> None:
        """Keep vitrina_bundle_info on the served version (one series; none while nothing is loaded)."""

        def update() -> None:
            with self._bundle_lock:  # two swaps racing must not leave two versions at 1
                self.bundle.clear()
                bundle = holder.peek()
                if bundle is None:
                    return
                self.bundle.labels(bundle.collection, bundle.version).set(1)

        holder.subscribe(update)

    def follow_explanations(self, pool) -> None:
        # Read at scrape time, so the pool counts nothing on its own behalf.
        Gauge("vitrina_explain_queue", "Explanations waiting for a worker", registry=self.registry).set_function(
            lambda: pool.waiting)
        Gauge("vitrina_explain_running", "Explanations being computed", registry=self.registry).set_function(
            lambda: pool.running)

    def observe(self, transport: str, operation: str, code: str, seconds: float, client: str | None,
                bundle_version: str | None) -> None:
        """Count one answered request and write its access log line."""
        self.requests.labels(transport, operation, code).inc()
        self.seconds.labels(transport, operation).observe(seconds)
        access_log.info("request", extra={
            "transport": transport, "operation": operation, "code": code, "ms": round(seconds * 1000, 2),
            "bundle_version": bundle_version, "client": client,
        })

    def exposition(self) -> tuple[bytes, str]:
        """The text format and its content type, for GET /metrics."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
