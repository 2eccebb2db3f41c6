"""The JSON sidecar next to a video: an export of its entry, for people and tools.

`<name>.json` records how the video `<name>.<gif|mp4>` was made: the request
(without the key), the server's `meta`, the generation id, the source URL, the
check (with what the probe read), the timings, which source owns the name, and
the earlier videos kept under versioned names. It is written from the entry
whenever the entry's video changes; no run reads it to decide anything (the
entry is the source of truth). Its top-level fields are those of the earlier
sidecar format 2, so tools reading those keep working.
"""

from __future__ import annotations

from typing import Any

from prefect_modelslab.ledger.entry import Entry

__all__ = ["SIDECAR_VERSION", "sidecar_of"]

#: Format of the sidecar written today (2 was the format before entries; 3 adds the rest).
SIDECAR_VERSION = 3


def sidecar_of(entry: Entry) -> dict[str, Any]:
    """The sidecar document of `entry`, as JSON-ready data; it holds no secret.

    Example:
        ```python
        # not run: needs an entry of a folder
        from prefect_modelslab.ledger.sidecar import sidecar_of

        sidecar_of(entry)["sha256"]
        ```
    """
    document: dict[str, Any] = {"version": SIDECAR_VERSION, "name": entry.name}
    video = entry.video
    if video is not None:
        document.update(
            video.model_dump(mode="json", exclude={"name", "stored_at"}),
            created_at=video.stored_at.isoformat(),
        )
    document.update(
        request=entry.request,
        request_hash=entry.request_hash,
        source=entry.source,
        generation_ids=list(entry.generation_ids),
        kept=[kept.model_dump(mode="json") for kept in entry.kept],
        notes=list(entry.notes),
    )
    return document
