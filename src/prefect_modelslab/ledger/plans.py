"""`PlannedBatch`: what a batch would do in its output folder, row by row, before it pays.

A batch reads every row's entry and decides (`ledger.decide`) before it
submits anything. The plan counts the rows it would submit (pay for), redo
(pay for again: a failed check with `resubmit_check_failed`, or an edited
prompt, whose earlier video is kept), reuse, resume (fetch, free), wait for (a
live run holds them), leave unknown (a submit that may be billed, answer
lost), and the invalid ones. A dry run returns it; `max_submits` is checked
against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from prefect_modelslab.ledger.decisions import Decision
from prefect_modelslab.ledger.report import tally

if TYPE_CHECKING:
    from prefect_modelslab.inputs.plan import BatchPlan

__all__ = ["ACTIONS", "PlannedBatch", "PlannedRowDecision"]

Action = Literal[
    "submit", "redo", "reuse", "resume", "wait", "adopt", "blocked", "conflict", "invalid"
]
#: Every action, in the order a plan's summary names them.
ACTIONS: tuple[Action, ...] = (
    "submit",
    "redo",
    "reuse",
    "resume",
    "wait",
    "adopt",
    "blocked",
    "conflict",
    "invalid",
)
_WORDS: dict[str, str] = {
    "submit": "to submit",
    "redo": "to redo (paid again)",
    "reuse": "reused",
    "resume": "resumed (no new submit)",
    "wait": "held by another run",
    "adopt": "unknown (may be billed; adopted if a webhook brought it)",
    "blocked": "blocked (an earlier submit may be billed)",
    "conflict": "owned by another source",
    "invalid": "invalid",
}


class PlannedRowDecision(BaseModel):
    """What one row would do."""

    model_config = ConfigDict(frozen=True)

    row: int
    id: str
    prompt: str
    action: Action
    reason: str


class PlannedBatch(BaseModel):
    """What a batch would do in its folder (a dry run's result; see the module).

    Example:
        ```python
        plan = generate_videos_from_csv("prompts.csv", "videos", dry_run=True)
        print(plan.summary())  # '12 rows: 3 to submit, 8 reused, 1 invalid; 3 new submits'
        ```
    """

    model_config = ConfigDict(frozen=True)

    source: str = Field(description="The batch's source (normalised).")
    output_url: str
    rows: list[PlannedRowDecision] = Field(default_factory=list)

    @classmethod
    def of(
        cls,
        plan: BatchPlan,
        decisions: Mapping[str, Decision],
        *,
        source: str,
        output_url: str,
    ) -> PlannedBatch:
        """The plan of `plan`'s rows, given each valid row's decision (by row id)."""
        rows = []
        for row in plan.rows:
            decision = decisions.get(row.id) if row.is_valid else None
            if decision is None:
                reason = "; ".join(str(p) for p in row.problems)
                rows.append(
                    PlannedRowDecision(
                        row=row.row, id=row.id, prompt=row.prompt, action="invalid", reason=reason
                    )
                )
            else:
                rows.append(
                    PlannedRowDecision(
                        row=row.row,
                        id=row.id,
                        prompt=row.prompt,
                        action=decision.kind,
                        reason=decision.reason,
                    )
                )
        return cls(source=source, output_url=output_url, rows=rows)

    @property
    def counts(self) -> dict[str, int]:
        """Rows per action (every action present, 0 if none)."""
        return tally((r.action for r in self.rows), ACTIONS)

    @property
    def submits(self) -> int:
        """New submits the batch would pay for."""
        counts = self.counts
        return counts["submit"] + counts["redo"]

    def summary(self) -> str:
        """One line: the rows per action and the new submits."""
        counts = self.counts
        parts = [f"{n} {_WORDS[action]}" for action, n in counts.items() if n]
        shown = ", ".join(parts) if parts else "nothing to do"
        return f"{len(self.rows)} rows: {shown}; {self.submits} new submits"
