"""Helpers for the webhook receiver's tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefect_modelslab.client.models import Text2VideoRequest, request_fingerprint
from prefect_modelslab.ledger import storage
from prefect_modelslab.ledger.journal import Journal, JournalEntry, JournalState
from prefect_modelslab.ledger.webhooks import TOKEN_FILE, WebhookStore


@dataclass(frozen=True)
class Folder:
    """An output folder URL and the storage options of its filesystem."""

    url: str
    options: dict[str, Any] = field(default_factory=dict)


def any_track_id(output_url: str, track_id: str, storage_options: dict[str, Any] | None) -> bool:
    """A `wanted` filter that wants every track id (for tests of the HTTP side)."""
    return True


def stored_names(store: WebhookStore) -> list[str]:
    """Every file name under the store's folder, temporary ones included, but the token."""
    fs, path = storage.get_filesystem(store.folder_url, store.storage_options)
    fs.invalidate_cache()
    try:
        names = sorted(str(p).rsplit("/", 1)[-1] for p in fs.find(path))
    except FileNotFoundError:
        return []
    return [name for name in names if name != TOKEN_FILE]


def all_files(folder: Folder) -> dict[str, bytes]:
    """Every file under the output folder and its bytes."""
    fs, path = storage.get_filesystem(folder.url, folder.options)
    fs.invalidate_cache()
    try:
        found = fs.find(path)
    except FileNotFoundError:
        return {}
    return {str(p): fs.cat_file(p) for p in found}


def put_entry(
    folder: Folder, name: str, state: JournalState, track_id: str | None = None
) -> JournalEntry:
    """Write the journal entry of video `name` in `state` (track id `<name>.0a1b2c3d`)."""
    request = Text2VideoRequest(prompt=f"a video called {name}")
    entry = JournalEntry(
        name=name,
        state=state,
        request_hash=request_fingerprint(request),
        request=request.to_payload(),
        generation_id="99" if state in ("submitted", "finished") else None,
        track_id=track_id or f"{name}.0a1b2c3d",
    )
    url = Journal(folder.url, folder.options).url_for(name)
    storage.write_model(url, entry, folder.options)
    return entry


def success(track_id: str = "t-1", generation_id: int | str = 65919758) -> dict[str, object]:
    """A success call as the spec shows it."""
    return {
        "status": "success",
        "id": generation_id,
        "output": ["https://cdn.example/generations/abc.gif"],
        "generationTime": 12.5,
        "track_id": track_id,
        "meta": {"width": 512, "height": 320, "webhook": "https://me.example/hook"},
    }
