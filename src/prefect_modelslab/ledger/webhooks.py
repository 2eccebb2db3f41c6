"""Receive ModelsLab webhook calls and keep the one thing they are good for: an id.

A submit may be billed although its answer never arrived (a dropped
connection, a killed run). The journal then holds `outcome_unknown` and the
generation id is lost, unless ModelsLab tells us: every submit carries a
`webhook` URL and a `track_id` derived from its journal entry, and ModelsLab
POSTs to that URL once the generation ends (see the spec's "Webhooks"):

* success: `{"status": "success", "id": ..., "output": [...], "track_id": ..., ...}`
* failure: `{"status": "failed", "id": ..., "message": ..., "track_id": ...}`

Those calls are **unsigned**, best effort and possibly duplicated. So this
module validates their shape, keeps only `track_id`, the generation id and the
status, and never trusts them for more than an id to fetch: a later run fetches
that id, and the fetch stays the source of truth.

Layout, under the output folder (any fsspec URL plus `storage_options`):

    <output>/.modelslab/webhooks/<track_id>.<sha256(track_id)[:12]>.json

The short hash keeps two track ids that differ only in case apart on
case-insensitive disks. Each file holds exactly:

    {"track_id": "t-1", "generation_id": "65919758", "status": "success",
     "received_at": "2026-11-26T14:30:00.123456Z", "calls": 2,
     "generation_ids": ["65919758"]}

`generation_id`, `status` and `received_at` are those of the first call;
`calls` counts every accepted call for the track id; `generation_ids` lists the
distinct ids seen in order of arrival (at most `MAX_GENERATION_IDS`). A duplicate
(same track id, same id) only bumps `calls`. Every write is atomic (temporary
name, then move), so a reader never sees half a file.

What may be written, and how much (a receiver is exposed to anyone):

* Only a call for a track id that `track_id_wanted` accepts is stored: the
  track id of a journal entry that is being submitted or whose outcome is
  unknown (states `claimed`, `submitting`, `outcome_unknown`). A made-up track
  id, or one of an entry that already has its id (`submitted`, `finished`),
  is refused after reading that one entry, and nothing is written.
* At most `MAX_RECORDS` (1000) record files per folder: past it a call that
  would add a record raises `WebhookStoreFullError` (the receiver answers 507)
  and nothing is written; calls for track ids already recorded are still
  merged. Records are never deleted by runs: delete old ones to make room.
* At most `MAX_GENERATION_IDS` (5) generation ids per track id.
* The receiver listens only on a secret path, `<path>/<token>`: the token is
  made once per output folder by `webhook_token` and kept in
  `<output>/.modelslab/webhooks/token`. The webhook URL is therefore a
  secret, as is that file: runs may read it, nobody logs it.

Pieces:

* `WebhookStore`: validate and record a call, read one track id, list all.
* `track_id_wanted`: the one rule for which track ids may be stored.
* `webhook_token`: the folder's secret path token (created once, then reused).
* `prefect_modelslab.runtime.receiver.webhook_app(...)`: the Starlette (ASGI) app to
  mount behind your own HTTPS; it also rate-limits calls.
* `prefect_modelslab.runtime.serving.BackgroundServer` serves it in a thread (tests, demos).
* `prefect-modelslab webhook-receiver --out URL`: the same app from the shell.

One receiver process per output folder: calls for one track id are serialised
inside a process, not across processes, and the record count is kept by the
process (recounted by listing the folder when it reaches the cap).

Example:
    ```python
    from prefect_modelslab.ledger.webhooks import WebhookStore, webhook_token
    from prefect_modelslab.runtime.receiver import webhook_app

    app = webhook_app("videos")  # listens on /modelslab/webhook/<token>
    hook = f"https://you.example/modelslab/webhook/{webhook_token('videos')}"  # a secret
    call = WebhookStore("videos").read("a-red-fox.1a2b3c4d")
    if call is not None:
        print("fetch", call.generation_ids)  # a hint: fetch decides
    ```
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from prefect_modelslab.ledger import storage
from prefect_modelslab.ledger.entry import EntryState
from prefect_modelslab.ledger.ledger import Ledger
from prefect_modelslab.ledger.names import id_problem

__all__ = [
    "MAX_GENERATION_IDS",
    "MAX_RECORDS",
    "TOKEN_FILE",
    "TOKEN_RE",
    "TRACK_ID_RE",
    "WANTED_STATES",
    "WEBHOOK_DIR",
    "InvalidWebhookError",
    "WebhookCall",
    "WebhookStatus",
    "WebhookStore",
    "WebhookStoreFullError",
    "check_track_id",
    "file_name",
    "parse_call",
    "track_id_wanted",
    "webhook_token",
]

logger = logging.getLogger(__name__)

#: Folder, under the output folder, that holds one file per track id.
WEBHOOK_DIR = ".modelslab/webhooks"
#: Distinct generation ids kept per track id; later new ids are not stored.
MAX_GENERATION_IDS = 5
#: Record files per folder; a call that would add one more is refused.
MAX_RECORDS = 1000
#: The file, in `WEBHOOK_DIR`, that holds the folder's secret path token.
TOKEN_FILE = "token"  # noqa: S105 - a file name, not a secret
#: What a token looks like (`secrets.token_urlsafe` output; at least 128 bits).
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{22,128}")
#: States of an entry that may still need a webhook call's generation id.
WANTED_STATES: frozenset[EntryState] = frozenset({"claimed", "submitting", "outcome_unknown"})
#: The track ids we send, and the only ones accepted.
TRACK_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
# Ids go into a fetch URL path: no slashes, no dot-only names, bounded length.
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LOCK_STRIPES = 32

#: The status kept: `error` calls count as `failed`.
WebhookStatus = Literal["success", "failed"]
_STATUSES: dict[str, WebhookStatus] = {"success": "success", "failed": "failed", "error": "failed"}


class InvalidWebhookError(ValueError):
    """A webhook call (or a track id) does not have the shape of the spec.

    Attributes:
        reason: A fixed sentence naming the problem; it never quotes the body.

    Example:
        ```python
        try:
            WebhookStore("videos").record({"status": "processing", "id": 1, "track_id": "t-1"})
        except InvalidWebhookError as err:
            print(err.reason)  # status must be 'success' or 'failed'
        ```
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WebhookStoreFullError(Exception):
    """The folder already holds `max_records` records; the call was not stored.

    Attributes:
        max_records: The cap that was reached.

    Example:
        ```python
        try:
            WebhookStore("videos", max_records=0).record(
                {"status": "success", "id": 1, "track_id": "t-1"}
            )
        except WebhookStoreFullError as err:
            print(err)  # the webhook folder already holds 0 records (the cap); ...
        ```
    """

    def __init__(self, max_records: int) -> None:
        super().__init__(
            f"the webhook folder already holds {max_records} records (the cap); "
            "delete old records to make room"
        )
        self.max_records = max_records


