"""The `vitrina` command: one subcommand group per component."""
from __future__ import annotations

from typing import Annotated

import typer

from vitrina.logs import configure_logging

app = typer.Typer(
    help="vitrina: build searchable, explorable bundles of a collection and serve them over REST.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
    json_logs: Annotated[bool, typer.Option(help="Structured JSON log lines on stderr")] = True,
) -> None:
    configure_logging(log_level, json_logs)


def _register() -> None:
    from vitrina.demo import demo
    from vitrina.indexer.cli import app as index_app
    from vitrina.indexer.cli_eval import eval_command
    from vitrina.search_api.cli import serve
    from vitrina.training.cli import app as train_app
    from vitrina.training.cli_classify import classify
    from vitrina.training.cli_text import text_command

    # Each component owns its commands; the `train` group gathers the recipes.
    train_app.command("classify")(classify)
    train_app.command("text")(text_command)
    app.add_typer(index_app, name="index")
    app.add_typer(train_app, name="train")
    app.command("eval")(eval_command)
    app.command("serve")(serve)
    app.command("demo")(demo)


_register()
