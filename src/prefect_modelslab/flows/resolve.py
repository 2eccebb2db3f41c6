"""Settle a video whose submit outcome is unknown: adopt a generation, or accept paying again.

A row is `unknown` when its submit may have been billed but its answer (the
generation id) was never read and no webhook call brought a generation that
matches it. Only a person can settle it, after looking at the ModelsLab account:

* `adopt_generation(...)`: that generation is the row's. The server's account
  of it (its `meta`) must match the row's request, and no other name of the
  folder may hold it, unless `accept_mismatch`. Its id is recorded in the
  name's entry, then it is fetched, downloaded and checked like any resumed
  generation; `results.csv` and the gallery are rebuilt.
* `clear_for_resubmit(...)`: no generation is worth keeping; the entry is
  freed (a stored video is kept under a versioned name first), so the next run
  submits (and pays) again.

Both work on any fsspec folder; nobody edits the folder's files by hand. The
CLI is `prefect-modelslab resolve OUT_URL ROW_ID --generation-id N | --resubmit`.
"""

from __future__ import annotations

from typing import Any

from prefect.runtime import flow_run

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.client.models import VideoJob, VideoRequest, meta_disagreements
from prefect_modelslab.flows.video import DEFAULT_MAX_WAIT_SECONDS, run_video
from prefect_modelslab.ledger import Entry, Ledger
from prefect_modelslab.ledger.names import check_id
from prefect_modelslab.ledger.records import VideoResult
from prefect_modelslab.runtime.dispatch import modelslab_flow
from prefect_modelslab.runtime.logs import run_logger
from prefect_modelslab.ui.gallery import awrite_gallery_or_warn

__all__ = ["ResolveError", "adopt_generation", "clear_for_resubmit"]


class ResolveError(ValueError):
    """The row cannot be settled this way (no entry, already finished, held, a mismatch...)."""


async def _entry(ledger: Ledger, name: str) -> Entry:
    entry = await ledger.read(check_id(name))
    if entry is None:
        raise ResolveError(
            f"no entry for {name!r} in {ledger.output_url}: nothing was sent for it, so "
            "nothing needs resolving (the next run submits it)"
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
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    accept_mismatch: bool = False,
) -> VideoResult:
    """Make generation `generation_id` the video `name` of `output_url`, and finish it.

    The generation is fetched first: unless `accept_mismatch`, its `meta` (when
    the answer carries one) must match the request of `name` (the prompt, and
    each size, frame and fps field that was sent), and no other name of the
    folder may hold it. Its id is then
    recorded as `name`'s generation and resumed (fetch, wait, download, check,
    sidecar), and `results.csv` and the gallery are rebuilt. The fetch decides:
    an id the server says failed raises `GenerationFailedError`.

    Raises:
        ResolveError: No entry for `name`, it is already finished or held by a
            running run, or the generation does not match (without `accept_mismatch`).

    Example:
        ```python
        # not run: needs a generation id from a real account
        from prefect_modelslab.flows.resolve import adopt_generation

        result = await adopt_generation("videos", "fox-1", "65919758", credentials)
        ```
    """
    ledger = Ledger(output_url, dict(storage_options or {}))
    entry = await _entry(ledger, name)
    request = entry.parsed_request()
    if request is None:
        raise ResolveError(f"the entry of {name!r} holds no request to adopt a generation for")
    if entry.state == "finished" and entry.video is not None:
        raise ResolveError(
            f"{name!r} is already finished with generation {entry.generation_id}; nothing to adopt"
        )
    generation_id = generation_id.strip()
    if not accept_mismatch:
        await _check_it_is_the_rows(ledger, entry, generation_id, credentials)
    job = VideoJob.known(generation_id, request, base_url=credentials.base_url, name=name)
    adopted = entry.with_generation(
        generation_id,
        state="submitted",
        job=job,
        owner=None,
        claim_token=None,
        outcome=None,
    )
    if not await ledger.write(adopted):
        raise ResolveError(f"another run changed the entry of {name!r} meanwhile; try again")
    return await _finish_adoption(  # type: ignore[no-any-return]
        request,
        output_url,
        credentials,
        name=name,
        generation_id=generation_id,
        source=entry.source,
        storage_options=ledger.storage_options,
        max_wait_seconds=max_wait_seconds,
    )


def _adoption_run_name() -> str:
    parameters = flow_run.parameters
    return f"resolve · {parameters.get('name')} ← {parameters.get('generation_id')}"


@modelslab_flow(
    name="adopt-generation",
    description="Finish a generation adopted for a video whose submit outcome was unknown.",
    flow_run_name=_adoption_run_name,
)
async def _finish_adoption(
    request: VideoRequest,
    output_url: str,
    credentials: ModelsLabCredentials,
    name: str,
    generation_id: str,
    source: str | None = None,
    storage_options: dict[str, Any] | None = None,
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
) -> VideoResult:
    """Resume the adopted generation (wait, download, check) as a flow run of its own."""
    logger = run_logger()
    logger.info("Adopting generation %s for %s (resolve)", generation_id, name)
    ledger = Ledger(output_url, dict(storage_options or {}))
    result = await run_video(
        request,
        output_url,
        credentials,
        name=name,
        source=source,
        storage_options=ledger.storage_options,
        max_wait_seconds=max_wait_seconds,
        ledger=ledger,
        card=False,
    )
    await ledger.write_results()
    await awrite_gallery_or_warn(ledger, logger)
    return result


async def _check_it_is_the_rows(
    ledger: Ledger, entry: Entry, generation_id: str, credentials: ModelsLabCredentials
) -> None:
    """Raise `ResolveError` unless `generation_id` is, as far as the server tells, `entry`'s."""
    way_out = "check it in your ModelsLab account and pass --accept-mismatch to adopt it anyway"
    for other in (await ledger.entries(import_legacy=False)).values():
        if other.name != entry.name and generation_id in other.generation_ids:
            raise ResolveError(
                f"generation {generation_id} is the generation of {other.name!r} in "
                f"{ledger.output_url}, not of {entry.name!r}; {way_out}"
            )
    request = entry.parsed_request()
    assert request is not None
    async with credentials.get_async_client() as client:
        answer = await client.fetch(generation_id)
    if answer.meta is None:  # the person found it in the account; the server cannot say more
        run_logger().warning(
            "Generation %s carries no meta: it cannot be checked against %s's request",
            generation_id,
            entry.name,
        )
        return
    problems = meta_disagreements(request, answer.meta)
    if problems:
        raise ResolveError(
            f"generation {generation_id} does not match the request of {entry.name!r} "
            f"({'; '.join(problems)}); {way_out}"
        )


async def clear_for_resubmit(
    output_url: str, name: str, *, storage_options: dict[str, Any] | None = None
) -> Entry:
    """Free `name` so the next run submits it again (and pays again).

    A stored video is kept under a versioned name first; the entry keeps
    listing every generation id it had.

    Returns:
        The entry as it was.

    Raises:
        ResolveError: No entry for `name`, or a running run holds it.

    Example:
        ```python
        from prefect_modelslab.flows.resolve import ResolveError, clear_for_resubmit

        try:
            await clear_for_resubmit("videos", "fox-1")
        except ResolveError as error:
            print(error)
        ```
    """
    ledger = Ledger(output_url, dict(storage_options or {}))
    entry = await _entry(ledger, name)
    if await ledger.keep_video(entry, f"{name} was cleared for a new submit (resolve)") is None:
        raise ResolveError(f"another run changed the entry of {name!r} meanwhile; try again")
    await ledger.write_results()
    return entry
