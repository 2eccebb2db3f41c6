"""One video end to end: submit, wait, download, check, recorded in the folder's entry.

`run_video` is the work, a coroutine that calls the four tasks; the batch flow
calls it once per row. `generate_video` is the same work as a Prefect flow.

What it does for a name is `ledger.decisions.decide`'s rule, read from the
name's entry (`ledger.Entry`) and decided again whenever another run changed it:

1. a stored video of the same request: reuse it (no submit, no download);
2. a generation of the same request: hold the entry and resume it (fetch, no
   second submit); another live run holding the name is waited for;
3. a submit whose answer was never read: adopt the id its answer left, or one a
   webhook call brought and the server confirms (its `meta` matches the
   request, and no other name holds it); else the outcome stays unknown
   (`SubmitOutcomeUnknownError`, naming `prefect-modelslab resolve`);
4. otherwise claim the entry (a compare and swap of its next version) and
   submit; the submit task records each attempt and the id the instant it is read.

A paid video is never deleted or replaced: before its name is made again (an
edited prompt, `resubmit_check_failed`) it is kept under a versioned name.
Only a definite end (the fetch says `failed` for that id) or a refused submit
frees an entry for a new submit; any other failure keeps it, and a re-run resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from prefect.runtime import flow_run

from prefect_modelslab.blocks import CredentialsLike, ModelsLabCredentials, aload_credentials
from prefect_modelslab.client.fetcher import DEFAULT_DOWNLOAD_TIMEOUT, DEFAULT_MAX_BYTES
from prefect_modelslab.client.models import (
    Text2VideoRequest,
    VideoJob,
    VideoRequest,
    meta_disagreements,
)
from prefect_modelslab.exceptions import (
    GenerationFailedError,
    ModelsLabError,
    ModelsLabTimeoutError,
    NameConflictError,
    SubmitOutcomeUnknownError,
)
from prefect_modelslab.ledger import Claim, Entry, Ledger, Outcome, claim, decide, hold
from prefect_modelslab.ledger.entry import StoredRecord
from prefect_modelslab.ledger.names import check_id, shorten, video_name
from prefect_modelslab.ledger.records import Timings, VideoResult
from prefect_modelslab.ledger.report import REDO_HINT, RowStatus, error_text, status_of_error
from prefect_modelslab.ledger.storage import split_url
from prefect_modelslab.ledger.webhooks import WebhookStore
from prefect_modelslab.runtime.dispatch import dispatching, modelslab_flow
from prefect_modelslab.runtime.logs import run_logger
from prefect_modelslab.tasks import download_video, submit_video, wait_for_video
from prefect_modelslab.tasks.check import acheck_video_verdict
from prefect_modelslab.ui.artifacts import create_video_card
from prefect_modelslab.ui.run_states import video_state

__all__ = [
    "OTHER_RUN_POLL_SECONDS",
    "UNREAD",
    "Slot",
    "agenerate_video",
    "check_webhook_url",
    "generate_video",
    "resolve_command",
    "run_video",
]

#: How often a run waiting on another run's entry of the same video looks again.
OTHER_RUN_POLL_SECONDS = 1.0

#: A factory of async context managers, each held from submit until the
#: generation is ready (one place in the account's queue).
Slot = Callable[[], AbstractAsyncContextManager[Any]]

#: Default deadline of the wait for a generation, in seconds.
DEFAULT_MAX_WAIT_SECONDS = 1800.0
#: Default time a submit keeps retrying on a full queue (429), in seconds.
DEFAULT_MAX_QUEUE_WAIT_SECONDS = 1800.0


def check_deadlines(**deadlines: float) -> dict[str, float]:
    """The deadlines, once each is known to be a positive number of seconds.

    Raises:
        ValueError: Names the first deadline that is not.

    Example:
        ```python
        from prefect_modelslab.flows.video import check_deadlines

        check_deadlines(max_wait_seconds=600, download_timeout_seconds=120)
        ```
    """
    for name, value in deadlines.items():
        if not value > 0:
            raise ValueError(f"{name} must be a positive number of seconds (got {value!r})")
    return deadlines


def check_webhook_url(url: str) -> str:
    """`url` when it may be sent as a submit's `webhook`, else a ValueError.

    Example:
        ```python
        check_webhook_url("https://hooks.example.com/modelslab/webhook")
        ```
    """
    try:
        Text2VideoRequest(prompt="-", webhook=url)
    except ValueError:
        raise ValueError(f"webhook_url must be an http(s) URL (got {url!r})") from None
    return url


def resolve_command(output_url: str, name: str, way: str = "--generation-id ID") -> str:
    """The `prefect-modelslab resolve` command that settles `name` of `output_url` one `way`.

    Example:
        ```python
        resolve_command("videos", "fox", "--resubmit")
        # 'prefect-modelslab resolve videos fox --resubmit'
        ```
    """
    return f"prefect-modelslab resolve {output_url} {name} {way}"


def _unknown_outcome(entry: Entry, output_url: str) -> SubmitOutcomeUnknownError:
    when = entry.updated_at.isoformat(timespec="seconds")
    return SubmitOutcomeUnknownError(
        f"a submit of this request was sent at {when} but its answer was never read, so the "
        "generation may exist and may be billed, and no webhook call brought a generation "
        "that matches it; it is not submitted again automatically. Find it in your "
        f"ModelsLab account, then adopt it with `{resolve_command(output_url, entry.name)}`, "
        "or accept paying again with `--resubmit`",
        generation_id=entry.generation_id,
    )


class _Unread:
    """The entry was not read yet."""


#: `run_video(entry=UNREAD)`: read the entry there.
UNREAD = _Unread()


async def run_video(
    request: VideoRequest,
    output_url: str,
    credentials: ModelsLabCredentials,
    *,
    name: str | None = None,
    source: str | None = None,
    storage_options: dict[str, Any] | None = None,
    slot: Slot | None = None,
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    webhook_url: str | None = None,
    card: bool = True,
    max_queue_wait_seconds: float = DEFAULT_MAX_QUEUE_WAIT_SECONDS,
    download_timeout_seconds: float = DEFAULT_DOWNLOAD_TIMEOUT,
    resubmit_check_failed: bool = False,
    replace_names: bool = False,
    ledger: Ledger | None = None,
    entry: Entry | _Unread | None = UNREAD,
) -> VideoResult:
    """Make one video into `output_url`: reuse, resume or submit; then wait, download, check.

    Writes `<output_url>/<name>.<gif|mp4>`, its sidecar `<name>.json`, and the
    name's entry under `.modelslab/entries/`. Runs up to four tasks (submit,
    wait, download, check); none when a checked video is reused. What it does
    for the name is `ledger.decide`'s rule: a name belongs to one source and
    one request; a paid video is never deleted or replaced (an earlier one is
    kept under a versioned name), and a submit whose outcome is unknown is
    never repeated blindly.

    Args:
        request: What to generate.
        output_url: Destination folder, any fsspec URL.
        credentials: The ModelsLab credentials block.
        name: File name without extension; None derives a stable one from the
            request (`ledger.names.video_name`).
        source: The normalised source the request comes from (a batch's CSV or
            records), which owns the name; None for a single video.
        storage_options: Options for the folder's fsspec filesystem.
        slot: A factory of async context managers held from submit until the
            wait ends (the server's queue), never during download and check.
        max_wait_seconds: Deadline of the wait for the generation, and of
            waiting for another run that holds the same video, in seconds
            (default 1800); past it the row fails and a re-run resumes it.
        max_bytes: Largest file accepted.
        webhook_url: ModelsLab calls it when the generation ends (`webhook`); a
            `webhook-receiver` for `output_url` behind it lets a re-run adopt
            a generation whose submit answer was lost. Every submit carries a
            `track_id` from its entry either way.
        card: Create the video's Markdown artifact (a batch shows its table
            and gallery instead of one card per row).
        max_queue_wait_seconds: How long a submit keeps retrying while the
            account's queue is full (429), in seconds (default 1800); past it
            nothing was taken and the submit fails.
        download_timeout_seconds: Deadline of the whole download, retries
            included, in seconds (default 600).
        resubmit_check_failed: Pay again for a video that failed its check
            (the failed one is kept under a versioned name); by default it is
            reported again and nothing is paid.
        replace_names: Give the name to `source` even if another source owns
            it (its paid video is kept under a versioned name).
        ledger: The folder's `Ledger` (a batch shares one); None makes one.
        entry: The name's entry as already read (a batch reads them all
            first); by default it is read here.

    Returns:
        The result. A video that failed its check is returned (with
        `check.passed` False), not raised.

    Raises:
        SubmitOutcomeUnknownError: This submit, or a previous run's, was sent
            without an answer read and no webhook brought a generation that
            matches it; it is never re-sent automatically (its message says how
            to settle it with `prefect-modelslab resolve`).
        NameConflictError: Another source owns the name (nothing was submitted).
        GenerationFailedError: The server says the generation failed.
        GenerationTimeoutError: Not ready in time; a re-run resumes it.
        DownloadError: No link gave a whole video; a re-run downloads again
            without a new submit.
        ModelsLabError: The server refused the request (key, credits, ...).

    Example:
        ```python
        from prefect_modelslab import ModelsLabCredentials, Text2VideoRequest
        from prefect_modelslab.flows.video import run_video

        credentials = ModelsLabCredentials.from_env()
        request = Text2VideoRequest(prompt="a red fox running through snow", num_frames=16)
        result = await run_video(request, "videos", credentials)
        ```
    """
    check_deadlines(
        max_wait_seconds=max_wait_seconds,
        max_queue_wait_seconds=max_queue_wait_seconds,
        download_timeout_seconds=download_timeout_seconds,
    )
    if webhook_url is not None:
        check_webhook_url(webhook_url)
    options = dict(storage_options or {})
    work = _VideoRun(
        ledger=ledger or Ledger(output_url, options),
        name=check_id(name) if name else video_name(request),
        request=request,
        credentials=credentials,
        source=source,
        slot=slot,
        max_wait_seconds=max_wait_seconds,
        max_queue_wait_seconds=max_queue_wait_seconds,
        download_timeout_seconds=download_timeout_seconds,
        max_bytes=max_bytes,
        webhook_url=webhook_url,
        resubmit_check_failed=resubmit_check_failed,
        replace_names=replace_names,
    )
    try:
        result = await work.run(entry)
    except Exception as error:
        await work.record_failure(error)
        raise
    except BaseException:  # stopped: the entry says how far it got; another run may go on
        work.let_go()
        raise
    if card:
        await create_video_card(result, options)
    return result


@dataclass
class _VideoRun:
    """One name's work: decide, (re)use, resume, adopt or submit; wait, download, check."""

    ledger: Ledger
    name: str
    request: VideoRequest
    credentials: ModelsLabCredentials
    source: str | None
    slot: Slot | None
    max_wait_seconds: float
    max_queue_wait_seconds: float
    download_timeout_seconds: float
    max_bytes: int
    webhook_url: str | None
    resubmit_check_failed: bool
    replace_names: bool
    holder: Claim | None = None  # what this run holds of the entry
    logger: Any = field(default_factory=run_logger)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def output_url(self) -> str:
        return self.ledger.output_url

    def _known(self, generation_id: str) -> VideoJob:
        """The job of this request's generation `generation_id`, to fetch at once."""
        base_url = self.credentials.base_url
        return VideoJob.known(generation_id, self.request, base_url=base_url, name=self.name)

    async def run(self, entry: Entry | _Unread | None) -> VideoResult:
        started = time.monotonic()
        deadline = started + self.max_wait_seconds
        async with contextlib.AsyncExitStack() as queue_place:
            taken = False
            waited = False
            while True:
                if isinstance(entry, _Unread):
                    entry = await self.ledger.read(self.name)
                decision = decide(
                    entry,
                    self.request,
                    source=self.source,
                    resubmit_check_failed=self.resubmit_check_failed,
                    replace_names=self.replace_names,
                )
                kind = decision.kind
                if kind == "conflict":
                    raise NameConflictError(decision.reason)
                if kind == "blocked":
                    raise SubmitOutcomeUnknownError(f"{self.name}: {decision.reason}")
                if kind == "reuse" and entry is not None:
                    if await self.ledger.video_in_place(entry):
                        return await self._reused(entry)
                    self.logger.info(
                        "%s: the video of generation %s is not in the folder as it was "
                        "stored; fetching it again (no new submit)",
                        self.name,
                        entry.generation_id,
                    )
                if kind == "wait":
                    if time.monotonic() >= deadline:
                        raise ModelsLabTimeoutError(
                            f"{decision.reason}; nothing was submitted by this run. "
                            "Run again once it ends"
                        )
                    if not waited:
                        self.logger.info("%s: %s; waiting for it", self.name, decision.reason)
                    waited = True
                    await asyncio.sleep(OTHER_RUN_POLL_SECONDS)
                    entry = UNREAD
                    continue
                assert entry is not None or decision.pays
                if decision.keep_video and entry is not None:
                    self.logger.info("%s: %s", self.name, decision.reason)
                    entry = await self.ledger.keep_video(entry, decision.reason) or UNREAD
                    continue
                if not taken and self.slot is not None:
                    await queue_place.enter_async_context(self.slot())
                    taken = True
                if decision.finish_earlier and entry is not None:
                    self.logger.info("%s: %s", self.name, decision.reason)
                    entry = await self._store_earlier(entry)
                    continue
                if decision.pays:
                    held = await claim(
                        self.ledger, self.name, self.request, current=entry, source=self.source
                    )
                    if held is None:  # another run wrote the entry first: look again
                        entry = UNREAD
                        continue
                    self.holder = held
                    job: VideoJob | None = await self._submit(held)
                    resumed = False
                elif entry is not None and kind == "adopt":
                    job = await self._adopt(entry)
                    if job is None:
                        raise _unknown_outcome(entry, self.output_url)
                    resumed = True
                else:
                    assert entry is not None
                    job = await self._resume(entry)
                    resumed = True
                if job is not None:
                    break
                entry = UNREAD  # another run took the entry first: look again
            ready = await self._wait(job)
        return await self._store(ready, started, resumed=resumed)

    async def _reused(self, entry: Entry) -> VideoResult:
        result = self.ledger.result_of(entry, reused=True)
        if entry.outcome is None or not entry.outcome.reused:
            status: RowStatus = "succeeded" if result.passed else "check_failed"
            outcome = Outcome(status=status, reused=True, generation_id=entry.generation_id)
            await self.ledger.record_outcome(self.name, outcome, token=None)
        self.logger.info(
            "Reusing %s (generation %s): a previous run stored it%s",
            result.video_url,
            result.generation_id,
            " and its check passed" if result.passed else f"; its check failed ({REDO_HINT})",
        )
        return result

    async def _resume(self, entry: Entry) -> VideoJob | None:
        """Hold `entry` and resume its generation: fetch it, never submit it again."""
        held = await hold(self.ledger, entry, state="submitted")
        if held is None:
            return None
        self.holder = held
        job = entry.job or VideoJob.known(
            entry.generation_id or "", self.request, base_url=self.credentials.base_url
        )
        self.logger.info(
            "Resuming generation %s of %s (no new submit)", job.generation_id, self.name
        )
        # Look at once: whatever the entry says, the server knows better.
        return job.model_copy(update={"status": "processing", "eta": 0.0, "name": self.name})

    async def _adopt(self, entry: Entry) -> VideoJob | None:
        """The job of an entry whose submit answer was lost, when its generation is found after all.

        The id comes from the entry itself (the answer was readable in part),
        or from a webhook call for its track id. A webhook call is unsigned: its
        id is adopted only when no other name of the folder holds it and the
        server's own account of that generation (fetched with our key) does not
        contradict this request: its `meta` must repeat the prompt and every
        value the request set. When the answer carries no `meta` (the API's
        answers for finished generations often do not), the id is taken on the
        strength of the receiver's secret URL and this entry's unguessable track
        id, and its video is checked against the request like any other. An id
        refused is noted in the entry and in the log, never adopted.
        """
        candidates: list[str] = []
        trusted = entry.generation_id
        if trusted is None and entry.track_id:
            store = WebhookStore(self.output_url, self.ledger.storage_options)
            try:
                call = await asyncio.to_thread(store.read, entry.track_id)
            except ValueError as error:
                self.logger.warning("Cannot read the webhook call for %s: %s", self.name, error)
                call = None
            if call is not None:
                candidates = list(call.generation_ids)
        for generation_id in [trusted] if trusted else candidates:
            if trusted is None:
                refusal = await self._refusal(generation_id)
                if refusal is not None:
                    note = (
                        f"a webhook call for {self.name} named generation {generation_id}"
                        f"{refusal}: not adopted"
                    )
                    self.logger.warning(note)
                    entry = await self.ledger.add_note(self.name, note) or entry
                    continue
            job = VideoJob.known(
                generation_id, self.request, base_url=self.credentials.base_url, name=self.name
            )
            ids = entry.generation_ids
            held = await hold(
                self.ledger,
                entry,
                state="submitted",
                job=job,
                generation_id=generation_id,
                generation_ids=ids if generation_id in ids else [*ids, generation_id],
            )
            if held is None:
                return None
            self.holder = held
            where = "the entry" if trusted else "a webhook call, checked against the request"
            self.logger.info(
                "Adopting generation %s from %s for %s (no new submit)",
                generation_id,
                where,
                self.name,
            )
            return job
        return None

    async def _refusal(self, generation_id: str) -> str | None:
        """Why a webhook's `generation_id` is not this request's generation; None when it is."""
        owners = [
            other.name
            for other in (await self.ledger.entries(import_legacy=False)).values()
            if other.name != self.name and generation_id in other.generation_ids
        ]
        if owners:
            return f", which is the generation of {owners[0]!r}"
        try:
            async with self.credentials.get_async_client() as client:
                answer = await client.fetch(generation_id)
        except GenerationFailedError:
            return ", which the server says failed"
        except ModelsLabError as error:
            return f", which could not be fetched ({error_text(error)})"
        if answer.meta is None:
            # The API's answer for a finished generation often carries no meta. The
            # call came through the receiver's secret URL for this entry's own
            # unguessable track id, and no other name holds the id: it is adopted,
            # and its video is checked against the request like any other.
            self.logger.warning(
                "%s: generation %s of a webhook call cannot be compared with the request "
                "(the server's answer has no meta); adopting it on the strength of the "
                "receiver's secret URL, and checking its video",
                self.name,
                generation_id,
            )
            return None
        problems = meta_disagreements(self.request, answer.meta)
        if problems:
            prompt = answer.meta.prompt
            shown = f", whose prompt is {prompt!r}" if prompt else ""
            return f"{shown} ({'; '.join(problems)})"
        return None

    async def _store_earlier(self, entry: Entry) -> Entry | _Unread:
        """Store the generation of `entry`'s earlier request under a versioned name; free it."""
        job = entry.job or VideoJob.known(
            entry.generation_id or "", self.request, base_url=self.credentials.base_url
        )
        earlier = entry.parsed_request()
        if earlier is None:
            return UNREAD
        held = await hold(self.ledger, entry)
        if held is None:
            return UNREAD
        try:
            ready = await wait_for_video(
                self.credentials,
                job.model_copy(update={"status": "processing", "eta": 0.0, "request": earlier}),
                self.max_wait_seconds,
            )
            video = await self._download_and_check(ready)
            kept = await self.ledger.keep_video(
                held.entry.model_copy(update={"state": "finished", "video": video}),
                f"the request of {self.name} changed while generation {job.generation_id} "
                "of the earlier one was being made",
            )
        finally:
            held.end()
        return kept or UNREAD

    async def _submit(self, held: Claim) -> VideoJob:
        """Submit under `held`: the task journals each attempt and the id it gets."""
        update: dict[str, Any] = {"track_id": held.track_id}
        if self.webhook_url:
            update["webhook"] = self.webhook_url
        sent = self.request.model_copy(update=update)
        mark = time.monotonic()
        try:
            job = await submit_video(
                self.credentials,
                sent,
                name=self.name,
                max_queue_wait_seconds=self.max_queue_wait_seconds,
                claim=held,
            )
        except SubmitOutcomeUnknownError as error:
            # Recorded by the task, with the id when it was readable: say the way out.
            if error.generation_id is None:
                hint = (
                    "find the generation in your ModelsLab account, then "
                    f"`{resolve_command(self.output_url, self.name)}`, "
                    "or accept paying again with `--resubmit`"
                )
                if self.webhook_url:
                    hint = f"a re-run adopts it if ModelsLab's webhook call arrives; or {hint}"
            else:
                way = f"--generation-id {error.generation_id}"
                hint = (
                    f"generation {error.generation_id} is its generation: "
                    f"`{resolve_command(self.output_url, self.name, way)}` adopts it "
                    "(no new submit)"
                )
            error.message = f"{error.message}; {hint}"
            error.args = (error.message,)
            raise
        except ModelsLabError as error:
            # The server answered and refused: nothing was taken, nothing billed.
            await held.release()
            self.holder = None
            await self.ledger.record_outcome(self.name, _outcome_of(error), token=None)
            raise
        except BaseException:
            # Stopped (Ctrl-C, cancel) or crashed: a claim that never sent anything
            # is given back; a `submitting` one stays (it may be billed).
            held.end()
            if held.entry.state == "claimed":
                with contextlib.suppress(BaseException):  # best effort: stale claims are taken over
                    await asyncio.shield(held.release())
            raise
        self.timings["submit_s"] = time.monotonic() - mark
        return job

    async def _wait(self, job: VideoJob) -> VideoJob:
        mark = time.monotonic()
        try:
            ready: VideoJob = await wait_for_video(self.credentials, job, self.max_wait_seconds)
        except GenerationFailedError as error:
            # Over for good on the server's side (it said `failed` for this very
            # id): a re-run may submit afresh.
            if self.holder is not None:
                await self.holder.generation_failed(error_text(error))
                self.holder = None
            raise
        except ModelsLabError as error:
            _keep_note(error, job.generation_id)
            raise
        self.timings["wait_s"] = time.monotonic() - mark
        return ready

    async def _download_and_check(self, job: VideoJob) -> StoredRecord:
        """Download `job`'s file to the name's video path and check it: the record to store."""
        video_url = self.ledger.video_url(self.name, job.output_type)
        options = self.ledger.storage_options
        # This run holds the name: parts left by a killed writer are nobody's.
        await self.ledger.remove_part_files(self.name, job.output_type)
        mark = time.monotonic()
        try:
            stored = await download_video(
                job,
                video_url,
                max_bytes=self.max_bytes,
                timeout_seconds=self.download_timeout_seconds,
                storage_options=options,
            )
        except ModelsLabError:
            self.logger.error(
                "%s (generation %s) could not be downloaded; a re-run fetches it again without "
                "paying (`%s` generates a new one instead)",
                self.name,
                job.generation_id,
                resolve_command(self.output_url, self.name, "--resubmit"),
            )
            raise
        self.timings["download_s"] = time.monotonic() - mark
        mark = time.monotonic()
        verdict = await acheck_video_verdict(stored, job, storage_options=options)
        self.timings["check_s"] = time.monotonic() - mark
        return StoredRecord(
            **stored.model_dump(
                include={"sha256", "bytes", "source_url", "content_type", "format"}
            ),
            name=self.name,
            video_file=split_url(stored.url)[1],
            generation_id=job.generation_id,
            check=verdict,
            meta=job.meta.model_dump(mode="json", exclude_none=True) if job.meta else None,
        )

    async def _store(self, job: VideoJob, started: float, *, resumed: bool) -> VideoResult:
        holder = self.holder
        assert holder is not None
        try:
            video = await self._download_and_check(job)
            timings = Timings(**self.timings, total_s=time.monotonic() - started)
            video = video.model_copy(update={"timings": timings})
            entry = await holder.finish(job, video)
        finally:
            holder.end()
        self.holder = None
        result = self.ledger.result_of(entry, reused=False, resumed=resumed)
        self.logger.info(
            "Video %s for generation %s: check %s (%.1f s)",
            result.video_url,
            result.generation_id,
            "passed" if result.passed else "FAILED: " + "; ".join(result.check.problems),
            timings.total_s,
        )
        return result

    def let_go(self) -> None:
        """This run no longer works on the name (it was stopped); nothing is written."""
        holder, self.holder = self.holder, None
        if holder is not None:
            holder.end()

    async def record_failure(self, error: Exception) -> None:
        """Write how the row ended in the entry this run held (best effort, never raises)."""
        holder, self.holder = self.holder, None
        if holder is None:
            return
        holder.end()
        try:
            await self.ledger.record_outcome(
                self.name, _outcome_of(error), token=holder.entry.claim_token
            )
        except Exception as failure:  # e.g. the disk is full: the row still says why
            self.logger.warning(
                "Could not record the outcome of %s in %s: %s",
                self.name,
                self.output_url,
                error_text(failure),
            )


