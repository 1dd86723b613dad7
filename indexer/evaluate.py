"""`vitrina eval`: measure a published version and write `reports/eval.json` into it.

Per space, with every evaluator on the shared contract (training/metrics):
- within-modal: do an item's nearest neighbours share its label? (precision@k,
  hit@k, rank of the first neighbour sharing it, leave-one-out kNN classification)
  for each categorical attribute;
- clustering agreement with each attribute (KMeans k = classes, DBSCAN, Ward) as ARI/NMI;
- the stored map's agreement with each attribute: ARI/NMI of the clusterings the build
  stored, silhouette of the labels in every 2-D map, and each map's trustworthiness;
- cross-modal, for a space with a text and an image encoder (`joint`): each item's
  own text as the query and its own image as the one relevant target,
  text->image and image->text recall@k and median rank;
- STS Pearson/Spearman, for every space with a text encoder, on an in-collection
  graded pair set built from the items (training/metrics/sts.py).

The report is the one file written into a published version: metrics describe the
version and change nothing a reader serves, and it is written atomically.
Everything sampled (STS pairs, clustering subsample, query subsample) comes from
`seed`, so the metrics are identical run to run.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from vitrina.indexer.attributes import categorical_attributes
from vitrina.schemas.bundle_layout import VersionPaths, write_atomic
from vitrina.indexer.bundle.reader import Bundle, ItemTable, Space
from vitrina.indexer.timing import StageTimer
from vitrina.schemas import Modality
from vitrina.training.data.text_views import build_text_views
from vitrina.training.metrics.classification import DEFAULT_KNN_K, NeighbourLabelEvaluator
from vitrina.training.metrics.clustering import DEFAULT_MAX_ITEMS, METHODS, ClusteringEvaluator
from vitrina.training.metrics.evaluator import Evaluator, EvaluatorError, prefix_metrics
from vitrina.training.metrics.map_agreement import MapAgreementEvaluator
from vitrina.training.metrics.sts import DEFAULT_PAIRS_PER_GRADE, StsEvaluator, StsSet, build_sts_set

log = logging.getLogger("vitrina.indexer")

EVAL_REPORT = "reports/eval.json"
REPORT_FORMAT = 1


@dataclass
class EvalOptions:
    seed: int = 0
    ks: tuple[int, ...] = (1, 5, 10)
    attributes: list[str] | None = None  # None: every categorical metadata attribute
    spaces: list[str] | None = None  # None: every space
    clustering_methods: tuple[str, ...] = METHODS
    clustering_max_items: int | None = DEFAULT_MAX_ITEMS
    knn_k: int = DEFAULT_KNN_K
    sts_pairs_per_grade: int = DEFAULT_PAIRS_PER_GRADE
    sts_category: str = "category"
    sts_subcategory: str = "subcategory"
    cross_modal_max_queries: int | None = None  # None: every item with text and image
    query_ids: list[str] | None = None  # e.g. a checkpoint's held-out items
    progress: bool = True


@dataclass
class SpaceReport:
    metrics: dict[str, float] = field(default_factory=dict)
    primary: dict[str, str] = field(default_factory=dict)  # evaluator -> its prefixed primary metric
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def _labels(items: ItemTable, space: Space, attribute: str) -> list[str | None]:
    return [items.metadata[row].get(attribute) for row in space.item_rows]


def _run(evaluator: Evaluator, target: Any, report: SpaceReport) -> None:
    try:
        report.metrics.update(evaluator(target))
        report.primary[evaluator.name] = evaluator.primary_key
    except EvaluatorError as exc:
        # A space may simply lack what a metric needs (one class in a small bundle): say so, keep going.
        log.warning("evaluator skipped", extra={"evaluator": evaluator.name, "reason": str(exc)})
        report.details.setdefault("skipped", {})[evaluator.name] = str(exc)


def rank_of_targets(queries: np.ndarray, targets: np.ndarray, truth: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """1-based rank of target `truth[i]` for query i among all targets; ties count in its favour."""
    ranks = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        sims = queries[start:start + chunk] @ targets.T
        own = sims[np.arange(len(sims)), truth[start:start + chunk]]
        ranks[start:start + chunk] = 1 + (sims > own[:, None]).sum(1)
    return ranks


def retrieval_metrics(ranks: np.ndarray, ks: Sequence[int]) -> dict[str, float]:
    out = {f"recall@{k}": float(np.mean(ranks <= k)) for k in ks}
    out["median_rank"] = float(np.median(ranks))
    out["queries"] = float(len(ranks))
    return out


def _query_rows(bundle: Bundle, space: Space, options: EvalOptions) -> np.ndarray:
    """Space rows whose item has text, restricted to `query_ids`, then a seeded sample."""
    items = bundle.items
    rows = np.array([r for r, item_row in enumerate(space.item_rows) if items.record(int(item_row)).text.strip()],
                    dtype=np.int64)
    if options.query_ids is not None:
        wanted = set(options.query_ids)
        rows = rows[[space.ids[r] in wanted for r in rows]] if len(rows) else rows
    if options.cross_modal_max_queries is not None and len(rows) > options.cross_modal_max_queries:
        rng = np.random.default_rng(options.seed)
        rows = np.sort(rng.choice(rows, options.cross_modal_max_queries, replace=False))
    return rows


class CrossModalEvaluator(Evaluator):
    """Own text -> own image among every image of the space, and the reverse among the queries' texts."""

    primary_metric = "text_to_image_recall@10"
    greater_is_better = True

    def __init__(self, texts: Sequence[str], rows: np.ndarray, ks: Sequence[int], name: str = "cross_modal"):
        if len(rows) == 0:
            raise EvaluatorError("query_ids", "no item has both a text and a vector in this space")
        self.texts, self.rows, self.ks, self.name = list(texts), rows, sorted(set(ks)), name
        self.primary_metric = f"text_to_image_recall@{max(self.ks)}"

    def compute(self, target: tuple[Any, np.ndarray]) -> dict[str, float]:
        text_encoder, image_vectors = target
        text_vectors = np.asarray(text_encoder.encode(self.texts), dtype=np.float32)
        to_image = rank_of_targets(text_vectors, image_vectors, self.rows)
        # Image -> text: the gallery is the queries' own texts (all of them unless subsampled).
        to_text = rank_of_targets(image_vectors[self.rows], text_vectors, np.arange(len(self.rows)))
        out = prefix_metrics("text_to_image", retrieval_metrics(to_image, self.ks))
        out.update(prefix_metrics("image_to_text", retrieval_metrics(to_text, self.ks)))
        out["image_gallery"], out["text_gallery"] = float(len(image_vectors)), float(len(text_vectors))
        return out


