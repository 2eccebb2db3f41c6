"""Fixtures for the batch tests: small, fast videos and a CSV writer."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.testing import ModelsLabEmulator

#: Tiny videos keep the emulator's rendering and our checks fast.
TINY = {"width": 64, "height": 64, "num_frames": 4, "fps": 4}


@pytest.fixture
def fast_emulator(emulator: ModelsLabEmulator) -> ModelsLabEmulator:
    """The session emulator, reset, with a short latency."""
    emulator.configure(latency=0.2)
    return emulator


@pytest.fixture
def credentials(fast_emulator: ModelsLabEmulator) -> ModelsLabCredentials:
    return ModelsLabCredentials(api_key=fast_emulator.api_key, base_url=fast_emulator.base_url)


WriteCsv = Callable[..., Path]


@pytest.fixture
def write_csv(tmp_path: Path) -> WriteCsv:
    """Write rows (a header first) to `tmp_path/<name>` and return its path."""

    def write(rows: Sequence[Sequence[str]], name: str = "prompts.csv") -> Path:
        path = tmp_path / name
        with path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
        return path

    return write


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """The `batch`, `demo` and `resolve` commands, for `typer.testing.CliRunner`."""
    from prefect_modelslab.cli import batch as cli_batch
    from prefect_modelslab.cli import resolve as cli_resolve

    # Restored after the test: the CLI turns Prefect's console logging down.
    monkeypatch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    app = typer.Typer(pretty_exceptions_enable=False)
    cli_batch.register(app)
    cli_resolve.register(app)
    return app


def invoke(app: typer.Typer, args: list[str], env: dict[str, str | None] | None = None) -> Result:
    """Run a command of `app`; an uncaught error fails the test with its traceback."""
    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


def batch_args(
    path: Path | str, out: Path | str, emulator: ModelsLabEmulator, *extra: str
) -> list[str]:
    """`batch PATH --out OUT` against `emulator`, then `extra`."""
    return ["batch", str(path), "--out", str(out), "--base-url", emulator.base_url, *extra]


def key_env(emulator: ModelsLabEmulator) -> dict[str, str | None]:
    """The emulator's key in the environment, no base URL from it, and a wide terminal."""
    return {"MODELSLAB_API_KEY": emulator.api_key, "MODELSLAB_BASE_URL": None, "COLUMNS": "200"}


def read_results(folder: Path) -> list[dict[str, str]]:
    """The rows of `folder/results.csv`."""
    with (folder / "results.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
