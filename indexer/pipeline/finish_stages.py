"""The stages after the spaces: items, outliers, the manifest, and publishing the version."""
from __future__ import annotations

import json
import logging
import platform
from datetime import datetime, timezone
from typing import Any

from tqdm import tqdm

from vitrina.indexer.attributes import categorical_attributes, labels_of
from vitrina.indexer.bundle.reader import ItemTable
from vitrina.indexer.bundle.writer import items_to_table, place, publish, write_manifest
from vitrina.indexer.maps import NeighbourTable, Outlier, find_label_outliers, outliers_table, write_outliers
from vitrina.indexer.pipeline.state import BuildState
from vitrina.indexer.versions.retention import collect_garbage
from vitrina.indexer.word_attributions import write_text_attributions
from vitrina.schemas import Manifest
from vitrina.schemas.bundle_files import write_parquet_atomic
from vitrina.schemas.bundle_layout import write_atomic
from vitrina.schemas.manifest import CatalogueInfo

log = logging.getLogger("vitrina.indexer")

# Label outliers: an item is one when at least this share of its first k labelled
# neighbours carries one other label (7 of 10).
OUTLIER_K = 10
OUTLIER_MIN_AGREEMENT = 0.7


def mark_images(state: BuildState) -> None:
    """Images that failed to decode are marked on the item, so the API knows not to serve them."""
    for it in state.items:
        if it.id in state.image_problems:
            it.image_status = state.image_problems[it.id]
    state.report["images_skipped"] = dict(sorted(state.image_problems.items()))
    state.report["images_missing"] = sum(1 for it in state.items if it.image_status == "missing")


def write_items(state: BuildState) -> None:
    write_parquet_atomic(items_to_table(state.items), state.staging.items)
    if state.attribution_rows:
        write_text_attributions(state.attribution_rows, state.staging.text_attributions)


def outliers(state: BuildState) -> None:
    # Labels come from the staged items.parquet, decoded as a reader will, so the
    # attributes checked are exactly the ones the API later accepts.
    found, state.report["outliers"] = label_outliers(ItemTable(state.staging.items), state.neighbourhoods,
                                                     state.options.progress)
    # Always written, possibly empty (nothing found, or neighbours_k=0), so readers need no
    # version check; only versions built before this report lack the file.
    write_outliers(outliers_table(found), state.staging.outliers)


def label_outliers(
    items: ItemTable, neighbourhoods: dict[str, NeighbourTable], progress: bool
) -> tuple[list[Outlier], dict[str, dict[str, int]]]:
    """Outliers of every categorical attribute in every space with neighbourhoods, and
    how many per space and attribute (zeros included, so the report shows what was checked)."""
    attributes = categorical_attributes(items)
    found: list[Outlier] = []
    counts: dict[str, dict[str, int]] = {}
    with tqdm(total=len(neighbourhoods) * len(attributes), desc="outliers", unit="attribute",
              disable=not progress) as bar:
        for space, table in neighbourhoods.items():
            counts[space] = {}
            for attribute in attributes:
                outliers = find_label_outliers(
                    table.rows, labels_of(items, table.ids, attribute), table.ids, space=space, attribute=attribute,
                    k=OUTLIER_K, min_agreement=OUTLIER_MIN_AGREEMENT,
                )
                found += outliers
                counts[space][attribute] = len(outliers)
                bar.update()
    return found, counts


def write_manifest_and_report(state: BuildState) -> None:
    options = state.options
    state.report["timings_s"] = state.timer.seconds
    write_atomic(state.staging.build_report, json.dumps(state.report, indent=2, default=str))
    state.version = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + "-" + state.key[:6]
    state.manifest = Manifest(
        collection=state.collection,
        version=state.version,
        parent=state.parent,
        created_at=datetime.now(timezone.utc),
        catalogue=CatalogueInfo(spec=state.catalogue, fingerprint=state.fingerprint, items=len(state.items),
                                report=state.report["catalogue"]),
        spaces=state.space_manifests,
        build={"key": state.key, "libraries": library_versions(), "timings_s": state.timer.seconds,
               "options": options.recorded(), "maps": state.maps},
    )
    write_manifest(state.staging, state.manifest)


def publish_version(state: BuildState) -> None:
    # Either way the version lands whole under versions/; only publishing moves CURRENT.
    options = state.options
    state.paths = (publish if options.publish else place)(state.coll, state.staging, state.version)
    if options.keep_versions:
        state.removed_versions = collect_garbage(state.coll, options.keep_versions, also_keep={state.version})
    log.info("build finished", extra={"version": state.version, "published": options.publish, "parent": state.parent})


def library_versions() -> dict[str, Any]:
    import faiss
    import pyarrow
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "faiss": faiss.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "pyarrow": pyarrow.__version__,
    }
