"""One router per resource; `ROUTERS` is what `create_app` mounts.

PROBES answer anyone (probes and scrapers carry no key); API routes check the API key of
their operation (deps.require_key)."""
from vitrina.search_api.rest.routes import admin, bundle, explain, health, items, metrics, search, spaces

PROBES = [health.router, metrics.router]
API = [bundle.router, bundle.columns_router, items.router, search.router, spaces.router, explain.router, admin.router]
ROUTERS = PROBES + API

__all__ = ["API", "PROBES", "ROUTERS"]
