"""Helpers shared by the space-map tests: the tiny bundle's spaces and opening a bundle folder."""
from __future__ import annotations

from tests.fakes import FakeFactory
from vitrina.indexer.bundle.reader import Bundle

SPACES = ["image", "text"]


def open_bundle(root) -> Bundle:
    return Bundle.open(root, "tiny", encoder_factory=FakeFactory())
