"""Crash safety and hostile conditions (issue 9): nothing paid twice, no paid video orphaned.

Real HTTP to the emulator, a real Prefect server (the session harness), real
local folders; the journal's states are read back from storage.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ledger_helpers import plant
from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.exceptions import (
    GenerationTimeoutError,
    ModelsLabTimeoutError,
    SubmitOutcomeUnknownError,
)
from prefect_modelslab.flows import run_video
from prefect_modelslab.flows.resolve import ResolveError, adopt_generation, clear_for_resubmit
from prefect_modelslab.ledger import Entry, Ledger, claim
from prefect_modelslab.ledger.names import video_name
from prefect_modelslab.ledger.webhooks import WebhookStore, check_track_id
from prefect_modelslab.runtime.receiver import webhook_app
from prefect_modelslab.runtime.serving import BackgroundServer
from prefect_modelslab.tasks import submit_video
from prefect_modelslab.testing import Fault, ModelsLabEmulator

pytestmark = pytest.mark.filterwarnings(
    "ignore:Logger 'prefect.task_runs' attempted to send logs:UserWarning"
)


def _request(prompt: str, **extra: Any) -> Text2VideoRequest:
    values: dict[str, Any] = {"width": 64, "height": 64, "num_frames": 4, "fps": 4}
    return Text2VideoRequest(prompt=prompt, **{**values, **extra})


def _billed_ids(emulator: ModelsLabEmulator) -> list[str]:
    """What a person sees in the account: the ids of the billed generations."""
    return sorted(emulator._state._generations)


async def _wait_for(predicate: Any) -> None:
    """A hang guard: poll `predicate` until it holds, for up to 20 s (never a timing assert)."""
    for _ in range(400):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


#: A short wait: a fetch that keeps failing transiently ends the wait at this deadline.
SHORT_WAIT_S = 2.0


# --- item 1: a transient fetch error never ends a journal entry ---------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault("fetch_error_200"),  # "Something went wrong, please try again"
        Fault("fetch_error_200", message="Invalid API Request"),
        Fault("fetch_status", status=404),  # 404 with {"status": "error"}
    ],
    ids=["error_200", "invalid_api_request", "status_404"],
)
async def test_one_transient_fetch_error_does_not_fail_the_row(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path, fault: Fault
) -> None:
    emulator.inject(fault)
    request = _request(f"a fox through a hiccup {fault.status} {fault.message}")
    result = await run_video(request, str(folder), credentials)
    assert result.passed
    assert emulator.counters.submits_by_prompt == {request.prompt: 1}
    entry = await Ledger(str(folder)).read(result.name)
    assert entry is not None and entry.state == "finished"


async def test_request_not_found_keeps_the_entry_and_a_rerun_resumes_it(
    credentials: ModelsLabCredentials,
    emulator: ModelsLabEmulator,
    folder: Path,
) -> None:
    request = _request("a fox the server forgot for a while")
    name = video_name(request)
    ledger = Ledger(str(folder))
    # Every fetch answers 404 {"status": "error", "message": "Request not found"}.
    emulator.inject(
        Fault("fetch_status", status=404, message="Request not found", times=None),
    )
    with pytest.raises(GenerationTimeoutError) as caught:
        await run_video(request, str(folder), credentials, max_wait_seconds=SHORT_WAIT_S)
    assert "Request not found" in str(caught.value)  # the last failure, named
    assert "a re-run resumes it" in str(caught.value)
    entry = await ledger.read(name)
    assert entry is not None and entry.state == "submitted" and entry.generation_id

    emulator._state.faults.clear()  # the server is itself again
    result = await run_video(request, str(folder), credentials)
    assert result.passed and result.resumed and result.generation_id == entry.generation_id
    assert emulator.counters.submits_by_prompt == {request.prompt: 1}


async def test_an_unknown_id_answer_never_deletes_the_entry(
    credentials: ModelsLabCredentials,
    emulator: ModelsLabEmulator,
    folder: Path,
) -> None:
    # The emulator answers {"status":"failed","id":"","message":"Request not found"}.
    request = _request("a fox with a lost id")
    name = video_name(request)
    ledger = Ledger(str(folder))
    held = await claim(ledger, name, request, current=None, source=None)
    assert held is not None
    job = await submit_video.fn(credentials, request, name=name, claim=held)
    held.end()
    lost = job.model_copy(update={"generation_id": "99999"})
    await plant(str(folder), name, request, state="submitted", generation_id="99999", job=lost)
    with pytest.raises(GenerationTimeoutError, match="Request not found"):
        await run_video(request, str(folder), credentials, max_wait_seconds=SHORT_WAIT_S)
    entry = await ledger.read(name)
    assert entry is not None and entry.generation_id == "99999"
    assert emulator.counters.submits_by_prompt == {request.prompt: 1}


# --- item 2: two runs into one folder pay once ---------------------------------------------


async def test_two_runs_of_one_video_at_once_pay_once(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    request = _request("a fox wanted twice")
    first, second = await asyncio.gather(
        run_video(request, str(folder), credentials),
        run_video(request, str(folder), credentials),
    )
    assert first.passed and second.passed
    assert first.generation_id == second.generation_id
    assert emulator.counters.submits_by_prompt == {request.prompt: 1}
    assert sorted([first.reused, second.reused]) == [False, True]


async def _foreign_claim(
    folder: Path, request: Text2VideoRequest, *, owner: str, age_s: float
) -> Entry:
    """Plant a claim of another run, last refreshed `age_s` seconds ago."""
    from datetime import UTC, datetime, timedelta

    when = datetime.now(UTC) - timedelta(seconds=age_s)
    return await plant(
        str(folder),
        video_name(request),
        request,
        state="claimed",
        track_id=f"{video_name(request)}.deadbeef",
        owner=owner,
        claim_token="t" * 32,
        created_at=when,
        updated_at=when,
    )


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


async def test_a_claim_of_a_dead_process_is_taken_over(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    request = _request("a fox claimed by the dead")
    owner = f"{socket.gethostname()}:{_dead_pid()}:feedface"
    await _foreign_claim(folder, request, owner=owner, age_s=1)
    result = await run_video(request, str(folder), credentials)
    assert result.passed
    assert emulator.counters.submits_by_prompt == {request.prompt: 1}


async def test_a_live_claim_of_another_run_is_waited_for_never_submitted_over(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    request = _request("a fox claimed elsewhere")
    await _foreign_claim(folder, request, owner="other-host:123:abc", age_s=1)
    with pytest.raises(ModelsLabTimeoutError, match="another run"):
        await run_video(request, str(folder), credentials, max_wait_seconds=1.5)
    assert emulator.counters.submit_requests == 0

    await _foreign_claim(folder, request, owner="other-host:123:abc", age_s=3600)  # no heartbeat
    result = await run_video(request, str(folder), credentials)
    assert result.passed and emulator.counters.submits_by_prompt == {request.prompt: 1}


async def test_two_runs_taking_over_one_stale_claim_at_once_pay_once(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    """A take-over is a compare and swap of the entry: of two runs only one submits."""
    request = _request("a fox whose claim two runs take over")
    await _foreign_claim(folder, request, owner="other-host:123:abc", age_s=3600)
    first, second = await asyncio.gather(
        run_video(request, str(folder), credentials),
        run_video(request, str(folder), credentials),
    )
    assert first.passed and second.passed and first.generation_id == second.generation_id
    assert emulator.counters.submits_by_prompt == {request.prompt: 1}


# --- item 4: a row is "maybe billed" only once its bytes may have left ---------------------


async def test_a_stop_during_429_backoff_never_blocks_the_row(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    request = _request("a fox in a full queue")
    name = video_name(request)
    ledger = Ledger(str(folder))
    emulator.inject(Fault("submit_status", status=429, times=None))
    run = asyncio.create_task(run_video(request, str(folder), credentials))

    async def backing_off() -> bool:
        return emulator.counters.rejected_429 >= 1

    await _wait_for(backing_off)
    entry = await ledger.read(name)
    assert entry is not None and entry.state == "claimed"  # not "may be billed"
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    entry = await ledger.read(name)
    assert entry is None or entry.state in ("idle", "claimed")  # nothing under way, unbilled

    emulator._state.faults.clear()  # the server is itself again
    result = await run_video(request, str(folder), credentials)
    assert result.passed and emulator.counters.submits_by_prompt == {request.prompt: 1}


# --- item 5: the id is journaled inside the submit task ------------------------------------


async def test_the_submit_task_journals_the_id_before_it_returns(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    request = _request("a fox journaled at once")
    ledger = Ledger(str(folder))
    held = await claim(ledger, "fox-now", request, current=None, source=None)
    assert held is not None and held.track_id is not None
    check_track_id(held.track_id)
    job = await submit_video.fn(credentials, request, name="fox-now", claim=held)
    entry = await ledger.read("fox-now")
    assert entry is not None and entry.state == "submitted"
    assert entry.generation_id == job.generation_id and entry.track_id == held.track_id


async def test_an_unreadable_answer_with_a_readable_id_keeps_the_id(
    emulator: ModelsLabEmulator, folder: Path
) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def submit(_: Request) -> JSONResponse:
        return JSONResponse({"status": "processing", "id": 4242, "output": 5})

    app = Starlette(routes=[Route("/api/v6/video/text2video", submit, methods=["POST"])])
    with BackgroundServer(app) as server:
        odd = ModelsLabCredentials(api_key=SecretStr("k"), base_url=server.url("/api/v6"))
        request = _request("a fox in a garbled answer")
        with pytest.raises(SubmitOutcomeUnknownError) as caught:
            await run_video(request, str(folder), odd)
    assert caught.value.generation_id == "4242"
    entry = await Ledger(str(folder)).read(video_name(request))
    assert entry is not None and entry.state == "outcome_unknown"
    assert entry.generation_id == "4242"  # resumable by fetching


# --- items 6 and 7: a way out of unknown outcomes ------------------------------------------


async def test_a_webhook_call_lets_a_rerun_adopt_a_dropped_submit(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    request = _request("a fox whose answer was dropped")
    name = video_name(request)
    emulator.inject(Fault("submit_drop"))
    app = webhook_app(str(folder))
    with BackgroundServer(app) as receiver:
        hook = receiver.url(app.state.webhook_path)
        with pytest.raises(SubmitOutcomeUnknownError):
            await run_video(request, str(folder), credentials, webhook_url=hook)
        entry = await Ledger(str(folder)).read(name)
        assert entry is not None and entry.state == "outcome_unknown" and entry.track_id
        store = WebhookStore(str(folder))

        async def arrived() -> bool:
            return store.read(entry.track_id or "") is not None

        await _wait_for(arrived)
        result = await run_video(request, str(folder), credentials, webhook_url=hook)
    assert result.passed and result.resumed
    assert result.generation_id == _billed_ids(emulator)[0]
    assert emulator.counters.submits_by_prompt == {request.prompt: 1}


async def test_resolve_adopts_a_generation_found_in_the_account(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    request = _request("a fox settled by hand")
    name = video_name(request)
    emulator.inject(Fault("submit_drop"))
    with pytest.raises(SubmitOutcomeUnknownError, match="prefect-modelslab resolve"):
        await run_video(request, str(folder), credentials)
    [billed] = _billed_ids(emulator)
    result = await adopt_generation(str(folder), name, billed, credentials)
    assert result.passed and result.generation_id == billed
    entry = await Ledger(str(folder)).read(name)
    assert entry is not None and entry.state == "finished"
    sidecar = json.loads((folder / f"{name}.json").read_text())
    assert sidecar["generation_id"] == billed
    again = await run_video(request, str(folder), credentials)
    assert again.reused and emulator.counters.submits_by_prompt == {request.prompt: 1}


async def test_resolve_refuses_an_entry_another_live_run_is_waiting_on(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    """A live `submitted` entry is another run's generation in flight: neither way out takes it."""
    request = _request("a fox another run waits for")
    name = video_name(request)
    claimed = await _foreign_claim(folder, request, owner="other-host:123:abc", age_s=1)
    waiting = await plant(
        str(folder),
        name,
        request,
        state="submitted",
        generation_id="777",
        updated_at=claimed.updated_at,
    )
    ledger = Ledger(str(folder))
    with pytest.raises(ResolveError, match="holds"):
        await adopt_generation(str(folder), name, "888", credentials)
    with pytest.raises(ResolveError, match="holds"):
        await clear_for_resubmit(str(folder), name)
    assert await ledger.read(name) == waiting
    assert emulator.counters.submit_requests == 0


