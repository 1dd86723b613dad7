"""Publishing a version after checking it against CURRENT, rolling back, and retention.

A re-index without downtime is: build with `--no-publish` (a complete version under
versions/, not CURRENT), `shadow_check` it against CURRENT, `publish_version` (the same
check, then an atomic switch of CURRENT, refused when the candidate's index loses too
much recall), reload the server; `rollback` switches back. Every switch is logged in the
collection's history.jsonl, which is how a rollback knows what was published before.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any, Callable

from vitrina.schemas.bundle_layout import CollectionPaths, write_atomic
from vitrina.indexer.bundle.reader import Bundle, BundleNotFoundError
from vitrina.indexer.bundle.writer import set_current
from vitrina.indexer.versions.changes import content_hashes, item_changes
from vitrina.indexer.versions.history import previous_published
from vitrina.indexer.versions.retention import collect_garbage, newest_first
from vitrina.indexer.versions.shadow import compare_space, eval_diff, sample_ids

__all__ = ["PublishRefused", "collect_garbage", "newest_first", "publish_version", "rollback", "shadow_check"]

log = logging.getLogger("vitrina.indexer")

DEFAULT_SAMPLE = 200
DEFAULT_MIN_RECALL = 0.9


class PublishRefused(ValueError):
    """The shadow check failed; `failures` name each space and metric, `report` is the check."""

    def __init__(self, version: str, failures: list[str], report: dict[str, Any]):
        self.version, self.failures, self.report = version, failures, report
        super().__init__(f"refusing to publish {version}: " + "; ".join(failures) + " (--force publishes anyway)")


def _open(coll: CollectionPaths, version: str, encoder_factory: Callable[..., Any] | None) -> Bundle:
    # On CPU: a check must not take GPU memory from the server running beside it.
    return Bundle.open(coll.root.parent, coll.root.name, version, use_gpu=False, encoder_factory=encoder_factory)


def _read_eval(bundle: Bundle) -> dict[str, Any] | None:
    path = bundle.paths.eval_report
    return json.loads(path.read_text()) if path.is_file() else None


def shadow_check(
    coll: CollectionPaths,
    version: str,
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
    encoder_factory: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """Compare `version` with CURRENT (indexer/versions/shadow.py says what each number means)
    on a seeded sample of each space's items and their titles; write it to the version's
    reports/shadow.json and return it. Without a CURRENT only the recall is measured."""
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise ValueError(f"--sample: must be an integer >= 1, got {sample!r}")
    new = _open(coll, version, encoder_factory)
    current = coll.current()
    old = new if current == version else (_open(coll, current, encoder_factory) if current else None)
    spaces = {}
    for name, space in new.spaces.items():
        ids = sample_ids(space.ids, sample, seed)
        titles = {i: new.items.get(i).title for i in ids}
        spaces[name] = compare_space(space, old.spaces.get(name) if old else None, ids, titles)
    for name, diff in eval_diff(_read_eval(new), _read_eval(old) if old else None).items():
        spaces[name]["eval"] = diff
    report = {
        "collection": coll.root.name,
        "version": version,
        "current": current,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "sample": sample,
        "seed": seed,
        "items": item_changes(content_hashes(old.paths), content_hashes(new.paths)) if old else None,
        "spaces": spaces,
        "spaces_removed": sorted(set(old.spaces) - set(new.spaces)) if old else [],
    }
    # Like eval.json, a report about the version: it changes nothing a reader serves.
    write_atomic(new.paths.shadow_report, json.dumps(report, indent=2, default=str) + "\n")
    return report


def failures_of(report: dict[str, Any], min_recall: float, max_overlap_drop: float | None = None) -> list[str]:
    """What makes a shadow check fail, one line per space and metric."""
    found = []
    for name, space in report["spaces"].items():
        recall = space.get("recall@10")
        if recall is not None and recall < min_recall:
            found.append(f"space {name!r}: recall@10 {recall:.3f} < --min-recall {min_recall}")
        for metric in ("overlap@10", "text_overlap@10"):
            overlap = space.get(metric)
            if max_overlap_drop is not None and overlap is not None and 1 - overlap > max_overlap_drop:
                found.append(f"space {name!r}: {metric} {overlap:.3f} dropped by more than --max-overlap-drop "
                             f"{max_overlap_drop}")
    return found


def publish_version(
    coll: CollectionPaths,
    version: str,
    min_recall: float = DEFAULT_MIN_RECALL,
    force: bool = False,
    encoder_factory: Callable[..., Any] | None = None,
    *,
    max_overlap_drop: float | None = None,
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
) -> dict[str, Any]:
    """Shadow-check `version`, then make it CURRENT atomically.

    Raises PublishRefused when a space's recall@10 is under `min_recall` (or an overlap fell
    by more than `max_overlap_drop`), unless `force`. Returns {version, published, previous,
    forced, failures, shadow}; publishing the version that is already CURRENT does nothing."""
    if not coll.version(version).manifest.is_file():
        raise BundleNotFoundError(f"{coll.root}: no finished version {version!r} (have: {', '.join(coll.versions()) or 'none'})")
    if coll.current() == version:
        return {"version": version, "published": False, "previous": version, "forced": False, "failures": [],
                "shadow": None}
    report = shadow_check(coll, version, sample=sample, seed=seed, encoder_factory=encoder_factory)
    failures = failures_of(report, min_recall, max_overlap_drop)
    if failures and not force:
        raise PublishRefused(version, failures, report)
    recall = {name: space["recall@10"] for name, space in report["spaces"].items()}
    previous = set_current(coll, version, {"action": "publish", "forced": bool(failures), "failures": failures,
                                           "recall": recall})
    log.info("version published", extra={"version": version, "previous": previous, "forced": bool(failures)})
    return {"version": version, "published": True, "previous": previous, "forced": bool(failures),
            "failures": failures, "shadow": report}


def rollback(coll: CollectionPaths, to: str | None = None) -> dict[str, Any]:
    """Make the previously published version (or `to`) CURRENT again; returns {version, previous}."""
    current = coll.current()
    if current is None:
        raise BundleNotFoundError(f"{coll.root} has no published version to roll back from")
    target = to or previous_published(coll, current)
    if target is None:
        raise ValueError(f"version {current} has no previously published version on record; name one with --to "
                         f"(have: {', '.join(coll.versions())})")
    if target == current:
        raise ValueError(f"version {target} is already CURRENT")
    if not coll.version(target).manifest.is_file():
        raise BundleNotFoundError(f"{coll.root}: version {target!r} no longer exists (removed by gc?); name one with --to "
                                  f"(have: {', '.join(coll.versions())})")
    set_current(coll, target, {"action": "rollback"})
    log.info("rolled back", extra={"version": target, "previous": current})
    return {"version": target, "previous": current}
