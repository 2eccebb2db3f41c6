"""`Claim`: a name a run holds while it submits, and the client's submit hooks.

A run claims a name by writing the entry's next version as `claimed`, with
its owner and a fresh track id; of two runs reading the same version only one
can write the next (`Ledger.write`), so only one submits. A dead run's claim is
taken over the same way. While it holds the claim, the run moves the entry on
at every step of the submit, always from the version it wrote last:

- `sending()`: the request bytes may leave now (`submitting`): it may be billed;
- `not_taken()`: an answer proved the server did not take it (back to `claimed`);
- `heartbeat()`: refresh, while the submit waits on a full queue;
- then one of `submitted(job)`, `outcome_unknown(...)` or `release()`.

If another run moved the entry on meanwhile (it took over a claim it saw as
stale), the step raises `ClaimLostError`: from `sending()` before any byte was
sent; from `submitted()` only after the generation id was added to the entry
anyway, so a paid generation is never orphaned.
"""

from __future__ import annotations

from typing import Any

from prefect_modelslab.client.models import VideoJob, VideoRequest
from prefect_modelslab.ledger.entry import (
    HELD,
    Entry,
    EntryState,
    Outcome,
    StoredRecord,
    new_claim_token,
    owner_id,
    track_id_for,
)
from prefect_modelslab.ledger.ledger import Ledger

__all__ = ["Claim", "ClaimLostError", "claim", "hold"]


class ClaimLostError(RuntimeError):
    """Another run wrote the entry while this run held its claim."""


async def claim(
    ledger: Ledger,
    name: str,
    request: VideoRequest,
    *,
    current: Entry | None,
    source: str | None,
) -> Claim | None:
    """Claim `name` for `request`, from its entry as read (`current`; None: it has none).

    An entry for another request gives the name to `request` (its generation
    ids and kept videos stay listed); the caller decides whether that is allowed.

    Returns:
        The claim, or None when another run wrote the entry first (read it again).

    Example:
        ```python
        from prefect_modelslab.ledger import Ledger, claim

        ledger = Ledger("videos")
        held = await claim(ledger, "fox", request, current=await ledger.read("fox"), source=None)
        if held is not None:
            await held.release()
        ```
    """
    fields: dict[str, Any] = {
        "state": "claimed",
        "owner": owner_id(),
        "claim_token": new_claim_token(),
        "track_id": track_id_for(name),
        "outcome": None,
        "message": None,
    }
    if current is None:
        following = Entry.for_request(name, request, source=source, seq=1, **fields)
    elif current.matches(request):
        following = current.changed(**fields, source=current.source or source)
    else:
        following = current.with_request(request, source=source).model_copy(update=fields)
    if not await ledger.write(following):
        return None
    return Claim(ledger, following)


async def hold(ledger: Ledger, current: Entry, **fields: Any) -> Claim | None:
    """Hold `current` (as read) to work on it: resume its generation, or adopt one.

    The entry keeps its state (or takes `fields`); only the owner changes, so
    other runs wait instead of downloading the same generation twice.

    Returns:
        The claim, or None when another run wrote the entry first (read it again).

    Example:
        ```python
        # not run: needs an entry a run left in the folder
        held = await hold(ledger, entry)  # entry.state == "submitted"
        ```
    """
    following = current.changed(owner=owner_id(), claim_token=new_claim_token(), **fields)
    if not await ledger.write(following):
        return None
    return Claim(ledger, following)


