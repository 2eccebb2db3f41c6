"""Batches from records, final run states that tell the truth, and two runs into one folder."""

from __future__ import annotations

import asyncio
import csv
import pickle
from pathlib import Path
from typing import Any

import pytest

from prefect_modelslab import (
    ModelsLabCredentials,
    Text2VideoRequest,
    agenerate_video,
    agenerate_videos,
    agenerate_videos_from_csv,
)
from prefect_modelslab.exceptions import (
    BatchNotSucceededError,
    InvalidCsvError,
    VideoCheckFailedError,
)
from prefect_modelslab.inputs.plan import plan_records
from prefect_modelslab.testing import Fault, ModelsLabEmulator

from .conftest import TINY, WriteCsv


def _results(folder: Path) -> list[dict[str, str]]:
    with (folder / "results.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- records ------------------------------------------------------------------------


def test_records_are_planned_like_csv_rows() -> None:
    nan = float("nan")
    plan = plan_records(
        [
            {"id": "fox", "prompt": " a red fox ", "fps": 8, "seed": nan},  # NaN: not set
            Text2VideoRequest(prompt="a whale", num_frames=8),  # type: ignore[call-arg]
            {"Prompt": "an owl", "FPS": "6", "negative_prompt": None},
            {"prompt": "bad", "fps": 99},
            {"prompt": "keyed", "api_key": "sk-secret"},
            {"prompt": "odd", "colour": "red"},
            ["not", "a", "record"],
        ],
        {"num_frames": 4},
    )
    fox, whale, owl, bad, keyed, odd, wrong = plan.rows
    assert fox.id == "fox" and fox.prompt == "a red fox"
    assert fox.request is not None and fox.request.fps == 8 and fox.request.num_frames == 4
    assert whale.request is not None and whale.request.num_frames == 8  # its own field wins
    assert owl.request is not None and owl.request.fps == 6
    assert [str(p) for p in bad.problems] == [
        f"record 4: fps: {bad.problems[0].reason}"
    ] and "1..16" in bad.problems[0].reason
    assert [p.field for p in keyed.problems] == ["api_key"]
    assert "sk-secret" not in str(keyed.problems[0])
    assert [p.field for p in odd.problems] == ["colour"]
    assert "record 7" in str(wrong.problems[0]) and wrong.request is None


async def test_a_batch_of_records_runs_and_strict_refuses_before_spending(
    fast_emulator: ModelsLabEmulator, credentials: ModelsLabCredentials, tmp_path: Path
) -> None:
    records: list[Any] = [
        {"id": "fox", "prompt": "a red fox"},
        Text2VideoRequest(prompt="a blue whale", **TINY),  # type: ignore[arg-type]
        {"id": "bad", "prompt": "too many frames", "num_frames": 1000},
    ]
    with pytest.raises(InvalidCsvError, match="record 3: num_frames"):
        await agenerate_videos(records, str(tmp_path), credentials, defaults=TINY, strict=True)
    assert fast_emulator.counters.submit_requests == 0

    report = await agenerate_videos(
        iter(records), str(tmp_path), credentials, defaults=TINY, allow_partial=True
    )
    assert [r.status for r in report.rows] == ["succeeded", "succeeded", "invalid"]
    assert (tmp_path / "fox.gif").is_file()
    assert [r["id"] for r in _results(tmp_path)] == [r.id for r in report.rows]


# --- run states ---------------------------------------------------------------------


async def test_a_batch_with_problems_ends_failed_with_counts_and_keeps_its_report(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    fast_emulator.inject(Fault("generation_failed", prompt="storm", times=None))
    fast_emulator.inject(Fault("wrong_frames", prompt="owl", times=None))
    path = write_csv(
        [["id", "prompt", "fps"], ["fox", "a fox", ""], ["storm", "a storm", ""],
         ["owl", "an owl", ""], ["bad", "a bad row", "0"]]
    )  # fmt: skip
    out = str(tmp_path / "out")
    state = await agenerate_videos_from_csv(
        str(path), out, credentials, defaults=TINY, return_state=True
    )
    assert state.is_failed()
    assert state.message == (
        f"3 of 4 rows did not succeed (1 check failed, 1 failed, 1 invalid); see {out}/results.csv"
    )
    error = await state.result(raise_on_failure=False)
    assert isinstance(error, BatchNotSucceededError)
    assert [r.status for r in error.report.rows] == [
        "succeeded",
        "failed",
        "check_failed",
        "invalid",
    ]
    again = pickle.loads(pickle.dumps(error))  # Prefect persists the error
    assert str(again) == str(error) and again.report == error.report
    # Awaited plainly, the call raises with the report; with allow_partial it returns it.
    with pytest.raises(BatchNotSucceededError) as raised:
        await agenerate_videos_from_csv(str(path), out, credentials, defaults=TINY)
    assert raised.value.report.counts["succeeded"] == 1
    state = await agenerate_videos_from_csv(
        str(path), out, credentials, defaults=TINY, allow_partial=True, return_state=True
    )
    assert state.is_completed() and state.message.startswith("3 of 4 rows did not succeed")
    assert (await state.result()).counts["invalid"] == 1


async def test_a_batch_that_fully_succeeds_completes_with_a_message(
    fast_emulator: ModelsLabEmulator, credentials: ModelsLabCredentials, tmp_path: Path
) -> None:
    state = await agenerate_videos(
        [{"prompt": "a calm lake"}], str(tmp_path), credentials, defaults=TINY, return_state=True
    )
    assert state.is_completed()
    assert state.message == f"all 1 rows succeeded; see {tmp_path}/results.csv"


async def test_generate_video_fails_its_run_when_the_check_fails_unless_accepted(
    fast_emulator: ModelsLabEmulator, credentials: ModelsLabCredentials, tmp_path: Path
) -> None:
    fast_emulator.inject(Fault("wrong_frames", prompt="short", times=None))
    request = Text2VideoRequest(prompt="a short fox", **TINY)  # type: ignore[arg-type]
    state = await agenerate_video(request, str(tmp_path), credentials, return_state=True)
    assert state.is_failed() and "failed its check: frames" in (state.message or "")
    with pytest.raises(VideoCheckFailedError) as raised:
        await agenerate_video(request, str(tmp_path), credentials)
    assert raised.value.result.check.passed is False
    again = pickle.loads(pickle.dumps(raised.value))
    assert str(again) == str(raised.value) and again.result == raised.value.result
    state = await agenerate_video(
        request, str(tmp_path), credentials, accept_failed_check=True, return_state=True
    )
    assert state.is_completed() and "failed its check" in (state.message or "")
    assert (await state.result()).check.passed is False


# --- two runs, one folder -------------------------------------------------------------


async def test_two_sources_into_one_folder_keep_both_results(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    # A table an earlier version wrote is not merged as text: results.csv is a view of the
    # folder's entries (an earlier version's videos are read as entries).
    (out / "results.csv").write_text("row,id,prompt,status\n1,old,an old row,failed\n")
    first = write_csv([["id", "prompt"], ["a1", "first fox"], ["a2", "first owl"]], "a.csv")
    second = write_csv([["id", "prompt"], ["b1", "second fox"]], "b.csv")
    await agenerate_videos_from_csv(str(first), str(out), credentials, defaults=TINY)
    await agenerate_videos([{"id": "r1", "prompt": "a record"}], str(out), credentials,
                           defaults=TINY)  # fmt: skip
    await agenerate_videos_from_csv(str(second), str(out), credentials, defaults=TINY)
    ids = [r["id"] for r in _results(out)]
    assert sorted(ids) == ["a1", "a2", "b1", "r1"]
    # Re-running a source re-decides its own rows only (here: one row fewer); a2's paid
    # video is still in the folder, so it is still listed, as no source's row now.
    write_csv([["id", "prompt"], ["a1", "first fox"]], "a.csv")
    await agenerate_videos_from_csv(str(first), str(out), credentials, defaults=TINY)
    rows = {r["id"]: r for r in _results(out)}
    assert sorted(rows) == ["a1", "a2", "b1", "r1"]
    assert rows["a1"]["row"] == "1" and rows["a2"]["row"] == ""
    assert all(r["status"] == "succeeded" for r in rows.values())


async def test_two_runs_at_the_same_time_into_one_folder_keep_every_row(
    fast_emulator: ModelsLabEmulator, credentials: ModelsLabCredentials, tmp_path: Path
) -> None:
    out = str(tmp_path / "out")
    runs = [
        agenerate_videos(
            [{"id": f"{name}{i}", "prompt": f"{name} fox {i}"} for i in range(3)],
            out,
            credentials,
            defaults=TINY,
            source=name,
        )
        for name in ("left", "right")
    ]
    reports = await asyncio.gather(*runs)
    assert all(r.ok for r in reports)
    ids = sorted(r["id"] for r in _results(tmp_path / "out"))
    assert ids == ["left0", "left1", "left2", "right0", "right1", "right2"]
