"""Helpers for the webhook receiver's tests."""

from __future__ import annotations

from prefect_modelslab.ledger import storage
from prefect_modelslab.ledger.webhooks import WebhookStore


def stored_names(store: WebhookStore) -> list[str]:
    """Every file name under the store's folder, temporary ones included."""
    fs, path = storage.get_filesystem(store.folder_url, store.storage_options)
    fs.invalidate_cache()
    try:
        return sorted(str(p).rsplit("/", 1)[-1] for p in fs.find(path))
    except FileNotFoundError:
        return []


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
