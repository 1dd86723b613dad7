"""One router per resource; `ROUTERS` is what `create_app` mounts."""
from vitrina.search_api.rest.routes import bundle, explain, health, items, search, spaces

ROUTERS = [health.router, bundle.router, items.router, search.router, spaces.router, explain.router]

__all__ = ["ROUTERS"]
