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
    from vitrina.indexer.cli import app as index_app
    from vitrina.search_api.cli import serve
    from vitrina.demo import demo

    app.add_typer(index_app, name="index")
    app.command("serve")(serve)
    app.command("demo")(demo)


_register()
