"""What keeps an exposed receiver safe: the secret path, wanted track ids, the cap, rate limits.

Every test runs through httpx's ASGI transport against the real app and a real
output folder (local disk, memory:// and S3 on moto where it takes `folder`).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from prefect_modelslab.ledger import storage
from prefect_modelslab.ledger.entry import EntryState
from prefect_modelslab.ledger.webhooks import (
    MAX_RECORDS,
    TOKEN_FILE,
    WEBHOOK_DIR,
    WebhookStore,
    file_name,
    track_id_wanted,
    webhook_token,
)
from prefect_modelslab.runtime.receiver import DEFAULT_PATH, ReceiverLimits, webhook_app

from .helpers import Folder, all_files, any_track_id, put_entry, stored_names, success


def _client(app: Starlette, client: tuple[str, int] = ("127.0.0.1", 123)) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client))


def _hook(app: Starlette) -> str:
    return f"http://receiver{app.state.webhook_path}"


def _app(folder: Folder, **settings: Any) -> Starlette:
    return webhook_app(folder.url, storage_options=folder.options, **settings)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Spy:
    """A `wanted` filter that counts its calls and answers `answer`."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.calls: list[str] = []

    def __call__(self, output_url: str, track_id: str, options: dict[str, Any] | None) -> bool:
        self.calls.append(track_id)
        return self.answer


# --- the secret path ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        DEFAULT_PATH,
        f"{DEFAULT_PATH}/",
        f"{DEFAULT_PATH}/not-the-token-but-long-enough-1234",
        "/",
        "/modelslab",
        "/webhook",
    ],
    ids=["bare", "bare-slash", "wrong-token", "root", "prefix", "other"],
)
async def test_any_path_but_the_secret_one_answers_404_and_writes_nothing(
    folder: Folder, path: str
) -> None:
    entry = put_entry(folder, "fox", "outcome_unknown")
    app = _app(folder)
    before = all_files(folder)
    async with _client(app) as client:
        answer = await client.post(f"http://receiver{path}", json=success(entry.track_id or ""))
        right = await client.get(_hook(app))

    assert answer.status_code == 404
    assert answer.json() == {"status": "error", "message": "not found"}
    assert all_files(folder) == before
    assert right.status_code == 405  # the secret path exists; it takes POST only


async def test_a_wrong_token_with_the_right_prefix_looks_like_any_unknown_path(
    folder: Folder,
) -> None:
    app = _app(folder, wanted=any_track_id)
    token = app.state.webhook_path.rsplit("/", 1)[1]
    async with _client(app) as client:
        other = "y" if token.endswith("x") else "x"  # one character off, never the token
        near = await client.post(
            f"http://receiver{DEFAULT_PATH}/{token[:-1]}{other}", json=success()
        )
        longer = await client.post(f"{_hook(app)}x", json=success())
        elsewhere = await client.post("http://receiver/nothing/here", json=success())

    assert [r.status_code for r in (near, longer, elsewhere)] == [404, 404, 404]
    assert near.content == elsewhere.content == longer.content
    assert stored_names(WebhookStore(folder.url, folder.options)) == []


async def test_wrong_paths_never_reach_the_filter_nor_the_store(
    folder: Folder, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy()
    app = _app(folder, wanted=spy)
    touched: list[str] = []
    monkeypatch.setattr(storage, "get_filesystem", lambda *a, **k: touched.append("fs"))
    async with _client(app) as client:
        for _ in range(5):
            answer = await client.post(f"http://receiver{DEFAULT_PATH}", json=success())
            assert answer.status_code == 404

    assert spy.calls == [] and touched == []


def test_the_token_is_made_once_per_folder_and_reused(folder: Folder, tmp_path: Any) -> None:
    first = _app(folder)
    second = _app(folder)
    other = webhook_app(str(tmp_path / "another"))

    token = first.state.webhook_path.rsplit("/", 1)[1]
    assert first.state.webhook_path == second.state.webhook_path == f"{DEFAULT_PATH}/{token}"
    assert other.state.webhook_path != first.state.webhook_path
    assert len(token) >= 32
    assert webhook_token(folder.url, folder.options) == token
    url = storage.join_url(folder.url, WEBHOOK_DIR, TOKEN_FILE)
    fs, path = storage.get_filesystem(url, folder.options)
    assert fs.cat_file(path).decode() == token


def test_receivers_starting_together_agree_on_one_token(folder: Folder) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=6) as pool:
        tokens = list(pool.map(lambda _: webhook_token(folder.url, folder.options), range(6)))

    assert len(set(tokens)) == 1
    assert webhook_token(folder.url, folder.options) == tokens[0]


def test_reading_the_token_never_creates_one_unless_asked(folder: Folder) -> None:
    assert webhook_token(folder.url, folder.options, create=False) is None
    made = webhook_token(folder.url, folder.options)
    assert webhook_token(folder.url, folder.options, create=False) == made


