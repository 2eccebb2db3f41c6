"""One video into S3 through s3fs, against a real S3-compatible server (moto, server mode)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import s3fs

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.client.models import Text2VideoRequest
from prefect_modelslab.exceptions import DownloadError
from prefect_modelslab.flows import generate_video, run_video
from prefect_modelslab.ledger.names import video_name
from prefect_modelslab.testing import Fault, ModelsLabEmulator

pytestmark = [
    pytest.mark.s3,
    pytest.mark.filterwarnings("ignore:Logger 'prefect.task_runs' attempted:UserWarning"),
]


def _request(prompt: str, **extra: Any) -> Text2VideoRequest:
    values: dict[str, Any] = {"width": 64, "height": 64, "num_frames": 4, "fps": 8}
    return Text2VideoRequest(prompt=prompt, **{**values, **extra})


def _keys(fs: s3fs.S3FileSystem, folder: str) -> list[str]:
    """The folder's keys, relative; an entry's versions listed once (`.modelslab/entries/NAME`)."""
    fs.invalidate_cache()
    root = folder.removeprefix("s3://")
    keys = {key.removeprefix(root + "/") for key in fs.find(root)}
    return sorted(
        {key.rsplit("/", 1)[0] if key.startswith(".modelslab/entries/") else key for key in keys}
    )


async def test_video_sidecar_and_journal_land_in_s3_and_are_reused(
    credentials: ModelsLabCredentials,
    emulator: ModelsLabEmulator,
    s3_folder: str,
    s3_options: dict[str, Any],
) -> None:
    request = _request("a fox in a bucket", output_type="mp4")
    name = video_name(request)
    result = await generate_video(request, s3_folder, credentials, storage_options=s3_options)
    assert result.passed, result.check.problems
    assert result.video_url == f"{s3_folder}/{name}.mp4"

    fs = s3fs.S3FileSystem(**s3_options)
    assert _keys(fs, s3_folder) == [
        f".modelslab/entries/{name}",
        f"{name}.json",
        f"{name}.mp4",
    ]
    assert hashlib.sha256(fs.cat(result.video_url)).hexdigest() == result.sha256
    sidecar = json.loads(fs.cat(f"{s3_folder}/{name}.json"))
    assert sidecar["check"]["passed"] is True and sidecar["generation_id"] == result.generation_id

    again = await run_video(request, s3_folder, credentials, storage_options=s3_options)
    assert again.reused and again.sha256 == result.sha256
    assert emulator.counters.submits_by_prompt == {request.prompt: 1}
    assert emulator.counters.download_requests == 1


async def test_failed_download_leaves_no_object_in_s3(
    credentials: ModelsLabCredentials,
    emulator: ModelsLabEmulator,
    s3_folder: str,
    s3_options: dict[str, Any],
) -> None:
    emulator.inject(Fault("corrupt_file"))
    request = _request("a fox page in a bucket")
    with pytest.raises(DownloadError, match="not a video"):
        await run_video(request, s3_folder, credentials, storage_options=s3_options)
    fs = s3fs.S3FileSystem(**s3_options)
    assert _keys(fs, s3_folder) == [f".modelslab/entries/{video_name(request)}"]


async def test_truncated_video_in_s3_fails_its_check_cleanly(
    credentials: ModelsLabCredentials,
    emulator: ModelsLabEmulator,
    s3_folder: str,
    s3_options: dict[str, Any],
) -> None:
    emulator.inject(Fault("truncated_file"))
    result = await run_video(
        _request("a cut fox in a bucket"), s3_folder, credentials, storage_options=s3_options
    )
    assert not result.passed and "truncated" in result.check.problems[0]
