"""`vitrina train align`: the thin CLI over training/recipes/align.py.

Every option is a field of AlignConfig, whose `help` metadata is the one place it is
described; this module maps flags to fields, runs the recipe and prints the table.
"""
from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from vitrina.training.recipes.align import AlignConfig, AlignConfigError
from vitrina.training.recipes.align_scores import PRIMARY

_HELP = {f.name: f.metadata.get("help", "") for f in fields(AlignConfig)}
_DEFAULT = AlignConfig()
DEFAULT_CACHE = Path(os.environ.get("VITRINA_CACHE", Path.home() / ".cache" / "vitrina")) / "features"

app = typer.Typer(help="Train encoders on a collection.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Train encoders on a collection: `align` a joint text<->image space, `classify` an image
    encoder on categorical labels, `text` a text encoder with SimCSE or InfoNCE."""


@app.command("align")
def align(
    bundle: Annotated[Path, typer.Option(help="<bundles root>/<collection>; its CURRENT version is read")],
    out: Annotated[Path, typer.Option(help="Checkpoint folder to write; index with --space joint=ckpt:<out>")],
    image: Annotated[str, typer.Option(help="Frozen image encoder spec")] = "builtin:efficientnet-lite0",
    text: Annotated[str, typer.Option(help="Frozen text encoder spec")] = "builtin:minilm-l6",
    heldout: Annotated[float, typer.Option(help=_HELP["heldout"])] = _DEFAULT.heldout,
    validation: Annotated[float, typer.Option(help=_HELP["validation"])] = _DEFAULT.validation,
    epochs: Annotated[int, typer.Option(help=_HELP["epochs"])] = _DEFAULT.epochs,
    patience: Annotated[int, typer.Option(help=_HELP["patience"])] = _DEFAULT.patience,
    lr: Annotated[float, typer.Option(help=_HELP["lr"])] = _DEFAULT.lr,
    weight_decay: Annotated[float, typer.Option(help=_HELP["weight_decay"])] = _DEFAULT.weight_decay,
    batch_size: Annotated[int, typer.Option(help=_HELP["batch_size"])] = _DEFAULT.batch_size,
    dim: Annotated[int, typer.Option(help=_HELP["dim"])] = _DEFAULT.dim,
    head: Annotated[list[str], typer.Option(help=_HELP["heads"])] = list(_DEFAULT.heads),
    hidden_dim: Annotated[int, typer.Option(help=_HELP["hidden_dim"])] = _DEFAULT.hidden_dim,
    dropout: Annotated[float, typer.Option(help=_HELP["dropout"])] = _DEFAULT.dropout,
    seed: Annotated[int, typer.Option(help=_HELP["seed"])] = _DEFAULT.seed,
    seeds: Annotated[int, typer.Option(help=_HELP["seeds"])] = _DEFAULT.seeds,
    stratify_by: Annotated[str, typer.Option(help=_HELP["stratify_by"])] = _DEFAULT.stratify_by or "none",
    cache_dir: Annotated[Path, typer.Option(help="Frozen features not found in the bundle are cached here")] = DEFAULT_CACHE,
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads (default: torch's choice)")] = None,
) -> None:
    """Train projection heads on frozen image and text features with the CLIP loss.

    Prints held-out recall@1/5/10 and median rank in both directions against a ridge
    baseline, and writes the best run's checkpoint (`ckpt:<out>`, report inside).
    """
    from vitrina.training.features import FeatureError
    from vitrina.training.recipes.align import train_align

    try:
        config = AlignConfig(
            heldout=heldout, validation=validation, epochs=epochs, patience=patience, lr=lr, weight_decay=weight_decay,
            batch_size=batch_size, dim=dim, heads=tuple(head), hidden_dim=hidden_dim, dropout=dropout, seed=seed,
            seeds=seeds, stratify_by=None if stratify_by.lower() == "none" else stratify_by,
        )
    except AlignConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint=f"--{exc.field.replace('_', '-')}") from None
    if threads is not None:
        import torch

        torch.set_num_threads(max(1, threads))
    try:
        result = train_align(bundle, out, image, text, config, cache_dir=cache_dir)
    except FeatureError as exc:
        raise typer.BadParameter(str(exc), param_hint="--bundle") from None
    typer.echo(format_summary(result.report))
    typer.echo(f"checkpoint: ckpt:{result.checkpoint}")


def format_summary(report: dict[str, Any]) -> str:
    """Held-out table: one row per model and scoring, both directions, mean ± std over seeds."""
    summary = report["summary"]
    ks = report["config"]["ks"]
    columns = [f"R@{k}" for k in ks] + ["MedR"]
    header = f"{'model':<22}{'scoring':<8}" + "".join(f"{d + ' ' + c:>17}" for d in ("t2i", "i2t") for c in columns)
    lines = [f"held-out, {len(report['runs'])} seed(s); pairs {report['data']['pairs']}, "
             f"pictures {report['data']['pictures']}; primary {'/'.join(PRIMARY)}", header]
    models = ["ridge", *[k for k in summary if k not in ("ridge", "selected", "seconds_per_epoch", "selected_heads")], "selected"]
    for model in models:
        for scoring in ("strict", "dedup"):
            cells = []
            for direction in ("text_to_image", "image_to_text"):
                metrics = summary[model][scoring][direction]
                for key in [f"recall@{k}" for k in ks] + ["median_rank"]:
                    cells.append(f"{metrics[key]['mean']:.3f}±{metrics[key]['std']:.3f}")
            lines.append(f"{model:<22}{scoring:<8}" + "".join(f"{c:>17}" for c in cells))
    per_epoch = ", ".join(f"{k} {v['mean']:.2f}±{v['std']:.2f} s" for k, v in summary["seconds_per_epoch"].items())
    lines.append(f"time per epoch: {per_epoch}; selected heads per seed: {summary['selected_heads']}")
    return "\n".join(lines)


if __name__ == "__main__":  # `python -m vitrina.training.cli align ...` until `vitrina train` is wired in
    import logging

    _plain = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}

    class _ExtrasFormatter(logging.Formatter):
        # The recipe logs its numbers as `extra` fields; show them.
        def format(self, record: logging.LogRecord) -> str:
            extras = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _plain)
            return f"{record.levelname} {record.name}: {record.getMessage()} {extras}".rstrip()

    handler = logging.StreamHandler()
    handler.setFormatter(_ExtrasFormatter())
    logging.getLogger("vitrina").handlers[:] = [handler]
    logging.getLogger("vitrina").setLevel(logging.INFO)
    app()
