"""`prefect-modelslab webhook-receiver`: record ModelsLab webhook calls under an output folder."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
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
    path: Annotated[
        str, typer.Option(help="Path prefix ModelsLab POSTs under (the secret token follows).")
    ] = "/modelslab/webhook",
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="The externally reachable base URL (e.g. https://hooks.example.com behind "
            "your reverse proxy): the printed webhook URL starts with it.",
        ),
    ] = None,
) -> None:
    """Store ModelsLab webhook calls (ids only) under OUT/.modelslab/webhooks until Ctrl-C.

    It prints the webhook URL to give `batch --webhook-url`: PATH followed by
    the output folder's secret token (made once, kept in
    OUT/.modelslab/webhooks/token). The URL is a secret: anyone who has it can
    post calls. Only calls for a video that may need one are stored; calls are
    rate-limited and the folder holds at most 1000 records. Calls are unsigned:
    only the track id, the generation id and the status are kept, and a later
    run fetches that id.

    Example:
        $ prefect-modelslab webhook-receiver --out s3://bucket/videos --public-url https://hooks.example.com
        webhook URL: https://hooks.example.com/modelslab/webhook/<token>
    """
    from prefect_modelslab.ledger import storage, webhooks
    from prefect_modelslab.runtime import receiver, serving

    if not path.startswith("/"):
        _usage_error("--path must start with '/'")
    base = _public_base(public_url) if public_url is not None else None
    try:
        storage.get_filesystem(out)
    except (ValueError, ImportError, OSError) as exc:
        _usage_error(f"cannot use --out {out}: {exc}")
    if storage.is_process_local(out):
        _usage_error(
            f"--out {out} lives in this process only; the runs that adopt webhook calls "
            "could never read it. Use a local folder or an object store."
        )

    try:
        app = receiver.webhook_app(out, path=path)
    except (ValueError, OSError) as exc:
        typer.echo(f"cannot use --out {out}: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    try:
        sock = serving.bind_socket(host, port)
    except OSError as exc:
        typer.echo(f"cannot listen on {host}:{port}: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    actual_port = int(sock.getsockname()[1])
    store: webhooks.WebhookStore = app.state.store
    local = f"http://{serving.url_host(host)}:{actual_port}"

    def announce() -> None:
        typer.echo(f"ModelsLab webhook receiver storing calls under {store.folder_url}")
        typer.echo(f"webhook URL: {base or local}{app.state.webhook_path}")
        typer.echo(
            f"Listening on {local}. The webhook URL is a secret: give it only to --webhook-url "
            "(it must reach this server, e.g. through your HTTPS reverse proxy); Ctrl-C to stop."
        )

    _log_calls()
    stopped_by = _serve(app, sock, announce)
    typer.echo(f"stopped ({stopped_by})" if stopped_by else "stopped")


def _public_base(url: str) -> str:
    """`--public-url` without a trailing slash, once it is an http(s) URL with a host."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        _usage_error("--public-url must be an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        _usage_error("--public-url must not have a query or a fragment")
    return url.strip().rstrip("/")


def _serve(app: Any, sock: Any, announce: Callable[[], None]) -> str | None:
    """Serve until SIGINT or SIGTERM; the name of the signal that stopped it, if any.

    `announce` runs once the signals are handled, so a signal right after it stops cleanly.
    """
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
        announce()
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
    # Both log track ids and fixed reasons; neither ever logs a path or the token.
    for name in ("prefect_modelslab.ledger.webhooks", "prefect_modelslab.runtime.receiver"):
        log = logging.getLogger(name)
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def _usage_error(message: str) -> Any:
    typer.echo(message, err=True)
    raise typer.Exit(code=2)


def register(app: typer.Typer) -> None:
    """Add the `webhook-receiver` command to `app`."""
    app.command(name="webhook-receiver")(webhook_receiver)
