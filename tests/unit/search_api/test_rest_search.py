"""The REST transport for searches: text queries, image uploads and their size limits."""
from __future__ import annotations

import pytest

from tests.unit.search_api._rest_helpers import UPLOAD_LIMIT, assert_error, categories
from tests.unit.search_api._service_helpers import png_bytes


# -- text search -------------------------------------------------------------------------------------


def test_text_search_car_ranks_vehicles_first(client):
    response = client.post("/v1/search/text", json={"query": "car", "k": 4})
    assert categories(response) == ["vehicles"] * 4


def test_text_search_with_filter_object(client):
    response = client.post("/v1/search/text", json={"query": "car", "k": 6, "filter": {"category": "plants"}})
    assert categories(response) == ["plants"] * 6


@pytest.mark.parametrize(
    "body, field, match",
    [
        ({"query": "  "}, "query", "query is empty"),
        ({}, "query", "Field required"),
        ({"query": "car", "k": 0}, "k", "between 1 and 50"),
        ({"query": "car", "space": "image"}, "space", "spaces that do: text"),
        ({"query": "car", "filter": {"category": {"in": []}}}, "filter", "non-empty list"),
        ({"query": "car", "filter": "plants"}, "filter", "valid dictionary"),
        ({"query": "car", "colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_text_search_bad_arguments_are_422(client, body, field, match):
    assert_error(client.post("/v1/search/text", json=body), 422, "invalid_argument", field, match)


def test_text_search_malformed_json_body(client):
    response = client.post("/v1/search/text", content=b"{oops", headers={"content-type": "application/json"})
    assert_error(response, 422, "invalid_argument", match="request body is not valid JSON")


# -- image search --------------------------------------------------------------------------------------


def upload(client, data: bytes, content_type="image/png", **form):
    return client.post("/v1/search/image", files={"file": ("query.png", data, content_type)}, data=form)


def test_image_search(client):
    response = upload(client, png_bytes((40, 60, 200)), k="4", filter='{"tags": "new"}')
    hits = response.json()["hits"]
    assert categories(response) == ["vehicles"] * 4 and all("new" in h["metadata"]["tags"] for h in hits)


def test_image_search_errors(client):
    assert_error(upload(client, b"garbage"), 400, "bad_image", "file", "cannot decode")
    assert_error(upload(client, b"hello", content_type="text/plain"), 415, "unsupported_media", "file")
    assert_error(upload(client, png_bytes(), space="text"), 422, "invalid_argument", "space")
    assert_error(upload(client, png_bytes(), k="0"), 422, "invalid_argument", "k")
    assert_error(client.post("/v1/search/image", data={"k": "3"}), 422, "invalid_argument", "file")


def test_upload_over_the_file_limit_is_413(client):
    # Under the request limit (file + multipart slack), over the file limit.
    assert_error(upload(client, b"\0" * (UPLOAD_LIMIT + 1)), 413, "payload_too_large", match="4096 bytes")


def test_upload_over_the_request_limit_is_refused_from_content_length(client):
    assert_error(upload(client, b"\0" * (UPLOAD_LIMIT + 200_000)), 413, "payload_too_large")


def test_streamed_upload_without_content_length_is_cut_off(client):
    boundary = "vitrina-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"q.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()

    def body():  # no Content-Length: only counting while reading can stop it
        yield head
        for _ in range(100):
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        "/v1/search/image", content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert_error(response, 413, "payload_too_large")


def test_text_batch_answers_each_query_as_a_single_search_would(client):
    queries = ["car", "green tree", "red car"]
    body = client.post("/v1/search/text:batch", json={"queries": queries, "k": 5,
                                                      "filter": {"category": "vehicles"}}).json()
    assert len(body["results"]) == 3
    for query, result in zip(queries, body["results"]):
        single = client.post("/v1/search/text", json={"query": query, "k": 5, "filter": {"category": "vehicles"}}).json()
        assert [h["id"] for h in result["hits"]] == [h["id"] for h in single["hits"]]
        assert [h["score"] for h in result["hits"]] == pytest.approx([h["score"] for h in single["hits"]], abs=1e-5)
        assert result["bundle_version"] == body["bundle_version"]


@pytest.mark.parametrize("path, body, status, field", [
    ("/v1/search/text:batch", {"queries": []}, 422, "queries"),
    ("/v1/search/text:batch", {"queries": ["car"] * 257}, 422, "queries"),
    ("/v1/search/text:batch", {"queries": "car"}, 422, "queries"),
    ("/v1/search/text:batch", {"queries": ["car", ""]}, 422, "query"),
    ("/v1/search/neighbours:batch", {"item_ids": ["plants-02", "nope"]}, 404, None),
    ("/v1/search/neighbours:batch", {"item_ids": ["plants-02"], "k": 0}, 422, "k"),
])
def test_bad_batches_name_the_field(client, path, body, status, field):
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error.get("field") == field
    if status == 404:
        assert "nope" in error["message"]
