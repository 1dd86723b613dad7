"""gRPC test helpers shared by the search_api tests: Struct filters, a query image, a fake servicer context."""
from __future__ import annotations

from google.protobuf import struct_pb2

from tests.unit.search_api._service_helpers import png_bytes

IMAGE = png_bytes((40, 60, 200))


def struct(value: dict) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(value)
    return out


class FakeContext:
    def __init__(self, remaining: float):
        self.remaining = remaining

    def time_remaining(self) -> float:
        return self.remaining

    def abort(self, code, details):
        raise RuntimeError(code, details)
