"""`results.csv`: a view of the output folder, rebuilt from its entries, written by one writer.

One line per name, from every source: first each source's rows in the order
its latest run planned them (a row never started reads `not_started`, an
invalid row `invalid` with its reasons), then the names no source plans any
more that still hold something of value (a video, or a generation that may be
billed). Each line shows the latest outcome of its name; the `source` column
says whose row it is. Nothing is merged as text: every line is rebuilt from
the entries, and every cell is cleaned on its way out here.

Cells are safe to open in a spreadsheet (OWASP's CSV injection advice). In text
cells control characters (NUL, ESC, DEL, C1...) are dropped; line breaks are
kept as ``\\n`` inside a quoted cell; a cell starting with ``=``, ``+``, ``-``,
``@``, a tab or a line break, or whose first non-blank character is one of
``= + - @``, is prefixed with ``'`` so it shows as text. Numbers are written
from numbers, never from text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

from prefect_modelslab.ledger import storage
from prefect_modelslab.ledger.entry import Entry
from prefect_modelslab.ledger.report import RowResult, video_fields
from prefect_modelslab.ledger.sources import SourceRow, SourceRows

__all__ = [
    "RESULT_COLUMNS",
    "cells_of",
    "entry_row",
    "render_results_csv",
    "view_rows",
    "write_results_csv",
]

#: The columns of `results.csv`, in order.
RESULT_COLUMNS: tuple[str, ...] = (
    "row",
    "id",
    "source",
    "endpoint",
    "prompt",
    "status",
    "video",
    "format",
    "frames",
    "fps",
    "width",
    "height",
    "duration_s",
    "generation_id",
    "bytes",
    "sha256",
    "reused",
    "error",
    "warnings",
)


def entry_row(
    entry: Entry, video_url: str | None, *, row: int | None, source: str | None
) -> RowResult:
    """The line of `results.csv` for `entry`: its latest outcome, as the entry tells it.

    Example:
        ```python
        # not run: needs an entry of a folder
        from prefect_modelslab.ledger.results import entry_row

        entry_row(entry, "videos/fox.gif", row=1, source="/data/prompts.csv").status
        ```
    """
    base: dict[str, Any] = {
        "row": row,
        "id": entry.name,
        "source": source,
        "prompt": entry.prompt or "",
        "generation_id": entry.generation_id,
        "endpoint": (entry.request or {}).get("endpoint", "text2video") if entry.request else None,
    }
    outcome = entry.outcome
    video = entry.video
    if entry.state == "finished" and video is not None:
        return RowResult(
            **base,
            **video_fields(video.check, video.format, size=video.bytes, sha256=video.sha256),
            video=video_url,
            reused=bool(outcome is not None and outcome.reused),
        )
    if outcome is not None:
        generation = outcome.generation_id or entry.generation_id
        return RowResult(
            **{**base, "generation_id": generation}, status=outcome.status, error=outcome.error
        )
    if entry.state in ("submitting", "outcome_unknown"):
        return RowResult(
            **base,
            status="unknown",
            error="a submit was sent and its answer never read: it may be billed; a re-run "
            "adopts its generation if a webhook brought it, else settle it with "
            f"`prefect-modelslab resolve OUT {entry.name} --generation-id ID` or `--resubmit`",
        )
    if entry.state == "submitted":
        return RowResult(
            **base,
            status="unknown",
            error=f"generation {entry.generation_id} is not stored yet; a re-run fetches it "
            "(no new submit)",
        )
    if entry.state == "finished":  # an earlier version's journal said so, its sidecar is gone
        return RowResult(
            **base,
            status="unknown",
            error=f"generation {entry.generation_id} finished; a re-run fetches its video again",
        )
    if entry.held:
        return RowResult(**base, status="unknown", error="a run is submitting it right now")
    return RowResult(**base, status="not_started", error="no run submitted it yet")


def _planned_row(row: SourceRow, source: str) -> RowResult:
    """The line of a source's row that has no entry of its own: invalid, or not started."""
    invalid = row.problems is not None
    return RowResult(
        row=row.row,
        id=row.name,
        source=source,
        prompt=row.prompt,
        status="invalid" if invalid else "not_started",
        error=row.problems if invalid else "the run stopped before this row began",
    )


def view_rows(
    entries: Mapping[str, Entry],
    sources: Iterable[SourceRows],
    video_url: Any,
) -> list[RowResult]:
    """Every line of `results.csv`, from the entries and each source's latest rows.

    Args:
        entries: Every entry of the folder, by name.
        sources: Each source's latest rows.
        video_url: `video_url(name, format)`, where a name's video is.

    Example:
        ```python
        # not run: needs a ledger; `await ledger.rows()` is the same
        from prefect_modelslab.ledger.results import view_rows

        rows = view_rows(await ledger.entries(), await ledger.sources(), ledger.video_url)
        ```
    """
    lines: list[RowResult] = []
    listed: set[str] = set()
    for rows in sorted(sources, key=lambda s: s.source):
        for row in rows.rows:
            if row.name in listed:
                continue
            entry = entries.get(row.name)
            if row.problems is not None or entry is None:
                lines.append(_planned_row(row, rows.source))
            elif entry.source == rows.source or entry.request_hash == row.request_hash:
                lines.append(_line(entry, video_url, row=row.row, source=rows.source))
            else:
                continue  # the name is another source's now: its line comes with it
            listed.add(row.name)
    for name in sorted(set(entries) - listed):
        entry = entries[name]
        if entry.video is not None or entry.paid:
            lines.append(_line(entry, video_url, row=None, source=entry.source))
    return lines


def _line(entry: Entry, video_url: Any, *, row: int | None, source: str | None) -> RowResult:
    url = video_url(entry.name, entry.video.format) if entry.video is not None else None
    return entry_row(entry, url, row=row, source=source)


def cells_of(row: RowResult) -> list[str]:
    """A row's cells in `RESULT_COLUMNS` order, cleaned (empty string for None)."""
    values = row.model_dump()
    return [_cell(values[name]) for name in RESULT_COLUMNS]


def render_results_csv(rows: Iterable[RowResult]) -> str:
    """The text of `results.csv`: a header and one cleaned line per row.

    Example:
        ```python
        from prefect_modelslab.ledger.results import render_results_csv

        print(render_results_csv(report.rows))
        ```
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(RESULT_COLUMNS)
    writer.writerows(cells_of(r) for r in rows)
    return buffer.getvalue()


def write_results_csv(
    rows: Iterable[RowResult], url: str, *, storage_options: dict[str, Any] | None = None
) -> str:
    """Write rows as a results table to any fsspec URL, atomically (e.g. a copy for a report).

    Example:
        ```python
        from prefect_modelslab.ledger.results import write_results_csv

        write_results_csv(report.rows, "reports/tonight.csv")
        ```
    """
    data = render_results_csv(rows).encode("utf-8")
    storage.write_bytes_atomic(url, data, storage_options)
    return url


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return str(value)
    return _safe_text(str(value))


# C0 controls but tab and line feed, DEL, C1 controls: never written.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_FORMULA = frozenset("=+-@")  # what a spreadsheet reads as the start of a formula
_FORMULA_FIRST = _FORMULA | {"\t", "\r", "\n"}


def _safe_text(text: str) -> str:
    """A text cell a spreadsheet shows as text (OWASP CSV injection advice)."""
    if not text.isprintable():  # most cells are plain: skip the work
        text = _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if text and (text[0] in _FORMULA_FIRST or text.lstrip()[:1] in _FORMULA):
        return "'" + text
    return text
