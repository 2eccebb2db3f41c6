"""Settle a video whose submit outcome is unknown: adopt a generation, or accept paying again.

A row is `unknown` when its submit may have been billed but its answer (the
generation id) was never read and no webhook call brought it. Only a person
can settle it, after looking at the ModelsLab account:

* `adopt_generation(...)`: that generation is the row's. Its id is journaled,
  then fetched, downloaded and checked like any resumed generation; the
  journal says `finished`, the sidecar is written and the row of `results.csv`
  is updated (and the gallery rebuilt).
* `clear_for_resubmit(...)`: no generation is worth keeping; the journal
  entry goes, so the next run submits (and pays) again.

Both work on any fsspec folder; nobody deletes journal files by hand. The CLI
is `prefect-modelslab resolve OUT_URL ROW_ID --generation-id N | --resubmit`.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.client.models import Text2VideoRequest, VideoJob
from prefect_modelslab.flows.batch import RESULTS_FILE
from prefect_modelslab.flows.video import run_video
from prefect_modelslab.inputs.plan import PlannedRow
from prefect_modelslab.ledger.journal import Journal, JournalEntry
from prefect_modelslab.ledger.names import check_id
from prefect_modelslab.ledger.records import VideoResult
from prefect_modelslab.ledger.report import RowResult
from prefect_modelslab.ledger.result_parts import replace_rows
from prefect_modelslab.runtime.logs import run_logger
from prefect_modelslab.ui.gallery import write_gallery_or_warn

__all__ = ["ResolveError", "adopt_generation", "clear_for_resubmit"]


class ResolveError(ValueError):
    """The row cannot be settled this way (no journal entry, already finished, ...)."""


async def _entry(journal: Journal, name: str) -> JournalEntry:
    entry = await journal.read(check_id(name))
    if entry is None:
        raise ResolveError(
            f"no journal entry for {name!r} in {journal.output_url}: nothing was sent for "
            "it, so nothing needs resolving (the next run submits it)"
        )
    if entry.held:
        raise ResolveError(
            f"a running run ({entry.owner}) holds {name!r} right now ({entry.state})"
        )
    return entry


async def adopt_generation(
    output_url: str,
    name: str,
    generation_id: str,
    credentials: ModelsLabCredentials,
    *,
    storage_options: dict[str, Any] | None = None,
    max_wait_seconds: float = 1800.0,
) -> VideoResult:
    """Make generation `generation_id` the video `name` of `output_url`, and finish it.

    Journals the id as `submitted`, then resumes it (fetch, wait, download,
    check, sidecar, journal `finished`) and updates `name`'s row in the
    folder's `results.csv`, if there is one. The fetch decides: an id the
    server says failed raises `GenerationFailedError` (the entry is cleared).

    Raises:
        ResolveError: No journal entry for `name`, or it is already finished
            or held by a running run.

    Example:
        ```python
        # not run: needs a generation id from a real account
        from prefect_modelslab.flows.resolve import adopt_generation

        result = await adopt_generation("videos", "fox-1", "65919758", credentials)
        ```
    """
    options = dict(storage_options or {})
    journal = Journal(output_url, options)
    entry = await _entry(journal, name)
    if entry.state == "finished":
        raise ResolveError(
            f"{name!r} is already finished with generation {entry.generation_id}; nothing to adopt"
        )
    request = Text2VideoRequest.model_validate(entry.request)
    job = VideoJob(
        generation_id=generation_id.strip(),
        status="processing",
        eta=0.0,
        request=request,
        base_url=credentials.base_url,
        name=name,
    )
    await journal.record_submitted(name, job, track_id=entry.track_id)
    run_logger().info("Adopting generation %s for %s (resolve)", generation_id, name)
    result = await run_video(
        request,
        output_url,
        credentials,
        name=name,
        storage_options=options,
        max_wait_seconds=max_wait_seconds,
    )
    await asyncio.to_thread(_update_results, output_url, options, name, result)
    return result


async def clear_for_resubmit(
    output_url: str, name: str, *, storage_options: dict[str, Any] | None = None
) -> JournalEntry:
    """Delete `name`'s journal entry so the next run submits it again (and pays again).

    Returns:
        The entry that was deleted.

    Raises:
        ResolveError: No journal entry for `name`, or a running run holds it.

    Example:
        ```python
        from prefect_modelslab.flows.resolve import ResolveError, clear_for_resubmit

        try:
            await clear_for_resubmit("videos", "fox-1")
        except ResolveError as error:
            print(error)
        ```
    """
    journal = Journal(output_url, dict(storage_options or {}))
    entry = await _entry(journal, name)
    await journal.forget(name)
    return entry


def _update_results(
    output_url: str, options: dict[str, Any], name: str, result: VideoResult
) -> None:
    """Replace `name`'s row of `results.csv` (in its part) with the adopted video's result."""

    def adopted(old: RowResult) -> RowResult:
        planned = cast(PlannedRow, SimpleNamespace(row=old.row, id=old.id, prompt=old.prompt))
        return RowResult.from_video(planned, result)

    if replace_rows(output_url, name, adopted, results_file=RESULTS_FILE, storage_options=options):
        write_gallery_or_warn(output_url, options, run_logger())