class WebhookCall(BaseModel):
    """What is kept of the webhook calls for one track id: ids, never the body.

    Example:
        ```python
        call = WebhookStore("/data/videos").read("t-1")
        if call is not None and call.status == "success":
            print(call.generation_id, call.calls)
        ```
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    track_id: str = Field(description="The track id the submit sent and the call echoed.")
    generation_id: str = Field(description="The generation id of the first call.")
    status: WebhookStatus = Field(description="What the first call said: a hint, not a fact.")
    received_at: datetime = Field(description="When the first call arrived (UTC).")
    calls: int = Field(ge=1, description="Accepted calls for this track id, duplicates included.")
    generation_ids: tuple[str, ...] = Field(
        description="Distinct generation ids in order of arrival, at most MAX_GENERATION_IDS."
    )


def check_track_id(value: object) -> str:
    """`value` if it is a track id this module accepts.

    Raises:
        InvalidWebhookError: It is missing, not a string or outside `[A-Za-z0-9._-]{1,128}`.

    Example:
        ```python
        check_track_id("a-red-fox-1a2b3c4d")  # 'a-red-fox-1a2b3c4d'
        ```
    """
    if value is None or value == "":
        raise InvalidWebhookError("track_id is missing")
    if not isinstance(value, str) or TRACK_ID_RE.fullmatch(value) is None:
        raise InvalidWebhookError("track_id must be 1 to 128 characters from A-Z a-z 0-9 . _ -")
    return value


def _generation_id(value: object) -> str:
    if value is None or value == "":
        raise InvalidWebhookError("id is missing or empty")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidWebhookError("id must be an integer or a string")
    if isinstance(value, int):
        if value < 0:
            raise InvalidWebhookError("id must not be negative")
        value = str(value)
    if _ID_RE.fullmatch(value) is None:
        raise InvalidWebhookError(
            "id must be 1 to 64 characters from A-Z a-z 0-9 . _ - (starting with a letter or digit)"
        )
    return value


def parse_call(payload: object) -> tuple[str, str, WebhookStatus]:
    """The `(track_id, generation_id, status)` of a webhook body, validated.

    `status` `error` counts as `failed`; an integer id becomes its decimal string.

    Raises:
        InvalidWebhookError: The body is not a call of the spec (the reason says why).

    Example:
        ```python
        parse_call({"status": "success", "id": 42, "track_id": "t-1"})  # ('t-1', '42', 'success')
        ```
    """
    if not isinstance(payload, Mapping):
        raise InvalidWebhookError("the body is not a JSON object")
    raw_status = payload.get("status")
    status = _STATUSES.get(raw_status) if isinstance(raw_status, str) else None
    if status is None:
        raise InvalidWebhookError("status must be 'success' or 'failed'")
    generation_id = _generation_id(payload.get("id"))
    track_id = check_track_id(payload.get("track_id"))
    return track_id, generation_id, status


def track_id_wanted(
    output_url: str, track_id: str, storage_options: dict[str, Any] | None = None
) -> bool:
    """Whether a webhook call for `track_id` may be stored under `output_url`.

    The rule: the video's name is the track id up to its last `.` (track ids
    are `<video name>.<8 hex>`); that name's entry must exist, be in
    one of `WANTED_STATES` (`claimed`, `submitting`, `outcome_unknown`: being
    submitted, or sent with the answer lost) and hold exactly this `track_id`.
    Everything else (a made-up id, an old claim's id, an entry that already has
    its generation id) is not wanted. It reads that one entry and nothing else;
    an unreadable entry is not wanted.

    Example:
        ```python
        track_id_wanted("videos", "a-red-fox.1a2b3c4d")  # False unless that entry waits
        ```
    """
    name, dot, _ = track_id.rpartition(".")
    if not dot or id_problem(name) is not None:
        return False
    try:
        entry = Ledger(output_url, storage_options).read_now(name)
    except ValueError:
        logger.warning("the entry of %s is unreadable; webhook call not wanted", name)
        return False
    return entry is not None and entry.state in WANTED_STATES and entry.track_id == track_id


def webhook_token(
    output_url: str, storage_options: dict[str, Any] | None = None, *, create: bool = True
) -> str | None:
    """The secret path token of the receiver for `output_url`, made once per folder.

    The first call creates `<output>/.modelslab/webhooks/token`
    (`secrets.token_urlsafe(24)`, created exclusively, so two receivers
    starting together agree); later calls read it back. The token is a secret:
    anyone who has it can post calls. Never log it.

    Args:
        output_url: The output folder (any fsspec URL).
        storage_options: Options for the folder's filesystem.
        create: Create the token when there is none (else return None).

    Raises:
        ValueError: The token file exists but does not hold a token (its text is
            not quoted; delete the file to make a new token).

    Example:
        ```python
        token = webhook_token("videos")
        assert webhook_token("videos") == token
        ```
    """
    url = storage.join_url(output_url, WEBHOOK_DIR, TOKEN_FILE)
    existing = _read_token(url, storage_options)
    if existing is not None or not create:
        return existing
    token = secrets.token_urlsafe(24)
    if storage.create_exclusive(url, token.encode("ascii"), storage_options):
        return token
    # Another receiver made it first: use theirs.
    found = _read_token(url, storage_options)
    if found is None:
        raise ValueError(f"the webhook token file {url} vanished while it was being made")
    return found


def _read_token(url: str, storage_options: dict[str, Any] | None) -> str | None:
    fs, path = storage.get_filesystem(url, storage_options)
    fs.invalidate_cache(path)
    try:
        with fs.open(path, "rb") as handle:
            raw: bytes = handle.read(256)
    except FileNotFoundError:
        return None
    token = raw.decode("ascii", errors="replace").strip()
    if TOKEN_RE.fullmatch(token) is None:
        raise ValueError(
            f"{url} does not hold a webhook token; delete it to make a new one "
            "(the receiver's URL changes)"
        )
    return token


def file_name(track_id: str) -> str:
    """A track id's record file: `<track id>.<first 12 hex digits of its sha256>.json`."""
    check_track_id(track_id)
    digest = hashlib.sha256(track_id.encode("ascii")).hexdigest()[:12]
    return f"{track_id}.{digest}.json"


