"""What the web map asks of the API: metadata columns (catalogue and Arrow), item cards with
stored salient words, the server-drawn map picture, projection column subsets, and the page
itself (CSP, cache headers, the 503 when the assets are not built)."""
from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.fakes import FakeFactory
from tests.unit.search_api.test_rest import assert_error
from vitrina.search_api import Settings, create_app
from vitrina.search_api import metadata_columns
from vitrina.search_api.metadata_columns import MetadataColumns
from vitrina.search_api.rest import web

ARROW = {"accept": "application/vnd.apache.arrow.stream"}


def arrow(response) -> pa.Table:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ARROW["accept"]
    return pa.ipc.open_stream(response.content).read_all()


@pytest.fixture(scope="module")
def client(tiny_bundle_root):
    settings = Settings(bundles_root=tiny_bundle_root, collection="tiny")
    with TestClient(create_app(settings, encoder_factory=FakeFactory())) as client:
        yield client


@pytest.fixture(scope="module")
def model_client(tiny_model_bundle_root):
    with TestClient(create_app(Settings(bundles_root=tiny_model_bundle_root, collection="tiny"))) as client:
        yield client


# -- metadata columns ---------------------------------------------------------------------------


def test_catalogue_types_each_column_from_its_values(client):
    body = client.get("/v1/columns").json()
    columns = {c["name"]: c for c in body["columns"]}
    assert list(columns) == ["category", "tags", "year"]
    assert body["items"] == 60
    assert columns["category"]["kind"] == "categorical"
    assert columns["category"]["top"] == [{"value": v, "count": 20} for v in ("animals", "plants", "vehicles")]
    assert columns["tags"]["kind"] == "tags" and columns["tags"]["distinct"] == 4
    assert (columns["year"]["kind"], columns["year"]["min"], columns["year"]["max"]) == ("numeric", 1900.0, 2018.0)


def test_columns_line_up_with_the_projection_rows(client, tiny_bundle):
    ids = arrow(client.get("/v1/spaces/text/projection?columns=id", headers=ARROW)).column("id").to_pylist()
    table = arrow(client.get("/v1/spaces/text/columns", headers=ARROW))
    assert table.schema.metadata[b"space"] == b"text"
    assert pa.types.is_dictionary(table.schema.field("category").type)
    assert pa.types.is_dictionary(table.schema.field("tags").type.value_type)
    assert table.column_names == ["category", "tags", "year"]
    for row, item_id in enumerate(ids):
        expected = tiny_bundle.items.get(item_id).metadata
        assert table.column("category")[row].as_py() == expected["category"]
        assert table.column("tags")[row].as_py() == expected["tags"]
        assert table.column("year")[row].as_py() == expected["year"]


def test_columns_by_name_in_the_order_asked(client):
    table = arrow(client.get("/v1/spaces/image/columns?names=year,category"))
    assert table.column_names == ["year", "category"]


@pytest.mark.parametrize("query, match", [("names=nope", "'nope' is no column"), ("names=category,,nope", "nope")])
def test_unknown_column_is_named(client, query, match):
    assert_error(client.get(f"/v1/spaces/image/columns?{query}"), 422, "invalid_argument", "names", match)


def test_unknown_space_for_columns(client):
    assert_error(client.get("/v1/spaces/nope/columns"), 404, "not_found")


def test_free_text_columns_are_catalogued_but_never_sent(monkeypatch):
    monkeypatch.setattr(metadata_columns, "MAX_CATEGORIES", 3)
    meta = MetadataColumns([{"note": f"n{i}", "kind": "a" if i % 2 else "b"} for i in range(5)] + [{}])
    assert meta.columns["note"].kind == "text"
    assert meta.sendable() == ["kind"]
    assert meta.check(["kind", "note"]) == "note"
    table = meta.arrow_table([])
    assert table.column_names == ["kind"]
    assert table.column("kind").to_pylist() == ["b", "a", "b", "a", "b", None]


