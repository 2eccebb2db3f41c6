"""`prefect-modelslab webhook-receiver`: serves until a signal, exits cleanly, refuses bad --out."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from prefect_modelslab.cli.webhook import register
from prefect_modelslab.ledger.webhooks import WebhookStore

from .helpers import success


def _command() -> list[str]:
    script = Path(sys.executable).with_name("prefect-modelslab")
    found = str(script) if script.exists() else shutil.which("prefect-modelslab")
    assert found, "the prefect-modelslab script is not installed"
    return [found]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_receiver_stores_calls_and_stops_cleanly_on_a_signal(
    tmp_path: Path, stop: signal.Signals
) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(
        [*_command(), "webhook-receiver", "--out", str(out), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        [url] = [line.split(": ", 1)[1].strip() for line in lines if line.startswith("webhook URL")]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/modelslab/webhook")
        assert not url.endswith(":8787/modelslab/webhook")  # the free port actually bound

        ok = httpx.post(url, json=success(track_id="t-cli", generation_id=42), timeout=10)
        bad = httpx.post(url, json={"status": "processing"}, timeout=10)
        wrong_method = httpx.get(url, timeout=10)

        process.send_signal(stop)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert (ok.status_code, bad.status_code, wrong_method.status_code) == (200, 400, 405)
    assert process.returncode == 0, stderr
    output = "".join(lines) + stdout + stderr
    assert "Traceback" not in output
    assert f"stopped ({stop.name})" in stdout
    assert "webhook call stored: track_id=t-cli id=42 status=success" in stderr
    call = WebhookStore(str(out)).read("t-cli")
    assert call is not None and call.generation_id == "42"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """A stand-in for the package's app."""

    register(app)
    return app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "memory://videos"], "lives in this process only"),
        (["--out", "simplecache::memory://videos"], "lives in this process only"),
        (["--out", "nosuchproto://videos"], "cannot use --out"),
        (["--out", "videos", "--path", "modelslab/webhook"], "--path must start with '/'"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    app: typer.Typer, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["webhook-receiver", *args])

    assert result.exit_code == 2
    assert message in result.output


def test_the_receiver_modules_import_without_prefect() -> None:
    code = (
        "import sys\n"
        "import prefect_modelslab.ledger.webhooks, prefect_modelslab.cli.webhook\n"
        "print('prefect' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
