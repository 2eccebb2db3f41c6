"""Progress that keeps up (issue 18): the card moves as rows end; the time left is measured.

An 18-row run showed `1/18 rows` while 6 rows were done, and "eta 2 min" for a
run that ended 20 s later: updates inside the throttle window were dropped.
`BatchBoard` is driven here inside a real flow run (a fake clock where the
numbers matter) and its progress artifact is read back through the Prefect API
after each row.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from prefect import flow, get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from prefect_modelslab.ledger.report import BatchReport, RowResult
from prefect_modelslab.ui.artifacts import BatchBoard
from prefect_modelslab.ui.progress import ProgressClock, format_duration


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def row(n: int, status: str = "succeeded", *, reused: bool = False) -> RowResult:
    return RowResult.model_validate(
        {"row": n, "id": f"r{n}", "prompt": f"prompt {n}", "status": status, "reused": reused}
    )


async def read_progress(key: str) -> tuple[float, str]:
    """The progress artifact's percentage and description, as the Prefect API has them."""
    async with get_client() as client:
        (artifact,) = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    return float(artifact.data), str(artifact.description)  # type: ignore[arg-type]


def unique_prefix() -> str:
    return f"modelslab-batch-progress-{uuid.uuid4().hex[:8]}"


# --- the estimator -----------------------------------------------------------------


def test_no_time_left_until_a_row_that_ran_has_ended() -> None:
    clock = FakeClock()
    eta = ProgressClock(clock)
    eta.start()
    assert eta.eta(5) is None and eta.eta_text(5) == ""
    clock.advance(3)
    eta.row_ended("invalid")
    eta.row_ended("succeeded", reused=True)
    assert eta.eta(5) is None and eta.eta_text(5) == ""
    assert (eta.measured, eta.skipped) == (0, 2)


def test_reused_and_invalid_rows_do_not_shorten_the_estimate() -> None:
    clock = FakeClock()
    eta = ProgressClock(clock)
    eta.start()
    for _ in range(6):  # they end at once: a re-run's finished videos, bad rows
        eta.row_ended("succeeded", reused=True)
    eta.row_ended("invalid")
    clock.advance(30)
    eta.row_ended("failed")  # one row that ran, in 30 s
    assert eta.eta(8) == pytest.approx(240.0)  # 8 more at 30 s each, not 8 x 30 / 8
    assert eta.eta_text(8) == "eta 4 min"


def test_rows_running_side_by_side_count_as_throughput_not_as_a_sum() -> None:
    clock = FakeClock()
    eta = ProgressClock(clock)
    eta.start()
    clock.advance(10)
    for _ in range(5):  # five at once, each 10 s
        eta.row_ended("succeeded")
    assert eta.eta(10) == pytest.approx(20.0)  # 5 rows per 10 s: 10 more in 20 s
    clock.advance(10)
    for _ in range(5):
        eta.row_ended("check_failed")
    assert eta.eta(5) == pytest.approx(10.0)
    assert eta.eta_text(5) == "eta 10 s"
    assert eta.eta(0) == 0.0 and eta.eta_text(0) == ""