def test_mixed_and_missing_values():
    meta = MetadataColumns([{"n": 1, "flag": True, "m": 2}, {"n": 2.5, "flag": False, "m": "x"}, {"tags": ["a", "b"]}, {"tags": None}])
    kinds = {name: info.kind for name, info in meta.columns.items()}
    assert kinds == {"n": "numeric", "flag": "categorical", "m": "categorical", "tags": "tags"}
    table = meta.arrow_table([])
    assert table.column("n").to_pylist() == [1.0, 2.5, None, None]
    assert table.column("flag").to_pylist() == ["true", "false", None, None]
    assert table.column("m").to_pylist() == ["2", "x", None, None]
    assert table.column("tags").to_pylist() == [None, None, ["a", "b"], None]


# -- projection subsets -------------------------------------------------------------------------


def test_projection_sends_only_the_columns_asked(client):
    full = arrow(client.get("/v1/spaces/image/projection", headers=ARROW))
    first = arrow(client.get("/v1/spaces/image/projection?columns=cluster,x,y", headers=ARROW))
    assert first.column_names == ["x", "y", "cluster"]  # always in the endpoint's order
    assert first.column("x").equals(full.column("x"))
    assert first.schema.metadata[b"methods"] == b"pca"
    assert first.schema.metadata[b"clusterings"] == b"kmeans"


@pytest.mark.parametrize("columns, match", [("x,title", "'title'"), ("x,x", "twice")])
def test_projection_bad_columns(client, columns, match):
    response = client.get(f"/v1/spaces/image/projection?columns={columns}", headers=ARROW)
    assert_error(response, 422, "invalid_argument", "columns", match)


# -- item cards ---------------------------------------------------------------------------------


def test_card_carries_the_stored_salient_words(model_client, tiny_model_bundle_root):
    from vitrina.indexer.bundle.reader import Bundle

    bundle = Bundle.open(tiny_model_bundle_root, "tiny")
    card = model_client.get("/v1/items/animals-03/card?words=3").json()
    assert card["title"] == "bird 3" and card["image_url"] == "/v1/items/animals-03/image"
    assert card["spaces"] == ["image", "text", "joint"]
    stored = bundle.text_attribution("text", "animals-03")
    words = [w for w in stored["words"] if any(ch.isalnum() for ch in w["word"])]
    expected = sorted(words, key=lambda w: -abs(w["normalised"]))[:3]
    [text_words] = [s for s in card["salient"] if s["space"] == "text"]
    assert [(w["word"], w["start"]) for w in text_words["words"]] == [(w["word"], w["start"]) for w in expected]
    for word in text_words["words"]:
        assert card["text"][word["start"]:word["end"]] == word["word"]
    scores = [w["score"] for w in text_words["words"]]
    assert scores == sorted(scores, reverse=True) and scores[0] == 1.0 and scores[-1] > 0


@pytest.fixture
def stale_attributions(monkeypatch):
    """Every stored word attribution claims to be for another text (the catalogue changed since)."""
    from vitrina.indexer.bundle.reader import Bundle

    real = Bundle.text_attribution

    def stale(self, space, item_id):
        row = real(self, space, item_id)
        return row and {**row, "text_sha256": "0" * 64}

    monkeypatch.setattr(Bundle, "text_attribution", stale)


def test_card_skips_attributions_of_another_text(model_client, stale_attributions):
    assert model_client.get("/v1/items/animals-03/card").json()["salient"] == []


def test_card_computes_the_words_the_build_did_not_store(model_client, tiny_model_bundle_root, monkeypatch):
    from vitrina.indexer.bundle.reader import Bundle

    stored = Bundle.open(tiny_model_bundle_root, "tiny").text_attribution("text", "plants-06")
    monkeypatch.setattr(Bundle, "text_attribution", lambda self, space, item_id: None)
    assert model_client.get("/v1/items/plants-06/card").json()["salient"] == []
    card = model_client.get("/v1/items/plants-06/card?words=3&compute=true").json()
    # Only the text-indexed space attributes texts; joint indexes pictures.
    assert [s["space"] for s in card["salient"]] == ["text"]
    words = [w for w in stored["words"] if any(ch.isalnum() for ch in w["word"])]
    expected = sorted(words, key=lambda w: -abs(w["normalised"]))[:3]
    assert [(w["word"], w["start"]) for w in card["salient"][0]["words"]] == [(w["word"], w["start"]) for w in expected]
    # Kept for the hover cards that follow, which never compute.
    assert model_client.get("/v1/items/plants-06/card?words=3").json()["salient"] == card["salient"]


