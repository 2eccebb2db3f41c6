"""Options several commands share, written once (Typer `Annotated` types)."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["BaseUrlOption", "ConcurrencyLimitOption", "ConcurrencyOption", "CredentialsOption"]

#: A saved credentials block's name; None means `MODELSLAB_API_KEY`.
CredentialsOption = Annotated[
    str | None,
    typer.Option(
        "--credentials",
        help="Name of a saved ModelsLabCredentials block; default: MODELSLAB_API_KEY.",
        show_default=False,
    ),
]
#: The API root, overriding the credentials' (an emulator, a proxy).
BaseUrlOption = Annotated[
    str | None,
    typer.Option("--base-url", help="API root, e.g. an emulator (overrides the credentials)."),
]
#: Most generations this run queues at the provider at once.
ConcurrencyOption = Annotated[
    int,
    typer.Option("--concurrency", min=1, help="Most generations queued at the provider at once."),
]
#: A Prefect global concurrency limit shared by every run on the account.
ConcurrencyLimitOption = Annotated[
    str | None,
    typer.Option(
        "--concurrency-limit", help="A Prefect global concurrency limit shared with other runs."
    ),
]
