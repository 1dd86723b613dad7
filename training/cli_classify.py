"""`vitrina train classify`: supervised multi-head fine-tuning of an image encoder (the museum recipe).

A thin layer: options become a ClassifyConfig, the data comes from a bundle
or Fashion-MNIST, and the result is a backbone checkpoint (`ckpt:<out>`)
plus a JSON report. Registered by the `train` command group.
"""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="Supervised image fine-tuning with one head per categorical attribute.", no_args_is_help=True)

HeadOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--attribute",
        help="ATTRIBUTE[:WEIGHT], repeatable; one linear head each, loss = sum of WEIGHT x cross-entropy "
        "(e.g. --attribute category:0.7 --attribute subcategory:0.3). The first drives rebalancing and splits.",
    ),
]


@app.callback()
def _group() -> None:
    # A callback keeps `classify` a named subcommand even while it is the app's only command.
    """Supervised image fine-tuning."""


def _seeds(count: int, first: int) -> tuple[int, ...]:
    if count < 1:
        raise typer.BadParameter("must be >= 1", param_hint="--seeds")
    return tuple(range(first, first + count))


def _jsonable(value):
    # Metrics of empty subsets are NaN; JSON has no NaN.
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@app.command("classify")
def classify(
    out: Annotated[Path, typer.Option(help="Checkpoint folder to write (use as ckpt:<out>); the report goes to <out>/report.json")],
    bundle: Annotated[Optional[Path], typer.Option(help="Bundle <root>/<collection>: labels from the items' metadata")] = None,
    fashion_mnist: Annotated[Optional[Path], typer.Option(help="Fashion-MNIST IDX folder instead of a bundle (attribute: label)")] = None,
    attribute: HeadOpt = None,
    encoder: Annotated[str, typer.Option(help="Base image encoder: builtin:efficientnet-lite0 or hf:<ViT / DINOv2>")] = "builtin:efficientnet-lite0",
    freeze: Annotated[float, typer.Option(help="Percentage of backbone blocks frozen (0, 50, 80); their output is cached")] = 80.0,
    image_size: Annotated[Optional[int], typer.Option(help="Input side in px (multiple of 32) instead of the encoder's own")] = None,
    seeds: Annotated[int, typer.Option(help="Number of training seeds; metrics are reported as mean ± std")] = 3,
    first_seed: Annotated[int, typer.Option(help="First seed")] = 0,
    rebalance: Annotated[str, typer.Option(help="none, moderate (undersample majority, augment minority) or strong")] = "moderate",
    min_count: Annotated[int, typer.Option(help="Drop classes with fewer training items")] = 10,
    min_quantile: Annotated[float, typer.Option(help="Drop classes below this quantile of class sizes")] = 0.0,
    epochs: Annotated[int, typer.Option(help="Maximum epochs")] = 10,
    patience: Annotated[int, typer.Option(help="Early stopping: epochs without improvement")] = 2,
    tolerance: Annotated[float, typer.Option(help="Early stopping: minimum validation-loss decrease")] = 1e-3,
    monitor: Annotated[str, typer.Option(help="Early stopping on validation: loss or balanced_accuracy")] = "loss",
    head_init: Annotated[str, typer.Option(help="probe (heads start as the linear probe) or random")] = "probe",
    lr: Annotated[float, typer.Option(help="Adam learning rate of the heads")] = 1e-3,
    backbone_lr: Annotated[float, typer.Option(help="Adam learning rate of the trainable blocks")] = 1e-4,
    weight_decay: Annotated[float, typer.Option(help="Adam weight decay")] = 1e-4,
    batch_size: Annotated[int, typer.Option(help="Training batch size")] = 64,
    test_fraction: Annotated[float, typer.Option(help="Bundle: share of item groups held out for testing")] = 0.2,
    val_fraction: Annotated[float, typer.Option(help="Share of training groups used for early stopping")] = 0.1,
    split_seed: Annotated[int, typer.Option(help="Seed of the splits and subsamples (fixed across training seeds)")] = 0,
    limit: Annotated[Optional[int], typer.Option(help="Bundle: stratified subsample of this many items first (quick trials)")] = None,
    train_limit: Annotated[Optional[int], typer.Option(help="Fashion-MNIST: stratified subsample of the train split")] = None,
    test_limit: Annotated[Optional[int], typer.Option(help="Fashion-MNIST: stratified subsample of the test split")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Keep frozen-prefix outputs here for later runs")] = None,
    baseline: Annotated[bool, typer.Option(help="Also fit the linear-probe baseline")] = True,
    device: Annotated[Optional[str], typer.Option(help="cpu or cuda (default: cuda when available)")] = None,
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads; 1 is often fastest on shared, busy cores")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
) -> None:
    """Fine-tune an image encoder on categorical attributes, drop the heads, save the backbone."""
    from vitrina.training.backbone_ckpt import save_backbone_checkpoint
    from vitrina.training.data.fashion_mnist import fashion_mnist_datasets
    from vitrina.training.data.labelled_images import bundle_datasets
    from vitrina.training.rebalance import REBALANCE_PRESETS
    from vitrina.training.recipes.classify import ClassifyConfig, run_classify
    from vitrina.training.recipes.classify_task import FitConfig, HeadSpec

    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    if (bundle is None) == (fashion_mnist is None):
        raise typer.BadParameter("give exactly one of --bundle or --fashion-mnist", param_hint="--bundle")
    if rebalance not in REBALANCE_PRESETS:
        raise typer.BadParameter(f"one of {sorted(REBALANCE_PRESETS)}", param_hint="--rebalance")
    try:
        heads = tuple(HeadSpec.parse(a) for a in (attribute or (["label"] if fashion_mnist else [])))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--attribute")
    if not heads:
        raise typer.BadParameter("name at least one attribute (e.g. --attribute category)", param_hint="--attribute")
    if bundle is not None:
        train_set, test_set = bundle_datasets(bundle, [h.attribute for h in heads], test_fraction, split_seed, limit=limit)
    else:
        train_set, test_set = fashion_mnist_datasets(fashion_mnist, train_limit, test_limit, split_seed)
    config = ClassifyConfig(
        heads=heads,
        encoder=encoder,
        freeze_percent=freeze,
        image_size=image_size,
        seeds=_seeds(seeds, first_seed),
        rebalance=replace(REBALANCE_PRESETS[rebalance], min_count=min_count, min_quantile=min_quantile),
        fit=FitConfig(max_epochs=epochs, batch_size=batch_size, lr=lr, backbone_lr=backbone_lr, weight_decay=weight_decay,
                      patience=patience, tolerance=tolerance, monitor=monitor, progress=progress),
        head_init=head_init,
        val_fraction=val_fraction,
        split_seed=split_seed,
        baseline=baseline,
        cache_dir=str(cache_dir) if cache_dir else None,
        device=device,
        progress=progress,
    )
    result = run_classify(train_set, test_set, config)
    report = _jsonable(result.report)
    save_backbone_checkpoint(out, result.encoder, base_spec=encoder, preprocess=result.preprocess,
                             training={"recipe": "classify", "summary": report["summary"], "kept_seed": report["kept_seed"]})
    (out / "report.json").write_text(json.dumps(report, indent=2))
    typer.echo(format_summary(report))
    typer.echo(f"checkpoint: ckpt:{out}")


def format_summary(report: dict) -> str:
    """A plain-text table: per head, baseline vs fine-tuned, mean ± std over seeds."""
    lines = []
    timing = report["timing"]["seconds_per_epoch"]
    lines.append(f"seconds/epoch {timing['mean']:.1f} ± {timing['std']:.1f}   seeds {len(report['runs'])}")
    for head, kinds in report["summary"].items():
        lines.append(f"[{head}]")
        for kind in ("baseline", "finetuned"):
            if kind not in kinds:
                continue
            cells = []
            for metric in ("accuracy", "macro_precision", "macro_recall", "retained_accuracy", "retained_macro_recall"):
                value = kinds[kind].get(metric)
                if value and value.get("mean") is not None:
                    cells.append(f"{metric} {value['mean']:.3f} ± {value['std']:.3f}")
            lines.append(f"  {kind:<9} " + "  ".join(cells))
        np_ = kinds["neighbour_precision"]
        lines.append(f"  neighbour precision@k  pretrained {np_['pretrained']['mean']:.3f}  finetuned "
                     f"{np_['finetuned']['mean']:.3f} ± {np_['finetuned']['std']:.3f}")
    return "\n".join(lines)
