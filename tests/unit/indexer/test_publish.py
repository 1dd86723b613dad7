"""Re-indexing without downtime: incremental builds, shadow versions, publish, rollback, gc."""
import json
import shutil

import faiss
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests.conftest import build_tiny_bundle, catalogue_without
from tests.fakes import FakeFactory, FakeImageEncoder, FakeTextEncoder
from vitrina.schemas.bundle_layout import CollectionPaths
from vitrina.indexer.bundle.reader import BundleNotFoundError
from vitrina.indexer.bundle.writer import set_current
from vitrina.indexer.publishing import PublishRefused, collect_garbage, publish_version, rollback, shadow_check
from vitrina.indexer.versions.history import read_history
from vitrina.schemas import Manifest, Modality

# Fine PQ codes over 8 coarse lists at the smallest nprobe: a valid index that loses neighbours.
BAD_INDEX = dict(index_spec="IVF8,PQ2x4", target_recall=0.01)


class CountingText(FakeTextEncoder):
    def __init__(self, spec):
        super().__init__(spec)
        self.seen = []

    def encode(self, batch):
        self.seen += list(batch)
        return super().encode(batch)


class CountingImage(FakeImageEncoder):
    def __init__(self, spec):
        super().__init__(spec)
        self.seen = 0

    def encode_pixels(self, pixels):
        self.seen += len(pixels)
        return super().encode_pixels(pixels)


class CountingFactory(FakeFactory):
    """Counts the items each encoder is given, not its batches."""

    def __call__(self, spec, modality=None, **_):
        key = (spec, modality)
        if key not in self.created:
            self.created[key] = CountingText(spec) if modality is Modality.TEXT else CountingImage(spec)
        return self.created[key]


def _strings_in(version_root):
    """Everything a version's Parquet files and JSON files say, as one string."""
    parts = [json.dumps(pq.read_table(p).to_pylist(), default=str) for p in version_root.rglob("*.parquet")]
    return "\n".join(parts + [p.read_text() for p in version_root.rglob("*.json")])


def test_incremental_build_encodes_only_added_and_changed_items(tmp_path, tiny_catalogue):
    old = catalogue_without(tmp_path / "old", tiny_catalogue, {"animals-01", "plants-02"})
    new = catalogue_without(tmp_path / "new", tiny_catalogue, {"vehicles-03"})
    shutil.copy(new.parent / "images" / "plants-05.png", new.parent / "images" / "animals-05.png")
    first = build_tiny_bundle(tmp_path / "b", old)

    factory = CountingFactory()
    second = build_tiny_bundle(tmp_path / "b", new, factory=factory)
    assert second.report["vs_parent"] == {"parent": first.version, "items_added": 2, "items_removed": 1,
                                          "items_changed": 1, "items_unchanged": 56}
    assert Manifest.read(second.paths.manifest).parent == first.version
    for space in ("image", "text"):
        counts = second.report["spaces"][space]
        assert (counts["vectors_reused"], counts["vectors_encoded"], counts["rows"]) == (56, 3, 59), space
    assert factory.created[("fake:image", Modality.IMAGE)].seen == 3
    texts = factory.created[("fake:text", Modality.TEXT)].seen
    assert len(texts) == 3 and {t.split(".")[0] for t in texts} == {"dog 1", "rose 2", "cat 5"}

    # The removed item is gone from every file, the added ones are in every space.
    everything = _strings_in(second.paths.root)
    assert "vehicles-03" not in everything and "animals-01" in everything
    for space in ("image", "text"):
        ids = pq.read_table(second.paths.embeddings(space)).column("id").to_pylist()
        assert "vehicles-03" not in ids and {"animals-01", "plants-02"} <= set(ids)
        assert faiss.read_index(str(second.paths.index(space))).ntotal == 59


def test_no_parent_encodes_everything_and_no_publish_leaves_a_whole_version(tmp_path, tiny_catalogue):
    first = build_tiny_bundle(tmp_path, tiny_catalogue)
    factory = CountingFactory()
    shadow = build_tiny_bundle(tmp_path, tiny_catalogue, factory=factory, parent=None, publish=False)
    coll = CollectionPaths.of(tmp_path, "tiny")
    assert coll.current() == first.version and not shadow.published
    assert shadow.paths == coll.version(shadow.version) and shadow.version in coll.versions()
    assert not any((coll.root / ".staging").iterdir())
    assert Manifest.read(shadow.paths.manifest).parent is None
    assert shadow.report["vs_parent"]["items_added"] == 60 and shadow.report["spaces"]["image"]["vectors_reused"] == 0
    assert factory.created[("fake:image", Modality.IMAGE)].seen == 60
    with pytest.raises(ValueError, match="parent: 'nope' is not a finished version"):
        build_tiny_bundle(tmp_path, tiny_catalogue, parent="nope")


