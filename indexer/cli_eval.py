"""`vitrina eval`: evaluate a published version, write reports/eval.json, print the tables."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from vitrina.training.metrics.clustering import METHODS


def _fmt(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _count(value: Any) -> str:
    # Counts are whole numbers; a median rank can end in .5.
    return "-" if value is None else f"{value:g}"


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Table | None:
    if not rows:
        return None
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i < 2 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def report_tables(report: dict[str, Any]) -> list[Table]:
    """The eval report as rich tables: within-modal, clustering, stored map, cross-modal, STS."""
    spaces: dict[str, Any] = report["spaces"]
    ks = report["options"]["ks"]
    within, clusters, maps, cross, sts = [], [], [], [], []
    for name, space in spaces.items():
        m = space["metrics"]
        for attribute in report["attributes"]:
            p = f"neighbours_{attribute}_"
            if f"{p}median_rank" in m:
                within.append([name, attribute, *(_fmt(m[f"{p}precision@{k}"]) for k in ks), _fmt(m[f"{p}hit@{ks[-1]}"]),
                               _count(m[f"{p}median_rank"]), _fmt(m[f"{p}knn_accuracy"]),
                               _fmt(m[f"{p}knn_macro_precision"]), _fmt(m[f"{p}knn_macro_recall"])])
            c = f"clustering_{attribute}_"
            if f"{c}classes" in m:
                cells = [f"{_fmt(m.get(f'{c}{meth}_ari'))} / {_fmt(m.get(f'{c}{meth}_nmi'))}" for meth in METHODS]
                clusters.append([name, attribute, _count(m[f"{c}classes"]), *cells, _fmt(m.get(f"{c}dbscan_noise_fraction"))])
            g = f"map_{attribute}_"
            for key in sorted(m):
                # One row per stored clustering and per map: "<clustering>_ari" / "<method>_silhouette".
                if key.startswith(g) and key.endswith("_ari"):
                    method = key[len(g):-len("_ari")]
                    maps.append([name, attribute, f"clusters: {method}", f"{_fmt(m[key])} / {_fmt(m[f'{g}{method}_nmi'])}",
                                 _fmt(m.get(f"{g}{method}_noise_fraction"))])
                elif key.startswith(g) and key.endswith("_silhouette"):
                    method = key[len(g):-len("_silhouette")]
                    maps.append([name, attribute, f"map: {method}", f"silhouette {_fmt(m[key])}",
                                 f"trust {_fmt(m.get(f'maps_{method}_trustworthiness'))}"])
        for queries, prefix in (("all", "cross_modal"), ("held-out", "cross_modal_heldout")):
            if f"{prefix}_text_to_image_median_rank" not in m:
                continue
            row = [name, queries, _count(m[f"{prefix}_text_to_image_queries"])]
            for direction in ("text_to_image", "image_to_text"):
                row += [_fmt(m[f"{prefix}_{direction}_recall@{k}"]) for k in ks] + [_count(m[f"{prefix}_{direction}_median_rank"])]
            cross.append(row)
        if "sts_pearson" in m:
            sts.append([name, _count(m["sts_pairs"]), _fmt(m["sts_pearson"]), _fmt(m["sts_spearman"])])
    tables = [
        _table("Within-modal: neighbours sharing the item's label",
               ["space", "attr", *(f"P@{k}" for k in ks), f"hit@{ks[-1]}", "median rank", "kNN acc", "kNN macro P", "kNN macro R"], within),
        _table("Clustering agreement (ARI / NMI)", ["space", "attr", "classes", *METHODS, "DBSCAN noise"], clusters),
        _table("Stored map vs labels", ["space", "attr", "of", "ARI / NMI or silhouette", "noise or trustworthiness"], maps),
        _table("Cross-modal: an item's own text -> its own image, and back",
               ["space", "items", "queries", *(f"t→i R@{k}" for k in ks), "t→i MedR", *(f"i→t R@{k}" for k in ks), "i→t MedR"], cross),
        _table("STS: cosine vs graded pairs", ["space", "pairs", "Pearson", "Spearman"], sts),
    ]
    return [t for t in tables if t is not None]


def eval_command(
    bundles: Annotated[Path, typer.Option(help="Bundles root folder")] = Path("bundles"),
    collection: Annotated[str, typer.Option(help="Collection name")] = "openclipart",
    version: Annotated[Optional[str], typer.Option(help="Version to evaluate (default: CURRENT)")] = None,
    space: Annotated[Optional[list[str]], typer.Option(help="Evaluate only these spaces (repeatable)")] = None,
    attribute: Annotated[Optional[list[str]], typer.Option(help="Categorical metadata attributes (repeatable; default: detected)")] = None,
    k: Annotated[Optional[list[int]], typer.Option("--k", help="Cut-offs for recall@k / precision@k (repeatable)")] = None,
    seed: Annotated[int, typer.Option(help="Seeds every sample (STS pairs, clustering subsample, queries)")] = 0,
    clustering_max_items: Annotated[int, typer.Option(help="Cluster at most N items per space (seeded sample)")] = 3000,
    sts_pairs_per_grade: Annotated[int, typer.Option(help="STS pairs per grade (balanced)")] = 250,
    max_queries: Annotated[Optional[int], typer.Option(help="Cross-modal: at most N query items (seeded sample)")] = None,
    query_ids: Annotated[Optional[Path], typer.Option(help="Cross-modal: only these item ids (a file, one per line), e.g. a held-out split")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
) -> None:
    """Measure a published version and write <version>/reports/eval.json.

    Within-modal neighbours, clustering agreement and the stored map's agreement
    (ARI/NMI of its clusterings, silhouette of labels) per categorical attribute,
    cross-modal recall@k for spaces with a text and an image encoder, STS Pearson
    for spaces with a text encoder. Deterministic given --seed.
    """
    from vitrina.indexer.bundle.reader import BundleNotFoundError
    from vitrina.indexer.evaluate import EvalOptions, run_eval
    from vitrina.training.metrics.evaluator import EvaluatorError

    options = EvalOptions(
        seed=seed, ks=tuple(sorted(set(k))) if k else EvalOptions.ks, attributes=list(attribute) if attribute else None,
        spaces=list(space) if space else None, clustering_max_items=clustering_max_items,
        sts_pairs_per_grade=sts_pairs_per_grade, cross_modal_max_queries=max_queries, progress=progress,
        query_ids=[line.strip() for line in query_ids.read_text().splitlines() if line.strip()] if query_ids else None,
    )
    try:
        report, path = run_eval(bundles, collection, version, options)
    except BundleNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--bundles / --collection / --version") from None
    except EvaluatorError as exc:
        raise typer.BadParameter(str(exc), param_hint=f"--{exc.field.replace('_', '-')}") from None
    console = Console()
    for table in report_tables(report):
        console.print(table)
    skipped = {name: s["details"]["skipped"] for name, s in report["spaces"].items() if s["details"].get("skipped")}
    for name, reasons in skipped.items():
        for evaluator, reason in reasons.items():
            console.print(f"[yellow]{name}: {evaluator} skipped: {reason}[/yellow]")
    typer.echo(f"wrote {path}")
