"""Catalogue adapters: turn a table, an image folder or openclipart into `Item`s.

    cat = open_catalogue("table:items.csv", text_columns=["title", "description"])
    items = collect(cat, limit=500)          # checked for duplicate ids
    fingerprint = catalogue_fingerprint(items)
    cat.report                                # counts of skipped rows, missing images ...
"""
from .base import Catalogue, CatalogueError, DuplicateIdError, Item, MetaValue
from .factory import SCHEMES, catalogue_fingerprint, collect, open_catalogue
from .folder import FolderCatalogue
from .openclipart import OpenClipartCatalogue, SvgMetadata, read_svg_metadata
from .table import TableCatalogue, TableColumns

__all__ = [
    "SCHEMES",
    "Catalogue",
    "CatalogueError",
    "DuplicateIdError",
    "FolderCatalogue",
    "Item",
    "MetaValue",
    "OpenClipartCatalogue",
    "SvgMetadata",
    "TableCatalogue",
    "TableColumns",
    "catalogue_fingerprint",
    "collect",
    "open_catalogue",
    "read_svg_metadata",
]
