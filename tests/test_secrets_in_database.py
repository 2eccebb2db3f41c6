"""The API key never reaches the Prefect database, whatever happens to the rows.

A whole batch runs (successes, a failed generation, corrupt media, a dropped
submit) and then every byte of the test server's SQLite files is searched for
the key. A prompt is searched for too, so the scan provably sees what the run
wrote (logs, parameters, artifacts, events).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.logging.handlers import APILogHandler
from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL
from pydantic import SecretStr

from prefect_modelslab import ModelsLabCredentials, generate_videos_from_csv
from prefect_modelslab.testing import Fault, ModelsLabEmulator

SECRET = "sk-live-5f3a9c0e7b2d41c8a6e9f0d1b2c3a4e5"


@pytest.fixture
def secret_emulator() -> Iterator[ModelsLabEmulator]:
    with ModelsLabEmulator(latency=0.2, queue_limit=3, api_keys=(SECRET,)) as emulator:
        yield emulator


def _database_bytes() -> bytes:
    url = str(PREFECT_SERVER_DATABASE_CONNECTION_URL.value())
    path = Path(url.split(":///", 1)[1])
    files = [p for p in path.parent.glob(path.name + "*") if p.is_file()]
    assert files, f"no database files next to {path}"
    return b"".join(p.read_bytes() for p in files)


async def test_a_batch_with_failures_leaves_no_key_in_the_database(
    secret_emulator: ModelsLabEmulator, tmp_path: Path
) -> None:
    prompts = tmp_path / "prompts.csv"
    prompts.write_text(
        "id,prompt,fps\n"
        "ok-1,a marmot whistling on a boulder,\n"
        "doomed,a doomed lighthouse keeper,\n"
        "html,an html error page pretending to be a video,\n"
        "dropped,a dropped connection at sea,\n"
        "bad,a row with an invalid fps,99\n",
        encoding="utf-8",
    )
    secret_emulator.inject(
        Fault("generation_failed", prompt="doomed"),
        Fault("corrupt_file", prompt="html"),
        Fault("submit_drop", prompt="dropped"),
    )
    credentials = ModelsLabCredentials(api_key=SecretStr(SECRET), base_url=secret_emulator.base_url)
    await credentials.save("secret-scan", overwrite=True)

    report = await generate_videos_from_csv(
        csv_url=str(prompts),
        output_url=str(tmp_path / "out"),
        credentials="secret-scan",
        defaults={"width": 64, "height": 64, "num_frames": 4, "fps": 4},
        max_concurrency=3,
        allow_partial=True,
    )
    assert [row.status for row in report.rows] == [
        "succeeded",
        "failed",
        "failed",
        "unknown",  # the dropped submit may be billed
        "invalid",
    ]
    await APILogHandler.aflush()
    await asyncio.sleep(1.0)  # let the server write the last log and event batches

    database = _database_bytes()
    assert b"a marmot whistling on a boulder" in database  # the scan sees the run
    assert SECRET.encode() not in database
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
