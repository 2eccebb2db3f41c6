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
from prefect_modelslab.ledger.webhooks import WebhookStore, webhook_token

from .helpers import Folder, put_entry, success


def _command() -> list[str]:
    script = Path(sys.executable).with_name("prefect-modelslab")
    found = str(script) if script.exists() else shutil.which("prefect-modelslab")
    assert found, "the prefect-modelslab script is not installed"
    return [found]


def _start(out: Path, *extra: str) -> tuple[subprocess.Popen[str], list[str]]:
    """The receiver as a process, and its first three lines of output."""
    process = subprocess.Popen(
        [*_command(), "webhook-receiver", "--out", str(out), "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    return process, [process.stdout.readline() for _ in range(3)]


def _url(lines: list[str]) -> str:
    [url] = [line.split(": ", 1)[1].strip() for line in lines if line.startswith("webhook URL")]
    return url


def _stop(process: subprocess.Popen[str], stop: signal.Signals) -> tuple[str, str]:
    try:
        process.send_signal(stop)
        return process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_receiver_stores_calls_and_stops_cleanly_on_a_signal(
    tmp_path: Path, stop: signal.Signals
) -> None:
    out = tmp_path / "out"
    entry = put_entry(Folder(str(out)), "t-cli", "outcome_unknown")
    process, lines = _start(out)
    try:
        url = _url(lines)
        token = webhook_token(str(out), create=False)
        assert token is not None
        assert url.startswith("http://127.0.0.1:") and url.endswith(f"/modelslab/webhook/{token}")
        assert ":8787/" not in url  # the free port actually bound

        ok = httpx.post(url, json=success(track_id=entry.track_id or "", generation_id=42))
        bad = httpx.post(url, json={"status": "processing"}, timeout=10)
        wrong_method = httpx.get(url, timeout=10)
        bare = httpx.post(url.rsplit("/", 1)[0], json=success(entry.track_id or ""))
        unknown = httpx.post(url, json=success(track_id="made-up.12345678"), timeout=10)
    finally:
        stdout, stderr = _stop(process, stop)

    answers = [r.status_code for r in (ok, bad, wrong_method, bare, unknown)]
    assert answers == [200, 400, 405, 404, 404]
    assert process.returncode == 0, stderr
    output = "".join(lines) + stdout + stderr
    assert "Traceback" not in output
    assert f"stopped ({stop.name})" in stdout
    assert "webhook call stored: track_id=t-cli.0a1b2c3d id=42 status=success" in stderr
    assert "no video waits for track_id=made-up.12345678" in stderr
    assert token not in stderr  # printed once, as the URL on stdout, never logged
    assert "secret" in "".join(lines)
    call = WebhookStore(str(out)).read(entry.track_id or "")
    assert call is not None and call.generation_id == "42"


def test_the_printed_url_starts_with_the_public_url(tmp_path: Path) -> None:
    out = tmp_path / "out"
    process, lines = _start(out, "--public-url", "https://hooks.example.com/ml/")
    try:
        url = _url(lines)
        local = [line for line in lines if line.startswith("Listening on ")]
    finally:
        _stop(process, signal.SIGINT)

    token = webhook_token(str(out), create=False)
    assert url == f"https://hooks.example.com/ml/modelslab/webhook/{token}"
    assert local and token not in local[0]  # the local address is shown without the token
    assert process.returncode == 0


def test_two_receivers_for_one_folder_print_the_same_url_path(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first, first_lines = _start(out)
    second, second_lines = _start(out)
    _stop(first, signal.SIGINT)
    _stop(second, signal.SIGINT)

    paths = {_url(lines).split("/", 3)[3] for lines in (first_lines, second_lines)}
    assert paths == {f"modelslab/webhook/{webhook_token(str(out), create=False)}"}


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
        (["--out", "videos", "--public-url", "hooks.example.com"], "http:// or https://"),
        (["--out", "videos", "--public-url", "https://h.example/?a=1"], "query or a fragment"),
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
