"""Typed errors of the service layer, and the one table that maps them to transports.

The service raises only these; REST (and later gRPC) translate them through
`ERROR_TABLE`, so a status code is decided in exactly one place.
"""
from __future__ import annotations

from dataclasses import dataclass


class ServiceError(Exception):
    """Base of every error a client can cause or be told about."""

    field: str | None = None

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field


class NotFound(ServiceError):
    def __init__(self, what: str, id: str):
        super().__init__(f"{what} {id!r} not found")
        self.what = what
        self.id = id


class InvalidArgument(ServiceError):
    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)


class PayloadTooLarge(ServiceError):
    def __init__(self, limit: int, message: str | None = None):
        super().__init__(message or f"payload is larger than the limit of {limit} bytes")
        self.limit = limit


class BadImage(ServiceError):
    """The upload is not an image we can decode."""

    field = "file"


class UnsupportedMedia(ServiceError):
    """The upload declares a content type that is not an image at all."""

    field = "file"


class Unavailable(ServiceError):
    """No bundle is loaded (starting up, or the last load failed)."""


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    http_status: int
    # A `grpc_status` column joins here when the gRPC transport lands.


ERROR_TABLE: dict[type[ServiceError], ErrorSpec] = {
    NotFound: ErrorSpec("not_found", 404),
    InvalidArgument: ErrorSpec("invalid_argument", 422),
    PayloadTooLarge: ErrorSpec("payload_too_large", 413),
    BadImage: ErrorSpec("bad_image", 400),
    UnsupportedMedia: ErrorSpec("unsupported_media", 415),
    Unavailable: ErrorSpec("unavailable", 503),
    ServiceError: ErrorSpec("internal", 500),
}


def spec_for(error: ServiceError) -> ErrorSpec:
    """The row for `error`, walking its MRO so subclasses inherit their parent's row."""
    for cls in type(error).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    raise TypeError(f"{type(error).__name__} is not a ServiceError")
