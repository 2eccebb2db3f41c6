"""Names of videos in an output folder: the safe-id rule, derived names, slugs.

One rule for what may name a video (`SAFE_ID`) and one way to derive a name
from a request (`video_name`), so a re-run finds the same entry.
"""

from __future__ import annotations

import re
import unicodedata

from prefect_modelslab.client.models import VideoRequest, request_fingerprint
from prefect_modelslab.ledger.storage import PART_MARKER

__all__ = [
    "MAX_ID_CHARS",
    "PART_MARKER",
    "SAFE_ID",
    "check_id",
    "id_problem",
    "shorten",
    "slug",
    "video_name",
]

#: Longest id (file name without extension) a video may have.
MAX_ID_CHARS = 100
#: An id: letters, digits, '.', '_' or '-', starting with a letter or digit.
SAFE_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_ID_CHARS - 1}}}")

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_SLUG_CHARS = 40


#: Device names Windows keeps for itself, with or without an extension (`nul.gif`).
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"{port}{n}" for port in ("com", "lpt") for n in range(1, 10)}
)


def _windows_problem(name: str) -> str | None:
    """Why a Windows folder (or a share mounted from one) cannot hold a file named `name`."""
    device = name.partition(".")[0].rstrip(" ")
    if device.casefold() in _WINDOWS_DEVICES:
        return (
            f"must not be the Windows device name {device.upper()}, with or without an "
            f"extension: Windows cannot store such a file (got {name!r})"
        )
    if name.endswith((".", " ")):
        return f"must not end with '.' or a space: Windows drops them (got {name!r})"
    return None


def id_problem(name: str) -> str | None:
    """Why `name` cannot name a video's files, or None when it can.

    Windows device names (`CON`, `PRN`, `AUX`, `NUL`, `COM1`..`COM9`,
    `LPT1`..`LPT9`, any case, with or without an extension) and names ending
    in `.` are refused too, so every output folder can hold the files.

    Example:
        ```python
        from prefect_modelslab.ledger.names import id_problem

        id_problem("city-tram")  # None
        id_problem("../etc")     # "must be 1..100 letters, digits, ..."
        id_problem("nul.gif")    # "must not be the Windows device name NUL, ..."
        ```
    """
    if SAFE_ID.fullmatch(name) and PART_MARKER not in name:
        return _windows_problem(name)
    return (
        f"must be 1..{MAX_ID_CHARS} letters, digits, '.', '_' or '-', not starting with '.', "
        f"'_' or '-', without {PART_MARKER!r} (got {name!r})"
    )


def check_id(name: str) -> str:
    """`name`, when it may name a video's files.

    Raises:
        ValueError: It may not (the message says why).

    Example:
        ```python
        from prefect_modelslab.ledger.names import check_id

        check_id("city-tram")  # 'city-tram'
        ```
    """
    problem = id_problem(name)
    if problem is not None:
        raise ValueError(f"video name {problem}")
    return name


def slug(text: str, limit: int = _SLUG_CHARS) -> str:
    """`text` as lowercase ASCII letters, digits and dashes, cut at a word within `limit`.

    Example:
        ```python
        from prefect_modelslab.ledger.names import slug

        slug("A red fox, running!")  # 'a-red-fox-running'
        slug("¡Über!")               # 'uber'
        ```
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    result = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    if len(result) > limit:
        cut = result[:limit]
        result = cut.rsplit("-", 1)[0] if "-" in cut[limit // 2 :] else cut
    return result.strip("-")


def video_name(request: VideoRequest) -> str:
    """A stable name for a request: a slug of the prompt and a short hash of the request.

    The same request always gets the same name, so a re-run finds its journal
    entry and sidecar; any change to what is asked changes the hash.

    Example:
        ```python
        from prefect_modelslab import Text2VideoRequest
        from prefect_modelslab.ledger.names import video_name

        video_name(Text2VideoRequest(prompt="A red fox, running!"))  # 'a-red-fox-running-1a2b3c4d'
        ```
    """
    return f"{slug(request.prompt) or 'video'}-{request_fingerprint(request)[:8]}"


def shorten(text: str, limit: int = 30) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis.

    Example:
        ```python
        from prefect_modelslab.ledger.names import shorten

        shorten("a red fox running through the snow at dawn")  # 'a red fox running through the…'
        ```
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rstrip() + "…"
