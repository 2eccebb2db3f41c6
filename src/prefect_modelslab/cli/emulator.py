"""`prefect-modelslab emulator`: serve the bundled ModelsLab emulator from the shell."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from prefect_modelslab.cli._output import fail

if TYPE_CHECKING:
    from prefect_modelslab.testing import ModelsLabEmulator


def emulator(
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8787,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    latency: Annotated[
        float, typer.Option(help="Seconds from submit until a generation is ready.")
    ] = 2.0,
    queue_limit: Annotated[
        int, typer.Option("--queue-limit", help="Generations one key may have queued at once.")
    ] = 5,
    keys: Annotated[
        list[str] | None,
        typer.Option("--key", help="An accepted API key (repeat for several). Default: test-key."),
    ] = None,
) -> None:
    """Serve a local ModelsLab-compatible API (real files, queue limit) until Ctrl-C.

    Example:
        $ prefect-modelslab emulator --port 8787 --latency 1
        $ export MODELSLAB_BASE_URL=http://127.0.0.1:8787/api/v6 MODELSLAB_API_KEY=test-key
    """
    ModelsLabEmulator = emulator_class("the emulator")

    api_keys = tuple(keys) if keys else ("test-key",)
    try:
        server = ModelsLabEmulator(
            latency=latency, queue_limit=queue_limit, api_keys=api_keys, host=host, port=port
        ).start()
    except (OSError, ValueError, RuntimeError) as exc:
        typer.echo(f"cannot start the emulator: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"ModelsLab emulator listening on {server.base_url}")
    typer.echo(f"MODELSLAB_BASE_URL={server.base_url}")
    # A local test key, printed on purpose so a shell can use it.
    typer.echo(f"MODELSLAB_API_KEY={server.api_key}")
    typer.echo(f"latency {latency:g} s, queue limit {queue_limit}; Ctrl-C to stop.")
    try:
        while server.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        typer.echo("stopping")
    finally:
        server.stop()


def register(app: typer.Typer) -> None:
    """Add the `emulator` command to `app`."""
    app.command(name="emulator")(emulator)


def emulator_class(what: str) -> type[ModelsLabEmulator]:
    """`ModelsLabEmulator`, or exit 2 saying that `what` needs the `emulator` extra."""
    try:
        from prefect_modelslab.testing import ModelsLabEmulator
    except ImportError as error:  # the `emulator` extra (Pillow, PyAV) is not installed
        fail(f"{what} needs `pip install prefect-modelslab[emulator]` ({error})", 2)
    return ModelsLabEmulator
