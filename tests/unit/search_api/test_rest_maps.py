"""The REST transport for maps: projections as JSON or Arrow, clusters and their items, their errors."""
from __future__ import annotations

import pytest

from tests.unit.search_api._rest_helpers import assert_error


# -- maps: projection and clusters -------------------------------------------------------------------

ARROW = "application/vnd.apache.arrow.stream"


def read_arrow(response):
    import pyarrow as pa

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ARROW
    with pa.ipc.open_stream(response.content) as reader:
        return reader.read_all()


@pytest.mark.parametrize("space", ["image", "text"])
def test_projection_as_json_and_as_arrow_gives_the_same_points(client, tiny_bundle, space):
    response = client.get(f"/v1/spaces/{space}/projection")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.headers["vary"] == "Accept"
    body = response.json()
    assert (body["bundle_version"], body["space"], body["method"], body["methods"]) == (
        tiny_bundle.version, space, "pca", ["pca"])
    assert (body["clustering"], body["clusterings"]) == ("kmeans", ["kmeans"])
    points = body["points"]
    assert [p["id"] for p in points] == tiny_bundle.spaces[space].ids
    assert all(-1 <= p["x"] <= 1 and -1 <= p["y"] <= 1 and p["cluster"] >= 0 for p in points)

    table = read_arrow(client.get(f"/v1/spaces/{space}/projection", headers={"Accept": ARROW}))
    assert table.schema.names == ["id", "x", "y", "cluster"]
    assert [str(t) for t in table.schema.types] == ["string", "float", "float", "int32"]
    assert table.schema.metadata[b"bundle_version"] == tiny_bundle.version.encode()
    assert table.to_pylist() == points


def test_projection_arrow_negotiation(client):
    params = {"method": "pca", "clustering": "kmeans"}
    for accept in [f"application/json;q=0.5, {ARROW}", f"{ARROW}, */*;q=0.1", f"text/html, {ARROW};q=0.2"]:
        assert len(read_arrow(client.get("/v1/spaces/text/projection", params=params, headers={"Accept": accept}))) == 60
    for accept in [f"{ARROW};q=0", f"application/json, {ARROW};q=0.9", "*/*", "application/json"]:
        response = client.get("/v1/spaces/text/projection", headers={"Accept": accept})
        assert response.headers["content-type"] == "application/json" and len(response.json()["points"]) == 60


def test_projection_arrow_errors_are_the_json_envelope(client):
    response = client.get("/v1/spaces/image/projection", params={"method": "umap"}, headers={"Accept": ARROW})
    assert_error(response, 422, "invalid_argument", "method", "unknown projection method 'umap'; space 'image' has: pca")


def test_clusters_and_their_items(client, tiny_bundle):
    response = client.get("/v1/spaces/image/clusters", params={"method": "kmeans"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["space"], body["method"], body["methods"]) == ("image", "kmeans", ["kmeans"])
    clusters = body["clusters"]
    assert sum(c["size"] for c in clusters) == 60 and [c["cluster"] for c in clusters] == list(range(len(clusters)))
    first = clusters[0]
    assert set(first) == {"method", "cluster", "size", "name", "keywords", "representatives"}
    assert first["name"] == ", ".join(first["keywords"])
    assert set(first["representatives"][0]) == {"id", "title", "image_url"}

    items = client.get("/v1/spaces/image/clusters/0/items", params={"limit": 2, "offset": 1}).json()
    assert (items["method"], items["cluster"], items["total"], items["offset"]) == ("kmeans", 0, first["size"], 1)
    assert [i["id"] for i in items["items"]] == [r["id"] for r in first["representatives"][1:3]]
    labels = client.get("/v1/spaces/image/projection").json()["points"]
    everything = client.get("/v1/spaces/image/clusters/0/items", params={"limit": 1000}).json()["items"]
    assert sorted(i["id"] for i in everything) == sorted(p["id"] for p in labels if p["cluster"] == 0)


@pytest.mark.parametrize(
    "path, params, status, code, field, match",
    [
        ("/v1/spaces/nope/projection", {}, 404, "not_found", None, "space 'nope' not found"),
        ("/v1/spaces/nope/clusters", {}, 404, "not_found", None, "space 'nope' not found"),
        ("/v1/spaces/nope/clusters/0/items", {}, 404, "not_found", None, "space 'nope' not found"),
        ("/v1/spaces/image/clusters/99/items", {}, 404, "not_found", None, "kmeans cluster '99' not found"),
        ("/v1/spaces/image/projection", {"method": "tsne"}, 422, "invalid_argument", "method", "space 'image' has: pca"),
        ("/v1/spaces/image/projection", {"clustering": "hdbscan"}, 422, "invalid_argument", "clustering",
         "unknown clustering 'hdbscan'; space 'image' has: kmeans"),
        ("/v1/spaces/text/clusters", {"method": "dbscan"}, 422, "invalid_argument", "method", "unknown clustering"),
        ("/v1/spaces/text/clusters/0/items", {"method": "dbscan"}, 422, "invalid_argument", "method", "'dbscan'"),
        ("/v1/spaces/text/clusters/0/items", {"limit": 0}, 422, "invalid_argument", "limit", "between 1 and 1000"),
        ("/v1/spaces/text/clusters/0/items", {"offset": -1}, 422, "invalid_argument", "offset", "got -1"),
        ("/v1/spaces/text/clusters/first/items", {}, 422, "invalid_argument", "cluster", "valid integer"),
        ("/v1/spaces/text/clusters/0/items", {"limit": "all"}, 422, "invalid_argument", "limit", "valid integer"),
    ],
)
def test_map_errors_name_the_field(client, path, params, status, code, field, match):
    assert_error(client.get(path, params=params), status, code, field, match)