def _cross_modal(bundle: Bundle, space: Space, options: EvalOptions, report: SpaceReport) -> None:
    query_sets = {"cross_modal": options}
    heldout = _checkpoint_heldout_ids(space) if options.query_ids is None else None
    if heldout is not None:
        # Items the checkpoint never trained on: the honest number for a trained joint space.
        query_sets["cross_modal_heldout"] = replace(options, query_ids=heldout, cross_modal_max_queries=None)
        report.details["cross_modal_heldout"] = {"source": "the text encoder's checkpoint (heldout_ids.txt)",
                                                 "ids": len(heldout)}
    for name, query_options in query_sets.items():
        rows = _query_rows(bundle, space, query_options)
        texts = [bundle.items.record(int(space.item_rows[r])).text for r in rows]
        try:
            evaluator = CrossModalEvaluator(texts, rows, options.ks, name=name)
        except EvaluatorError as exc:
            report.details.setdefault("skipped", {})[name] = str(exc)
            continue
        _run(evaluator, (space.encoder(Modality.TEXT), space.vectors), report)


def _checkpoint_heldout_ids(space: Space) -> list[str] | None:
    """The held-out ids a `ckpt:` joint text tower was saved with, if any."""
    from vitrina.training.checkpoint import read_heldout_ids

    info = space.manifest.encoders.get(Modality.TEXT)
    if info is None or not info.spec.startswith("ckpt:"):
        return None
    try:
        return read_heldout_ids(info.spec.removeprefix("ckpt:"))
    except OSError:
        return None


def _sts_set(bundle: Bundle, options: EvalOptions) -> StsSet | None:
    views = build_text_views(
        (bundle.items.record(row) for row in range(len(bundle.items))),
        category_field=options.sts_category,
        subcategory_field=options.sts_subcategory,
    )
    try:
        return build_sts_set(views, options.sts_pairs_per_grade, options.seed)
    except EvaluatorError as exc:
        log.warning("no STS set", extra={"reason": str(exc)})
        return None


