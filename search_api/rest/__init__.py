"""The REST transport (FastAPI) over `SearchService`."""
from vitrina.search_api.rest.app import create_app

__all__ = ["create_app"]
