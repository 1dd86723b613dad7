"""Typed errors of the service layer, and the one table that maps them to transports.

The service raises only these; REST and gRPC translate them through
`ERROR_TABLE`, so a status code is decided in exactly one place, and clients of
either transport rebuild them from the wire with `error_from_wire`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from vitrina.schemas.errors import FieldError

log = logging.getLogger("vitrina.search_api")


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


class TooManyRequests(ServiceError):
    """A bounded queue (explanations) is full; the client should retry later."""

    def __init__(self, message: str, retry_after_s: int = 1):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(ServiceError):
    """No bundle is loaded (starting up, or the last load failed)."""


class Unauthenticated(ServiceError):
    """The operation needs an API key and the request sent none, or one the server does not know."""


class PermissionDenied(ServiceError):
    """The operation is switched off on this server (admin calls while no API key is configured)."""


class DeadlineExceeded(ServiceError):
    """The server's own request timeout (Settings.request_timeout_s) passed before the answer."""


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    http_status: int
    # A grpc.StatusCode name; a name keeps this module free of the grpc import.
    grpc_status: str


ERROR_TABLE: dict[type[ServiceError], ErrorSpec] = {
    NotFound: ErrorSpec("not_found", 404, "NOT_FOUND"),
    InvalidArgument: ErrorSpec("invalid_argument", 422, "INVALID_ARGUMENT"),
    PayloadTooLarge: ErrorSpec("payload_too_large", 413, "RESOURCE_EXHAUSTED"),
    BadImage: ErrorSpec("bad_image", 400, "INVALID_ARGUMENT"),
    UnsupportedMedia: ErrorSpec("unsupported_media", 415, "INVALID_ARGUMENT"),
    TooManyRequests: ErrorSpec("too_many_requests", 429, "RESOURCE_EXHAUSTED"),
    Unavailable: ErrorSpec("unavailable", 503, "UNAVAILABLE"),
    Unauthenticated: ErrorSpec("unauthenticated", 401, "UNAUTHENTICATED"),
    PermissionDenied: ErrorSpec("permission_denied", 403, "PERMISSION_DENIED"),
    DeadlineExceeded: ErrorSpec("deadline_exceeded", 504, "DEADLINE_EXCEEDED"),
    ServiceError: ErrorSpec("internal", 500, "INTERNAL"),
}


def spec_for(error: ServiceError) -> ErrorSpec:
    """The row for `error`, walking its MRO so subclasses inherit their parent's row."""
    for cls in type(error).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    raise TypeError(f"{type(error).__name__} is not a ServiceError")


def from_field_error(error: FieldError) -> ServiceError:
    """What a library's FieldError that reached a transport tells the client.

    A value from the request (no `path`) is the client's to fix: invalid_argument, naming the
    field. A value read from a stored file is the server's problem, so it stays internal.
    """
    if error.path is None:
        return InvalidArgument(error.field, str(error))
    log.error("a bundle file holds a value the server cannot use", extra={"error": str(error)})
    return ServiceError("the bundle holds a value the server cannot use; the server log has the details")


def error_from_wire(code: str, message: str, field: str | None = None) -> ServiceError:
    """The typed error a transport's (code, message, field) stands for, as clients raise it.

    Built without the class's own __init__ (NotFound's takes what and id, which the wire does
    not carry): `message` and `field` are as the server sent them. Unknown codes give ServiceError.
    """
    cls = next((c for c, spec in ERROR_TABLE.items() if spec.code == code), ServiceError)
    error = cls.__new__(cls)
    ServiceError.__init__(error, message, field)
    return error