def _map_agreement(bundle: Bundle, space: Space, attributes: Sequence[str], options: EvalOptions,
                   report: SpaceReport) -> None:
    """ARI/NMI of the stored clusterings and silhouette of labels in each stored map, per
    attribute, plus each map's trustworthiness as the build measured it."""
    maps = space.projections()
    if not maps.coords:
        report.details.setdefault("skipped", {})["maps"] = "the version has no map of this space"
        return
    built = (bundle.manifest.build.get("maps") or {}).get(space.name, {}).get("projections", {})
    for method in maps.coords:
        trust = (built.get(method) or {}).get("trustworthiness")
        if trust is not None:
            report.metrics[f"maps_{method}_trustworthiness"] = float(trust)
    for attribute in attributes:
        evaluator = MapAgreementEvaluator(_labels(bundle.items, space, attribute), attribute, options.seed)
        _run(evaluator, (maps.coords, maps.labels), report)


def evaluate_space(bundle: Bundle, space: Space, attributes: Sequence[str], sts_set: StsSet | None,
                   options: EvalOptions) -> SpaceReport:
    report = SpaceReport()
    start = time.perf_counter()
    vectors = space.vectors
    for attribute in attributes:
        labels = _labels(bundle.items, space, attribute)
        _run(NeighbourLabelEvaluator(labels, attribute, options.ks, options.knn_k), vectors, report)
        _run(ClusteringEvaluator(labels, attribute, options.clustering_methods, options.seed,
                                 options.clustering_max_items), vectors, report)
    _map_agreement(bundle, space, attributes, options, report)
    modalities = set(space.query_modalities)
    if {Modality.TEXT, Modality.IMAGE} <= modalities and space.manifest.indexed_modality is Modality.IMAGE:
        _cross_modal(bundle, space, options, report)
    if Modality.TEXT in modalities and sts_set is not None:
        _run(StsEvaluator(sts_set, name="sts"), space.encoder(Modality.TEXT), report)
    report.seconds = round(time.perf_counter() - start, 3)
    return report


def evaluate_bundle(bundle: Bundle, options: EvalOptions | None = None) -> dict[str, Any]:
    """The eval report of one opened version (a JSON-ready dict); writes nothing."""
    options = options or EvalOptions()
    names = options.spaces or list(bundle.spaces)
    missing = [n for n in names if n not in bundle.spaces]
    if missing:
        raise EvaluatorError("spaces", f"{missing} not in version {bundle.version} (has {', '.join(bundle.spaces)})")
    attributes = options.attributes if options.attributes is not None else categorical_attributes(bundle.items)
    timer = StageTimer()
    with timer.stage("eval:sts_set"):
        needs_sts = any(Modality.TEXT in bundle.spaces[n].query_modalities for n in names)
        sts_set = _sts_set(bundle, options) if needs_sts else None
    spaces: dict[str, Any] = {}
    for name in tqdm(names, desc="eval", unit="space", disable=not options.progress):
        with timer.stage(f"eval:{name}"):
            spaces[name] = asdict(evaluate_space(bundle, bundle.spaces[name], attributes, sts_set, options))
    flat = {f"{name}/{key}": value for name, space in spaces.items() for key, value in space["metrics"].items()}
    return {
        "format_version": REPORT_FORMAT,
        "collection": bundle.collection,
        "version": bundle.version,
        "created_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "options": {k: v for k, v in asdict(options).items() if k not in ("progress", "query_ids")}
        | {"query_ids": len(options.query_ids) if options.query_ids is not None else None},
        "attributes": attributes,
        "sts_set": sts_set.describe() if sts_set is not None else None,
        "spaces": spaces,
        "metrics": flat,
        "timings_s": timer.seconds,
    }


def write_eval_report(paths: VersionPaths, report: dict[str, Any]) -> Path:
    path = paths.root / EVAL_REPORT
    write_atomic(path, json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    return path


def run_eval(
    bundles_root: str | Path,
    collection: str,
    version: str | None = None,
    options: EvalOptions | None = None,
    encoder_factory: Callable[..., Any] | None = None,
) -> tuple[dict[str, Any], Path]:
    """Open a version (CURRENT by default), evaluate it, write its reports/eval.json."""
    bundle = Bundle.open(bundles_root, collection, version, use_gpu=False, encoder_factory=encoder_factory)
    report = evaluate_bundle(bundle, options)
    return report, write_eval_report(bundle.paths, report)
