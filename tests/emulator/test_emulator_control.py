"""Lifecycle, HTTP control endpoints and the `prefect-modelslab emulator` command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from emulator_helpers import SMALL, Api

from prefect_modelslab.testing import EmulatorCounters, ModelsLabEmulator


def test_start_stop_and_context_manager() -> None:
    emulator = ModelsLabEmulator(latency=0, api_keys=("secret-key-123", "other"))
    with emulator as running:
        assert running is emulator and emulator.running
        base_url = emulator.base_url
        assert base_url == f"http://127.0.0.1:{emulator.port}/api/v6"
        assert emulator.api_key == "secret-key-123"
        assert "secret-key-123" not in repr(emulator)
        body = {"key": "other", "prompt": "x", **SMALL}
        assert httpx.post(f"{base_url}/video/text2video", json=body).json()["status"] == "success"

    assert not emulator.running
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{base_url}/video/text2video", json=body)
    with pytest.raises(RuntimeError):
        _ = emulator.base_url


def test_two_emulators_get_different_free_ports() -> None:
    with ModelsLabEmulator() as one, ModelsLabEmulator() as two:
        assert one.port != two.port


def test_a_busy_port_fails_to_start(emulator: ModelsLabEmulator) -> None:
    with pytest.raises(OSError):
        ModelsLabEmulator(port=emulator.port).start()


def test_control_endpoints_drive_the_emulator_over_http(api: Api) -> None:
    origin = api.emulator.origin
    client = api.client

    armed = client.post(f"{origin}/_emulator/faults", json={"kind": "fetch_status", "status": 503})
    config = client.post(f"{origin}/_emulator/config", json={"queue_limit": 1, "latency": 30})

    assert armed.json()["armed"] == 1
    assert config.json()["queue_limit"] == 1 and config.json()["latency"] == 30
    submitted = api.submit_ok()
    assert api.fetch(submitted["id"]).status_code == 503
    assert api.submit("over the limit").status_code == 429

    counters = client.get(f"{origin}/_emulator/counters").json()

    assert EmulatorCounters.from_dict(counters) == api.emulator.counters
    assert counters["submits_accepted"] == 1 and counters["rejected_429"] == 1
    assert client.post(f"{origin}/_emulator/reset").json() == {"status": "ok"}
    assert client.get(f"{origin}/_emulator/counters").json() == EmulatorCounters().to_dict()


def test_control_accepts_a_list_of_faults_and_rejects_bad_input(api: Api) -> None:
    origin = api.emulator.origin

    several = api.client.post(
        f"{origin}/_emulator/faults",
        json=[{"kind": "never_finish"}, {"kind": "download_drop", "times": None}],
    )
    bad_kind = api.client.post(f"{origin}/_emulator/faults", json={"kind": "meteor"})
    bad_field = api.client.post(f"{origin}/_emulator/faults", json={"kind": "never_finish", "x": 1})
    bad_config = api.client.post(f"{origin}/_emulator/config", json={"queue_limit": 0})
    unknown_setting = api.client.post(f"{origin}/_emulator/config", json={"speed": 3})

    assert several.json()["armed"] == 2
    assert [r.status_code for r in (bad_kind, bad_field, bad_config, unknown_setting)] == [400] * 4
    assert api.emulator.settings.queue_limit == 5


def test_configure_rejects_impossible_settings(emulator: ModelsLabEmulator) -> None:
    for bad in ({"latency": -1}, {"queue_limit": 0}, {"size_multiple": 0}):
        with pytest.raises(ValueError):
            emulator.configure(**bad)
    assert emulator.settings.latency == 0.3


@pytest.mark.parametrize("command", [["emulator", "--port", "0"], ["demo"]])
def test_without_the_emulator_extra_the_cli_says_what_to_install(
    command: list[str], tmp_path: Path
) -> None:
    # A core install has neither Pillow nor PyAV: `None` in sys.modules makes the import fail.
    code = (
        "import sys\nsys.modules['PIL'] = None\n"
        "from prefect_modelslab.cli import main\n"
        f"sys.argv = ['prefect-modelslab', *{command!r}]\nmain()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "pip install prefect-modelslab[emulator]" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "videos").exists()


def test_the_cli_serves_until_interrupted() -> None:
    code = (
        "import typer\nfrom prefect_modelslab.cli.emulator import emulator\ntyper.run(emulator)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, "--port", "0", "--latency", "0", "--key", "cli-key"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        lines = [first] + [process.stdout.readline() for _ in range(2)]
        base_url = first.strip().rsplit(" ", 1)[-1]
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api/v6")
        assert f"MODELSLAB_BASE_URL={base_url}\n" in lines
        assert "MODELSLAB_API_KEY=cli-key\n" in lines

        body = {"key": "cli-key", "prompt": "from the shell", **SMALL}
        answer = httpx.post(f"{base_url}/video/text2video", json=body, timeout=10).json()
        assert answer["status"] == "success"

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_timeline_is_kept_only_when_asked(emulator: ModelsLabEmulator, api: Api) -> None:
    """Benchmarks read submit and end times per generation; by default nothing is kept."""
    emulator.configure(latency=0.0)
    api.submit_ok("a fox")
    assert emulator.counters.timeline == []
    control = emulator.base_url.split("/api/")[0] + "/_emulator/config"
    assert api.client.post(control, json={"timeline": True}).status_code == 200
    api.generate("a boat")
    entries = emulator.counters.timeline
    assert [e["prompt"] for e in entries] == ["a fox", "a boat"]
    boat = entries[1]
    assert boat["submitted"] <= boat["ready"] <= boat["seen_ready"]
    emulator.configure(timeline=False)
    assert emulator.counters.timeline == []


def test_the_emulator_imports_neither_the_client_nor_prefect() -> None:
    """Its own view of the API: of the package, only `serving` besides `testing`."""
    code = (
        "import json, sys, prefect_modelslab.testing\n"
        "print(json.dumps([m for m in sys.modules if m.split('.')[0].startswith('prefect')]))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout

    others = {m for m in json.loads(loaded) if not m.startswith("prefect_modelslab.testing")}
    assert others == {
        "prefect_modelslab",
        "prefect_modelslab.runtime",
        "prefect_modelslab.runtime.serving",
    }
