"""The submit journal: what was sent to ModelsLab, recorded in the destination storage.

Every accepted submit is billed. So that a run killed at any moment never pays
twice and never orphans a paid generation, each video has one small JSON file
under `<folder>/.modelslab/journal/<name>.json`, whose `state` says how far it got:

1. `claimed`: a run holds the video and will submit it; nothing has been sent.
   The claim is created atomically (`storage.create_exclusive`), so of two runs
   into one folder only one submits; the other waits for it. It carries the
   `track_id` every submit of it sends (for webhooks) and its `owner` (host,
   process, token); it is refreshed while the submit waits on a full queue.
2. `submitting`: the request bytes may have left (written by the client's hook
   once the connection is made, as the request's first byte is about to
   leave); an answer that proves the server did not take it (429, 503) turns
   it back into `claimed`.
3. `submitted`, with the generation id, written inside the submit task the
   moment the answer is parsed;
4. `outcome_unknown`: sent, answer never read (the id is kept when readable);
5. `finished` once the video is stored and checked.

A later run resumes `submitted`/`finished` by fetching their id. A `claimed`
entry whose owner is gone (a process of this host that no longer runs, or no
refresh for `CLAIM_TTL_SECONDS`) is taken over, by the one run that creates
its take-over marker; a live owner's is waited for.
`submitting` whose owner is gone, and `outcome_unknown`, are an unknown outcome:
a webhook call for its `track_id` gives the id to fetch; otherwise the row is
`unknown` until `prefect-modelslab resolve` adopts a generation or accepts a
new payment. Only a definite end of the generation (`failed` for its id) or a
refusal of the submit deletes an entry. Entries hold the request without the
key, never a secret. Every write is atomic (temporary name, then move).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from prefect_modelslab.client.models import VideoJob, VideoRequest, request_fingerprint
from prefect_modelslab.ledger import storage

__all__ = [
    "CLAIM_TTL_SECONDS",
    "JOURNAL_DIR",
    "TAKEOVER_TTL_SECONDS",
    "Claim",
    "Journal",
    "JournalEntry",
    "JournalState",
    "track_id_for",
]

#: Folder, under the destination folder, that holds the journal entries.
JOURNAL_DIR = ".modelslab/journal"

JournalState = Literal["claimed", "submitting", "outcome_unknown", "submitted", "finished"]

#: A claim (or a `submitting` mark) of another host not refreshed for this long
#: is stale: its run is gone. Claims of this host are checked by process id.
CLAIM_TTL_SECONDS = 300.0
#: A take-over marker older than this was left by a run that crashed mid-take-over.
TAKEOVER_TTL_SECONDS = 60.0
#: This process, as the owner of the claims it holds.
_PROCESS_TOKEN = uuid.uuid4().hex[:12]
_HOST = socket.gethostname()
#: Journal URLs whose claim this process holds right now.
_HELD: set[str] = set()


def _owner() -> str:
    return f"{_HOST}:{os.getpid()}:{_PROCESS_TOKEN}"


def track_id_for(name: str) -> str:
    """A new track id for the video `name`: its name and a short random part.

    It matches `webhooks.TRACK_ID_RE` (names are safe ids of at most 100 characters).

    Example:
        ```python
        track_id_for("fox-1")  # 'fox-1.3f2a9c1d'
        ```
    """
    return f"{name}.{uuid.uuid4().hex[:8]}"


def _now() -> datetime:
    return datetime.now(UTC)


class JournalEntry(BaseModel):
    """What the journal knows about one video of a destination folder."""

    model_config = ConfigDict(frozen=True)

    version: int = 1
    name: str = Field(description="The video's name in its folder (no extension).")
    state: JournalState
    request_hash: str = Field(description="Fingerprint of the request payload.")
    request: dict[str, Any] = Field(description="The request payload, without the key.")
    generation_id: str | None = None
    job: VideoJob | None = Field(None, description="The job as the submit returned it.")
    check_passed: bool | None = Field(None, description="Set once finished.")
    message: str | None = None
    track_id: str | None = Field(None, description="Sent with every submit of this entry.")
    owner: str | None = Field(None, description="host:pid:token of the run that holds it.")
    claim_token: str | None = Field(None, description="Unique per claim.")
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)

    @property
    def has_generation(self) -> bool:
        """True when a generation id is known, so the work can be resumed by fetching it."""
        return self.generation_id is not None and self.state in {"submitted", "finished"}

    @property
    def outcome_unknown(self) -> bool:
        """True when a submit may have been sent and its answer was never read."""
        return self.state in {"submitting", "outcome_unknown"}

    def owner_alive(self, ttl: float = CLAIM_TTL_SECONDS) -> bool:
        """Whether the run that wrote this entry may still be working on it.

        A process of this host is asked directly (is that pid running, and is it
        the same process); another host's entry is alive while it was refreshed
        within `ttl` seconds.
        """
        if not self.owner:
            return False
        host, _, rest = self.owner.partition(":")
        pid_text, _, token = rest.partition(":")
        if host == _HOST and pid_text.isdigit():
            if token == _PROCESS_TOKEN:
                return self.claim_token is not None and self.claim_token in _HELD
            if int(pid_text) == os.getpid():
                return False  # an earlier process had our pid
            try:
                os.kill(int(pid_text), 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        return (_now() - self.updated_at).total_seconds() < ttl

    @property
    def held(self) -> bool:
        """True when a live run is claiming, submitting or waiting on this entry right now."""
        return self.state in {"claimed", "submitting", "submitted"} and self.owner_alive()

    def matches(self, request: VideoRequest) -> bool:
        """True when this entry was written for `request`."""
        return self.request_hash == request_fingerprint(request)


class Journal(storage.DocumentStore[JournalEntry]):
    """The journal of one output folder: an entry per video, under `.modelslab/journal/`.

    Built like every `storage.DocumentStore`: `(output_url, storage_options)`.

    Example:
        ```python
        from prefect_modelslab.ledger.journal import Journal

        journal = Journal("videos")
        entry = await journal.read("a-red-fox-1a2b3c4d")
        if entry is not None and entry.has_generation:
            print("resume", entry.generation_id)
        ```
    """

    model = JournalEntry
    subfolder = JOURNAL_DIR

    async def _write(self, entry: JournalEntry) -> JournalEntry:
        await self.save(entry.name, entry)
        return entry

    async def claim(
        self, name: str, request: VideoRequest, *, replace: JournalEntry | None = None
    ) -> Claim | None:
        """Claim `name` for submitting `request`; None when another run holds it.

        The entry is created atomically (`storage.create_exclusive`). With
        `replace` (a stale entry read before), that entry is deleted first if it
        is still there unchanged, by at most one of the runs that read it.
        """
        if replace is None:
            return await self._create_claim(name, request)
        marker = await self._take_over_marker(name, replace)
        if marker is None:
            return None
        try:
            current = await self.read(name)
            if current is not None and current != replace:
                return None
            await self.delete(name)
            return await self._create_claim(name, request)
        finally:
            await asyncio.to_thread(storage.remove, marker, self.storage_options)

    async def _take_over_marker(self, name: str, replace: JournalEntry) -> str | None:
        """Become the one run taking over `replace`: the marker's URL, or None.

        Of several runs that read the same stale entry, only the one that creates
        its take-over marker (`<name>.takeover-<digest>`, exclusively) may delete
        it, so no run can delete a claim another run has just made in its place.
        A marker older than `TAKEOVER_TTL_SECONDS` was left by a crashed run.
        """
        digest = hashlib.sha256(replace.model_dump_json().encode()).hexdigest()[:16]
        marker = storage.join_url(self.output_url, self.subfolder, f"{name}.takeover-{digest}")
        data = json.dumps({"owner": _owner(), "at": time.time()}).encode()
        options = self.storage_options
        if await asyncio.to_thread(storage.create_exclusive, marker, data, options):
            return marker
        left = await asyncio.to_thread(storage.read_json, marker, options)
        at = left.get("at") if isinstance(left, dict) else None
        if not isinstance(at, int | float) or time.time() - at < TAKEOVER_TTL_SECONDS:
            return None
        await asyncio.to_thread(storage.remove, marker, options)
        if await asyncio.to_thread(storage.create_exclusive, marker, data, options):
            return marker
        return None

    async def _create_claim(self, name: str, request: VideoRequest) -> Claim | None:
        entry = JournalEntry(
            name=name,
            state="claimed",
            request_hash=request_fingerprint(request),
            request=request.to_payload(),
            track_id=track_id_for(name),
            owner=_owner(),
            claim_token=uuid.uuid4().hex,
        )
        data = (entry.model_dump_json(indent=2) + "\n").encode()
        url = self.url_for(name)
        won = await asyncio.to_thread(storage.create_exclusive, url, data, self.storage_options)
        if not won:
            return None
        return Claim(self, entry)

    async def record_intent(self, name: str, request: VideoRequest) -> JournalEntry:
        """Record that `request` may be on its way (state `submitting`, no owner).

        `claim()` and the client's hooks do this for a run; this is for tools and tests.
        """
        entry = JournalEntry(
            name=name,
            state="submitting",
            request_hash=request_fingerprint(request),
            request=request.to_payload(),
            track_id=request.track_id,
        )
        return await self._write(entry)

    async def record_submitted(
        self,
        name: str,
        job: VideoJob,
        *,
        track_id: str | None = None,
        claim_token: str | None = None,
    ) -> JournalEntry:
        """Record the generation id a submit returned (or a webhook or a person gave)."""
        entry = _job_entry(name, "submitted", job, track_id=track_id, claim_token=claim_token)
        return await self._write(entry)

    async def record_outcome_unknown(
        self,
        name: str,
        request: VideoRequest,
        message: str,
        *,
        generation_id: str | None = None,
        track_id: str | None = None,
    ) -> JournalEntry:
        """Record that a submit was sent and its answer never (wholly) read."""
        entry = JournalEntry(
            name=name,
            state="outcome_unknown",
            request_hash=request_fingerprint(request),
            request=request.to_payload(),
            generation_id=generation_id,
            message=message,
            track_id=track_id,
        )
        return await self._write(entry)

    async def record_finished(
        self, name: str, job: VideoJob, *, check_passed: bool
    ) -> JournalEntry:
        """Record that the video of `job` is stored and checked."""
        return await self._write(_job_entry(name, "finished", job, check_passed=check_passed))

    async def forget(self, name: str) -> bool:
        """Delete the entry for `name` (the server certainly holds no generation for it)."""
        return await self.delete(name)


class Claim:
    """A journal entry this run holds while it submits; the client's submit hooks.

    `sending()` runs as each POST attempt's first byte is about to leave (mark
    `submitting`), `not_taken()` after an answer that proves the server did not
    take it (back to `claimed`, which also refreshes the claim). Then exactly
    one of `submitted(job)`, `outcome_unknown(...)` or `release()`.

    Example:
        ```python
        from prefect_modelslab.ledger.journal import Journal

        claim = await Journal("videos").claim("fox-1", request)
        if claim is not None:
            await claim.release()
        ```
    """

    def __init__(self, journal: Journal, entry: JournalEntry) -> None:
        self.journal = journal
        self.entry = entry
        self.name = entry.name
        _HELD.add(entry.claim_token or "")

    @property
    def track_id(self) -> str | None:
        """The track id every submit of this claim sends."""
        return self.entry.track_id

    async def _mark(self, state: JournalState) -> None:
        self.entry = self.entry.model_copy(update={"state": state, "updated_at": _now()})
        await self.journal._write(self.entry)

    async def sending(self) -> None:
        """The request bytes may leave now: the generation may be billed from here on."""
        await self._mark("submitting")

    async def not_taken(self, error: BaseException | None = None) -> None:
        """The server answered that it did not take the request (429, 503, refused)."""
        await self._mark("claimed")

    async def heartbeat(self) -> None:
        """Refresh the claim while waiting (e.g. on a full queue)."""
        await self._mark(self.entry.state)

    async def submitted(self, job: VideoJob) -> JournalEntry:
        """Record the generation id the submit returned; held until `end()`."""
        self.entry = await self.journal.record_submitted(
            self.name, job, track_id=self.track_id, claim_token=self.entry.claim_token
        )
        return self.entry

    async def outcome_unknown(
        self, request: VideoRequest, message: str, generation_id: str | None
    ) -> JournalEntry:
        """Record a submit sent without its answer read; keeps a readable id."""
        entry = await self.journal.record_outcome_unknown(
            self.name, request, message, generation_id=generation_id, track_id=self.track_id
        )
        self.end()
        return entry

    async def release(self) -> None:
        """Delete the entry: nothing of it was taken by the server."""
        self.end()
        await self.journal.forget(self.name)

    def end(self) -> None:
        """This run no longer works on the video (finished, failed or stopping)."""
        _HELD.discard(self.entry.claim_token or "")


def _job_entry(name: str, state: JournalState, job: VideoJob, **extra: Any) -> JournalEntry:
    """An entry for a generation whose id is known."""
    if extra.get("track_id") is None:
        extra["track_id"] = job.request.track_id
    return JournalEntry(
        name=name,
        state=state,
        request_hash=request_fingerprint(job.request),
        request=job.request.to_payload(),
        generation_id=job.generation_id,
        job=job,
        created_at=job.submitted_at,
        owner=_owner(),
        **extra,
    )
