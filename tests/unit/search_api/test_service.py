"""SearchService by item over the tiny bundle: the errors table, items, thumbnails, neighbours, label outliers."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.fakes import FakeFactory
from tests.unit.search_api._service_helpers import (
    MISLABELLED_ID,
    NO_IMAGE_ID,
    ODD_IDS,
    build_mislabelled_bundle,
    build_odd_bundle,
    categories,
)
from vitrina.search_api import BundleHolder, SearchService, Settings
from vitrina.search_api.errors import ERROR_TABLE, InvalidArgument, NotFound, ServiceError, spec_for
from vitrina.search_api import errors as errors_module


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
