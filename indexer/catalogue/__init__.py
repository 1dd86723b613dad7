"""Catalogue adapters: turn a table, an image folder or openclipart into `Item`s.

    cat = open_catalogue("table:items.csv", text_columns=["title", "description"])
    items = collect(cat, limit=500)          # checked for duplicate ids
    fingerprint = catalogue_fingerprint(items)
    cat.report                                # counts of skipped rows, missing images ...
"""
from vitrina.indexer.catalogue.base import Catalogue, CatalogueError, DuplicateIdError, Item, MetaValue
from vitrina.indexer.catalogue.factory import SCHEMES, catalogue_fingerprint, collect, open_catalogue
from vitrina.indexer.catalogue.folder import FolderCatalogue
from vitrina.indexer.catalogue.openclipart import OpenClipartCatalogue, SvgMetadata, read_svg_metadata
from vitrina.indexer.catalogue.table import TableCatalogue, TableColumns

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