def test_a_computed_card_replaces_words_stored_for_another_text(model_client, stale_attributions):
    computed = model_client.get("/v1/items/vehicles-11/card?compute=true").json()["salient"]
    assert [s["space"] for s in computed] == ["text"]
    # The stale stored row does not hide the computed one from the hover cards that follow.
    assert model_client.get("/v1/items/vehicles-11/card").json()["salient"] == computed


def test_card_errors(client):
    assert_error(client.get("/v1/items/nope/card"), 404, "not_found")
    assert_error(client.get("/v1/items/animals-00/card?words=0"), 422, "invalid_argument", "words")
    assert client.get("/v1/items/animals-00/card").json()["salient"] == []  # fake encoders store none


# -- the map as a picture -----------------------------------------------------------------------


def test_map_picture_is_the_size_asked_and_coloured_by_cluster(client):
    response = client.get("/v1/spaces/image/map.png?width=320&height=200")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
    assert image.shape == (200, 320, 3)
    colours = {tuple(c) for c in image.reshape(-1, 3)}
    assert (255, 255, 255) in colours and len(colours) >= 3  # background and several clusters


def test_map_picture_by_category_uses_the_palette_by_frequency(client):
    from vitrina.search_api.map_image import PALETTE

    image = np.asarray(Image.open(io.BytesIO(client.get("/v1/spaces/text/map.png?colour=category&theme=dark").content)))
    colours = {tuple(c) for c in image.reshape(-1, 3)}
    # Three categories of 20 items each: the first three palette colours, on the dark background.
    assert {tuple(int(v) for v in c) for c in PALETTE[:3]} <= colours
    assert tuple(int(v) for v in PALETTE[3]) not in colours
    assert (24, 26, 31) in colours


@pytest.mark.parametrize("query, field", [
    ("width=10", "width"), ("height=5000", "height"), ("colour=tags", "colour"), ("colour=nope", "colour"),
    ("theme=neon", "theme"), ("method=tsne", "method"),
])
def test_map_picture_bad_input(client, query, field):
    assert_error(client.get(f"/v1/spaces/image/map.png?{query}"), 422, "invalid_argument", field)


# -- the page -----------------------------------------------------------------------------------


@pytest.fixture
def built(tmp_path, monkeypatch):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>map</title>")
    (tmp_path / "assets" / "app-ABC123.js").write_text("console.log(1)")
    monkeypatch.setattr(web, "STATIC", tmp_path)
    return tmp_path


def test_page_and_assets_with_csp_and_cache_headers(client, built):
    page = client.get("/")
    assert page.status_code == 200 and page.text.startswith("<!doctype html>")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp and "http" not in csp
    assert page.headers["cache-control"] == "no-cache"
    asset = client.get("/static/map/assets/app-ABC123.js")
    assert asset.status_code == 200 and asset.headers["content-type"].startswith("text/javascript")
    assert "immutable" in asset.headers["cache-control"]
    for bad in ("app-NOPE.js", "..%2Findex.html", "index.html"):
        assert client.get(f"/static/map/assets/{bad}").status_code == 404


def test_page_needs_no_key_even_when_reads_do(tiny_bundle_root, built):
    settings = Settings(bundles_root=tiny_bundle_root, collection="tiny", api_keys=["k"], require_key_for_reads=True)
    with TestClient(create_app(settings, encoder_factory=FakeFactory())) as client:
        assert client.get("/").status_code == 200
        assert client.get("/v1/columns").status_code == 401
        assert client.get("/v1/columns", headers={"x-api-key": "k"}).status_code == 200


