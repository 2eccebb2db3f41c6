"""The `prefect-modelslab` command line: batch, demo, serve, deploy, resolve, gallery, probe...

Each sub-command lives in the module named after it and registers itself on
`app`; the CLI only parses arguments and calls flows (or the probe).
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="prefect-modelslab",
    help="Generate, check and store ModelsLab text-to-video outputs with Prefect.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from prefect_modelslab.cli import (
        batch,
        deploy,
        emulator,
        gallery,
        probe,
        resolve,
        serve,
        webhook,
    )

    for module in (batch, emulator, gallery, probe, resolve, serve, deploy, webhook):
        module.register(app)


def main() -> None:
    """Entry point of the `prefect-modelslab` script."""
    _register()
    app()