class WebhookStore:
    """The webhook calls recorded under one output folder.

    Methods block (fsspec is synchronous); async callers use `asyncio.to_thread`.

    Args:
        output_url: The output folder (any fsspec URL); calls go under `WEBHOOK_DIR`.
        storage_options: Options for the folder's filesystem.
        max_records: Record files the folder may hold; a call that would add
            one more raises `WebhookStoreFullError`.

    Example:
        ```python
        store = WebhookStore("memory://videos")
        store.record({"status": "success", "id": 42, "track_id": "t-1", "output": ["..."]})
        store.read("t-1").generation_id  # '42'
        [call.track_id for call in store.list()]  # ['t-1']
        ```
    """

    def __init__(
        self,
        output_url: str,
        storage_options: dict[str, Any] | None = None,
        *,
        max_records: int = MAX_RECORDS,
    ) -> None:
        if max_records < 0:
            raise ValueError("max_records must not be negative")
        self.output_url = output_url
        self.storage_options = dict(storage_options or {})
        self.folder_url = storage.join_url(output_url, WEBHOOK_DIR)
        self.max_records = max_records
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]
        self._count_lock = threading.Lock()
        self._count: int | None = None  # records in the folder, as this process knows

    def __repr__(self) -> str:
        return f"WebhookStore({self.folder_url!r})"  # never the storage options

    def url_for(self, track_id: str) -> str:
        """The URL of the record for `track_id`.

        Example:
            ```python
            WebhookStore("s3://b/videos").url_for("t-1")
            # 's3://b/videos/.modelslab/webhooks/t-1.<hash>.json'
            ```
        """
        return storage.join_url(self.folder_url, file_name(track_id))

    def record(self, payload: Mapping[str, Any]) -> WebhookCall:
        """Validate one webhook body and merge it into its track id's record.

        Only the track id, the generation id and the status are kept. A duplicate
        bumps `calls`; a new id for a known track id is added to
        `generation_ids` (up to `MAX_GENERATION_IDS`, later ones are dropped).

        Returns:
            The record after this call.

        Raises:
            InvalidWebhookError: The body is not a call of the spec; nothing is written.
            WebhookStoreFullError: It would add a record past `max_records`; nothing
                is written.
            OSError: The storage failed; the previous record (if any) is intact.

        Example:
            ```python
            call = WebhookStore("videos").record({"status": "failed", "id": "7", "track_id": "t-2"})
            call.status, call.calls  # ('failed', 1)
            ```
        """
        track_id, generation_id, status = parse_call(payload)
        url = self.url_for(track_id)
        with self._locks[hash(track_id) % _LOCK_STRIPES]:
            new_file = False
            try:
                previous = self._load(url, track_id)
                new_file = previous is None
            except ValueError:
                logger.warning(
                    "webhook record for track_id=%s is unreadable; replacing it", track_id
                )
                previous = None
            call = _merge(previous, track_id, generation_id, status)
            if new_file:
                self._take_slot()
            try:
                storage.write_model(url, call, self.storage_options)
            except BaseException:
                if new_file:
                    self._give_slot()
                raise
        logger.info(
            "webhook call stored: track_id=%s id=%s status=%s calls=%d",
            track_id,
            generation_id,
            status,
            call.calls,
        )
        return call

    def read(self, track_id: str) -> WebhookCall | None:
        """The record for `track_id`, or None when no call arrived for it.

        Raises:
            InvalidWebhookError: `track_id` is not one this module accepts.
            ValueError: The record exists but cannot be read (it is left in place).

        Example:
            ```python
            call = WebhookStore("videos").read("t-1")
            ```
        """
        return self._load(self.url_for(track_id), track_id)

    def count(self) -> int:
        """How many record files the folder holds now (one listing).

        Example:
            ```python
            WebhookStore("videos").count()  # 0 for a new folder
            ```
        """
        return len(self._record_names())

    def _record_names(self) -> list[str]:
        fs, path = storage.get_filesystem(self.folder_url, self.storage_options)
        fs.invalidate_cache(path)  # another process writes here
        try:
            names = [str(p).rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(path, detail=False)]
        except FileNotFoundError:
            return []
        # Temporary names end in `.part-<hex>`, never in `.json`; the token is not a record.
        return sorted(n for n in names if n.endswith(".json"))

    def _take_slot(self) -> None:
        """Count one new record, or refuse it at the cap (recounting the folder first)."""
        with self._count_lock:
            if self._count is None or self._count >= self.max_records:
                self._count = self.count()  # records may have been deleted since
            if self._count >= self.max_records:
                raise WebhookStoreFullError(self.max_records)
            self._count += 1

    def _give_slot(self) -> None:
        with self._count_lock:
            if self._count:
                self._count -= 1

    def list(self) -> list[WebhookCall]:
        """Every readable record, oldest first; unreadable files are skipped and logged.

        Example:
            ```python
            for call in WebhookStore("videos").list():
                print(call.track_id, call.generation_ids)
            ```
        """
        calls: list[WebhookCall] = []
        for name in self._record_names():
            url = storage.join_url(self.folder_url, name)
            try:
                call = self._load(url, None)
            except ValueError as err:
                logger.warning("skipping webhook record %s: %s", name, err)
                continue
            if call is not None:
                calls.append(call)
        calls.sort(key=lambda c: (c.received_at, c.track_id))
        return calls

    def _load(self, url: str, track_id: str | None) -> WebhookCall | None:
        fs, path = storage.get_filesystem(url, self.storage_options)
        fs.invalidate_cache(path)  # a listing cached by s3fs may predate the receiver's write
        call = storage.read_model(url, WebhookCall, self.storage_options)
        if call is None:
            return None
        expected = file_name(call.track_id) == url.rsplit("/", 1)[-1]
        if (track_id is not None and call.track_id != track_id) or not expected:
            raise ValueError(f"webhook record {url} holds another track id")
        return call


def _merge(
    previous: WebhookCall | None, track_id: str, generation_id: str, status: WebhookStatus
) -> WebhookCall:
    if previous is None:
        return WebhookCall(
            track_id=track_id,
            generation_id=generation_id,
            status=status,
            received_at=datetime.now(UTC),
            calls=1,
            generation_ids=(generation_id,),
        )
    ids = previous.generation_ids
    if generation_id not in ids:
        if len(ids) < MAX_GENERATION_IDS:
            ids = (*ids, generation_id)
        else:
            logger.warning(
                "webhook track_id=%s already has %d ids; id=%s not kept",
                track_id,
                MAX_GENERATION_IDS,
                generation_id,
            )
    return previous.model_copy(update={"calls": previous.calls + 1, "generation_ids": ids})
