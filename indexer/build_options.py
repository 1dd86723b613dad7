"""What a build is asked to do: its spaces and its options, stated once.

Each option is a field of `BuildOptions` whose metadata carries its help (the `vitrina index
build` CLI reads it), whether it is part of the build key (a build with another value is
another build), and whether the manifest records it. `checked()` validates every option before
any work and raises FieldError naming the field; the CLI maps fields to its flags (`flag`).
"""
from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass, field
from typing import Any

from vitrina.indexer.maps import DEFAULT_CLUSTERINGS, DEFAULT_PROJECTIONS, check_map_methods, check_map_update
from vitrina.indexer.versions.retention import check_keep
from vitrina.indexer.word_attributions import DEFAULT_METHOD as DEFAULT_ATTRIBUTION_METHOD
from vitrina.indexer.word_attributions import DEFAULT_STEPS as DEFAULT_ATTRIBUTION_STEPS
from vitrina.indexer.word_attributions import METHODS as ATTRIBUTION_METHODS
from vitrina.schemas import Modality
from vitrina.schemas.enums import ENCODER_RUNTIMES
from vitrina.schemas.errors import FieldError
from vitrina.training.images import DEFAULT_MAX_PIXELS

# A newcomer's first build of a few thousand items spends well under a minute on attributions
# (20-30 items/s with 2-step IG on 2 cores).
DEFAULT_ATTRIBUTION_ITEMS = 1000

# Which modality a space indexes, and which query modalities it answers.
SPACE_ROLES: dict[str, tuple[Modality, tuple[Modality, ...]]] = {
    "image": (Modality.IMAGE, (Modality.IMAGE,)),
    "text": (Modality.TEXT, (Modality.TEXT,)),
    # The joint space stores image vectors only, so text queries rank pictures.
    "joint": (Modality.IMAGE, (Modality.IMAGE, Modality.TEXT)),
}


@dataclass(frozen=True)
class SpaceRequest:
    name: str
    spec: str

    @classmethod
    def parse(cls, value: str) -> "SpaceRequest":
        name, sep, spec = value.partition("=")
        if not sep or not name or not spec:
            raise FieldError("spaces", f"{value!r}: expected NAME=ENCODER_SPEC, e.g. image=builtin:efficientnet-lite0")
        if name not in SPACE_ROLES:
            raise FieldError("spaces", f"{value!r}: space name must be one of {', '.join(SPACE_ROLES)}")
        return cls(name, spec)


def check_spaces(spaces: list[SpaceRequest]) -> None:
    if not spaces:
        raise FieldError("spaces", "give at least one space, e.g. image=builtin:efficientnet-lite0")
    names = [s.name for s in spaces]
    if len(set(names)) != len(names):
        raise FieldError("spaces", f"each space name may appear once, got {names}")


