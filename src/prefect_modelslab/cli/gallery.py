"""`prefect-modelslab gallery`: rebuild an output folder's `index.html` from its entries.

Exit codes: 0 when the page was written (its URL is printed), 2 when the folder
holds no videos of a batch or cannot be read or written, with a one-line
message and no traceback.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from prefect_modelslab.cli._output import fail, one_line

__all__ = ["gallery", "print_gallery_url", "register"]


def register(app: typer.Typer) -> None:
    """Add the `gallery` command to `app`."""
    app.command("gallery")(gallery)


def gallery(
    out_url: Annotated[
        str,
        typer.Argument(
            metavar="OUT_URL",
            help="A batch's output folder (path or fsspec URL).",
            show_default=False,
        ),
    ],
) -> None:
    """Write OUT_URL/index.html: every video's prompt, status and problems, on one page.

    Example:
        prefect-modelslab gallery s3://my-bucket/videos
    """
    from prefect_modelslab.ui.gallery import write_gallery

    try:
        url = write_gallery(out_url)
    except FileNotFoundError:
        fail(f"no videos of a batch in {out_url}: run a batch into it first", 2)
    except (OSError, ValueError, UnicodeDecodeError) as error:
        fail(f"cannot write the gallery of {out_url}: {one_line(error)}", 2)
    typer.echo(url)


def print_gallery_url(console: Console, label: str, output_url: str) -> None:
    """Print `label` and the gallery's URL when the batch wrote one into `output_url`.

    Example:
        ```python
        print_gallery_url(Console(), "Gallery: ", "videos")  # Gallery: videos/index.html
        ```
    """
    from prefect_modelslab.ledger.storage import exists, join_url
    from prefect_modelslab.ui.gallery import GALLERY_FILE

    url = join_url(output_url, GALLERY_FILE)
    try:
        found = exists(url)
    except Exception:  # an unreachable store: the run's own output says enough
        found = False
    if found:
        console.print(f"{label}{escape(url)}", highlight=False)
