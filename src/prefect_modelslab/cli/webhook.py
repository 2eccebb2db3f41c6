"""`prefect-modelslab webhook-receiver`: record ModelsLab webhook calls under an output folder."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from types import FrameType
from typing import Annotated, Any

import typer


def webhook_receiver(
    out: Annotated[
        str,
        typer.Option(
            "--out", "-o", help="The batch's output folder (any fsspec URL, not memory://)."
        ),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8787,
    path: Annotated[str, typer.Option(help="Path ModelsLab POSTs to.")] = "/modelslab/webhook",
) -> None:
    """Store ModelsLab webhook calls (ids only) under OUT/.modelslab/webhooks until Ctrl-C.

    Give ModelsLab the printed URL as `webhook`; it must reach this server (e.g.
    through your HTTPS reverse proxy). Calls are unsigned: only the track id,
    the generation id and the status are kept, and a later run fetches that id.

    Example:
        $ prefect-modelslab webhook-receiver --out s3://bucket/videos --port 8787
        webhook URL: http://127.0.0.1:8787/modelslab/webhook
    """
    from prefect_modelslab.ledger import storage, webhooks
    from prefect_modelslab.runtime import receiver, serving

    if not path.startswith("/"):
        _usage_error("--path must start with '/'")
    try:
        storage.get_filesystem(out)
    except (ValueError, ImportError, OSError) as exc:
        _usage_error(f"cannot use --out {out}: {exc}")
    if storage.is_process_local(out):
        _usage_error(
            f"--out {out} lives in this process only; the runs that adopt webhook calls "
            "could never read it. Use a local folder or an object store."
        )

    app = receiver.webhook_app(out, path=path)
    try:
        sock = serving.bind_socket(host, port)
    except OSError as exc:
        typer.echo(f"cannot listen on {host}:{port}: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    actual_port = int(sock.getsockname()[1])
    store: webhooks.WebhookStore = app.state.store
    typer.echo(f"ModelsLab webhook receiver storing calls under {store.folder_url}")
    typer.echo(f"webhook URL: http://{serving.url_host(host)}:{actual_port}{path}")
    typer.echo(
        "Give ModelsLab a URL that reaches it (e.g. your HTTPS reverse proxy); Ctrl-C to stop."
    )
    _log_calls()
    stopped_by = _serve(app, sock)
    typer.echo(f"stopped ({stopped_by})" if stopped_by else "stopped")


def _serve(app: Any, sock: Any) -> str | None:
    """Serve until SIGINT or SIGTERM; the name of the signal that stopped it, if any."""
    import uvicorn

    from prefect_modelslab.runtime.serving import uvicorn_config

    server = uvicorn.Server(uvicorn_config(app))
    received: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        # uvicorn handles signals while it serves and re-raises them once stopped:
        # they land here, so neither a KeyboardInterrupt nor SIGTERM's default kill follows.
        received.append(signum)
        server.should_exit = True

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, stop) for sig in handled}
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return signal.Signals(received[0]).name if received else None


def _log_calls() -> None:
    """Print one line per stored or refused call (ids and reasons only) on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log = logging.getLogger("prefect_modelslab.ledger.webhooks")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _usage_error(message: str) -> Any:
    typer.echo(message, err=True)
    raise typer.Exit(code=2)


def register(app: typer.Typer) -> None:
    """Add the `webhook-receiver` command to `app`."""
    app.command(name="webhook-receiver")(webhook_receiver)
