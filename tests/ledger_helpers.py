"""Test helpers for output folders: list their files; plant entries as a crash left them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect_modelslab.client.models import VideoRequest
from prefect_modelslab.ledger import Entry, Ledger


def folder_files(folder: Path) -> list[str]:
    """The folder's files, relative; an entry's versions listed once (`.modelslab/entries/NAME`)."""
    if not folder.exists():
        return []
    found: set[str] = set()
    for path in folder.rglob("*"):
        if path.is_file():
            relative = str(path.relative_to(folder))
            if relative.startswith(".modelslab/entries/"):
                relative = relative.rsplit("/", 1)[0]
            found.add(relative)
    return sorted(found)


async def plant(
    output_url: str, name: str, request: VideoRequest, *, state: str, **fields: Any
) -> Entry:
    """Write `name`'s next entry version holding `request` in `state` (as a crash left it)."""
    ledger = Ledger(output_url)
    current = await ledger.read(name)
    if current is None:
        entry = Entry.for_request(name, request, source=fields.pop("source", None), seq=1)
        entry = entry.model_copy(update={"state": state, **fields})
    else:  # the next version, with exactly these fields (its times too, when given)
        entry = current.changed(state=state)
        entry = entry.model_copy(update=fields)
    assert await ledger.write(entry)
    return entry


async def forget(output_url: str, name: str) -> None:
    """What a person does after checking the account: free the name (as `resolve --resubmit`)."""
    from prefect_modelslab.flows.resolve import clear_for_resubmit

    await clear_for_resubmit(output_url, name)


async def plant_video(
    output_url: str,
    name: str,
    prompt: str,
    data: bytes,
    *,
    source: str | None = None,
    passed: bool = True,
    problems: tuple[str, ...] = (),
) -> Entry:
    """A finished entry whose video (`data`, a gif) is in the folder, as a run would leave it."""
    import hashlib

    from prefect_modelslab.client.models import Text2VideoRequest
    from prefect_modelslab.ledger import storage
    from prefect_modelslab.ledger.entry import StoredRecord
    from prefect_modelslab.media import VideoCheck

    ledger = Ledger(output_url)
    storage.write_bytes_atomic(ledger.video_url(name, "gif"), data)
    video = StoredRecord(
        name=name,
        generation_id=f"g-{name}",
        source_url=f"https://cdn.example/{name}.gif",
        sha256=hashlib.sha256(data).hexdigest(),
        bytes=len(data),
        format="gif",
        check=VideoCheck(passed=passed, problems=list(problems)),
        video_file=f"{name}.gif",
    )
    entry = Entry.for_request(name, Text2VideoRequest(prompt=prompt), source=source, seq=1)
    entry = entry.model_copy(
        update={
            "state": "finished",
            "generation_id": video.generation_id,
            "generation_ids": [video.generation_id],
            "video": video,
        }
    )
    assert await ledger.write(entry)
    return entry
