"""POST /v1/explain over a tiny bundle built with real (tiny, random) transformers encoders:
which explanations apply per space, completeness, the metadata and rank breakdown, the
precomputed hover attributions, the cache and the bounded pool."""
from __future__ import annotations

import json
import re
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import TINY_MODEL_ATTRIBUTION_STEPS
from vitrina.indexer.bundle.reader import Bundle
from vitrina.indexer.word_attributions import read_text_attributions
from vitrina.search_api import BundleHolder, SearchService, Settings
from vitrina.search_api.explain_models import ExplainRequest
from vitrina.search_api.rest.app import create_app

STEPS = TINY_MODEL_ATTRIBUTION_STEPS
# IG's delta at 8 steps on the tiny random models stays below this (completeness holds within it).
COMPLETENESS_TOL = 1e-3


@pytest.fixture(scope="module")
def bundle_root(tiny_model_bundle_root):
    return tiny_model_bundle_root


@pytest.fixture(scope="module")
def bundle(bundle_root):
    return Bundle.open(bundle_root, "tiny")


def _holder(bundle) -> BundleHolder:
    holder = BundleHolder()
    holder.swap(bundle)
    return holder


def _service(bundle, **settings) -> SearchService:
    return SearchService(_holder(bundle), Settings(**settings))


def _app(bundle, **settings):
    return create_app(Settings(**settings), _holder(bundle))


@pytest.fixture(scope="module")
def client(bundle):
    app = _app(bundle)
    with TestClient(app) as c:
        yield c


def _complete(words) -> None:
    total = sum(w["score"] for w in words["words"])
    assert total == pytest.approx(words["score"] - words["baseline_score"], abs=abs(words["delta"]) + COMPLETENESS_TOL)


def test_item_pair_in_the_text_space_explains_both_texts_completely(client, bundle):
    body = client.post("/v1/explain", json={"space": "text", "item": "vehicles-00", "target": "vehicles-05",
                                            "steps": STEPS}).json()
    assert [(w["side"], w["against"]) for w in body["words"]] == [("item", "target"), ("target", "item")]
    for words in body["words"]:
        _complete(words)
        # Every word, in text order, repeats kept ("car" twice here); punctuation is a word of its own.
        assert [w["word"] for w in words["words"] if w["word"].isalnum()] == re.findall(r"\w+", words["text"])
        assert all(words["text"][w["start"]:w["end"]] == w["word"] for w in words["words"])
    space = bundle.spaces["text"]
    a, b = (space.vectors[space.row_of[i]] for i in ("vehicles-00", "vehicles-05"))
    assert body["similarity"] == pytest.approx(float(a @ b), abs=1e-5)
    assert body["words"][0]["score"] == pytest.approx(body["similarity"], abs=1e-4)
    assert "heatmap" in body["skipped"] and body["heatmaps"] == []


def test_metadata_breakdown_ranks_the_pair_in_every_space(client, bundle):
    body = client.post("/v1/explain", json={"space": "image", "item": "animals-00", "target": "animals-03",
                                            "kinds": ["metadata"]}).json()
    meta = body["metadata"]
    assert meta["shared"]["category"] == "animals" and "year" in meta["differing"]
    assert {s["space"] for s in meta["spaces"]} == {"image", "text", "joint"}
    for score in meta["spaces"]:
        hits = client.get("/v1/items/animals-00/neighbours", params={"space": score["space"], "k": 59}).json()["hits"]
        listed = next(h for h in hits if h["id"] == "animals-03")
        assert score["similarity"] == pytest.approx(listed["score"], abs=1e-4)
        # The tiny random models map many items to nearly one direction: near-ties may order
        # either way, so the rank must lie between the strictly-better and the not-worse counts.
        better = sum(h["score"] > listed["score"] + 1e-5 for h in hits)
        not_worse = sum(h["score"] >= listed["score"] - 1e-5 for h in hits)
        assert score["of"] == 59 and better + 1 <= score["rank"] <= not_worse
    assert body["words"] == [] and body["heatmaps"] == []


