"""Request body size limit, enforced before the body is read.

FastAPI's own `max_body_size` does the same counting, but when a request
declares an oversized Content-Length it swaps any response for a plain-text
413, bypassing the error envelope; this middleware answers in the envelope.
"""
from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vitrina.search_api.rest.errors import error_body


class BodyTooLarge(HTTPException):
    # An HTTPException, because FastAPI re-raises those from body parsing (to the
    # envelope handler) where any other exception would become a 400.
    def __init__(self, limit: int):
        super().__init__(413, f"request body is larger than the limit of {limit} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            # Refused from the header alone: not one byte of the body is read.
            error = BodyTooLarge(self.max_bytes)
            await JSONResponse(error_body("payload_too_large", error.detail), status_code=413)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counting_receive, send)
