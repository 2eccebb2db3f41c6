"""Folders written before entries existed: their journal entries and sidecars, read as entries.

Earlier versions kept two records per video: `.modelslab/journal/<name>.json`
(the submit journal) and `<name>.json` next to the video (the sidecar). A name
that has no entry yet is read from them, so such folders keep resuming, and
reusing their checked videos, without paying again. Nothing here writes.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from prefect_modelslab.client.models import VideoJob, parse_request
from prefect_modelslab.ledger import storage
from prefect_modelslab.ledger.entry import Entry, StoredRecord
from prefect_modelslab.ledger.names import id_problem
from prefect_modelslab.ledger.records import Timings
from prefect_modelslab.media import VideoCheck

__all__ = ["JOURNAL_DIR", "legacy_names", "read_legacy_entry"]

#: Where earlier versions kept the submit journal.
JOURNAL_DIR = ".modelslab/journal"

logger = logging.getLogger(__name__)


class _JournalEntry(BaseModel):
    """An entry of the earlier submit journal (format 1)."""

    model_config = ConfigDict(extra="ignore")

    name: str
    state: Literal["claimed", "submitting", "outcome_unknown", "submitted", "finished"]
    request_hash: str
    request: dict[str, Any]
    generation_id: str | None = None
    job: VideoJob | None = None
    message: str | None = None
    track_id: str | None = None
    owner: str | None = None
    claim_token: str | None = None
    created_at: datetime
    updated_at: datetime


class _Sidecar(BaseModel):
    """An earlier sidecar (formats 1 and 2; the export written today reads as one too)."""

    model_config = ConfigDict(extra="ignore")

    name: str
    generation_id: str
    source_url: str
    sha256: str
    bytes: int
    content_type: str | None = None
    format: Literal["gif", "mp4"]
    check: VideoCheck
    timings: Timings = Timings()
    video_file: str
    request: dict[str, Any]
    request_hash: str
    meta: dict[str, Any] | None = None
    created_at: datetime


def _parses(payload: dict[str, Any]) -> bool:
    try:
        parse_request(payload)
    except ValueError:
        return False
    return True


def _journal_url(output_url: str, name: str) -> str:
    return storage.join_url(output_url, JOURNAL_DIR, f"{name}.json")


def read_legacy_entry(
    output_url: str, name: str, storage_options: dict[str, Any] | None = None
) -> Entry | None:
    """The entry an earlier version's journal entry and sidecar of `name` describe, if any.

    Raises:
        ValueError: The journal entry exists but cannot be read.

    Example:
        ```python
        from prefect_modelslab.ledger.legacy import read_legacy_entry

        entry = read_legacy_entry("videos", "fox")  # None, or an Entry (seq 1, not written)
        ```
    """
    journal = storage.read_model(_journal_url(output_url, name), _JournalEntry, storage_options)
    try:
        sidecar = storage.read_model(
            storage.join_url(output_url, f"{name}.json"), _Sidecar, storage_options
        )
    except ValueError as error:
        logger.warning("Ignoring the unreadable sidecar of %s: %s", name, error)
        sidecar = None
    if sidecar is not None and (sidecar.name != name or not _parses(sidecar.request)):
        sidecar = None
    if journal is None and sidecar is None:
        return None
    request_hash = journal.request_hash if journal is not None else sidecar.request_hash  # type: ignore[union-attr]
    if sidecar is not None and sidecar.request_hash != request_hash:
        sidecar = None  # it described an earlier request; that run overwrote its video
    video = None
    if sidecar is not None:
        video = StoredRecord(
            **sidecar.model_dump(
                include={
                    "name",
                    "generation_id",
                    "source_url",
                    "sha256",
                    "bytes",
                    "content_type",
                    "format",
                    "check",
                    "timings",
                    "video_file",
                    "meta",
                }
            ),
            stored_at=sidecar.created_at,
        )
    request = journal.request if journal is not None else sidecar.request  # type: ignore[union-attr]
    generation_id = (journal.generation_id if journal is not None else None) or (
        video.generation_id if video is not None else None
    )
    state = journal.state if journal is not None else "finished"
    job = journal.job if journal is not None else None
    return Entry(
        seq=1,
        name=name,
        prompt=str(request.get("prompt", "")) or None,
        request=request,
        request_hash=request_hash,
        state=state,
        track_id=journal.track_id if journal is not None else None,
        owner=journal.owner if journal is not None else None,
        claim_token=journal.claim_token if journal is not None else None,
        generation_id=generation_id,
        generation_ids=[generation_id] if generation_id else [],
        job=job,
        video=video if state == "finished" else None,
        message=journal.message if journal is not None else None,
        created_at=journal.created_at if journal is not None else sidecar.created_at,  # type: ignore[union-attr]
        updated_at=journal.updated_at if journal is not None else sidecar.created_at,  # type: ignore[union-attr]
    )


def legacy_names(output_url: str, storage_options: dict[str, Any] | None = None) -> set[str]:
    """The names an earlier version's journal or sidecars hold in `output_url`.

    Example:
        ```python
        from prefect_modelslab.ledger.legacy import legacy_names

        legacy_names("videos")  # {'fox', 'whale'}
        ```
    """
    names: set[str] = set()
    for folder in (storage.join_url(output_url, JOURNAL_DIR), output_url):
        fs, path = storage.get_filesystem(folder, storage_options)
        fs.invalidate_cache(path)
        try:
            listed = fs.ls(path, detail=False)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for item in listed:
            file_name = str(item).rstrip("/").rsplit("/", 1)[-1]
            stem, dot, ext = file_name.rpartition(".")
            if dot and ext == "json" and id_problem(stem) is None:
                names.add(stem)
    return names
