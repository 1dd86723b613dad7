"""SearchService over the tiny bundle: ranks, filters, limits and typed errors, without HTTP."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import build_tiny_bundle
from tests.fakes import FakeFactory
from vitrina.search_api import BundleHolder, SearchService, Settings
from vitrina.search_api.errors import (
    ERROR_TABLE,
    BadImage,
    InvalidArgument,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    Unavailable,
    UnsupportedMedia,
    spec_for,
)
from vitrina.search_api import errors as errors_module

# Ids the REST routes must carry through paths: slashes, a space, a '#'.
ODD_IDS = ["animals/mammals/cat_01", "animals/mammals/dog_02", "plants/rose 2", "vehicles/car#3"]
NO_IMAGE_ID = "texts/no-image"


def build_odd_bundle(folder: Path) -> Path:
    """A bundle whose ids contain '/', and with one item whose image is missing."""
    images = folder / "catalogue" / "images"
    images.mkdir(parents=True)
    rows = []
    for n, item_id in enumerate([*ODD_IDS, NO_IMAGE_ID]):
        file = f"images/img{n}.png"
        if item_id != NO_IMAGE_ID:
            Image.new("RGB", (40, 20), (60 * n, 100, 200 - 40 * n)).save(folder / "catalogue" / file)
        category = item_id.split("/")[0]
        rows.append({"id": item_id, "title": item_id, "description": f"{category} thing", "image": file,
                     "category": category, "tags": "old", "year": str(1900 + n)})
    catalogue = folder / "catalogue" / "catalogue.csv"
    with open(catalogue, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    build_tiny_bundle(folder / "bundles", catalogue)
    return folder / "bundles"


MISLABELLED_ID = "plants-07"


def build_mislabelled_bundle(folder: Path, tiny_catalogue: Path) -> Path:
    """The tiny bundle with one plant labelled `category: vehicles`. Its picture is still green, so
    its image neighbours are plants: the label outlier the report must find."""
    import shutil

    shutil.copytree(tiny_catalogue.parent, folder / "catalogue")
    catalogue = folder / "catalogue" / "catalogue.csv"
    with open(catalogue, newline="") as fh:
        rows = list(csv.DictReader(fh))
    (planted,) = [row for row in rows if row["id"] == MISLABELLED_ID]
    planted["category"] = "vehicles"
    with open(catalogue, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    build_tiny_bundle(folder / "bundles", catalogue)
    return folder / "bundles"


def png_bytes(colour=(40, 180, 60), size=(24, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def holder(tiny_bundle) -> BundleHolder:
    holder = BundleHolder()
    holder.swap(tiny_bundle)
    return holder


@pytest.fixture(scope="module")
def service(holder) -> SearchService:
    return SearchService(holder, Settings(max_k=50, max_query_chars=40, max_upload_bytes=4096, max_image_pixels=10_000))


@pytest.fixture(scope="module")
def odd_service(tmp_path_factory) -> SearchService:
    holder = BundleHolder(encoder_factory=FakeFactory())
    holder.load(build_odd_bundle(tmp_path_factory.mktemp("odd")), "tiny")
    return SearchService(holder)


@pytest.fixture(scope="module")
def mislabelled_service(tmp_path_factory, tiny_catalogue) -> SearchService:
    holder = BundleHolder(encoder_factory=FakeFactory())
    holder.load(build_mislabelled_bundle(tmp_path_factory.mktemp("mislabelled"), tiny_catalogue), "tiny")
    return SearchService(holder, Settings(max_outliers=150))


def categories(hits) -> list[str]:
    return [h.metadata["category"] for h in hits.hits]


# -- errors table -------------------------------------------------------------------------


def test_every_service_error_has_its_own_row():
    classes = {c for c in vars(errors_module).values() if isinstance(c, type) and issubclass(c, ServiceError)}
    assert classes == set(ERROR_TABLE)
    assert spec_for(NotFound("item", "x")).http_status == 404
    assert spec_for(InvalidArgument("k", "bad")).http_status == 422


# -- items --------------------------------------------------------------------------------


def test_get_item(service, tiny_bundle):
    item = service.get_item("animals-00")
    assert item.bundle_version == tiny_bundle.version
    assert item.metadata["category"] == "animals"
    assert item.image_url == "/v1/items/animals-00/image"
    assert item.spaces == ["image", "text"]


def test_unknown_item_is_not_found(service):
    with pytest.raises(NotFound, match="item 'nope' not found"):
        service.get_item("nope")


def test_thumbnail_fits_the_asked_size_and_is_cached(service):
    thumb = service.thumbnail("plants-01", 16)
    assert Image.open(io.BytesIO(thumb.content)).format == "PNG"
    assert Image.open(io.BytesIO(thumb.content)).size == (16, 16)
    assert service.thumbnail("plants-01", 16) is thumb
    # Never enlarged: the source is 24x24.
    assert Image.open(io.BytesIO(service.thumbnail("plants-01", 256).content)).size == (24, 24)


@pytest.mark.parametrize("size", [15, 1025])
def test_thumbnail_size_out_of_range(service, size):
    with pytest.raises(InvalidArgument, match="size must be between 16 and 1024") as err:
        service.thumbnail("plants-01", size)
    assert err.value.field == "size"


# -- neighbours -----------------------------------------------------------------------------


def test_text_neighbours_top5_are_animals_and_exclude_the_item(service):
    hits = service.neighbours("animals-00", "text", k=5)
    assert len(hits.hits) == 5
    assert categories(hits) == ["animals"] * 5
    assert "animals-00" not in [h.id for h in hits.hits]
    assert [h.rank for h in hits.hits] == [1, 2, 3, 4, 5]
    assert all(a.score >= b.score for a, b in zip(hits.hits, hits.hits[1:]))


def test_image_neighbours_are_mostly_animals(service):
    hits = service.neighbours("animals-00", "image", k=10)
    assert len(hits.hits) == 10
    assert categories(hits).count("animals") >= 8
    assert "animals-00" not in [h.id for h in hits.hits]


def test_neighbours_with_filter_return_exactly_k_matches(service):
    hits = service.neighbours("animals-00", "image", k=7, filter={"category": "plants"})
    assert categories(hits) == ["plants"] * 7


def test_neighbours_filter_on_own_category_still_excludes_self(service):
    hits = service.neighbours("animals-00", "text", k=19, filter='{"category": "animals"}')
    ids = [h.id for h in hits.hits]
    assert len(ids) == 19 and "animals-00" not in ids


def test_filter_matching_fewer_than_k_returns_exactly_those(service, tiny_bundle):
    expected = {i for i, m in zip(tiny_bundle.items.ids, tiny_bundle.items.metadata) if 1950 <= m["year"] < 1960}
    hits = service.neighbours("animals-00", "image", k=20, filter={"year": {"gte": 1950, "lt": 1960}})
    assert {h.id for h in hits.hits} == expected
    assert len(expected) == 5


def test_neighbours_k_larger_than_the_space(holder):
    hits = SearchService(holder).neighbours("animals-00", "text", k=100).hits
    assert len(hits) == 59 and "animals-00" not in [h.id for h in hits]


def test_neighbours_unknown_item_and_space(service):
    with pytest.raises(NotFound, match="'nope'"):
        service.neighbours("nope", "image")
    with pytest.raises(InvalidArgument, match="unknown space 'nope'; this bundle has: image, text") as err:
        service.neighbours("animals-00", "nope")
    assert err.value.field == "space"


@pytest.mark.parametrize("k", [0, -1, 51])
def test_k_out_of_range(service, k):
    with pytest.raises(InvalidArgument, match=f"k must be between 1 and 50, got {k}") as err:
        service.neighbours("animals-00", "image", k=k)
    assert err.value.field == "k"


def test_item_without_a_vector_in_the_space(odd_service):
    with pytest.raises(NotFound, match="item in space 'image'"):
        odd_service.neighbours(NO_IMAGE_ID, "image")
    assert odd_service.get_item(NO_IMAGE_ID).image_url is None
    assert odd_service.get_item(NO_IMAGE_ID).spaces == ["text"]
    with pytest.raises(NotFound, match="image of item"):
        odd_service.thumbnail(NO_IMAGE_ID, 64)


def test_image_urls_quote_odd_ids(odd_service):
    urls = {h.id: h.image_url for h in odd_service.neighbours(ODD_IDS[0], "image", k=10).hits}
    assert urls["plants/rose 2"] == "/v1/items/plants/rose%202/image"
    assert urls["vehicles/car#3"] == "/v1/items/vehicles/car%233/image"


# -- label outliers --------------------------------------------------------------------------


@pytest.mark.parametrize("space", ["image", "text"])
def test_planted_mislabel_is_the_top_outlier(mislabelled_service, space):
    view = mislabelled_service.outliers(space, "category")
    assert (view.space, view.attribute) == (space, "category")
    top = view.outliers[0]
    assert (top.id, top.attribute, top.label, top.majority_label) == (MISLABELLED_ID, "category", "vehicles", "plants")
    assert top.majority_share >= 0.7 and top.confidence == top.majority_share - top.own_label_share
    assert top.title == "rose 7" and top.image_url == f"/v1/items/{MISLABELLED_ID}/image"
    assert view.total == len(view.outliers)
    # No attribute: every attribute's outliers of the space, in one ranking.
    assert mislabelled_service.outliers(space).outliers == view.outliers


def test_outliers_are_ranked_and_cut_at_limit(mislabelled_service):
    view = mislabelled_service.outliers("image", "category", limit=1)
    assert len(view.outliers) == 1 and view.total >= 1
    confidences = [o.confidence for o in mislabelled_service.outliers("image").outliers]
    assert confidences == sorted(confidences, reverse=True)


def test_a_clean_catalogue_has_no_outliers(service, tiny_bundle):
    view = service.outliers("image", "category")
    assert (view.bundle_version, view.total, view.outliers) == (tiny_bundle.version, 0, [])


def test_outliers_of_an_unknown_space_are_not_found(service):
    with pytest.raises(NotFound, match="space 'nope' not found"):
        service.outliers("nope", "category")


def test_outliers_of_an_unknown_attribute_name_the_field(service):
    # tags is a list and year a number: neither is a label attribute.
    for attribute in ("colour", "tags", "year"):
        with pytest.raises(InvalidArgument, match=f"unknown attribute '{attribute}'.*: category") as err:
            service.outliers("image", attribute)
        assert err.value.field == "attribute"


@pytest.mark.parametrize("limit", [0, -3, 151])
def test_outlier_limit_out_of_range(mislabelled_service, limit):
    with pytest.raises(InvalidArgument, match=f"limit must be between 1 and 150, got {limit}") as err:
        mislabelled_service.outliers("image", "category", limit=limit)
    assert err.value.field == "limit"


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