@pytest.fixture(scope="module")
def three_versions(tmp_path_factory, tiny_catalogue):
    """CURRENT `good` plus two unpublished rebuilds of the same catalogue: `same` (the same
    index) and `bad` (an index that loses neighbours). Copied per test by `root`."""
    out = tmp_path_factory.mktemp("versions")
    good = build_tiny_bundle(out, tiny_catalogue).version
    same = build_tiny_bundle(out, tiny_catalogue, publish=False).version
    bad = build_tiny_bundle(out, tiny_catalogue, publish=False, **BAD_INDEX).version
    return out, {"good": good, "same": same, "bad": bad}


@pytest.fixture
def root(tmp_path, three_versions):
    pristine, versions = three_versions
    shutil.copytree(pristine, tmp_path / "bundles")
    return tmp_path / "bundles", versions


def test_shadow_of_an_identical_rebuild_agrees_and_moves_nothing(root):
    out, v = root
    coll = CollectionPaths.of(out, "tiny")
    # Eval reports in both: the shadow report diffs the metrics they share.
    for name, value in (("good", 0.5), ("same", 0.75)):
        coll.version(v[name]).eval_report.write_text(json.dumps(
            {"spaces": {"text": {"metrics": {"sts_spearman": value, "label": "x", f"only_{name}": 1.0}}}}))

    report = shadow_check(coll, v["same"], encoder_factory=FakeFactory())
    assert coll.current() == v["good"] and report["current"] == v["good"]
    assert report["items"] == {"items_added": 0, "items_removed": 0, "items_changed": 0, "items_unchanged": 60}
    for name, space in report["spaces"].items():
        assert space["overlap@10"] == 1.0 and space["item_queries"] == 60, name
        assert space["recall@10"] >= 0.99, name
    assert report["spaces"]["text"]["text_overlap@10"] == 1.0 and report["spaces"]["text"]["text_queries"] == 60
    assert report["spaces"]["image"]["text_queries"] == 0  # an image-only space takes no text queries
    assert report["spaces"]["text"]["eval"] == {"sts_spearman": {"old": 0.5, "new": 0.75, "delta": 0.25}}
    assert json.loads(coll.version(v["same"]).shadow_report.read_text())["spaces"] == json.loads(json.dumps(report["spaces"]))


def test_publish_refuses_a_bad_index_naming_space_and_metric_unless_forced(root):
    out, v = root
    coll = CollectionPaths.of(out, "tiny")
    with pytest.raises(PublishRefused, match=r"space 'text': recall@10 0\.\d+ < --min-recall 0\.9") as refused:
        publish_version(coll, v["bad"], encoder_factory=FakeFactory())
    assert isinstance(refused.value, ValueError) and coll.current() == v["good"]
    assert refused.value.report["spaces"]["text"]["recall@10"] < 0.9

    result = publish_version(coll, v["bad"], force=True, encoder_factory=FakeFactory())
    assert coll.current() == v["bad"] and result["forced"] and result["previous"] == v["good"]
    last = read_history(coll)[-1]
    assert (last["version"], last["previous"], last["action"], last["forced"]) == (v["bad"], v["good"], "publish", True)
    assert last["recall"]["text"] < 0.9
    with pytest.raises(BundleNotFoundError):
        publish_version(coll, "20990101T000000000000Z-nope", encoder_factory=FakeFactory())


def test_rollback_follows_the_publish_history_not_the_manifest_parent(root):
    out, v = root
    coll = CollectionPaths.of(out, "tiny")
    publish_version(coll, v["same"], encoder_factory=FakeFactory())
    publish_version(coll, v["bad"], force=True, encoder_factory=FakeFactory())
    # bad's manifest parent is `good` (CURRENT when it was built), but `same` was published in between.
    assert Manifest.read(coll.version(v["bad"]).manifest).parent == v["good"]
    assert rollback(coll) == {"version": v["same"], "previous": v["bad"]}
    assert rollback(coll)["version"] == v["good"]  # walks back, does not toggle
    with pytest.raises(ValueError, match="no previously published version"):
        rollback(coll)
    assert rollback(coll, to=v["bad"])["version"] == v["bad"] and coll.current() == v["bad"]


def _fake_versions(coll: CollectionPaths, template: str, names: list[str]) -> None:
    """Copies of a real version whose manifests say they were built in `names` order."""
    manifest = Manifest.read(coll.version(template).manifest)
    for i, name in enumerate(names):
        shutil.copytree(coll.version(template).root, coll.version(name).root)
        created = manifest.created_at.replace(year=2000 + i)
        parent = names[i - 1] if i else None
        coll.version(name).manifest.write_text(manifest.model_copy(
            update={"version": name, "created_at": created, "parent": parent}).to_json())


