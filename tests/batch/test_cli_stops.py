"""Ctrl-C and SIGTERM stop `prefect-modelslab batch` in seconds, with a truthful results.csv."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL

from prefect_modelslab.ledger import Ledger
from prefect_modelslab.testing import ModelsLabEmulator

from .conftest import TINY, WriteCsv

COMMAND = Path(sys.executable).with_name("prefect-modelslab")
HANG_GUARD_S = 120  # a bound, so a hang fails the test instead of hanging it


def _finished(out: Path, row_id: str) -> bool:
    """The video, its sidecar and a `finished` entry are all there."""
    if not (out / f"{row_id}.gif").exists() or not (out / f"{row_id}.json").exists():
        return False
    try:
        entry = asyncio.run(Ledger(str(out)).read(row_id))
    except (OSError, ValueError):
        return False
    return entry is not None and entry.state == "finished"


@pytest.mark.parametrize(
    ("signum", "to_group", "embedded"),
    [
        (signal.SIGINT, True, True),  # Ctrl-C in a terminal, Prefect's embedded server
        (signal.SIGTERM, True, False),  # systemctl stop
        (signal.SIGTERM, False, False),  # kill PID
        (signal.SIGINT, False, False),
    ],
    ids=["sigint-group-embedded", "sigterm-group", "sigterm-process", "sigint-process"],
)
def test_a_signal_stops_the_batch_cleanly_and_results_csv_tells_the_truth(
    emulator: ModelsLabEmulator,
    write_csv: WriteCsv,
    tmp_path: Path,
    signum: signal.Signals,
    to_group: bool,
    embedded: bool,
) -> None:
    emulator.configure(latency=2.0)
    header = ["id", "prompt", *TINY]
    ids = [f"row{i}" for i in range(6)]
    path = write_csv([header, *[[i, f"prompt {i}", *map(str, TINY.values())] for i in ids]])
    out = tmp_path / "out"
    env = {
        **os.environ,
        "MODELSLAB_API_KEY": emulator.api_key,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "COLUMNS": "200",
    }
    env.pop("MODELSLAB_BASE_URL", None)
    if embedded:  # the command starts its own server, on a database of its own
        env.pop("PREFECT_API_URL", None)
        env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    else:  # the test session's server: quicker
        env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
    command = [str(COMMAND), "batch", str(path), "--out", str(out)]
    command += ["--base-url", emulator.base_url, "--concurrency", "2"]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + HANG_GUARD_S
        while not any(_finished(out, i) for i in ids):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no row finished in time"
            time.sleep(0.1)
        if to_group:
            os.killpg(process.pid, signum)
        else:
            os.kill(process.pid, signum)
        stdout, stderr = process.communicate(timeout=HANG_GUARD_S)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()

    assert process.returncode == 128 + signum, (stdout, stderr)
    assert "Traceback" not in stdout + stderr
    assert "connection attempts failed" not in stdout + stderr
    assert f"Stopped by {signum.name}" in stderr
    with (out / "results.csv").open(newline="") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    assert sorted(rows) == ids
    submitted = emulator.counters.submits_by_prompt
    for row_id, row in rows.items():
        if _finished(out, row_id):
            assert row["status"] == "succeeded", row
        else:
            assert row["status"] in ("unknown", "not_started"), row
        if row["status"] == "not_started":
            assert f"prompt {row_id}" not in submitted
    assert any(r["status"] == "succeeded" for r in rows.values())
    assert any(r["status"] != "succeeded" for r in rows.values())
    assert emulator.api_key not in stdout + stderr


def test_a_stop_before_the_flow_wrote_results_csv_keeps_other_sources_rows(
    write_csv: WriteCsv, tmp_path: Path
) -> None:
    """The command rebuilds results.csv from the folder's entries, never over other sources."""
    import typer

    from prefect_modelslab.cli.batch import _stopped
    from prefect_modelslab.client.models import Text2VideoRequest
    from prefect_modelslab.ledger import Entry
    from prefect_modelslab.ledger.entry import StoredRecord
    from prefect_modelslab.media import VideoCheck
    from prefect_modelslab.runtime.stopping import Stopped

    out = tmp_path / "out"
    out.mkdir()
    (out / "lake.gif").write_bytes(b"GIF89a lake")
    video = StoredRecord(
        name="lake",
        generation_id="7",
        source_url="https://cdn.example/lake.gif",
        sha256="0" * 64,
        bytes=11,
        format="gif",
        check=VideoCheck(passed=True),
        video_file="lake.gif",
    )
    lake = Entry.for_request(
        "lake",
        Text2VideoRequest(prompt="a calm lake"),
        source=str(tmp_path / "other.csv"),
        seq=1,
    ).model_copy(update={"state": "finished", "generation_id": "7", "video": video})
    assert asyncio.run(Ledger(str(out)).write(lake))
    path = write_csv([["id", "prompt"], ["fox", "a red fox"]])
    parameters = {"csv_url": str(path), "output_url": str(out)}
    with pytest.raises(typer.Exit):
        _stopped(Stopped(signal.SIGINT), parameters)
    with (out / "results.csv").open(newline="") as f:
        rows = {r["id"]: r["status"] for r in csv.DictReader(f)}
    # The stop came before this CSV's rows were planned: the folder knows only the lake.
    assert rows == {"lake": "succeeded"}
