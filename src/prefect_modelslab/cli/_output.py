"""How the commands report an error: one line on stderr, never a traceback."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["fail", "one_line"]


def one_line(error: BaseException) -> str:
    """An error's message on one line of at most 400 characters (its type when it has none).

    An error that lists the known names (`InvalidCsvError.known_fields`) keeps
    that list whole, on a second line: it is what the user reads to fix the file.

    Example:
        ```python
        from prefect_modelslab.cli._output import one_line

        assert one_line(ValueError("bad\\n  row")) == "bad row"
        ```
    """
    text = str(error)
    known = getattr(error, "known_fields", None)
    tail = ""
    if isinstance(known, str) and known and text.endswith(f"\n{known}"):
        text, tail = text[: -len(known) - 1], f"\n{known}"
    text = " ".join(text.split()) or type(error).__name__
    return (text if len(text) <= 400 else text[:397] + "...") + tail


def fail(message: str, code: int) -> NoReturn:
    """Print ``error: message`` on stderr (markup in `message` escaped) and exit with `code`."""
    Console(stderr=True).print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
