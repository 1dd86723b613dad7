"""Arrow IPC streams for REST responses: written batch by batch, never whole in memory."""
from __future__ import annotations

import io
from typing import Iterable, Iterator

ARROW_STREAM = "application/vnd.apache.arrow.stream"


def wants_arrow(accept: str | None) -> bool:
    """True when the Accept header asks for the Arrow stream: listed with a q above 0 and
    at least that of application/json (JSON is the default; wildcards do not outbid Arrow)."""
    quality = {ARROW_STREAM: 0.0, "application/json": 0.0}
    for part in (accept or "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        media = media.lower()
        if media not in quality:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media] = max(quality[media], q)
    return quality[ARROW_STREAM] > 0 and quality[ARROW_STREAM] >= quality["application/json"]


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