def test_a_broken_token_file_is_an_error_that_does_not_quote_it(output_url: str) -> None:
    url = storage.join_url(output_url, WEBHOOK_DIR, TOKEN_FILE)
    storage.write_bytes_atomic(url, b"has spaces SECRET-MARKER")

    with pytest.raises(ValueError, match="does not hold a webhook token") as caught:
        webhook_app(output_url)
    assert "SECRET-MARKER" not in str(caught.value)


def test_a_given_token_is_used_and_the_folder_gets_none(output_url: str) -> None:
    token = "given-token-of-a-decent-length-1234"
    app = webhook_app(output_url, token=token)

    assert app.state.webhook_path == f"{DEFAULT_PATH}/{token}"
    assert webhook_token(output_url, create=False) is None


async def test_the_token_never_appears_in_the_logs(
    output_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="prefect_modelslab"):
        app = webhook_app(output_url, limits=ReceiverLimits(client_burst=3))
        token = app.state.webhook_path.rsplit("/", 1)[1]
        async with _client(app) as client:
            await client.post(_hook(app), json=success("fox.0a1b2c3d"))  # not wanted
            await client.post(_hook(app), json={"status": "processing"})  # bad shape
            await client.get(_hook(app))  # wrong method
            await client.post(_hook(app), json=success())  # rate-limited
            await client.post(f"http://receiver{DEFAULT_PATH}/{token}x", json=success())

    assert "rate-limited" in caplog.text and "track_id=fox.0a1b2c3d" in caplog.text
    assert token not in caplog.text


# --- only track ids an entry waits for ---------------------------------------------------


@pytest.mark.parametrize("state", ["claimed", "submitting", "outcome_unknown"])
async def test_a_call_for_an_entry_that_may_need_it_is_stored(
    folder: Folder, state: EntryState
) -> None:
    entry = put_entry(folder, "fox", state)
    app = _app(folder)
    async with _client(app) as client:
        answer = await client.post(_hook(app), json=success(entry.track_id or "", 42))

    assert answer.status_code == 200
    call = WebhookStore(folder.url, folder.options).read(entry.track_id or "")
    assert call is not None and call.generation_ids == ("42",)


@pytest.mark.parametrize("state", ["submitted", "finished"])
async def test_a_call_for_an_entry_that_has_its_id_is_refused(
    folder: Folder, state: EntryState
) -> None:
    entry = put_entry(folder, "fox", state)
    app = _app(folder)
    before = all_files(folder)
    async with _client(app) as client:
        answer = await client.post(_hook(app), json=success(entry.track_id or ""))

    assert answer.status_code == 404
    assert answer.json()["message"] == "no video waits for this track id"
    assert all_files(folder) == before


@pytest.mark.parametrize(
    "track_id",
    ["fox.ffffffff", "wolf.0a1b2c3d", "fox", "0a1b2c3d", ".fox.0a1b2c3d", "-x.0a1b2c3d"],
    ids=["old-claim", "no-entry", "no-dot", "bare-hex", "dot-name", "unsafe-name"],
)
async def test_a_call_for_a_track_id_no_entry_waits_for_is_refused_and_writes_nothing(
    folder: Folder, track_id: str
) -> None:
    put_entry(folder, "fox", "outcome_unknown")  # its track id is fox.0a1b2c3d
    app = _app(folder)
    before = all_files(folder)
    async with _client(app) as client:
        answer = await client.post(_hook(app), json=success(track_id))

    assert answer.status_code == 404
    assert all_files(folder) == before


