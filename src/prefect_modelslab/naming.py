"""Every name this package gives: output ids, file names, artifact keys, run names.

One rule for what may name a video (`SAFE_ID`), one way to derive a name
from a request (`video_name`), one way to turn any text into a Prefect
artifact key (`artifact_key`), and the short texts run names are built from.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from prefect_modelslab.models import Text2VideoRequest, request_fingerprint
from prefect_modelslab.storage import PART_MARKER, split_url

__all__ = [
    "MAX_ID_CHARS",
    "PART_MARKER",
    "SAFE_ID",
    "artifact_key",
    "batch_key_prefix",
    "check_id",
    "check_run_name",
    "download_run_name",
    "id_problem",
    "row_label",
    "shorten",
    "slug",
    "submit_run_name",
    "video_card_key",
    "video_name",
    "wait_run_name",
]

#: Longest id (file name without extension) a video may have.
MAX_ID_CHARS = 100
#: An id: letters, digits, '.', '_' or '-', starting with a letter or digit.
SAFE_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_ID_CHARS - 1}}}")

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_SLUG_CHARS = 40
_ARTIFACT_KEY_CHARS = 100


def id_problem(name: str) -> str | None:
    """Why `name` cannot name a video's files, or None when it can.

    Example:
        ```python
        from prefect_modelslab.naming import id_problem

        id_problem("city-tram")  # None
        id_problem("../etc")     # "must be 1..100 letters, digits, ..."
        ```
    """
    if SAFE_ID.fullmatch(name) and PART_MARKER not in name:
        return None
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
        from prefect_modelslab.naming import check_id

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
        from prefect_modelslab.naming import slug

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


def video_name(request: Text2VideoRequest) -> str:
    """A stable name for a request: a slug of the prompt and a short hash of the request.

    The same request always gets the same name, so a re-run finds its journal
    entry and sidecar; any change to what is asked changes the hash.

    Example:
        ```python
        from prefect_modelslab import Text2VideoRequest
        from prefect_modelslab.naming import video_name

        video_name(Text2VideoRequest(prompt="A red fox, running!"))  # 'a-red-fox-running-1a2b3c4d'
        ```
    """
    return f"{slug(request.prompt) or 'video'}-{request_fingerprint(request)[:8]}"


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key from any texts: lowercase letters, digits and dashes.

    Example:
        ```python
        from prefect_modelslab.naming import artifact_key

        artifact_key("video", "Fox_Run.v2")  # 'video-fox-run-v2'
        ```
    """
    joined = "-".join(_NOT_SLUG.sub("-", part.lower()).strip("-") for part in parts)
    key = re.sub(r"-{2,}", "-", joined).strip("-")
    return key[:_ARTIFACT_KEY_CHARS].rstrip("-") or "modelslab"


def _scope(*parts: str) -> str:
    """A short hash of `parts`: what keeps two CSVs' or folders' artifact keys apart."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]


def batch_key_prefix(source: str, output_url: str = "") -> str:
    """The artifact key prefix of a batch: its source's stem and a short hash of source and folder.

    Two CSVs with the same file name, or one CSV run into two folders, get
    different prefixes, so their artifacts never overwrite each other's.

    Example:
        ```python
        from prefect_modelslab.naming import batch_key_prefix

        batch_key_prefix("s3://bucket/Nightly Prompts.csv", "s3://bucket/videos")
        # 'modelslab-batch-nightly-prompts-<8 hex digits>'
        ```
    """
    stem = posixpath.basename(source.rstrip("/")).rsplit(".", 1)[0]
    return artifact_key("modelslab-batch", slug(stem), _scope(source, output_url))


def video_card_key(output_url: str, name: str) -> str:
    """The artifact key of one video's card: its name and a short hash of its folder and name.

    Example:
        ```python
        from prefect_modelslab.naming import video_card_key

        video_card_key("s3://bucket/videos", "city-tram")  # 'video-city-tram-<8 hex digits>'
        ```
    """
    return artifact_key("video", slug(name, 60), _scope(output_url, name))


def row_label(job: Any) -> str:
    """How a log line names the video a job is for: `<name> (generation <id>)`.

    Example:
        ```python
        from prefect_modelslab.naming import row_label

        row_label(job)  # 'fox (generation 1234)'
        ```
    """
    name = getattr(job, "name", None)
    generation = f"generation {getattr(job, 'generation_id', '?')}"
    return f"{name} ({generation})" if name else generation


def shorten(text: str, limit: int = 30) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis.

    Example:
        ```python
        from prefect_modelslab.naming import shorten

        shorten("a red fox running through the snow at dawn")  # 'a red fox running through the…'
        ```
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rstrip() + "…"


# --- task run names: each names the video (row id) it works on ----------------------


def submit_run_name(parameters: Mapping[str, Any]) -> str:
    """`submit · <name>`, or a short prompt when the submit has no name."""
    request = parameters.get("request")
    label = parameters.get("name") or shorten(getattr(request, "prompt", "?"))
    return f"submit · {label}"


def wait_run_name(parameters: Mapping[str, Any]) -> str:
    """`wait · <name>`, or the generation id when the job has no name."""
    job = parameters.get("job")
    label = getattr(job, "name", None) or getattr(job, "generation_id", None)
    return f"wait · {label}" if label else "wait"


def download_run_name(parameters: Mapping[str, Any]) -> str:
    """`download · <file name>`."""
    video_url = parameters.get("video_url")
    return f"download · {split_url(video_url)[1]}" if isinstance(video_url, str) else "download"


def check_run_name(parameters: Mapping[str, Any]) -> str:
    """`check · <file name>`."""
    name = getattr(parameters.get("video"), "name", None)
    return f"check · {name}" if name else "check"
