"""WebhookStore: validation, what is kept, dedupe, atomic writes, local disk and memory://."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest

from prefect_modelslab.ledger import storage
from prefect_modelslab.ledger.webhooks import (
    MAX_GENERATION_IDS,
    InvalidWebhookError,
    WebhookStore,
    WebhookStoreFullError,
    file_name,
    webhook_token,
)

from .helpers import stored_names, success

KEPT = {"track_id", "generation_id", "status", "received_at", "calls", "generation_ids"}

BAD_BODY = "the body is not a JSON object"
BAD_STATUS = "status must be 'success' or 'failed'"
NO_ID = "id is missing or empty"
ID_TYPE = "id must be an integer or a string"
ID_NEGATIVE = "id must not be negative"
ID_CHARS = "id must be 1 to 64 characters from A-Z a-z 0-9 . _ - (starting with a letter or digit)"
NO_TRACK = "track_id is missing"
TRACK_CHARS = "track_id must be 1 to 128 characters from A-Z a-z 0-9 . _ -"

_MISSING = object()


def _with(**changes: Any) -> dict[str, Any]:
    """A success call with fields changed (`_MISSING` removes one)."""
    body = success()
    for name, value in changes.items():
        if value is _MISSING:
            del body[name]
        else:
            body[name] = value
    return body


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ([success()], BAD_BODY),
        ("success", BAD_BODY),
        (None, BAD_BODY),
        (_with(status=_MISSING), BAD_STATUS),
        (_with(status="processing"), BAD_STATUS),
        (_with(status="SUCCESS"), BAD_STATUS),
        (_with(status=1), BAD_STATUS),
        (_with(id=_MISSING), NO_ID),
        (_with(id=""), NO_ID),
        (_with(id=None), NO_ID),
        (_with(id=True), ID_TYPE),
        (_with(id=12.0), ID_TYPE),
        (_with(id=[12]), ID_TYPE),
        (_with(id={"id": 12}), ID_TYPE),
        (_with(id=-3), ID_NEGATIVE),
        (_with(id="../../account"), ID_CHARS),
        (_with(id="12/34"), ID_CHARS),
        (_with(id=" 12"), ID_CHARS),
        (_with(id=".."), ID_CHARS),
        (_with(id="x" * 65), ID_CHARS),
        (_with(id=10**70), ID_CHARS),
        (_with(track_id=_MISSING), NO_TRACK),
        (_with(track_id=None), NO_TRACK),
        (_with(track_id=""), NO_TRACK),
        (_with(track_id=7), TRACK_CHARS),
        (_with(track_id="a/b"), TRACK_CHARS),
        (_with(track_id="../escape"), TRACK_CHARS),
        (_with(track_id="t 1"), TRACK_CHARS),
        (_with(track_id="t-1\n"), TRACK_CHARS),
        (_with(track_id="caf\u00e9"), TRACK_CHARS),
        (_with(track_id="x" * 129), TRACK_CHARS),
    ],
)
def test_bad_shapes_are_refused_with_their_reason_and_nothing_is_written(
    store: WebhookStore, payload: Any, reason: str
) -> None:
    with pytest.raises(InvalidWebhookError) as caught:
        store.record(payload)

    assert caught.value.reason == reason
    assert str(caught.value) == reason
    assert isinstance(caught.value, ValueError)
    assert stored_names(store) == []


def test_a_success_call_keeps_only_the_ids(store: WebhookStore) -> None:
    body = success() | {"key": "SECRET-KEY-MARKER", "extra": {"nested": "EXTRA-MARKER"}}
    body["generationTime"] = 987.654321  # a figure no timestamp can contain by chance

    call = store.record(body)

    assert call.track_id == "t-1"
    assert call.generation_id == "65919758"
    assert call.status == "success"
    assert call.calls == 1
    assert call.generation_ids == ("65919758",)
    assert call.received_at.tzinfo is not None
    assert stored_names(store) == [file_name("t-1")]
    raw = storage.read_json(store.url_for("t-1"))
    assert set(raw) == KEPT
    text = json.dumps(raw)
    for marker in ("SECRET-KEY-MARKER", "EXTRA-MARKER", "cdn.example", "me.example", "987.654"):
        assert marker not in text
    assert store.read("t-1") == call


@pytest.mark.parametrize(
    ("status", "generation_id", "kept"),
    [
        ("failed", 7, ("failed", "7")),
        ("error", "7", ("failed", "7")),
        ("success", "65919758", ("success", "65919758")),
        ("success", 0, ("success", "0")),
        ("success", "7f3c-uuid_like.v2", ("success", "7f3c-uuid_like.v2")),
        ("success", "x" * 64, ("success", "x" * 64)),
    ],
)
def test_accepted_statuses_and_ids(
    store: WebhookStore, status: str, generation_id: int | str, kept: tuple[str, str]
) -> None:
    body = {"status": status, "id": generation_id, "message": "GPU on fire", "track_id": "t-9"}

    call = store.record(body)

    assert (call.status, call.generation_id) == kept
    assert "GPU on fire" not in json.dumps(storage.read_json(store.url_for("t-9")))


@pytest.mark.parametrize("track_id", ["x" * 128, ".", "..", "-", "A.b_c-9"])
def test_odd_but_valid_track_ids_stay_inside_the_webhook_folder(
    store: WebhookStore, track_id: str
) -> None:
    store.record(success(track_id=track_id))

    assert stored_names(store) == [file_name(track_id)]
    assert store.url_for(track_id).startswith(store.folder_url + "/")
    read = store.read(track_id)
    assert read is not None and read.track_id == track_id


def test_track_ids_that_differ_in_case_get_names_that_differ_in_case_insensitive_storage() -> None:
    assert file_name("T-1").lower() != file_name("t-1").lower()


def test_a_duplicate_only_bumps_calls(store: WebhookStore) -> None:
    first = store.record(success())

    second = store.record(success())
    third = store.record(success(generation_id="65919758"))  # the same id, as a string

    assert (second.calls, third.calls) == (2, 3)
    assert third.generation_ids == ("65919758",)
    assert third.received_at == first.received_at
    assert store.read("t-1") == third
    assert stored_names(store) == [file_name("t-1")]


def test_a_later_call_never_rewrites_the_first_status(store: WebhookStore) -> None:
    store.record(success())

    call = store.record({"status": "failed", "id": 65919758, "track_id": "t-1"})

    assert (call.status, call.calls) == ("success", 2)


def test_other_ids_for_a_track_id_are_kept_up_to_a_bound(store: WebhookStore) -> None:
    for generation_id in range(1, MAX_GENERATION_IDS + 3):
        call = store.record(success(generation_id=generation_id))
    store.record(success(generation_id=2))

    call = store.read("t-1")  # type: ignore[assignment]
    assert call is not None
    assert call.generation_id == "1"
    assert call.generation_ids == tuple(str(n) for n in range(1, MAX_GENERATION_IDS + 1))
    assert call.calls == MAX_GENERATION_IDS + 3


def test_track_ids_are_kept_apart(store: WebhookStore) -> None:
    store.record(success(track_id="t-1", generation_id=1))
    store.record({"status": "failed", "id": 2, "track_id": "t-2"})

    one, two = store.read("t-1"), store.read("t-2")

    assert one is not None and two is not None
    assert (one.generation_id, one.status) == ("1", "success")
    assert (two.generation_id, two.status) == ("2", "failed")


def test_read_unknown_and_invalid_track_ids(store: WebhookStore) -> None:
    assert store.read("never-called") is None
    with pytest.raises(InvalidWebhookError, match="track_id must be"):
        store.read("../journal/x")


def test_list_is_oldest_first_and_skips_temporary_and_unreadable_files(
    store: WebhookStore, caplog: pytest.LogCaptureFixture
) -> None:
    assert store.list() == []
    for track_id in ("b", "a", "c"):
        store.record(success(track_id=track_id))
    # A writer killed mid-write leaves a temporary name; a stray file is not a record.
    storage.write_bytes_atomic(storage.temp_sibling(store.url_for("z")), b'{"track_id": "z"')
    storage.write_bytes_atomic(f"{store.folder_url}/junk.json", b"not json")
    storage.write_bytes_atomic(f"{store.folder_url}/notes.txt", b"hello")

    with caplog.at_level(logging.WARNING, logger="prefect_modelslab.ledger.webhooks"):
        calls = store.list()

    assert [call.track_id for call in calls] == ["b", "a", "c"]
    assert "junk.json" in caplog.text


def test_a_record_under_another_track_ids_name_is_not_trusted(store: WebhookStore) -> None:
    store.record(success(track_id="t-2", generation_id=2))
    forged = storage.read_json(store.url_for("t-2"))
    storage.write_json_atomic(store.url_for("t-1"), forged)

    with pytest.raises(ValueError, match="another track id"):
        store.read("t-1")
    assert [call.track_id for call in store.list()] == ["t-2"]

    replaced = store.record(success(track_id="t-1", generation_id=1))  # replaces the bad file
    assert (replaced.generation_ids, replaced.calls) == (("1",), 1)


def test_a_failed_write_leaves_the_previous_record_whole_and_no_partial_file(
    store: WebhookStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.record(success())
    written: list[int] = []

    def fail_after_writing(self: storage.AtomicFile) -> None:
        written.append(self.bytes_written)
        raise OSError("disk full")

    monkeypatch.setattr(storage.AtomicFile, "commit", fail_after_writing)

    with pytest.raises(OSError, match="disk full"):
        store.record(success(generation_id=2))

    assert written and written[0] > 0  # the new record was written, under a temporary name
    assert stored_names(store) == [file_name("t-1")]
    call = store.read("t-1")
    assert call is not None and (call.calls, call.generation_ids) == (1, ("65919758",))


def test_concurrent_calls_for_one_track_id_are_all_counted(store: WebhookStore) -> None:
    threads = 8
    per_thread = 5
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def post(n: int) -> None:
        start.wait()
        try:
            for i in range(per_thread):
                store.record(success(generation_id=(n * per_thread + i) % 3 + 1))
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=post, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    call = store.read("t-1")
    assert call is not None
    assert call.calls == threads * per_thread
    assert sorted(call.generation_ids) == ["1", "2", "3"]
    assert stored_names(store) == [file_name("t-1")]


def test_repr_shows_the_folder_and_never_the_storage_options() -> None:
    store = WebhookStore("s3://bucket/videos", {"secret": "S3-SECRET-MARKER"})

    assert "S3-SECRET-MARKER" not in repr(store)
    assert store.folder_url == "s3://bucket/videos/.modelslab/webhooks"


def test_the_cap_refuses_a_new_record_but_merges_known_ones(output_url: str) -> None:
    store = WebhookStore(output_url, max_records=2)
    store.record(success("t-1"))
    store.record(success("t-2"))

    with pytest.raises(WebhookStoreFullError, match="already holds 2 records"):
        store.record(success("t-3"))
    assert store.record(success("t-1", 7)).generation_ids == ("65919758", "7")
    assert stored_names(store) == sorted([file_name("t-1"), file_name("t-2")])
    assert store.count() == 2


def test_the_cap_counts_records_other_stores_wrote_and_frees_room_when_they_go(
    output_url: str,
) -> None:
    WebhookStore(output_url).record(success("t-1"))
    webhook_token(output_url)  # the token file is not a record
    store = WebhookStore(output_url, max_records=1)

    with pytest.raises(WebhookStoreFullError):
        store.record(success("t-2"))
    storage.remove(store.url_for("t-1"))
    assert store.record(success("t-2")).calls == 1
    assert [c.track_id for c in store.list()] == ["t-2"]
