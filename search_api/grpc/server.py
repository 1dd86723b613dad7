"""`serve_grpc`: the Vitrina service, standard health checking and reflection on one grpc.Server."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from vitrina.search_api.grpc.interceptor import ServiceInterceptor
from vitrina.search_api.grpc.servicer import VitrinaServicer
from vitrina.search_api.holder import BundleHolder
from vitrina.search_api.service import SearchService
from vitrina.v1 import vitrina_pb2, vitrina_pb2_grpc

SERVICE = vitrina_pb2.DESCRIPTOR.services_by_name["Vitrina"]
SERVICE_NAME = SERVICE.full_name
# The fields of an image search besides the image itself.
MESSAGE_SLACK = 64 * 1024


def serve_grpc(
    service: SearchService,
    port: int,
    host: str = "127.0.0.1",
    max_workers: int = 8,
    max_concurrent_rpcs: int | None = None,
) -> grpc.Server:
    """Start serving `service` on host:port (0: a free port) and return the started server;
    its `bound_port` attribute is the port it listens on. Stop it with `server.stop(grace)`.

    Requests wait for one of `max_workers` threads; past `max_concurrent_rpcs` in flight
    (None: no limit) grpc refuses new ones with RESOURCE_EXHAUSTED.
    """
    server = grpc.server(
        ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="vitrina-grpc"),
        # grpc refuses a larger message (RESOURCE_EXHAUSTED) before reading it whole; a smaller
        # one over the upload limit reaches the service, which names the limit.
        options=[("grpc.max_receive_message_length", service.settings.max_upload_bytes + MESSAGE_SLACK)],
        maximum_concurrent_rpcs=max_concurrent_rpcs,
        # API keys, the request timeout, metrics and access logs, as REST's middleware.
        interceptors=[ServiceInterceptor(service, SERVICE, VitrinaServicer)],
    )
    vitrina_pb2_grpc.add_VitrinaServicer_to_server(VitrinaServicer(service), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    _follow_readiness(service.holder, health_servicer)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    server.bound_port = server.add_insecure_port(f"{host}:{port}")
    server.start()
    return server


def _follow_readiness(holder: BundleHolder, health_servicer: health.HealthServicer) -> None:
    """SERVING while a bundle is loaded, for the server as a whole ("") and for Vitrina."""
    lock = threading.Lock()  # a swap and a clear racing must not leave the older status set

    def update() -> None:
        with lock:
            status = health_pb2.HealthCheckResponse.SERVING if holder.ready else health_pb2.HealthCheckResponse.NOT_SERVING
            for name in (health.OVERALL_HEALTH, SERVICE_NAME):
                health_servicer.set(name, status)

    holder.subscribe(update)
