"""Training data built from a catalogue's items."""
from vitrina.training.data.text_views import (
    VIEW_KINDS,
    ItemViews,
    TextItem,
    TextViewError,
    build_text_views,
    item_views,
    read_text_items,
)

__all__ = ["VIEW_KINDS", "ItemViews", "TextItem", "TextViewError", "build_text_views", "item_views", "read_text_items"]
