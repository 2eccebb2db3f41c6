"""Prefect artifact keys: what keeps two batches' or two videos' artifacts apart."""

from __future__ import annotations

import hashlib
import posixpath
import re

from prefect_modelslab.ledger.names import slug

__all__ = ["artifact_key", "batch_key_prefix", "video_card_key"]

_NOT_KEY = re.compile(r"[^a-z0-9]+")
_ARTIFACT_KEY_CHARS = 100


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key from any texts: lowercase letters, digits and dashes.

    Example:
        ```python
        from prefect_modelslab.ui.keys import artifact_key

        artifact_key("video", "Fox_Run.v2")  # 'video-fox-run-v2'
        ```
    """
    joined = "-".join(_NOT_KEY.sub("-", part.lower()).strip("-") for part in parts)
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
        from prefect_modelslab.ui.keys import batch_key_prefix

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
        from prefect_modelslab.ui.keys import video_card_key

        video_card_key("s3://bucket/videos", "city-tram")  # 'video-city-tram-<8 hex digits>'
        ```
    """
    return artifact_key("video", slug(name, 60), _scope(output_url, name))
