"""What a run does for one name, from its entry: reuse, resume, submit, wait, or refuse.

`decide` is pure: the same entry and request always give the same decision, so
a dry run can count what a batch would pay before anything is claimed, and a
run decides again whenever another run changed the entry under it.

The rules for a name and a request:

- a checked video of the same request is reused (a failed check is reported
  again, unless `resubmit_check_failed`: then it is paid again, and the
  earlier video is kept under a versioned name);
- a generation of the same request is resumed by fetching it, never paid again;
- a live run holding the name is waited for;
- a submit whose outcome is unknown is never repeated blindly (`adopt`: an id
  a webhook brought, checked against the request, or the row stays unknown);
- **a name belongs to one source.** Another source's name is refused
  (`conflict`) unless `replace_names`; a name of the same source asked for
  another request (an edited prompt) moves to the new request: its paid
  video is kept under a versioned name first (`<name>~1.gif`), and a
  generation still being made for the earlier request is stored there first.
  An earlier request whose outcome is unknown blocks the name until it is resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prefect_modelslab.client.models import VideoRequest
from prefect_modelslab.ledger.entry import Entry

__all__ = ["Decision", "DecisionKind", "decide", "shown_source"]

DecisionKind = Literal["reuse", "resume", "submit", "redo", "wait", "adopt", "blocked", "conflict"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do for a name.

    Attributes:
        kind: `reuse`, `resume`, `submit` (pays), `redo` (pays again, after
            keeping the paid video), `wait`, `adopt`, `blocked` or `conflict`.
        reason: Why, in words (for logs, dry runs and errors).
        keep_video: Keep the entry's video under a versioned name first.
        finish_earlier: Store the entry's generation (of another request) under
            a versioned name first.
    """

    kind: DecisionKind
    reason: str
    keep_video: bool = False
    finish_earlier: bool = False

    @property
    def pays(self) -> bool:
        """True when following it submits, i.e. pays."""
        return self.kind in ("submit", "redo")


def shown_source(source: str | None) -> str:
    """A source as messages name it."""
    return source if source is not None else "a single generate_video call"


def decide(
    entry: Entry | None,
    request: VideoRequest,
    *,
    source: str | None,
    resubmit_check_failed: bool = False,
    replace_names: bool = False,
) -> Decision:
    """What a run for `request` from `source` does with the name whose entry is `entry`.

    Example:
        ```python
        from prefect_modelslab.ledger.decisions import decide

        decide(None, request, source="/data/prompts.csv").kind  # 'submit'
        ```
    """
    if entry is None:
        return Decision("submit", "nothing was made for this name yet")
    if not entry.matches(request):
        return _another_request(entry, source, replace_names=replace_names)
    if entry.state == "finished" and entry.video is not None:
        if entry.video.passed:
            return Decision("reuse", f"generation {entry.generation_id} is stored and checked")
        if resubmit_check_failed:
            return Decision(
                "redo",
                f"generation {entry.generation_id} failed its check; paying for a new one "
                "(resubmit_check_failed)",
                keep_video=True,
            )
        return Decision("reuse", f"generation {entry.generation_id} is stored; it failed its check")
    if entry.held:
        return Decision("wait", f"another run ({entry.owner}) holds it ({entry.state})")
    if entry.has_generation:
        return Decision("resume", f"generation {entry.generation_id} is fetched again, not paid")
    if entry.outcome_unknown:
        return Decision("adopt", "a submit may have been billed and its answer was never read")
    if entry.state == "claimed":
        return Decision("submit", f"the run that claimed it ({entry.owner}) is gone")
    return Decision("submit", "no generation is under way for it")


def _another_request(entry: Entry, source: str | None, *, replace_names: bool) -> Decision:
    owner = entry.source
    if owner is not None and owner != source and not replace_names:
        return Decision(
            "conflict",
            f"the id {entry.name!r} belongs to {shown_source(owner)}, whose request differs; "
            "use another id or another output folder, or replace_names=True "
            "(--replace-names) to give it to this source (its paid video is kept "
            "under a versioned name)",
        )
    if entry.held:
        return Decision("wait", f"another run ({entry.owner}) holds it ({entry.state})")
    if entry.outcome_unknown:
        return Decision(
            "blocked",
            f"a submit of its earlier request (prompt {entry.prompt!r}) may have been billed "
            "and its answer was never read; settle it first with `prefect-modelslab resolve`",
        )
    if entry.video is not None:
        return Decision(
            "redo",
            f"its request changed; its video (generation {entry.generation_id}) is kept "
            "under a versioned name",
            keep_video=True,
        )
    if entry.has_generation:  # being made, or made but no longer in the folder
        return Decision(
            "redo",
            f"its request changed; generation {entry.generation_id} of the earlier request "
            "is stored under a versioned name first",
            finish_earlier=True,
        )
    return Decision("submit", "its request changed; nothing of the earlier one was paid")
