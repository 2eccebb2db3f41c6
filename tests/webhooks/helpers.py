"""Helpers for the webhook receiver's tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.ledger import storage
from prefect_modelslab.ledger.entry import Entry, EntryState
from prefect_modelslab.ledger.ledger import Ledger
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


def put_entry(folder: Folder, name: str, state: EntryState, track_id: str | None = None) -> Entry:
    """Write the entry of video `name` in `state` (track id `<name>.0a1b2c3d`)."""
    request = Text2VideoRequest(prompt=f"a video called {name}")
    ledger = Ledger(folder.url, folder.options)
    current = ledger.read_now(name)
    fields: dict[str, Any] = {
        "state": state,
        "generation_id": "99" if state in ("submitted", "finished") else None,
        "track_id": track_id or f"{name}.0a1b2c3d",
    }
    if current is None:
        entry = Entry.for_request(name, request, source=None, seq=1).model_copy(update=fields)
    else:
        entry = current.changed(**fields)
    data = (entry.model_dump_json(indent=2) + "\n").encode()
    url = storage.join_url(folder.url, ".modelslab/entries", name, f"{entry.seq:08d}.json")
    assert storage.create_exclusive(url, data, folder.options)
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
