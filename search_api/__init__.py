"""Serving a bundle: one service layer (`SearchService`) exposed over REST and gRPC (`search_api.grpc`).

    settings = Settings(bundles_root="bundles", collection="museum")
    app = create_app(settings)                      # FastAPI; the bundle loads at startup
    service = SearchService(BundleHolder(), settings)  # the same operations without HTTP
"""
from vitrina.search_api.holder import BundleHolder
from vitrina.search_api.rest.app import create_app
from vitrina.search_api.service import SearchService
from vitrina.search_api.settings import Settings

__all__ = ["BundleHolder", "SearchService", "Settings", "create_app"]
