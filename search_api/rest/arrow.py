"""Arrow for REST responses: content negotiation; the stream itself is written by arrow_ipc."""
from __future__ import annotations

from vitrina.search_api.arrow_ipc import ipc_stream

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


__all__ = ["ARROW_STREAM", "ipc_stream", "wants_arrow"]