async def test_resolve_resubmit_clears_the_entry_so_the_next_run_pays_again(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    request = _request("a fox paid for twice on purpose")
    emulator.inject(Fault("submit_drop"))
    with pytest.raises(SubmitOutcomeUnknownError):
        await run_video(request, str(folder), credentials)
    cleared = await clear_for_resubmit(str(folder), video_name(request))
    assert cleared.state == "outcome_unknown"
    result = await run_video(request, str(folder), credentials)
    assert result.passed and emulator.counters.submits_by_prompt == {request.prompt: 2}


# --- item 9: parts left by a kill are removed by the run that holds the video --------------


async def test_part_files_of_a_killed_download_are_removed(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    request = _request("a fox half written")
    name = video_name(request)
    await asyncio.to_thread(folder.mkdir, parents=True)
    left = folder / f".{name}.gif.part-{'0' * 32}"
    left.write_bytes(b"GIF89a half")
    other = folder / f".someone-else.gif.part-{'1' * 32}"
    other.write_bytes(b"GIF89a")
    result = await run_video(request, str(folder), credentials)
    assert result.passed
    assert not left.exists() and other.exists()
    assert not [p for p in os.listdir(folder) if p.startswith(f".{name}.gif.part-")]


# --- item 7: SIGKILL between the server's accept and its answer ----------------------------

_CHILD = """
import asyncio, sys
from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.flows import run_video
from prefect_modelslab.client.models import Text2VideoRequest

base_url, key, folder, hook = sys.argv[1:5]
tiny = {"width": 64, "height": 64, "num_frames": 4, "fps": 4}
request = Text2VideoRequest(prompt="a fox killed mid-answer", **tiny)
asyncio.run(run_video(request, folder, ModelsLabCredentials(api_key=key, base_url=base_url),
                      webhook_url=hook))
"""


def _slow_answer_proxy(target: str) -> Any:
    """Forwards a submit to the emulator at once, but holds its answer back for 30 s."""
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def submit(request: Request) -> Response:
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"{target}/video/text2video",
                content=await request.body(),
                headers={"content-type": "application/json"},
            )
        await asyncio.sleep(30)
        return Response(answer.content, answer.status_code, media_type="application/json")

    return Starlette(routes=[Route("/api/v6/video/text2video", submit, methods=["POST"])])


async def test_a_sigkill_after_the_server_took_the_submit_is_adopted_by_the_rerun(
    credentials: ModelsLabCredentials, emulator: ModelsLabEmulator, folder: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    app = webhook_app(str(folder))
    with (
        BackgroundServer(app) as receiver,
        BackgroundServer(_slow_answer_proxy(emulator.base_url)) as proxy,
    ):
        hook = receiver.url(app.state.webhook_path)
        args = [proxy.url("/api/v6"), emulator.api_key, str(folder), hook]
        child = _spawn(args, env)
        try:

            async def billed() -> bool:
                return emulator.counters.submits_accepted == 1 or child.poll() is not None

            await _wait_for_long(billed)
            assert child.poll() is None, "the child ended before the kill"
            child.kill()  # SIGKILL: billed, answer never read, nothing cleaned up
        finally:
            child.kill()
            child.wait()
        request = _request("a fox killed mid-answer")
        entry = await Ledger(str(folder)).read(video_name(request))
        assert entry is not None and entry.state == "submitting" and entry.track_id
        store = WebhookStore(str(folder))

        async def called_back() -> bool:
            return store.read(entry.track_id or "") is not None

        await _wait_for(called_back)
        result = await run_video(request, str(folder), credentials, webhook_url=hook)
    assert result.passed and result.resumed
    assert emulator.counters.submits_by_prompt == {request.prompt: 1}


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", _CHILD, *args], env=env)


async def _wait_for_long(predicate: Any) -> None:
    """A hang guard for a child process that starts Prefect: up to 120 s."""
    for _ in range(2400):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")
