"""`Entry`: everything the output folder knows about one video name, in one document.

An entry is the single source of truth for a name: which source owns it, the
request (without the key) and its fingerprint, who holds it right now (the
claim), how far its submit got, every generation id it was ever given, the
finished record of its video (file, sha256, probe, check, the server's
`meta`), the earlier videos kept under other names, and the latest outcome a
run recorded. The sidecar next to a video and the lines of `results.csv` are
views of it.

`state` says how far the current request got:

- `idle`: nothing is under way; submitting it pays (again);
- `claimed`: a run holds the name and will submit; nothing was sent;
- `submitting`: the request bytes may have left: it may be billed;
- `submitted`: the generation id is known; fetching it resumes the work;
- `outcome_unknown`: sent, and its answer never (wholly) read;
- `finished`: the video is stored and checked (`video`).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from prefect_modelslab.client.models import (
    VideoJob,
    VideoMeta,
    VideoRequest,
    parse_request,
    request_fingerprint,
)
from prefect_modelslab.ledger.records import VideoRecord
from prefect_modelslab.ledger.report import RowStatus

__all__ = [
    "CLAIM_TTL_SECONDS",
    "Entry",
    "EntryState",
    "KeptVideo",
    "Outcome",
    "StoredRecord",
    "new_claim_token",
    "owner_id",
    "stored_payload",
    "track_id_for",
]

EntryState = Literal["idle", "claimed", "submitting", "submitted", "outcome_unknown", "finished"]

#: A claim (or a `submitting` mark) of another host not refreshed for this long
#: is stale: its run is gone. Claims of this host are checked by process id.
CLAIM_TTL_SECONDS = 300.0

_PROCESS_TOKEN = uuid.uuid4().hex[:12]
_HOST = socket.gethostname()
#: Claim tokens this process holds right now (a claim of ours is alive only while held).
HELD: set[str] = set()


def owner_id() -> str:
    """This process, as the owner of the claims it makes: `host:pid:token`."""
    return f"{_HOST}:{os.getpid()}:{_PROCESS_TOKEN}"


def new_claim_token() -> str:
    """A token unique to one claim."""
    return uuid.uuid4().hex


def track_id_for(name: str) -> str:
    """A new track id for the video `name`: its name and a short random part.

    Example:
        ```python
        track_id_for("fox-1")  # 'fox-1.3f2a9c1d'
        ```
    """
    return f"{name}.{uuid.uuid4().hex[:8]}"


def _now() -> datetime:
    return datetime.now(UTC)


def stored_payload(request: VideoRequest) -> dict[str, Any]:
    """The payload an entry keeps: what is sent (never the key, nor the webhook URL,
    which carries the receiver's secret token), and the endpoint unless it is
    `text2video` (so `parse_request` reads it back as the right model, and entries
    written before `text2video_ultra` existed read the same)."""
    payload = request.to_payload(with_endpoint=request.endpoint != "text2video")
    payload.pop("webhook", None)
    return payload


def _kept_job(job: VideoJob | None) -> VideoJob | None:
    """`job` as an entry keeps it: its request without the webhook URL (it was sent)."""
    if job is None or job.request.webhook is None:
        return job
    return job.model_copy(update={"request": job.request.model_copy(update={"webhook": None})})


class StoredRecord(VideoRecord):
    """The finished record of an entry's video: the file in the folder and its check."""

    video_file: str = Field(description="The video's file name in the folder.")
    meta: dict[str, Any] | None = Field(None, description="What the server says it used.")
    stored_at: datetime = Field(default_factory=_now)

    @property
    def passed(self) -> bool:
        """True when the video passed its check."""
        return self.check.passed

    def video_meta(self) -> VideoMeta | None:
        """The server's `meta`, as a model."""
        return VideoMeta.model_validate(self.meta) if self.meta else None


class KeptVideo(BaseModel):
    """A paid video the name held before, kept under a versioned file name."""

    model_config = ConfigDict(frozen=True)

    video_file: str = Field(description="Its file name in the folder, e.g. `fox~1.gif`.")
    generation_id: str
    sha256: str
    bytes: int
    request_hash: str | None = None
    prompt: str | None = None
    source: str | None = None
    reason: str = Field(description="Why it was kept, e.g. 'the prompt of fox was edited'.")
    kept_at: datetime = Field(default_factory=_now)


class Outcome(BaseModel):
    """How the latest run that worked on the entry ended it."""

    model_config = ConfigDict(frozen=True)

    status: RowStatus
    error: str | None = None
    reused: bool = False
    generation_id: str | None = None
    at: datetime = Field(default_factory=_now)


class Entry(BaseModel):
    """What the output folder knows about one video name (see the module's docstring).

    Entries are immutable: each change is a new version (`seq`), written only
    if no other run wrote that version first, so two runs never both move an
    entry on from the same state.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    format: int = 3
    seq: int = Field(0, description="Version of the entry; each write adds one.")
    name: str = Field(description="The video's name in its folder (no extension).")
    source: str | None = Field(None, description="The source that owns the name (normalised).")
    prompt: str | None = None
    request: dict[str, Any] | None = Field(None, description="The payload, without the key.")
    request_hash: str | None = Field(None, description="Fingerprint of the request.")
    state: EntryState = "idle"
    track_id: str | None = Field(None, description="Sent with every submit of this request.")
    owner: str | None = Field(None, description="host:pid:token of the run that holds it.")
    claim_token: str | None = Field(None, description="Unique per claim.")
    generation_id: str | None = Field(None, description="The current request's generation.")
    generation_ids: list[str] = Field(
        default_factory=list, description="Every generation id this name was given, in order."
    )
    job: VideoJob | None = Field(None, description="The job as the server last described it.")
    video: StoredRecord | None = Field(None, description="The current generation's video.")
    kept: list[KeptVideo] = Field(default_factory=list, description="Earlier videos kept.")
    outcome: Outcome | None = None
    message: str | None = Field(None, description="Why the entry is in its state, if told.")
    notes: list[str] = Field(
        default_factory=list, description="Things a person should know (refused webhook ids...)."
    )
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)

    @field_validator("job")
    @classmethod
    def _no_webhook_url(cls, job: VideoJob | None) -> VideoJob | None:
        return _kept_job(job)

    @classmethod
    def for_request(
        cls, name: str, request: VideoRequest, *, source: str | None, **fields: Any
    ) -> Entry:
        """A first entry for `name` holding `request`."""
        return cls(
            name=name,
            source=source,
            prompt=request.prompt,
            request=stored_payload(request),
            request_hash=request_fingerprint(request),
            **fields,
        )

    def parsed_request(self) -> VideoRequest | None:
        """The request the entry holds, as a model (None when it holds none)."""
        return parse_request(self.request) if self.request is not None else None

    def changed(self, **fields: Any) -> Entry:
        """The next version of this entry with `fields` changed (not yet written)."""
        if "job" in fields:
            fields["job"] = _kept_job(fields["job"])
        return self.model_copy(update={**fields, "seq": self.seq + 1, "updated_at": _now()})

    def freed(self, **fields: Any) -> Entry:
        """The next version with nothing under way: idle, unheld, no current generation,
        job, video or outcome (the generation ids and kept videos stay)."""
        nothing: dict[str, Any] = {
            "state": "idle",
            "track_id": None,
            "owner": None,
            "claim_token": None,
            "generation_id": None,
            "job": None,
            "video": None,
            "outcome": None,
            "message": None,
        }
        return self.changed(**{**nothing, **fields})

    def with_request(self, request: VideoRequest, *, source: str | None) -> Entry:
        """The next version, holding `request` instead (the name's earlier state is left behind).

        The generation ids and kept videos stay: they are what the name was paid for.
        """
        return self.freed(
            source=source,
            prompt=request.prompt,
            request=stored_payload(request),
            request_hash=request_fingerprint(request),
        )

    def with_generation(self, generation_id: str, **fields: Any) -> Entry:
        """The next version with `generation_id` as the current generation, listed once."""
        ids = list(self.generation_ids)
        if generation_id not in ids:
            ids.append(generation_id)
        return self.changed(generation_id=generation_id, generation_ids=ids, **fields)

    @property
    def has_generation(self) -> bool:
        """True when a generation id is known, so the work can be resumed by fetching it."""
        return self.generation_id is not None and self.state in {"submitted", "finished"}

    @property
    def outcome_unknown(self) -> bool:
        """True when a submit may have been sent and its answer was never read."""
        return self.state in {"submitting", "outcome_unknown"}

    @property
    def check_passed(self) -> bool | None:
        """Whether the current video passed its check (None: no video yet)."""
        return self.video.passed if self.video is not None else None

    @property
    def paid(self) -> bool:
        """True when the name was ever given a generation, or may have been (maybe billed)."""
        return bool(self.generation_ids) or self.outcome_unknown

    def matches(self, request: VideoRequest) -> bool:
        """True when this entry holds `request`."""
        return self.request_hash == request_fingerprint(request)

    def owner_alive(self, ttl: float = CLAIM_TTL_SECONDS) -> bool:
        """Whether the run that wrote this version may still be working on it.

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
                return self.claim_token is not None and self.claim_token in HELD
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