class Claim:
    """A name this run holds while it submits; the client's `SubmitHooks` (see the module)."""

    def __init__(self, ledger: Ledger, entry: Entry) -> None:
        self.ledger = ledger
        self.entry = entry
        self.name = entry.name
        HELD.add(entry.claim_token or "")

    @property
    def track_id(self) -> str | None:
        """The track id every submit of this claim sends."""
        return self.entry.track_id

    async def _advance(self, following: Entry) -> Entry:
        if not await self.ledger.write(following):
            self.end()
            raise ClaimLostError(
                f"another run wrote the entry of {self.name!r} while this run held it"
            )
        self.entry = following
        return following

    async def _mark(self, state: EntryState) -> None:
        await self._advance(self.entry.changed(state=state))

    async def sending(self) -> None:
        """The request bytes may leave now: the generation may be billed from here on."""
        await self._mark("submitting")

    async def not_taken(self, error: BaseException | None = None) -> None:
        """The server answered that it did not take the request (429, 503, refused)."""
        await self._mark("claimed")

    async def heartbeat(self) -> None:
        """Refresh the claim while waiting (e.g. on a full queue)."""
        await self._mark(self.entry.state)

    async def submitted(self, job: VideoJob) -> Entry:
        """Record the generation id the submit returned; the claim is held until `end()`.

        Raises:
            ClaimLostError: Another run wrote the entry meanwhile; the id was
                added to its generation ids (and a note) all the same.
        """
        following = self.entry.with_generation(job.generation_id, state="submitted", job=job)
        if await self.ledger.write(following):
            self.entry = following
            return following
        note = (
            f"generation {job.generation_id} was submitted by a run whose claim another run "
            "took over; adopt it with `prefect-modelslab resolve` if it is the one to keep"
        )

        def keep_the_id(current: Entry | None) -> Entry | None:
            if current is None or job.generation_id in current.generation_ids:
                return None
            return current.changed(
                generation_ids=[*current.generation_ids, job.generation_id],
                notes=[*current.notes, note],
            )

        await self.ledger.update(self.name, keep_the_id)
        self.end()
        raise ClaimLostError(note)

    async def outcome_unknown(
        self, request: VideoRequest, message: str, generation_id: str | None
    ) -> Entry:
        """Record a submit sent without its answer read; keeps a readable id."""
        fields: dict[str, Any] = {"state": "outcome_unknown", "message": message}
        following = (
            self.entry.with_generation(generation_id, **fields)
            if generation_id
            else self.entry.changed(**fields)
        )
        try:
            return await self._advance(following)
        finally:
            self.end()

    async def release(self) -> None:
        """Give the name back: nothing of this claim was taken by the server."""
        try:
            await self._advance(self.entry.freed())
        finally:
            self.end()

    async def finish(self, job: VideoJob, video: StoredRecord) -> Entry:
        """Record the stored, checked video of `job`: the entry is `finished`, no longer held.

        Raises:
            ClaimLostError: The name was given to another request meanwhile.
        """
        fields: dict[str, Any] = {
            "state": "finished",
            "job": job,
            "video": video,
            "outcome": Outcome(
                status="succeeded" if video.passed else "check_failed",
                generation_id=job.generation_id,
            ),
            "owner": None,
            "claim_token": None,
            "message": None,
        }
        request_hash = self.entry.request_hash

        def finished(current: Entry | None) -> Entry:
            if current is None or current.request_hash != request_hash:
                raise ClaimLostError(
                    f"the entry of {self.name!r} was given to another request while this run "
                    f"stored generation {job.generation_id}"
                )
            return current.with_generation(job.generation_id, **fields)

        try:
            following = self.entry.with_generation(job.generation_id, **fields)
            if await self.ledger.write(following):
                self.entry = following
            else:
                self.entry = await self.ledger.update(self.name, finished) or self.entry
        finally:
            self.end()
        await self.ledger.write_sidecar(self.entry)
        return self.entry

    async def generation_failed(self, message: str) -> None:
        """The server says the generation failed for good: the name is free to submit again."""
        try:
            outcome = Outcome(
                status="failed", error=message, generation_id=self.entry.generation_id
            )
            await self._advance(self.entry.freed(outcome=outcome))
        finally:
            self.end()

    def end(self) -> None:
        """This run no longer works on the video (finished, failed or stopping)."""
        HELD.discard(self.entry.claim_token or "")
