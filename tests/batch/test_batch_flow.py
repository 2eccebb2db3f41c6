"""`generate_videos_from_csv` end to end, over real HTTP to the emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prefect import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.exceptions import InvalidCsvError
from prefect_modelslab.flows import batch as batch_module
from prefect_modelslab.flows.batch import batch_progress, generate_videos_from_csv
from prefect_modelslab.ledger.ledger import Ledger
from prefect_modelslab.ledger.report import BatchReport
from prefect_modelslab.ledger.results import RESULT_COLUMNS
from prefect_modelslab.testing import Fault, ModelsLabEmulator
from prefect_modelslab.ui import artifacts as artifacts_module

from .conftest import TINY, WriteCsv, read_results


def files_exist(*paths: Path) -> bool:
    return all(p.is_file() for p in paths)


async def run(csv_path: Path, out: Path, credentials: Any, **kwargs: Any) -> BatchReport:
    kwargs.setdefault("defaults", TINY)
    kwargs.setdefault("allow_partial", True)  # the report, even when rows did not succeed
    return await generate_videos_from_csv(str(csv_path), str(out), credentials, **kwargs)


async def test_every_row_ends_with_an_outcome_in_input_order(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    fast_emulator.inject(Fault("generation_failed", prompt="storm", times=None))
    fast_emulator.inject(Fault("wrong_frames", prompt="owl", times=None))
    path = write_csv(
        [
            ["id", "prompt", "output_type", "fps"],
            ["fox", "a red fox", "gif", ""],
            ["", "a thunder storm", "", ""],
            ["", "an owl at night", "mp4", ""],
            ["bad", "too fast", "", "99"],
            ["", "a calm lake", "mp4", "8"],
            ["", "", "", ""],  # blank: not a row
            ["", "", "gif", ""],  # no prompt: invalid
        ]
    )
    out = tmp_path / "out"
    seen: list[tuple[int, int]] = []
    with batch_progress(lambda row, done, total: seen.append((done, total))):
        report = await run(path, out, credentials, max_concurrency=3)

    assert [r.status for r in report.rows] == [
        "succeeded",
        "failed",
        "check_failed",
        "invalid",
        "succeeded",
        "invalid",
    ]
    assert report.counts == {
        **{"succeeded": 2, "check_failed": 1, "failed": 1, "invalid": 2},
        **{"unknown": 0, "not_started": 0},
    }
    assert sorted(seen) == [(i, 6) for i in range(1, 7)]  # every row reported once

    fox, storm, owl, bad, lake, empty = report.rows
    assert empty.error == "line 8 (row 6): prompt: must not be empty"
    assert fox.id == "fox" and fox.format == "gif" and fox.frames == 4
    assert (fox.width, fox.height) == (64, 64)
    assert files_exist(Path(fox.video or ""), out / "fox.json")
    assert storm.generation_id and storm.video is None and storm.error
    assert owl.status == "check_failed" and owl.frames == 3 and "frame" in (owl.error or "")
    assert bad.error and "line 5 (row 4): fps" in bad.error
    assert lake.format == "mp4" and lake.fps == pytest.approx(8, rel=0.02)

    lines = read_results(out)
    assert list(lines[0]) == list(RESULT_COLUMNS)
    assert [(r["row"], r["id"], r["status"]) for r in lines] == [
        (str(r.row), r.id, r.status) for r in report.rows
    ]
    assert report.results_url == str(out / "results.csv")
    counters = fast_emulator.counters
    assert counters.max_queued <= 3
    assert counters.submits_accepted == 4  # the invalid row was never sent


async def test_never_more_than_max_concurrency_queued(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    path = write_csv([["prompt"], *([f"clip {i}"] for i in range(8))])
    # Defaults may also be a request model: its set fields apply, its prompt does not.
    defaults = Text2VideoRequest(prompt="ignored", output_type="mp4", **TINY)
    report = await run(path, tmp_path / "out", credentials, max_concurrency=2, defaults=defaults)
    assert report.ok
    assert {r.format for r in report.rows} == {"mp4"}
    counters = fast_emulator.counters
    assert counters.max_queued == 2  # full, never over
    assert counters.rejected_429 == 0
    assert set(counters.submits_by_prompt.values()) == {1}


async def test_a_full_queue_is_back_pressure_not_failure(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    fast_emulator.configure(queue_limit=2)
    path = write_csv([["prompt"], *([f"queued clip {i}"] for i in range(5))])
    report = await run(path, tmp_path / "out", credentials, max_concurrency=4)
    assert report.ok, report.rows
    counters = fast_emulator.counters
    assert counters.rejected_429 > 0  # the queue did fill up
    assert counters.max_queued <= 2
    assert sorted(counters.submits_by_prompt.values()) == [1] * 5


async def test_rerun_reuses_finished_rows_and_retries_failed_ones(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    fast_emulator.inject(Fault("generation_failed", prompt="storm", times=1))
    path = write_csv([["prompt"], ["a red fox"], ["a storm at sea"], ["a calm lake"]])
    out = tmp_path / "out"
    first = await run(path, out, credentials)
    assert [r.status for r in first.rows] == ["succeeded", "failed", "succeeded"]

    second = await run(path, out, credentials)
    assert [r.status for r in second.rows] == ["succeeded"] * 3
    assert [r.reused for r in second.rows] == [True, False, True]
    assert [r.id for r in second.rows] == [r.id for r in first.rows]
    assert fast_emulator.counters.submits_by_prompt == {
        "a red fox": 1,
        "a storm at sea": 2,  # failed once, retried once
        "a calm lake": 1,
    }
    assert [r["reused"] for r in read_results(out)] == ["true", "false", "true"]


async def test_strict_submits_nothing_when_a_row_is_invalid(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    path = write_csv([["prompt", "height"], ["a red fox", "64"], ["a cat", "4096"]])
    with pytest.raises(InvalidCsvError) as caught:
        await run(path, tmp_path / "out", credentials, strict=True)
    assert "line 3 (row 2): height: must be in 1..512" in str(caught.value)
    assert fast_emulator.counters.submit_requests == 0


async def test_unknown_column_fails_before_any_submit(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    path = write_csv([["prompt", "colour"], ["a red fox", "red"]])
    with pytest.raises(InvalidCsvError, match="unknown column 'colour'"):
        await run(path, tmp_path / "out", credentials)
    assert fast_emulator.counters.submit_requests == 0


async def test_one_crashing_row_loses_no_other_row(
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_run_video = batch_module.run_video

    async def flaky(request: Any, *args: Any, **kwargs: Any) -> Any:
        if "boom" in request.prompt:
            raise RuntimeError("unexpected bug in row")
        return await real_run_video(request, *args, **kwargs)

    monkeypatch.setattr(batch_module, "run_video", flaky)
    path = write_csv([["prompt"], ["a red fox"], ["boom"], ["a calm lake"]])
    out = tmp_path / "out"
    report = await run(path, out, credentials)
    assert [r.status for r in report.rows] == ["succeeded", "failed", "succeeded"]
    assert report.rows[1].error == "RuntimeError: unexpected bug in row"
    assert len(read_results(out)) == 3


async def test_results_csv_is_written_when_the_run_stops_midway(
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Stop(BaseException):
        """Stands for a cancellation or an interrupt in the middle of a run."""

    real_run_video = batch_module.run_video
    fox_done = asyncio.Event()

    async def stopping(request: Any, *args: Any, **kwargs: Any) -> Any:
        if "stop" in request.prompt:
            await fox_done.wait()
            raise Stop()
        if "slow" in request.prompt:
            await asyncio.sleep(3600)  # still running when the run stops
        result = await real_run_video(request, *args, **kwargs)
        if "fox" in request.prompt:
            fox_done.set()
        return result

    monkeypatch.setattr(batch_module, "run_video", stopping)
    path = write_csv([["prompt"], ["a red fox"], ["stop here"], ["a slow lake"]])
    out = tmp_path / "out"
    with pytest.raises(BaseException):  # noqa: B017 - Prefect may wrap or re-raise it
        await run(path, out, credentials, max_concurrency=1)
    rows = read_results(out)
    assert [r["row"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["status"] == "succeeded"
    # Neither row wrote a journal entry: nothing was submitted for them.
    assert all(r["status"] == "not_started" for r in rows[1:])
    assert "run stopped" in rows[2]["error"]


async def test_a_global_concurrency_limit_is_shared(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    async with get_client() as client:
        await client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name="modelslab-account-test", limit=1)
        )
    path = write_csv([["prompt"], ["clip a"], ["clip b"], ["clip c"]])
    report = await run(
        path,
        tmp_path / "out",
        credentials,
        max_concurrency=3,
        concurrency_limit_name="modelslab-account-test",
    )
    assert report.ok
    assert fast_emulator.counters.max_queued == 1


async def test_a_failing_progress_update_or_callback_loses_no_row(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The UI (progress artifact, a progress callback) is a side show: it never stops a row."""

    async def api_down(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the Prefect API is unreachable")

    def broken_bar(*args: Any) -> None:
        raise RuntimeError("the terminal went away")

    monkeypatch.setattr(artifacts_module, "aupdate_progress_artifact", api_down)
    monkeypatch.setattr(artifacts_module, "PROGRESS_EVERY_S", 0.0)
    path = write_csv([["prompt", "fps"], ["a red fox", ""], ["a calm lake", ""], ["bad", "0"]])
    out = tmp_path / "out"
    with batch_progress(broken_bar):
        report = await run(path, out, credentials)
    assert [r.status for r in report.rows] == ["succeeded", "succeeded", "invalid"]
    assert [r["status"] for r in read_results(out)] == ["succeeded", "succeeded", "invalid"]
    assert fast_emulator.counters.submits_accepted == 2


async def test_a_failing_results_writer_still_returns_every_row(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Paid videos are not thrown away because results.csv could not be written."""

    async def storage_down(*args: Any, **kwargs: Any) -> str:
        raise OSError("the bucket refused the write")

    monkeypatch.setattr(Ledger, "write_results", storage_down)
    path = write_csv([["id", "prompt"], ["fox", "a red fox"], ["lake", "a calm lake"]])
    report = await run(path, tmp_path / "out", credentials)
    assert [r.status for r in report.rows] == ["succeeded", "succeeded"]
    assert all(r.generation_id for r in report.rows)
    assert report.results_url is None
    assert fast_emulator.counters.submits_accepted == 2


async def test_a_row_that_raises_cancelled_by_itself_is_failed_and_the_run_goes_on(
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stray CancelledError from one row's code is that row's failure, not the run's end."""
    real_run_video = batch_module.run_video

    async def rogue(request: Any, *args: Any, **kwargs: Any) -> Any:
        if "rogue" in request.prompt:
            raise asyncio.CancelledError()
        return await real_run_video(request, *args, **kwargs)

    monkeypatch.setattr(batch_module, "run_video", rogue)
    seen: list[tuple[str, int, int]] = []
    path = write_csv([["prompt"], ["a red fox"], ["a rogue row"], ["a calm lake"]])
    with batch_progress(lambda row, done, total: seen.append((row.status, done, total))):
        report = await run(path, tmp_path / "out", credentials)
    assert [r.status for r in report.rows] == ["succeeded", "failed", "succeeded"]
    assert "run stopped" not in (report.rows[1].error or "")
    assert "Cancelled" in (report.rows[1].error or "")
    assert len(seen) == 3 and seen[-1][1:] == (3, 3)


async def test_a_missing_global_concurrency_limit_fails_before_any_submit(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    path = write_csv([["prompt"], ["clip a"]])
    with pytest.raises(ValueError, match="'no-such-limit' does not exist"):
        await run(
            path,
            tmp_path / "out",
            credentials,
            concurrency_limit_name="no-such-limit",
        )
    assert fast_emulator.counters.submit_requests == 0
