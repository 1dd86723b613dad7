"""Service errors on the gRPC wire, both ways.

The status code comes from `ERROR_TABLE`; the message starts with the offending field
("k: k must be between ..."), and trailing metadata carries the REST error code and the
field, so a client rebuilds the very error type REST clients get.
"""
from __future__ import annotations

from typing import NoReturn

import grpc

from vitrina.search_api.errors import ERROR_TABLE, ServiceError, error_from_wire, spec_for

CODE_KEY = "vitrina-error-code"
FIELD_KEY = "vitrina-error-field"
# REST's Retry-After header, for errors that say when to try again (a full queue).
RETRY_KEY = "vitrina-retry-after-s"
# Statuses grpc itself sets (a message over the size limit, a server that cannot be reached)
# carry no metadata; they read as the first error of the table with that status. Except
# DEADLINE_EXCEEDED: without metadata it is the client's own deadline, which stays an RpcError
# (as httpx's timeout stays httpx's); the server's request timeout sends the metadata.
_CLIENT_STATUSES = {"DEADLINE_EXCEEDED"}
_CODE_OF_STATUS = {
    spec.grpc_status: spec.code for spec in reversed(ERROR_TABLE.values()) if spec.grpc_status not in _CLIENT_STATUSES
}


def abort(context: grpc.ServicerContext, error: ServiceError) -> NoReturn:
    spec = spec_for(error)
    metadata = [(CODE_KEY, spec.code)]
    if error.field:
        metadata.append((FIELD_KEY, error.field))
    retry = getattr(error, "retry_after_s", None)
    if retry is not None:
        metadata.append((RETRY_KEY, str(retry)))
    context.set_trailing_metadata(metadata)
    message = f"{error.field}: {error.message}" if error.field else error.message
    context.abort(grpc.StatusCode[spec.grpc_status], message)


def error_from_rpc(error: grpc.RpcError) -> ServiceError | None:
    """The typed error a failed call stands for; None when it is no service error (a
    deadline, a cancellation): the caller re-raises the RpcError, as httpx's own errors."""
    trailing = dict(error.trailing_metadata() or ())
    code = trailing.get(CODE_KEY) or _CODE_OF_STATUS.get(error.code().name)
    if code is None:
        return None
    field = trailing.get(FIELD_KEY)
    message = error.details() or ""
    return with_retry(error_from_wire(code, message.removeprefix(f"{field}: ") if field else message, field),
                      trailing.get(RETRY_KEY))


def with_retry(error: ServiceError, retry_after_s: str | None) -> ServiceError:
    """`error` with the seconds to wait the server named, when it named any."""
    if retry_after_s is not None and retry_after_s.isdigit():
        error.retry_after_s = int(retry_after_s)
    return error
