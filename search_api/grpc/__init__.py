"""The gRPC transport over `SearchService`: proto/vitrina/v1 is its contract.

    from vitrina.search_api.grpc import serve_grpc
    server = serve_grpc(service, port=50051)   # started; server.bound_port is the port
    server.wait_for_termination()
"""
from typing import Any

__all__ = ["serve_grpc"]


def __getattr__(name: str) -> Any:
    # Imported lazily: `codegen` lives in this package and must run while the generated
    # code it replaces is missing or broken.
    if name == "serve_grpc":
        from vitrina.search_api.grpc.server import serve_grpc

        return serve_grpc
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