def test_query_in_the_joint_space_gets_words_and_a_heatmap_with_a_png(client):
    body = client.post("/v1/explain", json={"space": "joint", "query": "a red car", "target": "vehicles-02",
                                            "kinds": ["words", "heatmap"], "steps": STEPS}).json()
    assert [(w["side"], w["against"]) for w in body["words"]] == [("query", "target")]
    assert [w["word"] for w in body["words"][0]["words"]] == ["a", "red", "car"]
    _complete(body["words"][0])
    [heatmap] = body["heatmaps"]
    assert (heatmap["side"], heatmap["id"], heatmap["against"]) == ("target", "vehicles-02", "query")
    assert np.sum(heatmap["mass"]) == pytest.approx(1.0, abs=1e-3) or np.sum(heatmap["mass"]) == 0
    assert heatmap["score"] == pytest.approx(body["similarity"], abs=1e-4)
    png = client.get(heatmap["png_url"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_image_pair_gets_a_heatmap_per_side_and_no_words(client):
    body = client.post("/v1/explain", json={"space": "image", "item": "plants-01", "target": "plants-04",
                                            "kinds": ["words", "heatmap"], "heatmap_method": "occlusion"}).json()
    assert [(h["side"], h["against"], h["method"]) for h in body["heatmaps"]] == [
        ("target", "item", "occlusion"), ("item", "target", "occlusion")]
    assert "no text encoder" in body["skipped"]["words"]


def test_heatmaps_take_the_default_steps_unless_the_request_names_some(client):
    from vitrina.search_api.explanations import HEATMAP_STEPS

    request = {"space": "image", "item": "plants-01", "target": "plants-04", "kinds": ["heatmap"]}
    default = client.post("/v1/explain", json=request).json()["heatmaps"]
    named = client.post("/v1/explain", json={**request, "steps": 3}).json()["heatmaps"]
    assert [h["n_steps"] for h in default] == [HEATMAP_STEPS] * 2
    assert [h["n_steps"] for h in named] == [3, 3]


def test_an_item_alone_gets_its_precomputed_hover_words(client, bundle_root, bundle):
    rows = read_text_attributions(bundle.paths.text_attributions)
    assert {space for space, _ in rows} == {"text"} and len(rows) == 60  # text-indexed spaces only
    report = json.loads(bundle.paths.build_report.read_text())["attributions"]
    assert report["text"]["computed"] == 60 and report["text"]["not_precomputed"] == 0
    assert report["text"]["max_completeness_error"] < COMPLETENESS_TOL
    body = client.post("/v1/explain", json={"space": "text", "item": "cat-free", "kinds": ["words"]})
    assert body.status_code == 404
    body = client.post("/v1/explain", json={"space": "text", "item": "animals-07", "kinds": ["words"]}).json()
    [words] = body["words"]
    assert words["precomputed"] and words["against"] == "baseline" and words["n_steps"] == STEPS
    stored = rows[("text", "animals-07")]
    assert [w["word"] for w in words["words"]] == [w["word"] for w in stored["words"]]
    _complete(words)


def test_a_second_identical_request_does_no_gradient_work(bundle, monkeypatch):
    from vitrina.training.explain import image_heatmap, text_words

    service = _service(bundle)
    calls = {"words": 0, "heatmap": 0}
    real_text, real_image = text_words.explain_text, image_heatmap.explain_image

    def count(kind, real):
        def wrapped(*args, **kwargs):
            calls[kind] += 1
            return real(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(text_words, "explain_text", count("words", real_text))
    monkeypatch.setattr(image_heatmap, "explain_image", count("heatmap", real_image))
    request = ExplainRequest(space="joint", query="green tree", target="plants-02", steps=STEPS)
    first = service.explain(request)
    done = dict(calls)
    assert done == {"words": 1, "heatmap": 1} and not first.cached
    second = service.explain(request)
    assert calls == done and second.cached and second.seconds == 0.0
    assert second.model_dump(exclude={"cached", "seconds"}) == first.model_dump(exclude={"cached", "seconds"})
    service.explain(request.model_copy(update={"steps": STEPS + 1}))  # other steps: computed again
    assert calls["words"] == 2


@pytest.mark.parametrize("body, status, field", [
    ({"space": "text", "item": "animals-00", "target": "animals-01", "steps": 10_000}, 422, "steps"),
    ({"space": "text", "item": "animals-00", "target": "nope"}, 404, None),
    ({"space": "moon", "item": "animals-00", "target": "animals-01"}, 422, "space"),
    ({"space": "image", "query": "cat", "target": "animals-01"}, 422, "space"),
    ({"space": "text", "query": "cat", "item": "animals-00", "target": "animals-01"}, 422, None),
    ({"space": "text", "item": "animals-00", "kinds": ["heatmap"]}, 422, "target"),
    ({"space": "text", "item": "animals-00", "target": "animals-01", "kinds": ["smell"]}, 422, "kinds.0"),
    ({"space": "text", "query": "   ", "target": "animals-01"}, 422, "query"),
])
def test_bad_requests_are_refused_naming_the_field(client, body, status, field):
    response = client.post("/v1/explain", json=body)
    assert response.status_code == status, response.text
    if field is not None:
        assert response.json()["error"]["field"] == field


def test_unknown_heatmap_is_404(client):
    assert client.get("/v1/explain/heatmaps/0123abcd.png").status_code == 404


def test_a_flood_of_explanations_gets_429_while_search_keeps_answering(bundle, monkeypatch):
    from vitrina.training.explain import text_words

    release = threading.Event()
    started = threading.Event()
    real = text_words.explain_text

    def slow(*args, **kwargs):
        started.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(text_words, "explain_text", slow)
    app = _app(bundle, explain_workers=1, explain_queue=1)
    with TestClient(app) as client:
        body = {"space": "text", "item": "animals-00", "target": "animals-01", "kinds": ["words"], "steps": STEPS}
        results = []
        threads = [threading.Thread(target=lambda i=i: results.append(
            client.post("/v1/explain", json={**body, "steps": STEPS + i}).status_code)) for i in range(2)]
        for t in threads:
            t.start()
        assert started.wait(10)
        time.sleep(0.2)  # the second one is queued behind the first
        flood = [client.post("/v1/explain", json={**body, "steps": STEPS + 10 + i}) for i in range(5)]
        assert [r.status_code for r in flood] == [429] * 5
        assert flood[0].headers["retry-after"] == "1" and flood[0].json()["error"]["code"] == "too_many_requests"
        searches = [client.get("/v1/items/animals-00/neighbours", params={"space": "text", "k": 5}) for _ in range(20)]
        assert all(r.status_code == 200 for r in searches)
        assert not release.is_set()  # every search answered while both explanation slots were taken
        release.set()
        for t in threads:
            t.join(60)
        assert sorted(results) == [200, 200]


# -- over gRPC: the same answers, the same errors --------------------------------------------------

EXPLAIN_VIEWS = [
    ("ExplainView", "Explanation"), ("SideView", "ExplainSide"), ("WordScore", "WordScore"), ("WordsView", "Words"),
    ("HeatmapView", "Heatmap"), ("SpaceScore", "SpaceScore"), ("MetadataView", "MetadataBreakdown"),
]


@pytest.mark.parametrize("view, message", EXPLAIN_VIEWS)
def test_explain_messages_have_their_views_fields(view, message):
    from vitrina.search_api import explain_models
    from vitrina.v1 import explain_pb2

    assert list(getattr(explain_models, view).model_fields) == [
        f.name for f in getattr(explain_pb2, message).DESCRIPTOR.fields]
    request_fields = [f.name for f in explain_pb2.ExplainRequest.DESCRIPTOR.fields]
    assert sorted(request_fields) == sorted(ExplainRequest.model_fields)


@pytest.fixture(scope="module")
def both_clients(client):
    from vitrina.search_api.client import GrpcClient, RestClient
    from vitrina.search_api.grpc import serve_grpc

    server = serve_grpc(client.app.state.service, 0)
    with GrpcClient(f"127.0.0.1:{server.bound_port}") as over_grpc:
        yield RestClient(http=client), over_grpc
    server.stop(None)


@pytest.mark.parametrize("args", [
    dict(space="joint", query="a red car", target="vehicles-01", steps=STEPS),
    dict(space="text", item="plants-03", target="plants-08", kinds=["words", "metadata"], steps=STEPS),
    dict(space="text", item="animals-02", kinds=["words"]),
], ids=["query-joint", "items-text", "hover"])
def test_both_transports_explain_alike(both_clients, args):
    over_rest, over_grpc = (c.explain(**args) for c in both_clients)
    assert over_grpc.model_dump(exclude={"cached", "seconds"}) == over_rest.model_dump(exclude={"cached", "seconds"})
    assert over_grpc.cached  # the second call of the same request on the same version
    for heatmap in over_rest.heatmaps:
        pngs = [c.explain_heatmap_png(heatmap.png_url) for c in both_clients]
        assert pngs[0] == pngs[1] and pngs[0][:4] == b"\x89PNG"


def test_grpc_explain_errors_name_the_field(both_clients):
    from vitrina.search_api.errors import InvalidArgument, NotFound

    for c in both_clients:
        with pytest.raises(InvalidArgument) as info:
            c.explain(space="text", item="animals-00", target="animals-01", steps=10_000)
        assert info.value.field == "steps"
        with pytest.raises(InvalidArgument) as info:
            c.explain(space="text", item="animals-00", target="animals-01", reduction="max")
        assert info.value.field == "reduction"
        with pytest.raises(NotFound):
            c.explain_heatmap_png("/v1/explain/heatmaps/feedbeef.png")


def test_worker_processes_share_heatmap_pngs_through_their_folder(bundle, tmp_path):
    # Two apps stand for two `--workers` processes: the PNG URL one names, the other can answer.
    shared = tmp_path / "heatmaps"
    request = {"space": "image", "item": "plants-01", "target": "plants-04", "kinds": ["heatmap"],
               "heatmap_method": "occlusion"}
    with TestClient(_app(bundle, shared_heatmap_dir=shared)) as one, TestClient(_app(bundle, shared_heatmap_dir=shared)) as two:
        urls = [h["png_url"] for h in one.post("/v1/explain", json=request).json()["heatmaps"]]
        assert len(urls) == 2 and len(list(shared.glob("*.png"))) == 2
        for url in urls:
            assert two.get(url).content == one.get(url).content
        assert two.get("/v1/explain/heatmaps/0123abcd.png").status_code == 404
    with TestClient(_app(bundle)) as alone:  # without the folder, another process cannot know it
        assert alone.get(urls[0]).status_code == 404


def test_shared_pngs_keep_the_newest_and_name_only_their_own_files(tmp_path):
    from vitrina.search_api.explanations import SharedPngs

    shared = SharedPngs(tmp_path, entries=2)
    for n in range(4):
        shared.put(f"id{n}", bytes([n]))
        time.sleep(0.01)  # distinct modification times
    assert sorted(p.stem for p in tmp_path.glob("*.png")) == ["id2", "id3"]
    assert shared.get("id3") == b"\x03" and shared.get("id0") is None and shared.get("../id3") is None
