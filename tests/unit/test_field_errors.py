"""One error shape across the layers: FieldError names the field, and both transports map it."""
from __future__ import annotations

import grpc
import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeFactory
from tests.unit.search_api.test_grpc import FakeContext
from vitrina.schemas.errors import InvalidFieldError
from vitrina.schemas import SchemaMismatchError
from vitrina.schemas.bundle_layout import CollectionPaths
from vitrina.schemas.errors import FieldError
from vitrina.search_api import Settings, create_app
from vitrina.search_api.grpc.servicer import call
from vitrina.training.checkpoint import CheckpointError
from vitrina.training.data.labelled_images import DatasetError
from vitrina.training.heads import HeadConfigError
from vitrina.training.rebalance import RebalanceConfigError
from vitrina.training.recipes.align import AlignConfigError
from vitrina.training.recipes.classify import ClassifyConfigError


@pytest.mark.parametrize(
    "error, message",
    [
        (AlignConfigError("epochs", "must be at least 1"), "epochs: must be at least 1"),
        (ClassifyConfigError("heads", "is empty"), "classify.heads: is empty"),
        (RebalanceConfigError("min_count", "must be >= 1"), "rebalance.min_count: must be >= 1"),
        (HeadConfigError("kind", "is unknown"), "head config field 'kind': is unknown"),
        (CheckpointError("/c", "dim", "is missing"), "/c: field 'dim' is missing"),
        (SchemaMismatchError("/f.parquet", "id", "is missing"), "/f.parquet: field 'id' is missing"),
        (DatasetError("/b", "CURRENT", "is missing"), "/b: CURRENT is missing"),
        (InvalidFieldError("k", "must be positive"), "k must be positive"),
    ],
)
def test_every_layer_raises_one_shape_with_its_own_wording(error, message):
    assert isinstance(error, FieldError) and isinstance(error, ValueError)
    assert str(error) == message
    assert error.field in message and error.problem in message


def test_the_published_version_is_resolved_in_one_place(tmp_path):
    coll = CollectionPaths(tmp_path / "c")
    with pytest.raises(FieldError, match="CURRENT") as info:
        coll.published()
    assert info.value.field == "CURRENT"
    coll.root.mkdir()
    coll.current_file.write_text("v1\n")
    with pytest.raises(FieldError, match="'v1' is missing") as info:
        coll.published()
    assert info.value.field == "version"
    coll.version("v1").root.mkdir(parents=True)
    assert coll.published().items == tmp_path / "c" / "versions" / "v1" / "items.parquet"
    assert coll.published("v1") == coll.version("v1")


def test_a_field_error_from_the_request_is_invalid_argument_on_rest(tiny_bundle_root, monkeypatch):
    app = create_app(Settings(bundles_root=tiny_bundle_root, collection="tiny"), encoder_factory=FakeFactory())
    with TestClient(app) as client:
        def get_item(*args, **kwargs):
            raise InvalidFieldError("id", "is too long")

        monkeypatch.setattr(app.state.service, "get_item", get_item)
        response = client.get("/v1/items/a")
        assert response.status_code == 422
        assert response.json()["error"] == {"code": "invalid_argument", "message": "id is too long", "field": "id"}

        def read_stored(*args, **kwargs):
            raise SchemaMismatchError("/secret/bundle/x.parquet", "id", "is missing")

        monkeypatch.setattr(app.state.service, "get_item", read_stored)
        response = client.get("/v1/items/a")
        assert response.status_code == 500
        assert "secret" not in response.text and response.json()["error"]["code"] == "internal"


def test_a_field_error_from_the_request_is_invalid_argument_on_grpc():
    def operation():
        raise AlignConfigError("epochs", "must be at least 1")

    class Context(FakeContext):
        def set_trailing_metadata(self, metadata):
            self.trailing = dict(metadata)

    context = Context(10.0)
    with pytest.raises(RuntimeError) as info:
        call(context, operation)
    code, details = info.value.args
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.endswith("epochs: must be at least 1")
    assert context.trailing["vitrina-error-field"] == "epochs"
