"""SearchService queries and state: text and image searches, the bundle holder, settings."""
from __future__ import annotations

import pytest

from tests.unit.search_api._service_helpers import categories, png_bytes
from vitrina.search_api import BundleHolder, SearchService, Settings
from vitrina.search_api.errors import (
    BadImage,
    InvalidArgument,
    PayloadTooLarge,
    Unavailable,
    UnsupportedMedia,
)


# -- text and image queries ------------------------------------------------------------------


def test_text_search_car_ranks_vehicles_first(service):
    hits = service.search_text("car", "text", k=4)
    assert categories(hits) == ["vehicles"] * 4
    assert all(h.title.startswith("car") for h in hits.hits)


def test_text_search_filters(service):
    hits = service.search_text("car", k=10, filter={"tags": "old"})
    assert len(hits.hits) == 10 and all("old" in h.metadata["tags"] for h in hits.hits)
    hits = service.search_text("car", k=10, filter={"year": {"gte": 1950, "lt": 1990}})
    assert len(hits.hits) == 10 and all(1950 <= h.metadata["year"] < 1990 for h in hits.hits)


@pytest.mark.parametrize("query", ["", "   \n"])
def test_empty_query(service, query):
    with pytest.raises(InvalidArgument, match="query is empty") as err:
        service.search_text(query)
    assert err.value.field == "query"


def test_query_too_long(service):
    with pytest.raises(InvalidArgument, match="41 characters, more than the limit of 40"):
        service.search_text("x" * 41)


def test_text_query_in_a_space_without_text_encoder(service):
    with pytest.raises(InvalidArgument, match="space 'image' takes no text queries; spaces that do: text") as err:
        service.search_text("car", "image")
    assert err.value.field == "space"


def test_image_search_ranks_same_colour_first(service):
    hits = service.search_image(png_bytes((40, 180, 60)), k=5)
    assert categories(hits) == ["plants"] * 5


def test_image_query_in_a_space_without_image_encoder(service):
    with pytest.raises(InvalidArgument, match="spaces that do: image"):
        service.search_image(png_bytes(), "text")


def test_image_upload_errors(service):
    with pytest.raises(BadImage, match="cannot decode"):
        service.search_image(b"not an image at all")
    with pytest.raises(BadImage, match="empty"):
        service.search_image(b"")
    with pytest.raises(PayloadTooLarge, match="over the limit of 4096 bytes"):
        service.search_image(b"\0" * 4097)
    with pytest.raises(PayloadTooLarge, match="over the cap of 10,000 pixels"):
        service.search_image(png_bytes(size=(101, 100)))
    with pytest.raises(UnsupportedMedia, match="text/plain"):
        service.search_image(png_bytes(), content_type="text/plain")
    # Clients that cannot type the file are not refused.
    assert service.search_image(png_bytes(), content_type="application/octet-stream").hits


# -- bundle and holder -----------------------------------------------------------------------


def test_bundle_info(service, tiny_bundle):
    info = service.bundle_info()
    assert (info.collection, info.version, info.items) == ("tiny", tiny_bundle.version, 60)
    assert info.current_version == tiny_bundle.version and info.versions == [tiny_bundle.version]
    spaces = {s.name: s for s in info.spaces}
    assert spaces["text"].query_modalities == ["text"] and spaces["text"].rows == 60
    assert spaces["image"].encoders[0].spec == "fake:image"


def test_no_bundle_is_unavailable():
    service = SearchService(BundleHolder())
    calls = (lambda: service.get_item("a"), lambda: service.search_text("car"), service.bundle_info,
             lambda: service.outliers("image"))
    for call in calls:
        with pytest.raises(Unavailable, match="no bundle is loaded"):
            call()


class CountingHolder(BundleHolder):
    def __init__(self):
        super().__init__()
        self.takes = 0

    def snapshot(self):
        self.takes += 1
        return super().snapshot()


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.get_item("animals-00"),
        lambda s: s.neighbours("animals-00", "image", 3, {"category": "plants"}),
        lambda s: s.search_text("car", "text", 3, {"tags": "old"}),
        lambda s: s.search_image(png_bytes(), "image", 3),
        lambda s: s.bundle_info(),
        lambda s: s.thumbnail("animals-01", 32),
        lambda s: s.neighbours("animals-00", "text", 3),
        lambda s: s.outliers("image", "category"),
        lambda s: s.projection("image"),
        lambda s: s.projection_columns("text", "pca", "kmeans"),
        lambda s: s.clusters("image"),
        lambda s: s.cluster_items("image", 0, limit=3),
    ],
)
def test_each_request_takes_the_bundle_once(tiny_bundle, call):
    """One snapshot per request: a hot swap cannot mix two versions inside it."""
    holder = CountingHolder()
    holder.swap(tiny_bundle)
    call(SearchService(holder))
    assert holder.takes == 1


def test_swap_returns_the_previous_bundle(tiny_bundle):
    holder = BundleHolder()
    assert not holder.ready and holder.swap(tiny_bundle) is None
    assert holder.ready and holder.swap(tiny_bundle) is tiny_bundle
    holder.clear()
    with pytest.raises(Unavailable):
        holder.get()


# -- settings --------------------------------------------------------------------------------


def test_settings_from_env_then_overrides(tmp_path):
    env = {"VITRINA_MAX_K": "77", "VITRINA_PRELOAD_ENCODERS": "false", "VITRINA_COLLECTION": "from-env"}
    settings = Settings.from_env(env, bundles_root=tmp_path, collection="tiny", preload_encoders=None)
    assert (settings.max_k, settings.preload_encoders, settings.collection) == (77, False, "tiny")


@pytest.mark.parametrize(
    "values, message",
    [
        ({"max_k": 0}, "greater than or equal to 1"),
        ({"collection": "tiny"}, "give both bundles_root and collection"),
        ({"bundles_root": ".", "collection": "../etc"}, "is not a valid name"),
        ({"thumbnail_min": 64, "thumbnail_max": 32}, "thumbnail_min"),
    ],
)
def test_settings_are_validated_at_startup(values, message):
    with pytest.raises(ValueError, match=message):
        Settings(**values)


def test_filter_matching_nothing_gives_no_hits(service):
    assert service.search_text("car", filter={"category": "fungi"}).hits == []
    # Only the item itself matches, and it is excluded.
    assert service.neighbours("animals-00", "text", filter={"year": 1900}).hits == []
    assert [h.id for h in service.neighbours("animals-00", "text", filter={"year": {"lte": 1902}}).hits] == ["animals-01"]
