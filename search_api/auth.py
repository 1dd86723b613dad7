"""API keys: who may reload, and (with require_key_for_reads) who may read.

One check for both transports; each only finds the presented key in its own headers or
metadata (`presented_key`). Admin operations are refused outright while no key is
configured, so a server started without thinking about keys is not open to reloads.
"""
from __future__ import annotations

import hmac
from pathlib import Path
from typing import Iterable, Mapping

from vitrina.search_api.errors import PermissionDenied, Unauthenticated
from vitrina.search_api.settings import Settings

# Operations (SearchService method names) that change what the server does.
ADMIN_OPERATIONS = frozenset({"reload"})
API_KEY_HEADER = "x-api-key"


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key in `X-API-Key` or `Authorization: Bearer <key>` (header names in lower case, as
    both HTTP and gRPC metadata deliver them)."""
    key = headers.get(API_KEY_HEADER)
    if key:
        return key.strip()
    scheme, _, credentials = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def authorize(settings: Settings, operation: str | None, key: str | None) -> None:
    """Raise unless a request for `operation` with `key` may go on. None: an operation the
    transport could not name (a route added without one), treated as a read."""
    admin = operation in ADMIN_OPERATIONS
    if not admin and not settings.require_key_for_reads:
        return
    if not settings.api_keys:
        # Settings refuses require_key_for_reads without keys, so only admin calls get here.
        raise PermissionDenied("admin API disabled: configure an API key (VITRINA_API_KEYS or --api-key)")
    if key is None:
        raise Unauthenticated("this operation needs an API key: send it as X-API-Key or Authorization: Bearer")
    if not _known(key, settings.api_keys):
        raise Unauthenticated("the API key is not valid")


def _known(key: str, keys: Iterable[str]) -> bool:
    # compare_digest against every key: the time taken says nothing about how close a guess came.
    presented = key.encode()
    return any([hmac.compare_digest(presented, known.encode()) for known in keys])


def read_keys_file(path: Path) -> list[str]:
    """One key per line; blank lines and lines starting with '#' are skipped."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]
