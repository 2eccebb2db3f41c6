"""`prefect-modelslab probe`: report frames, fps, size and duration of GIF/MP4 files."""

from __future__ import annotations

from typing import Annotated, Any

import typer

_FIELDS = ("format", "width", "height", "frames", "fps", "duration_s")


def register(app: typer.Typer) -> None:
    """Add the `probe` command to `app`."""
    app.command("probe")(probe)


def probe(
    sources: Annotated[
        list[str],
        typer.Argument(metavar="FILE_OR_URL...", help="Local paths or fsspec URLs."),
    ],
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON array, an object per input."),
    ] = False,
) -> None:
    """Probe GIF/MP4 files without ffmpeg: format, size, frames, fps, duration.

    Exits with 0 when every input was read cleanly, 1 otherwise.

    Example:
        prefect-modelslab probe out/cat.gif s3://bucket/videos/dog.mp4 --json
    """
    rows = [_probe_one(source) for source in sources]
    if as_json:
        import json

        typer.echo(json.dumps(rows, indent=2))
    else:
        _print_table(rows)
    raise typer.Exit(0 if all(row["ok"] for row in rows) else 1)


def _probe_one(source: str) -> dict[str, Any]:
    """One result row: the probe's figures, or the error that stopped it."""
    from prefect_modelslab.media import VideoProbeError, probe_video

    row: dict[str, Any] = {"path": source, "ok": False, **dict.fromkeys(_FIELDS), "error": None}
    try:
        info = probe_video(source)
    except VideoProbeError as exc:
        row["error"] = str(exc)
    except FileNotFoundError:
        row["error"] = "file not found"
    except Exception as exc:  # one unreadable input must not stop the others
        row["error"] = f"{type(exc).__name__}: {exc}"
    else:
        row.update(info.model_dump(include=set(_FIELDS)), ok=True)
    return row


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table()
    table.add_column("path", overflow="fold")
    table.add_column("format")
    for column in ("size", "frames", "fps", "duration"):
        table.add_column(column, justify="right")
    table.add_column("status")
    for row in rows:
        if row["ok"]:
            table.add_row(
                escape(row["path"]),
                row["format"],
                f"{row['width']}x{row['height']}",
                str(row["frames"]),
                f"{row['fps']:.3f}",
                f"{row['duration_s']:.3f} s",
                "[green]ok[/green]",
            )
        else:
            table.add_row(escape(row["path"]), "", "", "", "", "", "[red]error[/red]")
    console = Console()
    console.print(table)
    for row in rows:
        if not row["ok"]:
            console.print(
                f"[red]{escape(row['path'])}[/red]: {escape(row['error'])}", soft_wrap=True
            )
