"""Read, validate and plan a prompts CSV before anything is submitted.

The file has a header row. `prompt` is required; any field of
`Text2VideoRequest` or `Text2VideoUltraRequest` may be a column and overrides
the batch defaults for its row; an empty cell means "not set". An optional
`endpoint` column (or a batch default) picks each row's endpoint:
`text2video` (the default) or `text2video_ultra`; a row that sets a field of
the other endpoint (`height` on an ultra row, `portrait` on a text2video row)
is invalid, naming the field and the endpoint. An optional `id` column names the row's
outputs; without it a row is named after its request (a slug of the prompt
plus a short hash of the request, as `generate_video` names it), so the same
row gets the same name on every run, which is what makes a re-run resume
instead of paying again.

Rows are numbered two ways: `row` is the 1-based data row (blank lines are not
rows) and `line` is the file line the row starts on, so messages point at the
right place even when quoted cells span lines.

Every row is checked here, cheaply (one pydantic validation per row), and a
plan of 100,000 rows takes a few seconds.

Broken quoting is caught before anything is paid for. A cell longer than the
`csv` module's field limit (131,072 characters) or any other CSV syntax error
makes the whole file an `InvalidCsvError` naming the line (and the column). An
unterminated quote, which would swallow the following rows into one prompt,
makes its row invalid ("an unterminated quote swallows lines 3-7"): a row that
spans lines is suspect when, read strictly, its quotes do not pair up (still
open at the end of the file, or closed in the middle of a later cell), or when
a later line inside a cell is a whole valid row of the header's shape (setting
a column that is not free text, such as ``fps``). A properly closed multi-line
prompt that shows neither stays valid.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import fsspec
from pydantic import BaseModel, ConfigDict, ValidationError

from prefect_modelslab.client.models import (
    ENDPOINTS,
    REQUEST_MODELS,
    REQUEST_TYPES,
    TEXT2VIDEO,
    FieldProblem,
    Text2VideoRequest,
    Text2VideoUltraRequest,
    VideoRequest,
    closest_name,
    validation_problems,
)
from prefect_modelslab.exceptions import InvalidCsvError
from prefect_modelslab.ledger.names import id_problem, slug, video_name

__all__ = [
    "ENDPOINT_COLUMN",
    "ID_COLUMN",
    "RECORDS_SOURCE",
    "BatchPlan",
    "PlannedRow",
    "RowProblem",
    "known_fields_line",
    "merge_defaults",
    "plan_csv",
    "plan_csv_lines",
    "plan_records",
]

#: The optional column that names a row's outputs.
ID_COLUMN = "id"
#: The optional column that picks a row's endpoint (`text2video` when empty).
ENDPOINT_COLUMN = "endpoint"

#: The source name of a batch of records, unless it is given another.
RECORDS_SOURCE = "records"

# The fields of either endpoint's request (`endpoint` included).
_REQUEST_FIELDS = frozenset(name for model in REQUEST_TYPES for name in model.model_fields)
_KNOWN_COLUMNS = _REQUEST_FIELDS | {ID_COLUMN}
_SECRET_COLUMNS = frozenset({"key", "api_key", "apikey"})
_FREE_TEXT = frozenset({"prompt", "negative_prompt", "track_id", ID_COLUMN})
_PROBLEMS_SHOWN = 20


def known_fields_line(kind: str = "columns") -> str:
    """The whole list of known columns (or record fields), on one line.

    Fields of both endpoints come first, then those of one endpoint only.

    Example:
        ```python
        from prefect_modelslab.inputs.plan import known_fields_line

        known_fields_line()
        # 'known columns: id, prompt, endpoint, fps, ...; text2video only: clip_skip, ...;
        #  text2video_ultra only: portrait, resolution, sample_shift'
        ```
    """
    own = {endpoint: set(model.model_fields) for endpoint, model in REQUEST_MODELS.items()}
    shared = set.intersection(*own.values()) - {"prompt", ENDPOINT_COLUMN}
    parts = [", ".join([ID_COLUMN, "prompt", ENDPOINT_COLUMN, *sorted(shared)])]
    for endpoint in ENDPOINTS:
        others: set[str] = set()
        for other, names in own.items():
            if other != endpoint:
                others |= names
        parts.append(f"{endpoint} only: {', '.join(sorted(own[endpoint] - others))}")
    return f"known {kind}: " + "; ".join(parts)


class RowProblem(BaseModel):
    """Why one row of the CSV cannot run: where, which field, and why.

    Attributes:
        row: The 1-based data row number (blank lines are not rows), or record number.
        line: The file line the row starts on (the header is line 1); 0 for a record.
        field: The column (request field) at fault, or `row` for the row as a whole.
        reason: What is wrong, in words.
    """

    model_config = ConfigDict(frozen=True)

    row: int
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        if self.line == 0:  # a record, not a line of a file
            return f"record {self.row}: {self.field}: {self.reason}"
        return f"line {self.line} (row {self.row}): {self.field}: {self.reason}"


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """One data row of the CSV, validated.

    Attributes:
        row: The 1-based data row number.
        line: The file line the row starts on.
        id: The name of the row's outputs (`<id>.gif`, `<id>.json`, ...): unique
            in the plan and safe as a file name.
        prompt: The row's prompt, as written (stripped).
        request: The request to send (defaults merged with the row): a
            `Text2VideoRequest` or a `Text2VideoUltraRequest`, as the row's
            `endpoint` says; None if the row is invalid.
        problems: Why the row is invalid; empty for a valid row.
    """

    row: int
    line: int
    id: str
    prompt: str
    request: VideoRequest | None
    problems: tuple[RowProblem, ...] = ()

    @property
    def is_valid(self) -> bool:
        """True when the row has a request to send."""
        return self.request is not None


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """Every row of a prompts CSV, validated and named, in file order.

    Attributes:
        source: Where the CSV was read from.
        columns: The header's columns, normalised (stripped, lower case).
        rows: The data rows in file order.
    """

    source: str
    columns: tuple[str, ...]
    rows: tuple[PlannedRow, ...]

    @property
    def valid_rows(self) -> list[PlannedRow]:
        """The rows that will be submitted."""
        return [r for r in self.rows if r.request is not None]

    @property
    def invalid_rows(self) -> list[PlannedRow]:
        """The rows that will not run."""
        return [r for r in self.rows if r.request is None]

    @property
    def problems(self) -> list[RowProblem]:
        """Every row problem, in file order."""
        return [p for r in self.rows for p in r.problems]

    def raise_if_invalid(self) -> None:
        """Raise `InvalidCsvError` listing the problems if any row is invalid.

        When a problem is a field that no endpoint knows, the message ends with
        a line listing every known field (`known_fields_line`).

        Example:
            ```python
            from prefect_modelslab.inputs.plan import plan_csv

            plan_csv("prompts.csv").raise_if_invalid()  # strict mode
            ```
        """
        problems = self.problems
        if not problems:
            return
        rows = len(self.invalid_rows)
        shown = "; ".join(str(p) for p in problems[:_PROBLEMS_SHOWN])
        more = len(problems) - _PROBLEMS_SHOWN
        suffix = f"; and {more} more" if more > 0 else ""
        unknown = any(p.field not in _KNOWN_COLUMNS and p.field != "row" for p in problems)
        records = all(p.line == 0 for p in problems)
        raise InvalidCsvError(
            f"{self.source}: {rows} invalid row{'s' if rows != 1 else ''}, nothing was "
            f"submitted: {shown}{suffix}",
            problems=problems,
            known_fields=known_fields_line("fields" if records else "columns") if unknown else None,
        )


def merge_defaults(defaults: Mapping[str, Any] | BaseModel | None) -> dict[str, Any]:
    """Check batch defaults and return them as a plain dict of request fields.

    `endpoint` among the defaults sets every row's endpoint unless the row
    names its own. A batch may mix endpoints, so each row gets the defaults
    that are fields of its own endpoint (`width` only on `text2video` rows,
    `portrait` only on `text2video_ultra` rows); a column of the other
    endpoint, in a row, is an error. Each default is checked once here,
    against the endpoint(s) whose field it is.

    Args:
        defaults: Request fields applied to every row unless a column overrides
            them: a dict, or a model whose set fields are used (for example a
            `Text2VideoRequest` or a `Text2VideoUltraRequest`, whose `prompt` is
            ignored and whose endpoint is kept). None means no defaults.

    Returns:
        The defaults that were set, without `prompt` and `id`.

    Raises:
        ValueError: A default is not a request field or is out of range.

    Example:
        ```python
        from prefect_modelslab.inputs.plan import merge_defaults

        merge_defaults({"output_type": "mp4", "num_frames": 16})
        merge_defaults({"endpoint": "text2video_ultra", "portrait": True})
        ```
    """
    if defaults is None:
        return {}
    if isinstance(defaults, BaseModel):
        values = defaults.model_dump(exclude_unset=True, exclude_none=True)
        values.pop("prompt", None)
        if isinstance(defaults, Text2VideoUltraRequest):
            values[ENDPOINT_COLUMN] = defaults.endpoint
    else:
        values = {k: v for k, v in defaults.items() if v is not None}
    for name in ("prompt", ID_COLUMN):
        if name in values:
            raise ValueError(f"defaults: {name!r} is per row; put it in the CSV")
    unknown = sorted(set(values) - _REQUEST_FIELDS)
    if unknown:
        raise ValueError(
            "defaults: " + "; ".join(f"{name}: {_unknown_field(name)}" for name in unknown)
        )
    # A mixed batch takes defaults of both endpoints: each row gets those of its own
    # endpoint. Each default is checked against the endpoint(s) whose field it is.
    named = _endpoint_of(values)
    problems: list[str] = []
    if named not in REQUEST_MODELS:
        _, wrong = _request_of({ENDPOINT_COLUMN: values[ENDPOINT_COLUMN], "prompt": "defaults"})
        raise ValueError(f"defaults: {'; '.join(str(p) for p in wrong)}")
    for endpoint, model in REQUEST_MODELS.items():
        subset = {k: v for k, v in values.items() if k in model.model_fields}
        subset[ENDPOINT_COLUMN] = endpoint
        if endpoint != named and set(subset) <= {ENDPOINT_COLUMN}:
            continue
        request, found = _request_of({**subset, "prompt": "defaults"})
        problems += [str(p) for p in found if str(p) not in problems]
        if request is not None and endpoint == named and ENDPOINT_COLUMN in values:
            values[ENDPOINT_COLUMN] = request.endpoint  # as normalised
    if problems:
        raise ValueError(f"defaults: {'; '.join(problems)}")
    return values


def plan_csv(
    csv_url: str,
    defaults: Mapping[str, Any] | BaseModel | None = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> BatchPlan:
    """Read a prompts CSV from any fsspec URL and validate every row.

    Args:
        csv_url: Path or fsspec URL of the CSV (`prompts.csv`, `s3://bucket/p.csv`).
        defaults: Request fields for every row; columns override them per row.
        storage_options: Passed to fsspec (credentials of the storage, ...).

    Returns:
        The plan: every data row with its request or its problems.

    Raises:
        InvalidCsvError: The file cannot be read as a prompts CSV (not UTF-8,
            no header, no `prompt` column, unknown or duplicate columns, a cell
            over 131,072 characters or another CSV syntax error).
        FileNotFoundError: There is no file at `csv_url`.
        ValueError: The defaults are invalid.

    Example:
        ```python
        from prefect_modelslab.inputs.plan import plan_csv

        plan = plan_csv("examples/prompts.csv", {"output_type": "mp4"})
        for problem in plan.problems:
            print(problem)  # line 7 (row 5): height: must be in 1..512 (got 600)
        ```
    """
    with fsspec.open(
        csv_url, "rt", encoding="utf-8-sig", newline="", **(storage_options or {})
    ) as f:
        try:
            return plan_csv_lines(f, defaults, source=csv_url)
        except UnicodeDecodeError as error:
            raise InvalidCsvError(
                f"{csv_url}: not UTF-8 text (byte {error.start}): save the CSV as UTF-8"
            ) from None


def plan_csv_lines(
    lines: Iterable[str],
    defaults: Mapping[str, Any] | BaseModel | None = None,
    *,
    source: str = "<csv>",
) -> BatchPlan:
    """Validate a prompts CSV given as lines of text (see `plan_csv`).

    Args:
        lines: The CSV text, line by line, as `open(..., newline="")` yields it.
        defaults: Request fields for every row; columns override them per row.
        source: Name of the CSV in messages.

    Returns:
        The plan: every data row with its request or its problems.

    Example:
        ```python
        from prefect_modelslab.inputs.plan import plan_csv_lines

        plan = plan_csv_lines(["id,prompt,fps", "fox,a red fox,8"])
        plan.rows[0].request.fps  # 8
        ```
    """
    base = merge_defaults(defaults)
    pending: list[str] = []  # the physical lines of the row being read
    reader = csv.reader(_kept(_strip_bom(iter(lines)), pending))
    columns = _read_header(_checked(reader, source, pending, []), source)
    width = len(columns)
    drafts: list[_Draft] = []
    taken: dict[str, int] = {}  # explicit id (case-folded) -> index in drafts
    row = 0
    next_line = reader.line_num + 1
    for cells in _checked(reader, source, pending, columns):
        line, next_line = next_line, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue  # blank line (or only separators): not a row
        row += 1
        draft = _validate_row(row, line, columns, width, cells, base)
        if next_line - line > 1:  # quoted newlines: look for a runaway quote
            _check_quotes(draft, cells, pending, columns, base)
        _claim_id(draft, drafts, taken)
    return BatchPlan(source=source, columns=tuple(columns), rows=tuple(_name_rows(drafts, taken)))


def plan_records(
    records: Iterable[Text2VideoRequest | Text2VideoUltraRequest | Mapping[str, Any]],
    defaults: Mapping[str, Any] | BaseModel | None = None,
    *,
    source: str = RECORDS_SOURCE,
) -> BatchPlan:
    """Validate records (requests, or mappings with a CSV row's fields) into a batch plan.

    A record is a request (`Text2VideoRequest` or `Text2VideoUltraRequest`)
    or a mapping: `prompt` (required), optional `id` and `endpoint`, any
    field of that endpoint's request; an unknown field names the closest known
    one ("promt: unknown field (did you mean 'prompt'?)"). Values may be text, as in a CSV, or
    native (`8`, `2.5`, NumPy scalars); None, blank text and NaN (a missing
    value in a DataFrame) mean "not set", so `defaults` apply. A record's own
    fields win over `defaults`. Records are numbered from 1; a problem reads
    "record 3: fps: ...".

    Args:
        records: The records, in order (any iterable; read once).
        defaults: Request fields for every record.
        source: The batch's name, in messages.

    Returns:
        The plan: every record with its request or its problems.

    Raises:
        ValueError: The defaults are invalid.

    Example:
        ```python
        from prefect_modelslab.inputs.plan import plan_records

        plan = plan_records([{"id": "fox", "prompt": "a red fox", "fps": 8}, {"prompt": ""}])
        plan.rows[0].request.fps  # 8
        print(plan.problems[0])    # record 2: prompt: ...
        ```
    """
    base = merge_defaults(defaults)
    columns: dict[str, None] = {}
    drafts: list[_Draft] = []
    taken: dict[str, int] = {}
    for row, record in enumerate(records, start=1):
        draft = _record_draft(row, record, base)
        columns.update(dict.fromkeys(draft.raw or {}))
        _claim_id(draft, drafts, taken)
    return BatchPlan(source=source, columns=tuple(columns), rows=tuple(_name_rows(drafts, taken)))


def _record_draft(row: int, record: object, base: dict[str, Any]) -> _Draft:
    if isinstance(record, REQUEST_TYPES):
        values: dict[str, Any] = record.model_dump(exclude_unset=True, exclude_none=True)
        values.setdefault("prompt", record.prompt)
        values[ENDPOINT_COLUMN] = record.endpoint
    elif isinstance(record, Mapping):
        values = {str(k).strip().lower(): _native(v) for k, v in record.items()}
    else:
        draft = _Draft(row, 0, "", None, True, None, {}, [])
        draft.add_problem(
            "row",
            "a record must be a Text2VideoRequest, a Text2VideoUltraRequest or a mapping "
            f"of fields (got {type(record).__name__})",
        )
        return draft
    values = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
    values = {k: v for k, v in values.items() if not _unset(v)}
    raw = {k: str(v) for k, v in values.items()}
    explicit_id = raw.get(ID_COLUMN) or None
    prompt = str(values.get("prompt", ""))
    draft = _Draft(row, 0, prompt, explicit_id, True, None, raw, [])
    bad = [k for k in values if k not in _KNOWN_COLUMNS]
    for name in bad:
        draft.add_problem(
            name,
            "the API key must not be in a record; use a ModelsLabCredentials block or "
            "MODELSLAB_API_KEY"
            if name in _SECRET_COLUMNS
            else _unknown_field(name),
        )
    own = {k: v for k, v in values.items() if k in _REQUEST_FIELDS}
    if not bad:
        applied = _defaults_for(base, own)
        _build_request(draft, {**applied, **own, "prompt": prompt}, set(applied) - set(own))
    if explicit_id is not None and (bad_id := id_problem(explicit_id)) is not None:
        draft.id_ok = False
        draft.add_problem(ID_COLUMN, bad_id)
    return draft


def _native(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (NumPy is never imported)."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()
    return value


def _unset(value: Any) -> bool:
    """None, blank text, NaN and pandas' NA/NaT: a field that is not set."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in {"NAType", "NaTType"}


# --- internals ------------------------------------------------------------------


@dataclass(slots=True)
class _Draft:
    row: int
    line: int
    prompt: str
    explicit_id: str | None
    id_ok: bool
    request: VideoRequest | None
    raw: dict[str, str] | None
    problems: list[RowProblem]
    name: str | None = None  # explicit id (if it owns it) or derived base name

    def add_problem(self, field: str, reason: str) -> None:
        self.problems.append(RowProblem(row=self.row, line=self.line, field=field, reason=reason))
        self.request = None


def _strip_bom(lines: Iterator[str]) -> Iterator[str]:
    # fsspec decodes with utf-8-sig; text given directly may still start with one.
    first = next(lines, None)
    if first is None:
        return
    yield first.removeprefix("\ufeff")
    yield from lines


def _kept(lines: Iterator[str], pending: list[str]) -> Iterator[str]:
    """Yield `lines`, keeping those of the current row in `pending` (for error messages)."""
    for text in lines:
        pending.append(text)
        yield text


def _checked(
    reader: Any, source: str, pending: list[str], columns: list[str]
) -> Iterator[list[str]]:
    """The rows of `reader`; a CSV syntax error becomes `InvalidCsvError` naming the line.

    `pending` holds the lines the reader took for the row it is reading; it is
    emptied after each row.
    """
    start = reader.line_num + 1
    pending.clear()
    try:
        for cells in reader:
            yield cells
            pending.clear()
            start = reader.line_num + 1
    except csv.Error as error:
        raise _csv_error(error, source, start, pending, columns) from None


def _csv_error(
    error: csv.Error, source: str, line: int, pending: list[str], columns: list[str]
) -> InvalidCsvError:
    """What a CSV syntax error in the row that starts on `line` means, in words."""
    limit = csv.field_size_limit()
    if "field limit" not in str(error):
        return InvalidCsvError(f"{source}: line {line}: not a valid CSV row ({error})")
    index, line = _long_cell(pending, line, limit)
    column = columns[index] if index < len(columns) else str(index + 1)
    return InvalidCsvError(
        f"{source}: line {line}, column {column}: a cell is longer than {limit} characters"
    )


def _long_cell(lines: list[str], line: int, limit: int) -> tuple[int, int]:
    """(0-based column, file line it starts on) of the first cell over `limit` characters.

    `lines` are a row's physical lines, the first being file line `line`; the
    scan follows the reader's dialect (``,`` separates, ``"`` quotes, not strict).
    """
    column = length = 0
    start, quoted, after_quote, at_start = line, False, False, True
    for text in lines:
        for char in text:
            if quoted:
                if char == '"':
                    quoted, after_quote = False, True
                    continue
            elif char == '"' and (at_start or after_quote):
                # Opens a quoted cell, or is the second half of an escaped quote.
                quoted, at_start = True, False
                if not after_quote:
                    continue
            elif char == ",":
                column, length, start, at_start = column + 1, 0, line, True
                after_quote = False
                continue
            elif char in "\r\n":
                continue
            after_quote = at_start = False
            length += 1
            if length > limit:
                return column, start
        line += 1
    return column, start


def _check_quotes(
    draft: _Draft, cells: list[str], lines: list[str], columns: list[str], base: dict[str, Any]
) -> None:
    """Mark `draft` invalid when its quoted newlines come from a quote that ran too far.

    `lines` are the row's physical lines. Telltales: read strictly, the row's
    quotes do not pair up (the quote is still open at the end of the file, or a
    quote closes it in the middle of a later cell), or a later line inside a
    cell is a whole, valid row of the header's shape (see `_is_row`).
    """
    spans = [i for i, cell in enumerate(cells) if "\n" in cell]
    index = spans[0] if spans else len(cells) - 1
    try:
        for _ in csv.reader(lines, strict=True):
            pass
    except csv.Error:
        _add_runaway(draft, cells, index, columns, draft.line + len(lines) - 1)
        return
    if len(columns) < 2:
        return  # every line of a one-column file reads as a row: no telltale
    for index in spans:
        if any(_is_row(text, columns, base) for text in cells[index].split("\n")[1:]):
            _add_runaway(draft, cells, index, columns, draft.line + len(lines) - 1)
            return


def _add_runaway(draft: _Draft, cells: list[str], index: int, columns: list[str], end: int) -> None:
    opened = draft.line + sum(c.count("\n") for c in cells[:index])
    field = columns[index] if index < len(columns) else "row"
    draft.add_problem(field, f"an unterminated quote swallows lines {opened}-{end}")


def _is_row(text: str, columns: list[str], base: dict[str, Any]) -> bool:
    """True when one physical line `text` reads as a whole valid row of `columns`.

    The line must set a column that is not free text (``fps``, ``seed``...):
    any line with a comma would read as a row of text columns only.
    """
    cells = next(csv.reader([text]), [])
    return (
        len(cells) == len(columns)
        and bool(cells[columns.index("prompt")].strip())
        and any(v.strip() for k, v in zip(columns, cells, strict=True) if k not in _FREE_TEXT)
        and not _validate_row(0, 0, columns, len(columns), cells, base).problems
    )


def _unknown_field(name: str) -> str:
    """Why a record field or a default `name` is refused, with the closest known name."""
    best = closest_name(name, sorted(_KNOWN_COLUMNS))
    return "unknown field" + (f" (did you mean {best!r}?)" if best else "")


def _endpoint_of(fields: Mapping[str, Any]) -> str:
    named = fields.get(ENDPOINT_COLUMN)
    return (str(named).strip().lower() if named is not None else "") or TEXT2VIDEO


def _defaults_for(base: dict[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """The batch defaults that apply to a row: those its endpoint has (its own, else theirs)."""
    endpoint = _endpoint_of(own) if own.get(ENDPOINT_COLUMN) else _endpoint_of(base)
    model = REQUEST_MODELS.get(endpoint)
    if model is None:  # the row's own endpoint is wrong: its problem is reported as such
        return base
    return {k: v for k, v in base.items() if k in model.model_fields}


def _request_of(fields: dict[str, Any]) -> tuple[VideoRequest | None, list[FieldProblem]]:
    """`fields` validated as a request of the endpoint they name (`text2video` if none)."""
    named = fields.get(ENDPOINT_COLUMN)
    endpoint = str(named).strip().lower() if named is not None else ""
    endpoint = endpoint or TEXT2VIDEO
    model = REQUEST_MODELS.get(endpoint)
    if model is None:
        best = closest_name(endpoint, ENDPOINTS)
        hint = f"; did you mean {best!r}?" if best else ""
        reason = f"must be {' or '.join(ENDPOINTS)} (got {named!r}{hint})"
        return None, [FieldProblem(field=ENDPOINT_COLUMN, reason=reason)]
    try:
        return model.model_validate({**fields, ENDPOINT_COLUMN: endpoint}), []
    except ValidationError as error:
        return None, validation_problems(error)


def _build_request(draft: _Draft, fields: dict[str, Any], from_defaults: set[str]) -> None:
    """Set `draft.request` from `fields`, or its problems (naming the defaults at fault)."""
    request, problems = _request_of(fields)
    for problem in problems:
        reason = problem.reason
        if problem.field in from_defaults:
            note = "set by the batch defaults"
            reason = f"{reason[:-1]}; {note})" if reason.endswith(")") else f"{reason} ({note})"
        draft.add_problem(problem.field, reason)
    if not problems:
        draft.request = request


def _read_header(reader: Iterator[list[str]], source: str) -> list[str]:
    header: list[str] | None = None
    for cells in reader:
        if any(c.strip() for c in cells):
            header = cells
            break
    if header is None:
        raise InvalidCsvError(f"{source}: the CSV is empty; expected a header row with `prompt`")
    columns = [c.strip().lower() for c in header]
    problems: list[str] = []
    for index, name in enumerate(columns, start=1):
        if not name:
            problems.append(f"column {index} has no name")
        elif name in _SECRET_COLUMNS:
            problems.append(
                f"column {name!r}: the API key must not be in the CSV; "
                "use a ModelsLabCredentials block or MODELSLAB_API_KEY"
            )
        elif name not in _KNOWN_COLUMNS:
            best = closest_name(name, sorted(_KNOWN_COLUMNS))
            problems.append(
                f"unknown column {name!r}" + (f" (did you mean {best!r}?)" if best else "")
            )
    seen: set[str] = set()
    for name in columns:
        if name and name in seen:
            problems.append(f"column {name!r} appears twice")
        seen.add(name)
    if "prompt" not in seen:
        problems.append("no `prompt` column")
    if problems:
        raise InvalidCsvError(
            f"{source}: bad header: {'; '.join(problems)}", known_fields=known_fields_line()
        )
    return columns


def _validate_row(
    row: int,
    line: int,
    columns: list[str],
    width: int,
    cells: list[str],
    base: dict[str, Any],
) -> _Draft:
    raw = {name: value.strip() for name, value in zip(columns, cells, strict=False)}
    own = {k: v for k, v in raw.items() if v and k != ID_COLUMN}
    prompt = raw.get("prompt", "")
    explicit_id = raw.get(ID_COLUMN) or None
    draft = _Draft(row, line, prompt, explicit_id, True, None, raw, [])
    # An empty prompt is a problem, reported as such.
    applied = _defaults_for(base, own)
    _build_request(draft, {**applied, **own, "prompt": prompt}, set(applied) - set(own))
    if len(cells) > width and any(c.strip() for c in cells[width:]):
        draft.add_problem("row", f"has {len(cells)} cells but the header has {width} columns")
    if explicit_id is not None and (bad_id := id_problem(explicit_id)) is not None:
        draft.id_ok = False
        draft.add_problem(ID_COLUMN, bad_id)
    return draft


def _claim_id(draft: _Draft, drafts: list[_Draft], taken: dict[str, int]) -> None:
    """Give the draft its explicit id if it is the first to ask, else a derived name; keep it."""
    if draft.explicit_id is not None and draft.id_ok:
        folded = draft.explicit_id.casefold()
        first = taken.setdefault(folded, len(drafts))
        if first != len(drafts):
            other = drafts[first]
            where = f" (line {other.line})" if other.line else ""
            draft.add_problem(
                ID_COLUMN,
                f"{draft.explicit_id!r} is already the id of "
                f"{'row' if other.line else 'record'} {other.row}{where}; ids must be unique",
            )
        else:
            draft.name = draft.explicit_id
    if draft.name is None:
        draft.name = _derived_id(draft)
    draft.raw = None  # no longer needed; keeps a big plan small
    drafts.append(draft)


def _name_rows(drafts: list[_Draft], taken: Mapping[str, int]) -> Iterator[PlannedRow]:
    used = set(taken)  # explicit ids win; derived names step around them
    for index, d in enumerate(drafts):
        assert d.name is not None
        owns_id = d.explicit_id is not None and taken.get(d.explicit_id.casefold()) == index
        row_id = d.name if owns_id else _unique(d.name, used)
        yield PlannedRow(d.row, d.line, row_id, d.prompt, d.request, tuple(d.problems))


def _derived_id(draft: _Draft) -> str:
    if draft.request is not None:
        # The name `generate_video` gives the same request: the two flows share outputs.
        return video_name(draft.request)
    digest = hashlib.sha256(
        json.dumps(draft.raw, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:8]
    return f"{slug(draft.prompt) or 'video'}-{digest}"


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate.casefold() in used:
        n += 1
        candidate = f"{name}-{n}"
    used.add(candidate.casefold())
    return candidate
