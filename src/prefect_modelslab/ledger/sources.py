"""Sources: what a batch read, named one way, and the rows of each source's latest run.

A name belongs to one source, so a source must have one name however it is
spelled: `prompts.csv`, `./prompts.csv` and `/data/prompts.csv` are the same
file, and so are `s3://bucket//p.csv` and `s3://bucket/p.csv`. `normalise_source`
gives that one name: an absolute local path (links resolved), or a canonical
URL. Records handed over by a pipeline have no file: without an explicit
`source=` they are named after what they hold (`records-<hash>`), so the same
records run again resume, and two different sets never take each other's
place in `results.csv`.

`SourceRows` is what a source's latest run planned, row by row (the name,
the prompt, and why the row is invalid, if it is): `results.csv` lists each
source's rows in that order.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prefect_modelslab.ledger import storage
from prefect_modelslab.ledger.names import slug

__all__ = [
    "RECORDS_PREFIX",
    "SourceRow",
    "SourceRows",
    "normalise_source",
    "records_source",
    "source_file",
    "source_label",
]

#: The start of the name a records batch without `source=` gets.
RECORDS_PREFIX = "records-"


def _is_url(text: str) -> bool:
    return "://" in text or "::" in text


def normalise_source(source: str) -> str:
    """The one name of a CSV however it is spelled: an absolute path, or a canonical URL.

    Example:
        ```python
        from prefect_modelslab.ledger.sources import normalise_source

        normalise_source("./prompts.csv")           # '/home/me/work/prompts.csv'
        normalise_source("s3://bucket//a/../p.csv")  # 's3://bucket/p.csv'
        ```
    """
    text = source.strip()
    if not _is_url(text) or text.startswith("file://"):
        return os.path.realpath(os.path.expanduser(text.removeprefix("file://")))
    text = text.rsplit("::", 1)[-1]  # a cache or other wrapper over the same file
    try:
        from fsspec.core import url_to_fs
        from fsspec.implementations.local import LocalFileSystem

        fs, path = url_to_fs(text)
    except Exception:  # a URL fsspec cannot open here: keep its spelling, tidied
        protocol, _, path = text.partition("://")
        return f"{protocol.lower()}://{_tidy(path)}"
    if isinstance(fs, LocalFileSystem):
        return os.path.realpath(str(path))
    return str(fs.unstrip_protocol(_tidy(path)))


def _tidy(path: str) -> str:
    tidy = posixpath.normpath(re.sub("/{2,}", "/", path)) if path else path
    return "" if tidy == "." else tidy


def records_source(records: Iterable[Any]) -> str:
    """The source name of records given without `source=`: `records-` and a hash of them.

    The same records, given again (a retry, a re-run), get the same name;
    values are compared as text, so `8` and `"8"` are the same.

    Example:
        ```python
        from prefect_modelslab.ledger.sources import records_source

        records_source([{"id": "fox", "prompt": "a red fox"}])  # 'records-1a2b3c4d'
        ```
    """
    canonical = [_record_text(record) for record in records]
    digest = hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()[:8]
    return f"{RECORDS_PREFIX}{digest}"


def _record_text(record: Any) -> Any:
    if isinstance(record, BaseModel):
        values = record.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    elif isinstance(record, Mapping):
        values = dict(record)
    else:
        return repr(record)
    return {str(k).strip().lower(): str(v) for k, v in values.items() if v is not None and v == v}


def source_label(source: str) -> str:
    """A short readable name of a source (a file's stem, or the records' name).

    Example:
        ```python
        source_label("s3://bucket/Nightly.csv")  # 'Nightly'
        ```
    """
    stem = posixpath.basename(source.replace("\\", "/").rstrip("/"))
    return stem.rsplit(".", 1)[0] if "." in stem else stem or source


def source_file(source: str) -> str:
    """The file name of a source's rows under `.modelslab/sources/`."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    return f"{slug(source_label(source)) or 'source'}-{digest}.json"


class SourceRow(BaseModel):
    """One row of a source's latest run."""

    model_config = ConfigDict(frozen=True)

    row: int
    name: str
    prompt: str
    request_hash: str | None = Field(None, description="None: the row is invalid.")
    problems: str | None = Field(None, description="Why the row is invalid.")


class SourceRows(BaseModel):
    """The rows a source's latest run planned, in its order."""

    model_config = ConfigDict(frozen=True)

    source: str
    rows: list[SourceRow]
    planned_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def url_in(self, output_url: str, sources_dir: str) -> str:
        """Where these rows are kept in `output_url`."""
        return storage.join_url(output_url, sources_dir, source_file(self.source))


def read_source_rows(url: str, storage_options: dict[str, Any] | None = None) -> SourceRows | None:
    """The rows kept at `url`, or None (no file, or one that cannot be read)."""
    try:
        return storage.read_model(url, SourceRows, storage_options)
    except ValueError:
        return None