def test_track_id_wanted_reads_that_one_entry_and_nothing_else(
    output_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Folder(output_url)
    put_entry(folder, "fox", "submitting")
    read: list[str] = []
    real = storage.read_model

    def spy(url: str, model: Any, options: Any = None) -> Any:
        read.append(url.rsplit("/", 2)[-2] + "/" + url.rsplit("/", 1)[-1])
        return real(url, model, options)

    monkeypatch.setattr(storage, "read_model", spy)

    assert track_id_wanted(output_url, "fox.0a1b2c3d") is True
    assert track_id_wanted(output_url, "wolf.0a1b2c3d") is False
    assert track_id_wanted(output_url, "no-dot") is False
    # fox's newest entry version; for wolf, which has none, the earlier format's two files
    assert read == ["fox/00000001.json", "journal/wolf.json", "out/wolf.json"]


def test_an_unreadable_entry_is_not_wanted(output_url: str) -> None:
    url = storage.join_url(output_url, ".modelslab/entries/fox/00000001.json")
    storage.write_bytes_atomic(url, b"{broken")

    assert track_id_wanted(output_url, "fox.0a1b2c3d") is False


# --- the record cap ----------------------------------------------------------------------


async def test_past_the_cap_a_new_track_id_gets_507_and_nothing_is_written(
    folder: Folder,
) -> None:
    entries = [put_entry(folder, f"fox-{n}", "outcome_unknown") for n in range(3)]
    app = _app(folder, limits=ReceiverLimits(max_records=2))
    async with _client(app) as client:
        first = [await client.post(_hook(app), json=success(e.track_id or "")) for e in entries]
        before = all_files(folder)
        again = await client.post(_hook(app), json=success(entries[2].track_id or ""))
        after_refusals = all_files(folder)
        duplicate = await client.post(_hook(app), json=success(entries[0].track_id or ""))

    assert [a.status_code for a in first] == [200, 200, 507]
    assert first[2].json()["message"] == "the receiver holds too many records"
    assert again.status_code == 507 and after_refusals == before
    assert duplicate.status_code == 200  # a known track id adds no record
    store = WebhookStore(folder.url, folder.options)
    assert [c.track_id for c in store.list()] == [e.track_id for e in entries[:2]]
    assert store.read(entries[0].track_id or "").calls == 2  # type: ignore[union-attr]


async def test_the_default_cap_is_max_records_files(output_url: str) -> None:
    folder = Folder(output_url)
    store = WebhookStore(output_url)
    fs, path = storage.get_filesystem(store.folder_url)
    fs.makedirs(path, exist_ok=True)
    for n in range(MAX_RECORDS):  # old records of earlier batches
        fs.pipe_file(f"{path}/{file_name(f'old-{n}.0a1b2c3d')}", b"{}")
    entry = put_entry(folder, "fox", "outcome_unknown")
    app = webhook_app(output_url)
    async with _client(app) as client:
        full = await client.post(_hook(app), json=success(entry.track_id or ""))
        fs.rm_file(f"{path}/{file_name('old-0.0a1b2c3d')}")  # the operator makes room
        room = await client.post(_hook(app), json=success(entry.track_id or ""))

    assert (full.status_code, room.status_code) == (507, 200)
    assert store.count() == MAX_RECORDS


# --- rate limits -------------------------------------------------------------------------


async def test_a_burst_beyond_the_client_bucket_gets_429_with_retry_after(
    output_url: str,
) -> None:
    clock = Clock()
    spy = Spy()
    app = webhook_app(
        output_url, wanted=spy, limits=ReceiverLimits(client_rate=0.5, client_burst=3), clock=clock
    )
    async with _client(app) as client:
        burst = [await client.post(_hook(app), json=success()) for _ in range(4)]
        clock.now += 1.0  # half a token back: still refused
        early = await client.post(_hook(app), json=success())
        clock.now += 1.0  # one token
        later = await client.post(_hook(app), json=success())

    assert [a.status_code for a in burst] == [200, 200, 200, 429]
    assert burst[3].headers["retry-after"] == "2"  # one token at 0.5/s
    assert burst[3].json() == {"status": "error", "message": "too many calls"}
    assert (early.status_code, early.headers["retry-after"]) == (429, "1")
    assert later.status_code == 200
    assert len(spy.calls) == 4  # the refused calls never reached the filter


async def test_the_global_bucket_limits_all_clients_together(output_url: str) -> None:
    clock = Clock()
    app = webhook_app(
        output_url,
        wanted=any_track_id,
        limits=ReceiverLimits(global_rate=0.25, global_burst=2),
        clock=clock,
    )
    async with _client(app, ("10.0.0.1", 1)) as one, _client(app, ("10.0.0.2", 1)) as two:
        a = await one.post(_hook(app), json=success())
        b = await two.post(_hook(app), json=success())
        c = await two.post(_hook(app), json=success())
        d = await one.post(_hook(app), json=success())
        clock.now += 4.0
        e = await two.post(_hook(app), json=success())

    assert [r.status_code for r in (a, b, c, d, e)] == [200, 200, 429, 429, 200]
    assert c.headers["retry-after"] == "4"


async def test_each_client_has_its_own_bucket(output_url: str) -> None:
    clock = Clock()
    app = webhook_app(
        output_url, wanted=any_track_id, limits=ReceiverLimits(client_burst=1), clock=clock
    )
    async with _client(app, ("10.0.0.1", 1)) as one, _client(app, ("10.0.0.2", 1)) as two:
        answers = [
            await one.post(_hook(app), json=success()),
            await one.post(_hook(app), json=success()),
            await two.post(_hook(app), json=success()),
        ]

    assert [a.status_code for a in answers] == [200, 429, 200]


async def test_a_rate_limited_call_reads_no_storage_and_no_body(
    output_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = webhook_app(output_url, limits=ReceiverLimits(client_burst=1), clock=Clock())
    touched: list[str] = []
    async with _client(app) as client:
        await client.post(_hook(app), json=success("fox.0a1b2c3d"))
        monkeypatch.setattr(storage, "get_filesystem", lambda *a, **k: touched.append("fs"))
        limited = await client.post(
            _hook(app), content=b"{not json", headers={"content-type": "application/json"}
        )

    assert limited.status_code == 429  # not 400: the body was never read
    assert touched == []


def test_the_client_buckets_are_bounded() -> None:
    from prefect_modelslab.runtime.receiver import _RateLimiter

    limiter = _RateLimiter(ReceiverLimits(1.0, 1, 1e9, 10**9), Clock(), max_clients=3)
    for n in range(10):
        assert limiter.take(f"10.0.0.{n}") == 0.0

    assert list(limiter._clients) == ["10.0.0.7", "10.0.0.8", "10.0.0.9"]