def test_unbuilt_page_says_how_to_build_it(client, tmp_path, monkeypatch):
    monkeypatch.setattr(web, "STATIC", tmp_path / "missing")
    page = client.get("/")
    assert page.status_code == 503
    assert "make web" in page.text and "npm ci" in page.text


# -- exporting a selection ----------------------------------------------------------------------


def test_export_gives_the_items_as_parquet_in_the_order_asked(client, tiny_bundle):
    import pyarrow.parquet as pq

    ids = ["vehicles-03", "animals-00", "plants-11"]
    response = client.post("/v1/items/export", json={"ids": ids, "space": "text"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(response.content))
    assert table.column_names == ["id", "title", "text", "x", "y", "category", "tags", "year"]
    assert table.column("id").to_pylist() == ids
    assert table.column("title").to_pylist() == [tiny_bundle.items.get(i).title for i in ids]
    assert table.column("tags").to_pylist() == [tiny_bundle.items.get(i).metadata["tags"] for i in ids]
    projection = {p["id"]: p for p in client.get("/v1/spaces/text/projection").json()["points"]}
    assert table.column("x").to_pylist() == pytest.approx([projection[i]["x"] for i in ids])
    without_space = pq.read_table(io.BytesIO(client.post("/v1/items/export", json={"ids": ids}).content))
    assert "x" not in without_space.column_names and without_space.num_rows == 3


@pytest.mark.parametrize("body, status, code, field", [
    ({"ids": []}, 422, "invalid_argument", "ids"),
    ({"ids": ["animals-00", "nope"]}, 404, "not_found", None),
    ({"ids": ["animals-00"], "space": "nope"}, 404, "not_found", None),
    ({"ids": ["animals-00"], "colour": "x"}, 422, "invalid_argument", "colour"),
])
def test_export_bad_input(client, body, status, code, field):
    assert_error(client.post("/v1/items/export", json=body), status, code, field)


# -- another version's map ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def versions(tmp_path_factory, tiny_catalogue):
    """A collection with two versions: the parent lacks six items, the child (served) has all."""
    from tests.conftest import build_tiny_bundle, catalogue_without

    folder = tmp_path_factory.mktemp("versions")
    dropped = {"animals-01", "animals-02", "plants-05", "plants-06", "vehicles-10", "vehicles-11"}
    parent = build_tiny_bundle(folder / "bundles", catalogue_without(folder / "older", tiny_catalogue, dropped))
    build_tiny_bundle(folder / "bundles", tiny_catalogue)
    settings = Settings(bundles_root=folder / "bundles", collection="tiny")
    with TestClient(create_app(settings, encoder_factory=FakeFactory())) as client:
        yield client, parent.version, dropped


def test_projection_of_another_version_is_its_stored_map(versions):
    from vitrina.schemas.bundle_layout import CollectionPaths
    from vitrina.indexer.maps import read_space_projections

    client, parent, dropped = versions
    served = client.get("/v1/bundle").json()
    assert parent in served["versions"] and served["version"] != parent
    table = arrow(client.get(f"/v1/spaces/image/projection?version={parent}&columns=id,x,y", headers=ARROW))
    assert table.schema.metadata[b"bundle_version"] == parent.encode()
    stored = read_space_projections(CollectionPaths.of(served_root(client), "tiny").version(parent).projections("image"))
    assert table.column("id").to_pylist() == stored.ids and not dropped & set(stored.ids)
    assert np.array_equal(np.c_[table.column("x").to_numpy(), table.column("y").to_numpy()], stored.coords["pca"])
    view = client.get(f"/v1/spaces/image/projection?version={parent}").json()
    assert view["bundle_version"] == parent and view["clustering"] is None and len(view["points"]) == 54


def served_root(client):
    return client.app.state.settings.bundles_root


@pytest.mark.parametrize("version, status, field", [("20000101T000000000000Z-000000", 404, None), ("../../etc", 422, "version")])
def test_unknown_or_malformed_version(versions, version, status, field):
    client = versions[0]
    response = client.get(f"/v1/spaces/image/projection?version={version}")
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field