def test_gc_keeps_the_newest_and_never_current_its_parent_previous_or_unfinished_versions(root):
    out, v = root
    coll = CollectionPaths.of(out, "tiny")
    _fake_versions(coll, v["good"], ["a", "b", "c", "d", "e"])
    set_current(coll, "c")
    set_current(coll, "b")  # CURRENT b: its manifest parent is a, the version published before it c
    for name in v.values():
        shutil.rmtree(coll.version(name).root)
    (coll.root / "versions" / "f").mkdir()  # no manifest: not a finished version
    (coll.root / ".staging" / "key").mkdir(parents=True)

    assert collect_garbage(coll, keep=1, dry_run=True) == ["d"] and "d" in coll.versions()
    assert collect_garbage(coll, keep=1) == ["d"]
    assert coll.versions() == ["a", "b", "c", "e"] and coll.current() == "b"
    assert (coll.root / "versions" / "f").is_dir() and (coll.root / ".staging" / "key").is_dir()
    assert not any(coll.trash.iterdir())
    with pytest.raises(ValueError, match="keep: must be an integer >= 1"):
        collect_garbage(coll, keep=0)


def test_cli_build_shadow_publish_rollback_gc(root, tiny_catalogue, monkeypatch):
    import vitrina.training.encoders
    from tests.conftest import TABLE_OPTIONS
    from vitrina.indexer.cli import app

    monkeypatch.setattr(vitrina.training.encoders, "create_encoder", FakeFactory())
    out, v = root
    coll = CollectionPaths.of(out, "tiny")
    where = ["--collection", "tiny"]
    run = lambda *args: CliRunner().invoke(app, [*args, "--bundles", str(out), *where])  # noqa: E731

    build = ["build", "--catalogue", f"table:{tiny_catalogue}", "--out", str(out), *where,
             "--space", "image=fake:image", "--space", "text=fake:text", "--image-column", TABLE_OPTIONS["image_column"],
             "--title-column", "title", "--text-columns", "title,description", "--metadata-columns", "category,tags,year",
             "--list-columns", "tags", "--workers", "0", "--no-progress", "--projection", "pca", "--clustering", "kmeans",
             "--attribution-steps", "0", "--no-publish"]
    refused = CliRunner().invoke(app, [*build, "--parent", "nope"])
    assert refused.exit_code != 0 and "--parent" in refused.output
    result = CliRunner().invoke(app, [*build, "--parent", v["same"], "--keep", "2"])
    assert result.exit_code == 0, result.output
    built = json.loads(result.output)
    # Newest two: this build and `bad`; CURRENT `good` is kept anyway, so `same` goes.
    assert built["published"] is False and built["removed_versions"] == [v["same"]]
    assert built["report"]["vs_parent"]["parent"] == v["same"] and coll.current() == v["good"]

    shadow = run("shadow")  # default: the newest version that is not CURRENT
    assert shadow.exit_code == 0, shadow.output
    assert "Candidate vs CURRENT" in shadow.output
    assert f"{built['version']}/reports/shadow.json" in shadow.output.replace("\n", "")

    refused = run("publish", "--version", v["bad"])
    assert refused.exit_code == 1 and "space 'text': recall@10" in refused.output and coll.current() == v["good"]
    forced = run("publish", "--version", v["bad"], "--force")
    assert forced.exit_code == 0, forced.output
    assert "forced past" in forced.output and coll.current() == v["bad"]

    back = run("rollback")
    assert back.exit_code == 0 and coll.current() == v["good"] and f"was {v['bad']}" in back.output
    nothing = run("rollback")
    assert nothing.exit_code == 1 and "no previously published version" in nothing.output

    gc = run("gc", "--keep", "1")
    assert gc.exit_code == 0, gc.output
    assert f"removed {v['bad']}" in gc.output and coll.versions() == sorted([v["good"], built["version"]])

    # A scheduled publish step cannot know the version name: `newest` is the latest build.
    newest = run("publish", "--version", "newest")
    assert newest.exit_code == 0, newest.output
    assert coll.current() == built["version"] and f"published {built['version']}" in newest.output


def test_publish_newest_without_any_finished_version_names_the_option(tmp_path):
    from vitrina.indexer.cli import app

    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["publish", "--bundles", str(tmp_path), "--collection", "empty", "--version", "newest"])
    assert result.exit_code == 2 and "--version" in result.output and "no finished version" in result.output