def _outcome_of(error: BaseException) -> Outcome:
    return Outcome(
        status=status_of_error(error),
        error=error_text(error),
        generation_id=getattr(error, "generation_id", None),
    )


def _keep_note(error: ModelsLabError, generation_id: str) -> None:
    """Say, in the error, that the entry keeps the generation for a re-run."""
    note = f"the folder keeps generation {generation_id}: a re-run resumes it without paying"
    if note not in error.message:
        error.message = f"{error.message}; {note}"
        error.args = (error.message,)


def _flow_run_name() -> str:
    request = flow_run.parameters.get("request")
    prompt = getattr(request, "prompt", None) or str(request)
    return f"video · {shorten(prompt, 40)}"


@modelslab_flow(
    name="generate-video",
    description="Generate one ModelsLab video into a folder: submit, wait, download, check.",
    flow_run_name=_flow_run_name,
)
async def agenerate_video(
    request: VideoRequest | str,
    output_url: str,
    credentials: CredentialsLike = None,
    name: str | None = None,
    storage_options: dict[str, Any] | None = None,
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    max_queue_wait_seconds: float = DEFAULT_MAX_QUEUE_WAIT_SECONDS,
    download_timeout_seconds: float = DEFAULT_DOWNLOAD_TIMEOUT,
    accept_failed_check: bool = False,
    webhook_url: str | None = None,
) -> VideoResult:
    """Generate one video end to end into `output_url` (any fsspec URL).

    Submits the request, waits for it, streams the file to the folder, checks
    it (frames, fps, size) and writes a JSON sidecar next to it. Safe to
    re-run: a checked video is reused, a journaled generation is resumed
    without paying again.

    `generate_video` is the same flow for sync and async callers: it returns
    the result in a sync flow or a script, a coroutine in async code;
    `agenerate_video` always returns a coroutine.

    The run ends `Failed` when the video fails its check (the message says
    why; the call raises `VideoCheckFailedError`, whose `result` is the
    stored video), unless `accept_failed_check` is set: then it ends
    `Completed` with the same message and returns the result.

    Args:
        request: A `Text2VideoRequest` or `Text2VideoUltraRequest`, or just a
            prompt (a `text2video` request).
        output_url: The folder the video goes to, e.g. `s3://bucket/videos`.
        credentials: A `ModelsLabCredentials` block, the name of a saved one,
            or None for `MODELSLAB_API_KEY` (and `MODELSLAB_BASE_URL`).
        name: File name without extension; default: a slug of the prompt
            plus a short hash of the request.
        storage_options: Options for the folder's fsspec filesystem.
        max_wait_seconds: How long to wait for the generation, in seconds (default 1800).
        max_queue_wait_seconds: How long to keep submitting while the account's
            queue is full (429), in seconds (default 1800).
        download_timeout_seconds: Deadline of the whole download, in seconds (default 600).
        accept_failed_check: Return a video that failed its check instead of
            failing the run.
        webhook_url: Sent as the submit's `webhook` (see `run_video`).

    Returns:
        The result: video URL, generation id, sha256, size, probe, check and timings.

    Raises:
        VideoCheckFailedError: The video was stored but failed its check.

    Example:
        ```python
        from prefect_modelslab import Text2VideoRequest, generate_video

        result = generate_video(
            Text2VideoRequest(prompt="a red fox running through snow", num_frames=16, fps=8),
            "videos",
            "modelslab",  # a saved ModelsLabCredentials block
        )
        print(result.video_url, result.check.passed)
        ```
    """
    if isinstance(request, str):
        request = Text2VideoRequest(prompt=request)
    result = await run_video(
        request,
        output_url,
        await aload_credentials(credentials),
        name=name,
        storage_options=storage_options,
        max_wait_seconds=max_wait_seconds,
        max_queue_wait_seconds=max_queue_wait_seconds,
        download_timeout_seconds=download_timeout_seconds,
        webhook_url=webhook_url,
    )
    return video_state(result, accept_failed_check=accept_failed_check)  # type: ignore[no-any-return]


#: `agenerate_video` for sync and async callers alike (see `prefect_modelslab.runtime.dispatch`).
generate_video = dispatching(agenerate_video)
