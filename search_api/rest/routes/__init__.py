"""One router per resource; `ROUTERS` is what `create_app` mounts."""
from vitrina.search_api.rest.routes import bundle, health, items, search

ROUTERS = [health.router, bundle.router, items.router, search.router]

__all__ = ["ROUTERS"]
