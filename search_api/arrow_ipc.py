"""Arrow IPC streams written batch by batch, never whole in memory: REST sends the pieces as
the response body, gRPC as a stream of chunks."""
from __future__ import annotations

import io
from typing import Iterable, Iterator


class _Drain(io.RawIOBase):
    """A write-only file whose bytes are taken out after every write of the IPC writer."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def ipc_stream(schema, batches: Iterable) -> Iterator[bytes]:
    """The Arrow IPC stream format of `batches`: the schema, each batch as it comes, then the end marker."""
    import pyarrow as pa

    drain = _Drain()
    sink = pa.PythonFile(drain, mode="w")
    writer = pa.ipc.new_stream(sink, schema)
    closed = False
    try:
        yield drain.take()
        for batch in batches:
            writer.write_batch(batch)
            yield drain.take()
        writer.close()
        closed = True
        yield drain.take()
    finally:
        if not closed:  # the client went away mid-stream
            writer.close()
