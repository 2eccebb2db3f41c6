"""`results.csv` when several batches write into one folder: one part per source, one merged view.

Each batch writes its rows to a part of its own,
`.modelslab/results/<source>-<hash>.csv` (its source: the CSV's URL, or the
records' `source` name), then rebuilds `results.csv` from every part in the
folder. A re-run of the same source replaces its own part (its rows are
re-decided); a run of another source adds a part. So no run loses another
run's rows, and with a single source `results.csv` is exactly that batch's
table, in input order.

Two runs at the same time (two workers, one object store, no locks) are safe
by construction: a run never writes another run's part, and after writing
`results.csv` it lists the parts again and rebuilds until what it merged is
what is there. Whoever writes `results.csv` last has therefore merged every
part written before it looked, and a part written after that is merged by
its own run, which writes later still.

A folder whose `results.csv` predates parts (an earlier version) has it kept
as the part `earlier.csv` the first time, so its rows survive too.
"""

from __future__ import annotations

import csv
import hashlib
import io
import posixpath
from collections.abc import Callable, Iterable
from typing import Any

from prefect_modelslab.ledger import storage
from prefect_modelslab.ledger.names import slug
from prefect_modelslab.ledger.report import RESULT_COLUMNS, RowResult, write_results_csv

__all__ = [
    "PARTS_FOLDER",
    "keep_earlier",
    "merge_results",
    "part_url",
    "rebuild_results",
    "replace_rows",
    "write_results",
]

#: Where the parts live, under the output folder.
PARTS_FOLDER = ".modelslab/results"

_EARLIER = "earlier.csv"
_MAX_ROUNDS = 5


def part_url(output_url: str, source: str) -> str:
    """The URL of `source`'s part of `results.csv` in `output_url`.

    Example:
        ```python
        from prefect_modelslab.ledger.result_parts import part_url

        part_url("videos", "s3://bucket/Nightly.csv")  # 'videos/.modelslab/results/nightly-…csv'
        ```
    """
    stem = posixpath.basename(source.rstrip("/")).rsplit(".", 1)[0]
    digest = hashlib.sha256(source.encode()).hexdigest()[:8]
    return storage.join_url(output_url, PARTS_FOLDER, f"{slug(stem) or 'batch'}-{digest}.csv")


def write_results(
    rows: Iterable[RowResult],
    output_url: str,
    source: str,
    *,
    results_file: str = "results.csv",
    storage_options: dict[str, Any] | None = None,
) -> str:
    """Write this batch's part, then `results.csv` merged from every part in the folder.

    Args:
        rows: This batch's row results, in input order.
        output_url: The output folder.
        source: What the batch read (a CSV URL, a records name): names the part.
        results_file: The merged file's name in `output_url`.
        storage_options: Passed to fsspec.

    Returns:
        The URL of the merged `results.csv`.

    Example:
        ```python
        from prefect_modelslab.ledger.result_parts import write_results

        write_results(report.rows, "videos", "prompts.csv")
        ```
    """
    keep_earlier(output_url, results_file, storage_options)
    write_results_csv(rows, part_url(output_url, source), storage_options=storage_options)
    return rebuild_results(output_url, results_file, storage_options)


def rebuild_results(
    output_url: str,
    results_file: str = "results.csv",
    storage_options: dict[str, Any] | None = None,
) -> str:
    """Write `results.csv` from every part, again until what was merged is what is there.

    Example:
        ```python
        from prefect_modelslab.ledger.result_parts import rebuild_results

        rebuild_results("videos")
        ```
    """
    results_url = storage.join_url(output_url, results_file)
    merged: dict[str, bytes] | None = None
    for _ in range(_MAX_ROUNDS):
        parts = _read_parts(output_url, storage_options)
        if parts == merged:
            break  # what is there is what was merged
        storage.write_bytes_atomic(results_url, merge_results(parts), storage_options)
        merged = parts
    return results_url