def test_a_row_before_start_starts_the_clock_instead_of_being_measured() -> None:
    clock = FakeClock()
    eta = ProgressClock(clock)
    eta.row_ended("succeeded")
    assert eta.eta(3) is None
    clock.advance(20)
    eta.row_ended("succeeded")
    assert eta.eta(3) == pytest.approx(60.0)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.2, "1 s"),
        (42, "42 s"),
        (59.4, "59 s"),
        (60, "1 min"),
        (130, "2 min"),
        (3900, "1 h 5 min"),
    ],
)
def test_durations_read_as_people_say_them(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# --- the progress artifact -----------------------------------------------------------


async def test_the_card_moves_with_every_row_and_its_time_left_is_measured() -> None:
    clock = FakeClock()
    prefix = unique_prefix()
    key = f"{prefix}-progress"
    board = BatchBoard(prefix, "prompts.csv", clock=clock, every_s=1.0)
    rows = [
        row(1, "invalid"),
        row(2, reused=True),
        row(3),
        row(4, "failed"),
        row(5, "check_failed"),
        row(6),
    ]
    seen: list[tuple[float, str]] = []

    async def after(seconds: float, done: int, counts: dict[str, int]) -> None:
        clock.advance(seconds)
        await board.progress(done, 6, counts=counts, row=rows[done - 1])
        seen.append(await read_progress(key))

    @flow(name="progress-card")
    async def batch() -> None:
        await board.start(1, 6, counts={"invalid": 1})  # the invalid row ended before
        seen.append(await read_progress(key))
        await after(2, 2, {"succeeded": 1, "invalid": 1})  # reused: nothing measured yet
        await after(18, 3, {"succeeded": 2, "invalid": 1})  # 1 ran in 20 s; 3 left
        await after(20, 4, {"succeeded": 2, "failed": 1, "invalid": 1})  # 2 in 40 s; 2 left
        await after(10, 5, {"succeeded": 2, "check_failed": 1, "failed": 1, "invalid": 1})
        report = BatchReport(csv_url="prompts.csv", output_url="videos", rows=rows)
        clock.advance(1)
        await board.finish(report)
        seen.append(await read_progress(key))

    await batch()
    assert [round(percent, 1) for percent, _ in seen] == [16.7, 33.3, 50.0, 66.7, 83.3, 100.0]
    assert [text for _, text in seen] == [
        "1/6 rows: 1 invalid",
        "2/6 rows: 1 succeeded, 1 invalid",
        "3/6 rows: 2 succeeded, 1 invalid, eta 1 min",
        "4/6 rows: 2 succeeded, 1 failed, 1 invalid, eta 40 s",
        "5/6 rows: 2 succeeded, 1 check failed, 1 failed, 1 invalid, eta 17 s",
        "6/6 rows: 3 succeeded, 1 check failed, 1 failed, 1 invalid, done",
    ]


async def test_rows_inside_the_throttle_window_are_coalesced_then_flushed() -> None:
    clock = FakeClock()
    prefix = unique_prefix()
    key = f"{prefix}-progress"
    board = BatchBoard(prefix, "prompts.csv", clock=clock, every_s=60.0)
    seen: list[str] = []

    @flow(name="progress-coalesced")
    async def batch() -> None:
        await board.start(0, 5)
        for done in (1, 2, 3):  # within 60 s of the last write: coalesced
            clock.advance(1)
            await board.progress(done, 5, counts={"succeeded": done}, row=row(done))
        seen.append((await read_progress(key))[1])
        await board.flush()  # what the trailing write does when its time comes
        seen.append((await read_progress(key))[1])
        clock.advance(60)
        await board.progress(4, 5, counts={"succeeded": 4}, row=row(4))  # past it: written
        seen.append((await read_progress(key))[1])

    await batch()
    assert seen == [
        "0/5 rows",
        "3/5 rows: 3 succeeded, eta 2 s",
        "4/5 rows: 4 succeeded, eta 16 s",
    ]


async def poll(read: Callable[[], object], done: Callable[[str], bool]) -> str:
    """Read the description until `done` (a bounded wait: 15 s at most)."""
    text = ""
    for _ in range(75):
        text = str(await read())  # type: ignore[misc]
        if done(text):
            break
        await asyncio.sleep(0.2)
    return text


async def test_the_latest_count_is_written_soon_after_without_another_row() -> None:
    """Rows that end together inside the window: the last count still shows (a trailing write)."""
    prefix = unique_prefix()
    key = f"{prefix}-progress"
    board = BatchBoard(prefix, "prompts.csv")  # the real clock and throttle
    shown: list[str] = []

    @flow(name="progress-trailing")
    async def batch() -> None:
        await board.start(0, 18)
        for done in range(1, 7):  # six rows end in a burst, then nothing for a while
            await board.progress(done, 18, counts={"succeeded": done})

        async def description() -> str:
            return (await read_progress(key))[1]

        shown.append(await poll(description, lambda text: text.startswith("6/18 rows")))

    await batch()
    assert shown[0].startswith("6/18 rows: 6 succeeded")
