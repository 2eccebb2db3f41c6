"""What a person and an automation see of a batch: artifacts, task runs, logs, events.

One batch with every row outcome (succeeded, check_failed, failed, invalid),
read back through the Prefect API of the test server.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import TaskRun
from prefect.events.filters import (
    EventFilter,
    EventNameFilter,
    EventOccurredFilter,
    EventRelatedFilter,
)
from prefect.events.schemas.events import ReceivedEvent

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.exceptions import BatchNotSucceededError
from prefect_modelslab.flows.batch import generate_videos_from_csv
from prefect_modelslab.ledger.report import BatchReport
from prefect_modelslab.testing import Fault, ModelsLabEmulator
from prefect_modelslab.ui.artifacts import BatchBoard, browsable_url
from prefect_modelslab.ui.keys import batch_key_prefix, video_card_key
from prefect_modelslab.ui.markdown import md_text

from .conftest import TINY, WriteCsv

T = TypeVar("T")


async def poll(read: Callable[[], Awaitable[T]], done: Callable[[T], bool]) -> T:
    """Read until `done` (things reach the API a moment after they happen); a bounded wait."""
    value = await read()
    for _ in range(150):
        if done(value):
            return value
        await asyncio.sleep(0.2)
        value = await read()
    return value


async def row_events(flow_run_id: UUID) -> list[ReceivedEvent]:
    """Every `modelslab.video.*` event of a flow run, all pages (the API gives 50 at most)."""
    event_filter = EventFilter(
        occurred=EventOccurredFilter(),
        event=EventNameFilter(prefix=["modelslab.video."]),
        related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
    )
    async with get_client() as client:
        page = await client.read_events(filter=event_filter, limit=50)
        events = list(page.events)
        while page.next_page is not None:
            page = await client.read_events_page(str(page.next_page))
            events += page.events
    return events


async def test_a_batch_with_every_outcome_as_seen_in_the_ui(
    fast_emulator: ModelsLabEmulator,
    credentials: ModelsLabCredentials,
    write_csv: WriteCsv,
    tmp_path: Path,
) -> None:
    fast_emulator.inject(
        Fault("wrong_frames", prompt="short", times=None),
        Fault("generation_failed", prompt="storm", times=None),
    )
    path = write_csv(
        [
            ["id", "prompt", "fps"],
            ["fox", "a red fox", ""],
            ["koi", "a koi, short of frames", ""],
            ["storm", "a storm", ""],
            ["bad", "a bad row", "0"],
        ],
        name="My Prompts.csv",
    )
    out = tmp_path / "out"
    state = await generate_videos_from_csv(
        str(path), str(out), credentials, defaults=TINY, return_state=True
    )
    assert state.is_failed()  # rows did not succeed: the run says so (issue 10)
    assert state.message is not None and state.message.startswith("3 of 4 rows did not succeed")
    error = await state.result(raise_on_failure=False)  # type: ignore[misc]
    assert isinstance(error, BatchNotSucceededError)
    report: BatchReport = error.report
    assert [r.status for r in report.rows] == ["succeeded", "check_failed", "failed", "invalid"]
    flow_run_id: UUID = state.state_details.flow_run_id  # type: ignore[assignment]
    key = fast_emulator.api_key

    async def task_runs() -> list[TaskRun]:
        async with get_client() as client:
            return await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )

    # submit+wait for 3 rows, download+check for 2: every run final.
    runs = await poll(
        task_runs,
        lambda rs: len(rs) == 10 and all(r.state is not None and r.state.is_final() for r in rs),
    )
    events = await poll(lambda: row_events(flow_run_id), lambda es: len(es) >= 4)

    async def run_logs() -> list[Any]:
        async with get_client() as client:
            return await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
            )

    def named(ls: list[Any], row: str, words: str) -> bool:
        return any(
            log.message.startswith(f"{row} (generation ") and words in log.message for log in ls
        )

    # Logs reach the API in batches, a moment after the run: wait (bounded) for both.
    logs = await poll(
        run_logs,
        lambda ls: named(ls, "storm", " failed: ") and named(ls, "koi", "failed its check"),
    )
    async with get_client() as client:
        flow_run = await client.read_flow_run(flow_run_id)
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )

    # Artifacts: progress, table and summary, scoped to this CSV and folder; no card per row.
    prefix = batch_key_prefix(str(path), str(out))
    assert prefix.startswith("modelslab-batch-my-prompts-")
    by_key = {a.key: a for a in artifacts}
    assert set(by_key) == {f"{prefix}-progress", f"{prefix}-results", f"{prefix}-summary"}

    progress = by_key[f"{prefix}-progress"]
    assert progress.type == "progress" and progress.data == 100.0
    assert (
        progress.description == "4/4 rows: 1 succeeded, 1 check failed, 1 failed, 1 invalid, done"
    )

    table = by_key[f"{prefix}-results"]
    assert table.type == "table"
    table_rows: list[dict[str, Any]] = (
        json.loads(table.data) if isinstance(table.data, str) else table.data  # type: ignore[assignment]
    )
    columns = ["row", "id", "status", "error", "frames", "fps", "size", "video", "prompt"]
    assert list(table_rows[0]) == columns
    assert [r["status"] for r in table_rows] == [
        "✅ succeeded",
        "⚠️ check_failed",
        "❌ failed",
        "🚫 invalid",
    ]
    fox, koi, storm, bad = table_rows
    # The video as its file name: the summary links it.
    assert (fox["frames"], fox["fps"], fox["size"], fox["video"]) == (4, "4", "64x64", "fox.gif")
    assert fox["error"] == ""
    assert koi["error"].startswith("frames: got 3, expected 4; a re-run reports it again")
    assert "failed" in storm["error"] and "fps" in bad["error"]
    # Short cells (markdown escapes aside); results.csv has all.
    assert all(len(re.sub(r"\\(.)", r"\1", r["error"])) <= 73 for r in table_rows)
    assert storm["error"].startswith("ModelsLab says generation ") and "\\|" in storm["error"]

    summary = str(by_key[f"{prefix}-summary"].data)
    assert "[results table](" in summary and f"/artifacts/artifact/{table.id})" in summary
    assert f"- Results: {md_text(str(out / 'results.csv'))}\n" in summary
    assert f"- Gallery: {md_text(str(out / 'index.html'))}\n" in summary
    assert f"- Videos: {md_text(str(out))}\n" in summary  # a local folder: paths, not links
    assert "- fox.gif ✅ succeeded (row 1)" in summary
    assert "- koi.gif ⚠️ check_failed (row 2)" in summary
    assert "| 2 | koi | ⚠️ check_failed | frames: got 3, expected 4;" in summary

    # Task runs: each names its row; the failed check's run is failed, and says why.
    by_name = {r.name: r for r in runs}
    assert set(by_name) == {
        "submit · fox", "wait · fox", "download · fox.gif", "check · fox.gif",
        "submit · koi", "wait · koi", "download · koi.gif", "check · koi.gif",
        "submit · storm", "wait · storm",
    }  # fmt: skip
    check_koi = by_name["check · koi.gif"].state
    assert check_koi is not None and check_koi.is_failed()
    assert check_koi.message == "koi.gif failed its check: frames: got 3, expected 4"
    assert by_name["check · fox.gif"].state.is_completed()  # type: ignore[union-attr]
    assert by_name["wait · storm"].state.is_failed()  # type: ignore[union-attr]
    assert flow_run.state is not None and flow_run.state.is_failed()  # rows did not all succeed

    # Log lines about a row name it.
    messages = [log.message for log in logs]
    assert any(m.startswith("storm (generation ") and " failed: " in m for m in messages)
    assert any(m.startswith("koi (generation ") and "failed its check" in m for m in messages)

    # Events: one per row, named after its outcome, the reason readable.
    assert sorted(e.event for e in events) == [
        "modelslab.video.check_failed",
        "modelslab.video.failed",
        "modelslab.video.invalid",
        "modelslab.video.succeeded",
    ]
    by_event = {e.event: e for e in events}
    ok = by_event["modelslab.video.succeeded"]
    assert ok.resource.id == "modelslab.video.fox" and ok.resource.name == "fox"
    generation = [r for r in ok.related if r.role == "generation"]
    assert [r.id for r in generation] == [f"modelslab.generation.{report.rows[0].generation_id}"]
    assert ok.payload["status"] == "succeeded" and ok.payload["reason"] is None
    assert ok.payload["video"] == report.rows[0].video and ok.payload["prompt"] == "a red fox"
    checked = by_event["modelslab.video.check_failed"]
    assert checked.payload["reason"].startswith("frames: got 3, expected 4; a re-run reports")
    assert checked.resource["modelslab.reason"].startswith("frames: got 3, expected 4;")
    failed = by_event["modelslab.video.failed"]
    assert failed.payload["id"] == "storm" and failed.payload["reason"] == report.rows[2].error
    assert any(r.role == "generation" for r in failed.related)
    invalid = by_event["modelslab.video.invalid"]
    assert invalid.payload["row"] == 4 and "fps" in invalid.payload["reason"]
    assert not [r for r in invalid.related if r.role == "generation"]

    # The key is nowhere: files, artifacts, events, parameters, logs.
    for file in out.rglob("*"):
        if file.is_file() and file.suffix in {".csv", ".json", ".html"}:
            assert key not in file.read_text(), file
    assert key not in json.dumps([a.model_dump(mode="json") for a in artifacts])
    assert key not in json.dumps([e.model_dump(mode="json") for e in events])
    assert key not in json.dumps(flow_run.parameters, default=str)
    assert logs and key not in " ".join(messages)


def test_artifact_keys_of_two_folders_or_csvs_never_meet() -> None:
    """The same CSV name, or the same video name, in two places: two keys."""
    assert batch_key_prefix("a/prompts.csv", "out") != batch_key_prefix("b/prompts.csv", "out")
    assert batch_key_prefix("prompts.csv", "out1") != batch_key_prefix("prompts.csv", "out2")
    assert video_card_key("s3://a/videos", "city-tram") != video_card_key(
        "s3://b/videos", "city-tram"
    )
    assert video_card_key("videos", "city-tram").startswith("video-city-tram-")


def test_browsable_urls() -> None:
    assert browsable_url("https://cdn.example/fox.gif") == "https://cdn.example/fox.gif"
    assert browsable_url("s3://media/videos/a fox.gif") == (
        "https://media.s3.amazonaws.com/videos/a%20fox.gif"
    )
    endpoint = {"client_kwargs": {"endpoint_url": "http://minio:9000/"}}
    assert browsable_url("s3://media/v/fox.gif", endpoint) == "http://minio:9000/media/v/fox.gif"
    assert browsable_url("gs://media/fox.gif") == "https://storage.googleapis.com/media/fox.gif"
    assert browsable_url("/tmp/videos/fox.gif") is None
    assert browsable_url("memory://videos/fox.gif") is None


async def test_progress_text_counts_rows_and_gives_an_eta() -> None:
    now = [100.0]
    board = BatchBoard("modelslab-batch-prompts", "prompts.csv", clock=lambda: now[0])
    await board.start(0, 10)  # outside a run: no artifact, the clock starts
    assert board.describe(0, 10) == "0/10 rows"
    await board.progress(1, 10, counts={"succeeded": 1})
    await board.progress(2, 10, counts={"succeeded": 1, "failed": 1})
    now[0] += 30  # 2 rows ran in 30 s: 8 more take about 2 min
    text = board.describe(2, 10, {"succeeded": 1, "failed": 1, "invalid": 0})
    assert text == "2/10 rows: 1 succeeded, 1 failed, eta 2 min"
    assert board.describe(10, 10, {"succeeded": 10}).endswith("10 succeeded, done")