def replace_rows(
    output_url: str,
    row_id: str,
    update: Callable[[RowResult], RowResult],
    *,
    results_file: str = "results.csv",
    storage_options: dict[str, Any] | None = None,
) -> int:
    """Replace the row `row_id` in every part that has it by `update(row)`, then rebuild.

    The parts are what `results.csv` is rebuilt from, so a row changed there
    stays changed when any later run rebuilds it. Other rows are kept as they are.

    Args:
        output_url: The output folder.
        row_id: The `id` of the row to replace.
        update: The new row, from the row as it is.
        results_file: The merged file's name in `output_url`.
        storage_options: Passed to fsspec.

    Returns:
        How many rows were replaced (0: no part has `row_id`, nothing is written).

    Example:
        ```python
        from prefect_modelslab.ledger.result_parts import replace_rows

        replace_rows("videos", "fox-1", lambda row: row.model_copy(update={"error": None}))
        ```
    """
    keep_earlier(output_url, results_file, storage_options)
    fs, names = _list_parts(output_url, storage_options)
    replaced = 0
    for name in names:
        try:
            rows = _rows(fs.cat_file(name))
        except FileNotFoundError:
            continue
        hits = [i for i, cells in enumerate(rows) if cells.get("id") == row_id]
        for i in hits:
            old = RowResult.model_validate({k: v for k, v in rows[i].items() if v != ""})
            rows[i] = dict(zip(RESULT_COLUMNS, update(old).csv_cells(), strict=True))
        if hits:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, RESULT_COLUMNS, extrasaction="ignore", restval="")
            writer.writeheader()
            writer.writerows(rows)
            url = storage.join_url(output_url, PARTS_FOLDER, posixpath.basename(name))
            storage.write_bytes_atomic(url, buffer.getvalue().encode("utf-8"), storage_options)
            replaced += len(hits)
    if replaced:
        rebuild_results(output_url, results_file, storage_options)
    return replaced


def merge_results(parts: dict[str, bytes]) -> bytes:
    """One `results.csv` from its parts: the header once, then every part's rows in turn.

    Rows of `earlier.csv` (a `results.csv` from before parts) whose id a newer
    part has are left out: the newer part says what became of them.

    Example:
        ```python
        from prefect_modelslab.ledger.result_parts import merge_results

        merge_results({"a.csv": b"row,id\\n1,a\\n", "b.csv": b"row,id\\n1,b\\n"})
        ```
    """
    tables = {name: _rows(data) for name, data in parts.items()}
    newer = {row.get("id") for name, rows in tables.items() if name != _EARLIER for row in rows}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, RESULT_COLUMNS, extrasaction="ignore", restval="")
    writer.writeheader()
    for name, rows in tables.items():
        writer.writerows(r for r in rows if name != _EARLIER or r.get("id") not in newer)
    return buffer.getvalue().encode("utf-8")


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _list_parts(output_url: str, options: dict[str, Any] | None) -> tuple[Any, list[str]]:
    """The filesystem of the parts folder and the paths of the parts in it, by name."""
    fs, path = storage.get_filesystem(storage.join_url(output_url, PARTS_FOLDER), options)
    try:
        names = sorted(p for p in fs.ls(path, detail=False) if str(p).endswith(".csv"))
    except FileNotFoundError:
        return fs, []
    # A name starting with "." is a part being written.
    return fs, [str(n) for n in names if not posixpath.basename(str(n)).startswith(".")]


def _read_parts(output_url: str, options: dict[str, Any] | None) -> dict[str, bytes]:
    fs, names = _list_parts(output_url, options)
    parts: dict[str, bytes] = {}
    for name in names:
        try:
            parts[posixpath.basename(name)] = fs.cat_file(name)
        except FileNotFoundError:
            continue
    # The earliest results first, then the sources by name.
    return dict(sorted(parts.items(), key=lambda kv: (kv[0] != _EARLIER, kv[0])))


def keep_earlier(
    output_url: str, results_file: str = "results.csv", options: dict[str, Any] | None = None
) -> None:
    """Keep a `results.csv` written before parts existed as the part `earlier.csv`.

    Example:
        ```python
        from prefect_modelslab.ledger.result_parts import keep_earlier

        keep_earlier("videos")
        ```
    """
    results_url = storage.join_url(output_url, results_file)
    if _list_parts(output_url, options)[1] or not storage.exists(results_url, options):
        return
    fs, path = storage.get_filesystem(results_url, options)
    data = fs.cat_file(path)
    earlier = storage.join_url(output_url, PARTS_FOLDER, _EARLIER)
    storage.write_bytes_atomic(earlier, data, options)
