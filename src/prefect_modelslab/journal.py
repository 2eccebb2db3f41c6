"""The submit journal: what was sent to ModelsLab, recorded in the destination storage.

Every accepted submit is billed. So that a run killed between submit and
download never pays again, the flow writes one small JSON file per video under
`<folder>/.modelslab/journal/<name>.json`:

1. `submitting` before the request is sent (the intent);
2. `submitted` with the generation id the moment the submit returns;
3. `outcome_unknown` when the request was sent but no answer was read;
4. `finished` once the video is stored and checked.

A later run that finds `submitted` or `finished` resumes by fetching that
generation id; one that finds `submitting` or `outcome_unknown` refuses to
submit again (the generation may exist and be billed) until a person deletes
the entry. Entries hold the request without the key, never a secret. Every
write is atomic (temporary name, then move).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from prefect_modelslab import storage
from prefect_modelslab.models import Text2VideoRequest, VideoJob, request_fingerprint

__all__ = ["JOURNAL_DIR", "Journal", "JournalEntry", "JournalState"]

#: Folder, under the destination folder, that holds the journal entries.
JOURNAL_DIR = ".modelslab/journal"

JournalState = Literal["submitting", "outcome_unknown", "submitted", "finished"]


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
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)

    @property
    def has_generation(self) -> bool:
        """True when a generation id is known, so the work can be resumed by fetching it."""
        return self.generation_id is not None and self.state in {"submitted", "finished"}

    @property
    def outcome_unknown(self) -> bool:
        """True when a submit was sent and its answer never read."""
        return self.state in {"submitting", "outcome_unknown"}

    def matches(self, request: Text2VideoRequest) -> bool:
        """True when this entry was written for `request`."""
        return self.request_hash == request_fingerprint(request)


class Journal(storage.DocumentStore[JournalEntry]):
    """The journal of one output folder: an entry per video, under `.modelslab/journal/`.

    Built like every `storage.DocumentStore`: `(output_url, storage_options)`.

    Example:
        ```python
        from prefect_modelslab.journal import Journal

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

    async def record_intent(self, name: str, request: Text2VideoRequest) -> JournalEntry:
        """Record, before sending it, that `request` is about to be submitted."""
        entry = JournalEntry(
            name=name,
            state="submitting",
            request_hash=request_fingerprint(request),
            request=request.to_payload(),
        )
        return await self._write(entry)

    async def record_submitted(self, name: str, job: VideoJob) -> JournalEntry:
        """Record the generation id a submit returned."""
        return await self._write(_job_entry(name, "submitted", job))

    async def record_outcome_unknown(
        self, name: str, request: Text2VideoRequest, message: str
    ) -> JournalEntry:
        """Record that a submit was sent and its answer never read."""
        entry = JournalEntry(
            name=name,
            state="outcome_unknown",
            request_hash=request_fingerprint(request),
            request=request.to_payload(),
            message=message,
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


def _job_entry(name: str, state: JournalState, job: VideoJob, **extra: Any) -> JournalEntry:
    """An entry for a generation whose id is known."""
    return JournalEntry(
        name=name,
        state=state,
        request_hash=request_fingerprint(job.request),
        request=job.request.to_payload(),
        generation_id=job.generation_id,
        job=job,
        created_at=job.submitted_at,
        **extra,
    )
