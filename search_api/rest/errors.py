"""REST side of the error table: every failure leaves as {"error": {code, message, field}}."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vitrina.schemas.errors import FieldError
from vitrina.search_api.errors import ServiceError, Unauthenticated, from_field_error, spec_for

# Where a validation error's location starts; the rest of `loc` is the field path.
_LOC_SOURCES = {"body", "query", "path", "header", "cookie", "form"}
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media"}


def error_body(code: str, message: str, field: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "field": field}}


async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
    spec = spec_for(exc)
    retry = getattr(exc, "retry_after_s", None)
    headers = {"Retry-After": str(retry)} if retry is not None else {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="vitrina"'  # a 401 must name a scheme (RFC 9110)
    return JSONResponse(error_body(spec.code, exc.message, exc.field), status_code=spec.http_status, headers=headers)


async def _field_error(request: Request, exc: FieldError) -> JSONResponse:
    return await _service_error(request, from_field_error(exc))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        reason = first.get("ctx", {}).get("error", "invalid JSON")
        return JSONResponse(error_body("invalid_argument", f"request body is not valid JSON: {reason}"), 422)
    loc = [str(part) for part in first.get("loc", ())]
    if loc and loc[0] in _LOC_SOURCES:
        loc = loc[1:]
    field = ".".join(loc) or None
    message = f"{field}: {first.get('msg', 'invalid value')}" if field else first.get("msg", "invalid request")
    return JSONResponse(error_body("invalid_argument", message, field), status_code=422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "internal" if exc.status_code >= 500 else "bad_request")
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(FieldError, _field_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
