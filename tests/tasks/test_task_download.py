"""download_video over real HTTP to the emulator: atomic, checked, retried, falls back.

The fetcher's own rules (retries, refusals, deadline) are tested in tests/fetcher/.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import fsspec
import pytest

from prefect_modelslab.client.models import Text2VideoRequest, VideoJob
from prefect_modelslab.exceptions import DownloadError
from prefect_modelslab.tasks import download_video
from prefect_modelslab.testing import Fault, ModelsLabEmulator

pytestmark = pytest.mark.filterwarnings(
    "ignore:Logger 'prefect.task_runs' attempted to send logs:UserWarning"
)

ReadyJob = Callable[[Text2VideoRequest], Awaitable[VideoJob]]


def _request(prompt: str, output_type: str = "gif") -> Text2VideoRequest:
    return Text2VideoRequest(
        prompt=prompt,
        width=64,
        height=64,
        num_frames=3,
        fps=8,
        output_type=output_type,  # type: ignore[arg-type]
    )


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("output_type", ["gif", "mp4"])
async def test_download_streams_the_file_atomically(
    ready_job: ReadyJob,
    emulator: ModelsLabEmulator,
    out_dir: Path,
    output_type: str,
    task_run_name: Any,
) -> None:
    job = await ready_job(_request(f"a fox as {output_type}", output_type))
    destination = out_dir / f"fox.{output_type}"
    state = await download_video(job, str(destination), return_state=True)
    stored = await state.result()
    content = destination.read_bytes()
    assert stored.bytes == len(content) > 0
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert stored.format == output_type
    assert stored.source_url == job.output[0]
    assert stored.content_type and output_type in stored.content_type
    assert _files(out_dir) == [destination.name]  # no temporary file left
    assert await task_run_name(state.state_details.task_run_id) == f"download · fox.{output_type}"


async def test_download_to_memory_filesystem(ready_job: ReadyJob) -> None:
    job = await ready_job(_request("a fox in memory"))
    stored = await download_video.fn(job, "memory://dl-test/videos/fox.gif")
    with fsspec.open("memory://dl-test/videos/fox.gif", "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == stored.sha256
    assert fsspec.filesystem("memory").ls("/dl-test/videos", detail=False) == [
        "/dl-test/videos/fox.gif"
    ]


async def test_broken_transfer_is_restarted_from_scratch(
    ready_job: ReadyJob, emulator: ModelsLabEmulator, out_dir: Path
) -> None:
    job = await ready_job(_request("a dropped fox"))
    emulator.inject(Fault("download_drop", times=1))
    stored = await download_video.fn(job, str(out_dir / "fox.gif"))
    assert stored.bytes == (out_dir / "fox.gif").stat().st_size
    assert emulator.counters.download_requests == 2
    assert _files(out_dir) == ["fox.gif"]


async def test_future_links_404_then_ready(
    ready_job: ReadyJob, emulator: ModelsLabEmulator, out_dir: Path
) -> None:
    job = await ready_job(_request("a late fox"))
    emulator.inject(Fault("future_links_404", times=3))
    stored = await download_video.fn(job, str(out_dir / "fox.gif"), link_wait_seconds=10)
    assert stored.bytes > 0
    assert emulator.counters.download_requests == 4


async def test_expired_output_falls_back_to_proxy(
    ready_job: ReadyJob, emulator: ModelsLabEmulator, out_dir: Path
) -> None:
    emulator.inject(Fault("links_expire", links="output"))
    job = await ready_job(_request("a fox behind a proxy"))
    stored = await download_video.fn(job, str(out_dir / "fox.gif"), link_wait_seconds=1)
    assert stored.source_url == job.proxy_links[0]
    assert stored.bytes > 0


async def test_all_links_expired_fails_and_leaves_nothing(
    ready_job: ReadyJob, emulator: ModelsLabEmulator, out_dir: Path
) -> None:
    emulator.inject(Fault("links_expire", links="all"))
    job = await ready_job(_request("a vanished fox"))
    with pytest.raises(DownloadError) as caught:
        await download_video.fn(job, str(out_dir / "fox.gif"), link_wait_seconds=1)
    message = str(caught.value)
    assert job.generation_id in message
    assert job.output[0] in message and job.proxy_links[0] in message
    assert "404" in message
    assert _files(out_dir) == []


async def test_html_error_page_is_refused(
    ready_job: ReadyJob, emulator: ModelsLabEmulator, out_dir: Path
) -> None:
    emulator.inject(Fault("corrupt_file"))
    job = await ready_job(_request("a fox page"))
    with pytest.raises(DownloadError, match=r"not a video: body starts with '<!DOCTYPE html"):
        await download_video.fn(job, str(out_dir / "fox.gif"))
    assert _files(out_dir) == []


async def test_size_limit_aborts_and_leaves_nothing(ready_job: ReadyJob, out_dir: Path) -> None:
    job = await ready_job(_request("a heavy fox"))
    with pytest.raises(DownloadError, match="over the 100-byte limit"):
        await download_video.fn(job, str(out_dir / "fox.gif"), max_bytes=100)
    assert _files(out_dir) == []


async def test_broken_every_time_fails_and_leaves_nothing(
    ready_job: ReadyJob, emulator: ModelsLabEmulator, out_dir: Path
) -> None:
    job = await ready_job(_request("an unlucky fox"))
    emulator.inject(Fault("download_drop", times=None))
    with pytest.raises(DownloadError, match="broke off"):
        await download_video.fn(job, str(out_dir / "fox.gif"))
    assert _files(out_dir) == []


async def test_existing_file_survives_a_failed_download(
    ready_job: ReadyJob, emulator: ModelsLabEmulator, out_dir: Path
) -> None:
    out_dir.mkdir(parents=True)  # noqa: ASYNC240
    (out_dir / "fox.gif").write_bytes(b"GIF89a-previous")
    emulator.inject(Fault("corrupt_file"))
    job = await ready_job(_request("a fox overwritten"))
    with pytest.raises(DownloadError):
        await download_video.fn(job, str(out_dir / "fox.gif"))
    assert (out_dir / "fox.gif").read_bytes() == b"GIF89a-previous"
    assert _files(out_dir) == ["fox.gif"]


async def test_non_http_links_are_refused_without_a_request(
    emulator: ModelsLabEmulator, out_dir: Path
) -> None:
    job = VideoJob(
        generation_id="9",
        status="success",
        request=_request("x"),
        output=["file:///etc/passwd"],
        proxy_links=["ftp://example.invalid/x.gif"],
    )
    with pytest.raises(DownloadError, match="not an http"):
        await download_video.fn(job, str(out_dir / "x.gif"))
    assert emulator.counters.download_requests == 0
    assert _files(out_dir) == []
