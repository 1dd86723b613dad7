"""`vitrina index shadow | publish | rollback | gc` (registered in indexer/cli.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from vitrina.indexer.cli_eval import _fmt, _table

BundlesOpt = Annotated[Path, typer.Option(help="Bundles root folder")]
CollectionOpt = Annotated[str, typer.Option(help="Collection name")]
SampleOpt = Annotated[int, typer.Option(min=1, help="Items sampled per space (their vectors and titles are the queries)")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the sample")]
NEWEST = "newest"


def _collection(bundles: Path, collection: str):
    from vitrina.schemas.bundle_layout import CollectionPaths

    try:
        return CollectionPaths.of(bundles, collection)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--collection") from None


def _fail(message: str) -> None:
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


def print_shadow(report: dict[str, Any], min_recall: float | None = None) -> None:
    """The shadow report as rich tables: per space numbers, then the eval metrics diff."""
    console = Console()
    items = report.get("items")
    against = f"CURRENT {report['current']}" if report.get("current") else "no CURRENT"
    console.print(f"shadow check of {report['version']} against {against}, {report['sample']} items per space")
    if items:
        console.print(f"items: +{items['items_added']} added, -{items['items_removed']} removed, "
                      f"~{items['items_changed']} changed")
    rows = []
    for name, s in report["spaces"].items():
        recall = _fmt(s["recall@10"])
        if min_recall is not None and s["recall@10"] is not None and s["recall@10"] < min_recall:
            recall = f"[red]{recall}[/red]"
        rows.append([name, s["index"], f"{s['rows']} / {s['rows_current'] if s['rows_current'] is not None else '-'}",
                     str(s["item_queries"]), _fmt(s["overlap@10"]), str(s["text_queries"]), _fmt(s["text_overlap@10"]),
                     recall])
    console.print(_table("Candidate vs CURRENT: rows new / current; neighbour overlap@10 (ovl) of sampled items, "
                         "then of their titles as text queries; index recall@10 vs exact search",
                         ["space", "index", "rows", "items", "ovl@10", "titles", "ovl@10", "recall@10"], rows))
    # Only each evaluator's primary metric: the full diff (every metric in both reports) is in shadow.json.
    diffs = [[name, metric, _fmt(d["old"]), _fmt(d["new"]), f"{d['delta']:+.3f}"]
             for name, s in report["spaces"].items() for metric, d in s.get("eval", {}).items() if _primary(metric)]
    if diffs:
        console.print(_table("Eval metrics (reports/eval.json), old -> new", ["space", "metric", "old", "new", "delta"], diffs))
    for name in report.get("spaces_removed", []):
        console.print(f"[yellow]space {name} is in CURRENT but not in {report['version']}[/yellow]")


def _primary(metric: str) -> bool:
    # The headline numbers of each evaluator (indexer/evaluate.py); the rest stay in the file.
    return metric.endswith(("precision@10", "knn_accuracy", "_ari", "recall@10", "sts_spearman"))


def shadow_command(
    bundles: BundlesOpt,
    collection: CollectionOpt,
    version: Annotated[Optional[str], typer.Option(help="Version to check (default: the newest that is not CURRENT)")] = None,
    sample: SampleOpt = 200,
    seed: SeedOpt = 0,
) -> None:
    """Compare a version with CURRENT without publishing it.

    Per space: neighbour overlap@10 of sampled items and of their titles as text queries,
    the version's index recall@10 against exact search, and the eval metrics diff when both
    have reports/eval.json. Writes <version>/reports/shadow.json.
    """
    from vitrina.indexer.bundle.reader import BundleNotFoundError
    from vitrina.indexer.publishing import newest_first, shadow_check

    coll = _collection(bundles, collection)
    if version is None:
        candidates = [v for v in newest_first(coll) if v != coll.current()]
        if not candidates:
            raise typer.BadParameter(f"{coll.root} has no version besides CURRENT; build one with --no-publish",
                                     param_hint="--version")
        version = candidates[0]
    try:
        report = shadow_check(coll, version, sample=sample, seed=seed)
    except BundleNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--version") from None
    except ValueError as exc:  # e.g. an encoder that no longer loads
        _fail(str(exc))
    print_shadow(report)
    typer.echo(f"wrote {coll.version(version).shadow_report}")


def publish_command(
    bundles: BundlesOpt,
    collection: CollectionOpt,
    version: Annotated[str, typer.Option(help=f"Version to publish (a finished version under versions/), or "
                                              f"'{NEWEST}': the most recently built one")],
    min_recall: Annotated[float, typer.Option(min=0, max=1, help="Refuse when a space's index recall@10 is below this")] = 0.9,
    max_overlap_drop: Annotated[Optional[float], typer.Option(
        min=0, max=1, help="Refuse when a space's neighbour overlap@10 with CURRENT is below 1 minus this")] = None,
    force: Annotated[bool, typer.Option("--force", help="Publish even when the shadow check fails")] = False,
    sample: SampleOpt = 200,
    seed: SeedOpt = 0,
) -> None:
    """Shadow-check a version, then make it CURRENT atomically.

    Refused, with exit code 1, when a space's recall@10 is under --min-recall (or an overlap
    fell by more than --max-overlap-drop), unless --force. Reload the server afterwards.
    """
    from vitrina.indexer.bundle.reader import BundleNotFoundError
    from vitrina.indexer.publishing import PublishRefused, publish_version

    coll = _collection(bundles, collection)
    if version == NEWEST:
        # A scheduled publish step (a Kubernetes Job after a --no-publish build) cannot know the name in advance.
        from vitrina.indexer.versions.retention import newest_first

        built = newest_first(coll)
        if not built:
            raise typer.BadParameter(f"{collection} has no finished version to publish", param_hint="--version")
        version = built[0]
    try:
        result = publish_version(coll, version, min_recall=min_recall, force=force, max_overlap_drop=max_overlap_drop,
                                 sample=sample, seed=seed)
    except PublishRefused as exc:
        print_shadow(exc.report, min_recall)
        _fail(str(exc))
    except BundleNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--version") from None
    except ValueError as exc:
        _fail(str(exc))
    if not result["published"]:
        typer.echo(f"{version} is already CURRENT; nothing to do")
        return
    print_shadow(result["shadow"], min_recall)
    for failure in result["failures"]:
        typer.secho(f"forced past: {failure}", fg=typer.colors.YELLOW)
    typer.echo(f"published {version} (was {result['previous'] or 'nothing'})")


def rollback_command(
    bundles: BundlesOpt,
    collection: CollectionOpt,
    to: Annotated[Optional[str], typer.Option(help="Version to make CURRENT (default: the one published before CURRENT)")] = None,
) -> None:
    """Make the previously published version CURRENT again, atomically.

    "Previously published" comes from the collection's history.jsonl (CURRENT's manifest
    parent for collections without one). Reload the server afterwards.
    """
    from vitrina.indexer.publishing import rollback

    try:
        result = rollback(_collection(bundles, collection), to)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(f"CURRENT is {result['version']} again (was {result['previous']})")


def gc_command(
    bundles: BundlesOpt,
    collection: CollectionOpt,
    keep: Annotated[int, typer.Option(min=1, help="Keep the newest N versions")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be removed")] = False,
) -> None:
    """Delete all but the newest N versions.

    CURRENT, its parent and the version a rollback would return to are always kept, and
    builds in progress (under .staging/) are never touched.
    """
    from vitrina.indexer.publishing import collect_garbage

    try:
        removed = collect_garbage(_collection(bundles, collection), keep, dry_run=dry_run)
    except FileNotFoundError as exc:
        _fail(str(exc))
    verb = "would remove" if dry_run else "removed"
    typer.echo("\n".join(f"{verb} {v}" for v in removed) if removed else "nothing to remove")