def option(default: Any = None, help: str = "", *, flag: str | None = None, key: bool = False,
           recorded: bool = False, factory: Any = None) -> Any:
    metadata = {"help": help, "flag": flag, "key": key, "recorded": recorded}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class BuildOptions:
    limit: int | None = option(None, "Index at most N items (a deterministic spread)", recorded=True)
    table_options: dict[str, Any] = option(factory=dict, help="How a table catalogue's columns map onto items")
    chunk_size: int = option(512, "Items per embedding chunk: the unit an interrupted build resumes from, and "
                             "that --engine ray hands to an actor", key=True)
    batch_size: int = option(32, "Encoder batch size")
    workers: int = option(2, "Image decoding worker processes (with --engine ray: per actor)")
    engine: str = option("local", "Where chunks are encoded: 'local' (this process) or 'ray' (an actor pool on Ray "
                         "Data; needs the ray extra). Same key and bit-identical vectors (with equal CPU threads)")
    ray_address: str | None = option(None, "engine ray: the cluster to join (default: $RAY_ADDRESS, else a Ray "
                                     "started for this build on this machine)")
    ray_actors: int = option(1, "engine ray: encoder actors in the pool (one GPU each when the cluster has GPUs)")
    ray_actor_cpus: int | None = option(None, "engine ray: CPUs (torch threads) per actor; default: this "
                                        "process's torch threads, which keeps the vectors bit-identical")
    runtime: str = option("torch", "What runs the encoders' forward pass: 'torch', 'onnx' (ONNX Runtime on CPU: "
                          "the same vectors and fingerprint, 2-4x the items/s on CPU; the export is cached) or "
                          "'onnx-int8' (dynamically quantised weights: other vectors, its own fingerprint; for text "
                          "encoders, since int8 convolutions ran at a tenth of fp32's speed)",
                          recorded=True)
    max_pixels: int = option(DEFAULT_MAX_PIXELS, "Skip (and report) images with more pixels than this",
                             key=True, recorded=True)
    index_spec: str | None = option(None, "Force a FAISS index_factory string (default: chosen by size)")
    index_memory: float | None = option(None, "Memory budget of each space's index, in GiB: the ranked choice "
                                        "keeps only indexes estimated to fit (IVF-SQ8, then OPQ+IVF-PQ), whose "
                                        "candidates are re-scored from the memory-mapped vectors", key=True,
                                        recorded=True)
    target_recall: float = option(0.95, "Tune search parameters until recall@10 vs exact reaches this",
                                  recorded=True)
    progress: bool = option(True, "Show progress bars")
    publish: bool = option(True, "Write the version under versions/ but leave CURRENT alone; check it with "
                           "`index shadow`, publish it with `index publish`", flag="--no-publish")
    parent: str | None = option("current", "The version this one follows: its unchanged items' vectors are "
                                "reused, the maps follow its maps and its word attributions are carried over. "
                                "'current', a version name, or 'none'", recorded=True)
    keep_versions: int | None = option(None, "Afterwards delete all but the newest N versions (never CURRENT, its "
                                       "parent or the previous published one)", flag="--keep")
    skip_unchanged: bool = option(False, "Do nothing when CURRENT was built from identical inputs",
                                  flag="--skip-unchanged")
    reuse_vectors: bool = option(True, "Take vectors of unchanged items from the parent version (same content "
                                 "hash and encoder fingerprint; joint towers from their base encoder's vectors) "
                                 "instead of encoding", flag="--reuse")
    neighbours_k: int = option(20, "Precompute each item's N nearest neighbours per space (served without a "
                               "search; feed the label-outlier report); 0: neither", key=True, recorded=True)
    projections: tuple[str, ...] = option(DEFAULT_PROJECTIONS, "2-D map method per space, repeatable: umap, pca, "
                                          "tsne, pacmap (default: umap and pca; t-SNE and PaCMAP are slow at 100k+ "
                                          "items). UMAP/PCA models are kept to place new items without refitting",
                                          flag="--projection", key=True, recorded=True)
    clusterings: tuple[str, ...] = option(DEFAULT_CLUSTERINGS, "Clustering per space, repeatable: hdbscan, dbscan, "
                                          "kmeans, agglomerative (default: hdbscan and kmeans); needs a projection",
                                          flag="--clustering", key=True, recorded=True)
    map_update: str = option("refit", "How a re-index makes its maps when the parent has them: 'refit' fits again "
                             "and aligns onto the parent's map; 'place' keeps the parent's coordinates and places "
                             "only new or changed items with its stored UMAP/PCA reducer (falls back to refit when "
                             "over half the items changed)", key=True, recorded=True)
    attribution_method: str = option(DEFAULT_ATTRIBUTION_METHOD, "How each item's word attributions (the map's "
                                     "hover, attributions/text.parquet) are computed: 'integrated_gradients' "
                                     "(--attribution-steps steps) or 'gradient_x_input' (one forward/backward pass "
                                     "per item: faster, ranks words less like full IG). Each row stores its "
                                     "completeness delta; the API runs full IG on demand either way",
                                     key=True, recorded=True)
    attribution_steps: int = option(DEFAULT_ATTRIBUTION_STEPS, "Integrated Gradients steps per precomputed item "
                                    "(2 ranks words like 50 at ~10x the speed); 0: no precomputed attributions",
                                    key=True, recorded=True)
    attribution_items: int | None = option(DEFAULT_ATTRIBUTION_ITEMS, "Precompute word attributions for at most N "
                                           "items per space (an even spread; the API explains the rest on demand "
                                           "and caches them)", key=True, recorded=True)

    @staticmethod
    def help(name: str) -> str:
        return _FIELDS[name].metadata["help"]

    @staticmethod
    def flag(name: str) -> str:
        """The CLI flag of field `name`, for error messages that reach a command-line user."""
        known = _FIELDS.get(name)
        return (known.metadata["flag"] if known else None) or _OTHER_FLAGS.get(name) or "--" + name.replace("_", "-")

    def checked(self) -> "BuildOptions":
        """A copy with the map methods as tuples; FieldError for the first option that cannot work."""
        if self.index_memory is not None and (isinstance(self.index_memory, bool) or not isinstance(
                self.index_memory, (int, float)) or not self.index_memory > 0):
            raise FieldError("index_memory", f"must be a number of GiB > 0, got {self.index_memory!r}")
        for name in ("neighbours_k", "attribution_steps", "attribution_items"):
            value = getattr(self, name)
            if name == "attribution_items" and value is None:  # every item
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise FieldError(name, f"must be an integer >= 0 (0: none), got {value!r}")
        if self.keep_versions is not None:
            check_keep(self.keep_versions, "keep_versions")
        projections, clusterings = check_map_methods(self.projections, self.clusterings)
        check_map_update(self.map_update)
        if self.attribution_method not in ATTRIBUTION_METHODS:
            raise FieldError("attribution_method", f"unknown method {self.attribution_method!r}; choose from "
                                                   f"{', '.join(ATTRIBUTION_METHODS)}")
        _check_engine(self)
        if self.runtime not in ENCODER_RUNTIMES:
            raise FieldError("runtime", f"must be one of {', '.join(ENCODER_RUNTIMES)}, got {self.runtime!r}")
        return dataclasses.replace(self, projections=projections, clusterings=clusterings)

    def key_payload(self) -> dict[str, Any]:
        """The options that make a build another build."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self) if f.metadata["key"]}

    def recorded(self) -> dict[str, Any]:
        """The options a manifest records under build.options."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self) if f.metadata["recorded"]}


_FIELDS = {f.name: f for f in dataclasses.fields(BuildOptions)}
# Fields of the build that are arguments of build_bundle rather than options.
_OTHER_FLAGS = {"spaces": "--space"}


def _check_engine(options: BuildOptions) -> None:
    from vitrina.indexer.engines import ENGINES

    if options.engine not in ENGINES:
        raise FieldError("engine", f"must be one of {', '.join(ENGINES)}, got {options.engine!r}")
    for name in ("ray_actors", "ray_actor_cpus"):
        value = getattr(options, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise FieldError(name, f"must be an integer >= 1, got {value!r}")
    if options.engine == "ray" and importlib.util.find_spec("ray") is None:
        raise FieldError("engine", "the ray engine needs Ray: pip install 'vitrina[ray]'")


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
