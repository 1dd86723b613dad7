"""`vitrina train text`: the thin CLI over training/recipes/text.py.

Every option is a field of TextTrainConfig, whose `help` metadata is the one
place the option is described; this module only maps flags to fields and reads
the items of a bundle.
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Annotated, Optional

import typer

from vitrina.schemas.bundle_layout import CollectionPaths
from vitrina.schemas.errors import FieldError
from vitrina.training.recipes.text import METHODS, TextTrainConfig

_HELP = {f.name: f.metadata.get("help", "") for f in fields(TextTrainConfig)}
_DEFAULT = TextTrainConfig()

app = typer.Typer(help="Fine-tune encoders on a collection.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Fine-tune encoders on a collection (`text`: SimCSE / InfoNCE)."""
    # A callback keeps `text` a named subcommand even while it is the only one.


def items_parquet(bundle: Path, version: str | None = None) -> Path:
    """items.parquet of `<root>/<collection>` (CURRENT or `version`), or the file itself."""
    if bundle.is_file():
        return bundle
    try:
        return CollectionPaths(bundle).published(version).items
    except FieldError as exc:
        raise typer.BadParameter(str(exc), param_hint="--version" if exc.field == "version" else "--bundle") from None


def text_command(
    bundle: Annotated[Path, typer.Option(help="<bundles root>/<collection> (its CURRENT version), or an items.parquet")],
    out: Annotated[Path, typer.Option(help="Folder for the fine-tuned model (loads as hf:<out>) and training.json")],
    method: Annotated[str, typer.Option(help=_HELP["method"])] = _DEFAULT.method,
    version: Annotated[Optional[str], typer.Option(help="Version to read items from (default: CURRENT)")] = None,
    base: Annotated[str, typer.Option(help=_HELP["base"])] = _DEFAULT.base,
    epochs: Annotated[int, typer.Option(help=_HELP["epochs"])] = _DEFAULT.epochs,
    batch_size: Annotated[int, typer.Option(help=_HELP["batch_size"])] = _DEFAULT.batch_size,
    lr: Annotated[float, typer.Option(help=_HELP["lr"])] = _DEFAULT.lr,
    weight_decay: Annotated[float, typer.Option(help=_HELP["weight_decay"])] = _DEFAULT.weight_decay,
    temperature: Annotated[float, typer.Option(help=_HELP["temperature"])] = _DEFAULT.temperature,
    negatives: Annotated[int, typer.Option(help=_HELP["negatives"])] = _DEFAULT.negatives,
    train_layers: Annotated[Optional[int], typer.Option(help=_HELP["train_layers"])] = _DEFAULT.train_layers,
    max_length: Annotated[int, typer.Option(help=_HELP["max_length"])] = _DEFAULT.max_length,
    max_train_examples: Annotated[Optional[int], typer.Option(help=_HELP["max_train_examples"])] = _DEFAULT.max_train_examples,
    dev_pairs_per_grade: Annotated[int, typer.Option(help=_HELP["dev_pairs_per_grade"])] = _DEFAULT.dev_pairs_per_grade,
    test_pairs_per_grade: Annotated[int, typer.Option(help=_HELP["test_pairs_per_grade"])] = _DEFAULT.test_pairs_per_grade,
    eval_steps: Annotated[Optional[int], typer.Option(help=_HELP["eval_steps"])] = _DEFAULT.eval_steps,
    patience: Annotated[int, typer.Option(help=_HELP["patience"])] = _DEFAULT.patience,
    seed: Annotated[int, typer.Option(help=_HELP["seed"])] = _DEFAULT.seed,
    split_seed: Annotated[int, typer.Option(help=_HELP["split_seed"])] = _DEFAULT.split_seed,
    category_field: Annotated[str, typer.Option(help="Metadata field of the category (negatives, STS grades)")] = "category",
    subcategory_field: Annotated[str, typer.Option(help="Metadata field of the sub-category (STS grade 3)")] = "subcategory",
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads (default: torch's choice); 1 is faster on a busy machine")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
) -> None:
    """Fine-tune a text encoder with SimCSE (unsupervised) or InfoNCE (supervised) on a collection's texts.

    Early stopping follows the Pearson correlation on an in-collection STS set built
    from held-out items; the best model is saved to --out and prints its spec, to use
    as `vitrina index build --space text=hf:<out>`.
    """
    from vitrina.training.data.text_views import build_text_views, read_text_items
    from vitrina.training.recipes.text import TextRecipeError, train_text

    if method not in METHODS:
        raise typer.BadParameter(f"{method!r}: expected one of {', '.join(METHODS)}", param_hint="--method")
    config = TextTrainConfig(
        method=method, base=base, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        temperature=temperature, negatives=negatives, train_layers=train_layers, max_length=max_length,
        max_train_examples=max_train_examples, dev_pairs_per_grade=dev_pairs_per_grade,
        test_pairs_per_grade=test_pairs_per_grade, eval_steps=eval_steps, patience=patience, seed=seed,
        split_seed=split_seed,
    )
    try:
        config.validate()
    except TextRecipeError as exc:
        raise typer.BadParameter(str(exc), param_hint=f"--{exc.field.replace('_', '-')}") from None
    if threads is not None:
        import torch

        torch.set_num_threads(max(1, threads))
    views = build_text_views(read_text_items(items_parquet(bundle, version)), category_field, subcategory_field)
    result = train_text(views, config, out, progress=progress)
    key = "test_sts_pearson"
    typer.echo(f"test STS Pearson: baseline {result.baseline[key]:.4f} -> trained {result.test[key]:.4f} "
               f"(best at epoch {result.best.get('epoch')}; last weights {result.test_last[key]:.4f}); "
               f"{result.seconds_per_epoch:.0f} s per epoch of {result.steps_per_epoch} steps")
    typer.echo(f"encoder spec: {result.spec}")


app.command("text")(text_command)
