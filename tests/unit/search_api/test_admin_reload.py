"""Hot reload over both transports: under load, its answers and failures, the old bundle freed, CURRENT watched."""
from __future__ import annotations

import gc
import shutil
import threading
import time
import weakref

import pytest

from tests.unit.search_api._admin_helpers import KEY, metric, serving, set_current
from vitrina.schemas.bundle_layout import CollectionPaths
from vitrina.search_api.client import GrpcClient, RestClient
from vitrina.search_api.errors import InvalidArgument, NotFound, Unavailable


def hits_of(answer) -> list[str]:
    return [hit.id for hit in answer.hits]


# -- reload ------------------------------------------------------------------------------------


def test_reload_under_load_loses_no_request(at_first):
    """Threads hammer neighbours over REST and gRPC while the server flips between two versions:
    no request fails, and every answer is wholly one version's (its hits are that version's)."""
    root, first, second = at_first
    with serving(root, api_keys=[KEY]) as (app, rest, channel):
        service = app.state.service
        expected = {}
        for version in (first, second):
            service.reload(version)
            expected[version] = hits_of(service.neighbours("animals-00", "text", 5))
        assert expected[first] != expected[second]
        clients = [RestClient(http=rest, api_key=KEY), GrpcClient(channel=channel, api_key=KEY)]
        stop, answers, errors = threading.Event(), [], []

        def hammer(client) -> None:
            while not stop.is_set():
                try:
                    answers.append(client.neighbours("animals-00", space="text", k=5))
                except Exception as exc:  # noqa: BLE001 - any failure is what the test counts
                    errors.append(exc)

        threads = [threading.Thread(target=hammer, args=(c,)) for c in clients for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            for i in range(6):  # the expectations left `second` served
                time.sleep(0.05)
                target = second if i % 2 else first
                reply = clients[i % 2].reload(target)
                assert reply.changed and reply.version == target
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        assert errors == []
        assert {a.bundle_version for a in answers} == {first, second}
        assert all(hits_of(a) == expected[a.bundle_version] for a in answers)


def test_reload_answers_and_failures(at_first, tmp_path):
    root, first, second = at_first
    with serving(root, api_keys=[KEY]) as (app, rest, channel):
        clients = [RestClient(http=rest, api_key=KEY), GrpcClient(channel=channel, api_key=KEY)]
        rest_client, grpc_client = clients
        same = rest_client.reload()
        assert (same.previous_version, same.version, same.changed, same.seconds) == (first, first, False, 0.0)

        set_current(root, second)
        moved = grpc_client.reload()  # no version: CURRENT's
        assert (moved.previous_version, moved.version, moved.changed) == (first, second, True) and moved.seconds > 0
        assert rest_client.bundle().version == second

        for client in clients:
            with pytest.raises(NotFound, match="version 'nope' not found"):
                client.reload("nope")
            with pytest.raises(InvalidArgument) as info:
                client.reload("../elsewhere")
            assert info.value.field == "version"

        broken = CollectionPaths.of(root, "tiny").version("broken").root
        broken.mkdir()
        try:
            (broken / "manifest.json").write_text("{not json")
            for client in clients:
                with pytest.raises(Unavailable, match=f"loading version 'broken' failed.*still serving '{second}'"):
                    client.reload("broken")
        finally:
            shutil.rmtree(broken)
        assert rest_client.bundle().version == second  # the failed load changed nothing
        assert rest.get("/readyz").json()["bundle_version"] == second
        # Unknown and broken versions, twice each; a malformed name is refused before any load.
        assert metric(rest, "vitrina_reloads_total", result="failed") == 4
        assert metric(rest, "vitrina_reloads_total", result="unchanged") == 1


def test_old_bundle_is_freed_once_its_last_request_ends(at_first, monkeypatch):
    """After a swap the old Bundle lives exactly as long as the requests that took it: nothing
    else (caches, metrics, the reloader) keeps it."""
    import vitrina.search_api.service as service_module

    root, first, second = at_first
    with serving(root, api_keys=[KEY]) as (app, rest, channel):
        service = app.state.service
        old = weakref.ref(service.holder.get())
        # Fill the caches keyed by version.
        assert rest.get("/v1/items/plants-02/image", params={"size": 16}).status_code == 200
        assert rest.get("/v1/spaces/image/clusters/0/items").status_code == 200
        assert len(service._thumbnails) == len(service._members) == 1

        inside, release = threading.Event(), threading.Event()
        real_hits = service_module._hits

        def held_hits(*args):
            inside.set()
            assert release.wait(10)
            return real_hits(*args)

        monkeypatch.setattr(service_module, "_hits", held_hits)
        in_flight = {}
        request = threading.Thread(target=lambda: in_flight.update(
            answer=rest.get("/v1/items/animals-00/neighbours", params={"space": "text", "k": 5})))
        request.start()
        assert inside.wait(10)
        monkeypatch.setattr(service_module, "_hits", real_hits)  # requests from now on are not held

        assert service.reload(second).changed
        assert rest.get("/v1/bundle").json()["version"] == second
        gc.collect()
        assert old() is not None, "the request in flight still answers from the old bundle"
        assert len(service._thumbnails) == len(service._members) == 0  # old-version entries went with the swap

        release.set()
        request.join(10)
        assert in_flight["answer"].json()["bundle_version"] == first
        deadline = time.monotonic() + 10
        while old() is not None and time.monotonic() < deadline:  # the reloader's reaper frees it, not this test
            time.sleep(0.05)
        assert old() is None, gc.get_referrers(old()) if old() is not None else ""


def test_watch_current_reloads_when_current_changes(at_first):
    root, first, second = at_first
    with serving(root, watch_current_s=0.05) as (app, rest, channel):
        assert rest.get("/v1/bundle").json()["version"] == first
        set_current(root, second)
        deadline = time.monotonic() + 10
        while app.state.holder.version != second and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rest.get("/v1/bundle").json()["version"] == second
        assert metric(rest, "vitrina_reloads_total", result="loaded") == 1
