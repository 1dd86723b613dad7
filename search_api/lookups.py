"""Finding what a request names in a bundle, with the error each miss is: shared by the
service's operations and the explanations, so an unknown id or space reads the same in both."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from vitrina.indexer.bundle.reader import Bundle, ItemRecord, Space
from vitrina.schemas import Modality
from vitrina.search_api.errors import InvalidArgument, NotFound
from vitrina.search_api.models import image_url


def record_of(bundle: Bundle, item_id: str) -> ItemRecord:
    record = bundle.items.get(item_id)
    if record is None:
        raise NotFound("item", item_id)
    return record


def item_row(bundle: Bundle, item_id: str) -> int:
    """The item's row in items.parquet; NotFound for an unknown item."""
    row = bundle.items.row_of.get(item_id)
    if row is None:
        raise NotFound("item", item_id)
    return row


def row_in(bundle: Bundle, space: Space, item_id: str) -> int:
    """The item's row in `space`: NotFound for an unknown item, and for one the space lacks
    (an item without a picture has no row in `image`)."""
    record_of(bundle, item_id)
    row = space.row_of.get(item_id)
    if row is None:
        raise NotFound(f"item in space {space.name!r}", item_id)
    return row


def local_image(record: ItemRecord) -> Path | None:
    # The reader nulls image_ref when the indexer flagged the image (missing, undecodable);
    # remote refs are not fetched.
    if not record.image_ref or "://" in record.image_ref:
        return None
    return Path(record.image_ref)


def image_path_of(bundle: Bundle, item_id: str) -> Path:
    path = local_image(record_of(bundle, item_id))
    if path is None:
        raise NotFound("image of item", item_id)
    return path


def space_of(bundle: Bundle, name: str, modality: Modality | None = None) -> Space:
    """The space called `name`, one that takes `modality` queries when given; InvalidArgument
    naming `space` (with the choices) otherwise."""
    space = bundle.spaces.get(name)
    if space is None:
        raise InvalidArgument("space", f"unknown space {name!r}; this bundle has: {', '.join(bundle.spaces)}")
    if modality is not None and modality not in space.manifest.encoders:
        accepting = [n for n, s in bundle.spaces.items() if modality in s.manifest.encoders]
        raise InvalidArgument(
            "space",
            f"space {name!r} takes no {modality.value} queries; "
            f"spaces that do: {', '.join(accepting) or '(none in this bundle)'}",
        )
    return space


def check_query(query: str | None, max_chars: int) -> None:
    if not query or not query.strip():
        raise InvalidArgument("query", "query is empty; send some words to search for")
    if len(query) > max_chars:
        raise InvalidArgument("query", f"query has {len(query)} characters, more than the limit of {max_chars}")


def item_fields(bundle: Bundle, record: ItemRecord) -> dict[str, Any]:
    """What an ItemView says of an item; an ItemCard adds its salient words."""
    return {
        "bundle_version": bundle.version,
        "id": record.id,
        "title": record.title,
        "text": record.text,
        "metadata": record.metadata,
        "image_url": image_url_of(record),
        "spaces": [name for name, space in bundle.spaces.items() if record.id in space.row_of],
    }


def image_url_of(record: ItemRecord) -> str | None:
    # The reader nulls image_ref when the indexer flagged the image (missing, undecodable).
    return image_url(record.id) if record.image_ref else None
