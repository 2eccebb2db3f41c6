"""`prefect-modelslab gallery`, and the gallery the batch command writes and prints."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ledger_helpers import plant_video
from prefect_modelslab.cli import batch as cli_batch
from prefect_modelslab.cli import gallery as cli_gallery
from prefect_modelslab.testing import ModelsLabEmulator
from prefect_modelslab.ui import gallery as gallery_module


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    app = typer.Typer(pretty_exceptions_enable=False)
    cli_batch.register(app)
    cli_gallery.register(app)
    return app


def invoke(app: typer.Typer, args: list[str], env: dict[str, str | None] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


def test_gallery_rebuilds_index_html_and_prints_its_path(cli: typer.Typer, tmp_path: Path) -> None:
    asyncio.run(plant_video(str(tmp_path), "fox", "a fox", b"GIF89a fox"))
    asyncio.run(
        plant_video(str(tmp_path), "owl", "an owl", b"GIF89a owl", passed=False, problems=("boom",))
    )
    result = invoke(cli, ["gallery", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tmp_path / "index.html")
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'src="fox.gif"' in page and "boom" in page


def test_gallery_of_a_folder_without_videos_exits_2_with_one_line(
    cli: typer.Typer, tmp_path: Path
) -> None:
    result = invoke(cli, ["gallery", str(tmp_path)], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: no videos of a batch in {tmp_path}: run a batch into it first"
    ]
    assert result.stdout == ""
    assert not (tmp_path / "index.html").exists()


def one_row_batch(
    cli: typer.Typer, emulator: ModelsLabEmulator, tmp_path: Path
) -> tuple[int, str, Path]:
    prompts = tmp_path / "prompts.csv"
    with prompts.open("w", newline="") as f:
        csv.writer(f).writerows([["prompt", "num_frames", "width", "height"], ["a fox", 4, 64, 64]])
    out = tmp_path / "out"
    args = ["batch", str(prompts), "--out", str(out), "--base-url", emulator.base_url]
    env = {"MODELSLAB_API_KEY": emulator.api_key, "MODELSLAB_BASE_URL": None, "COLUMNS": "300"}
    result = invoke(cli, args, env)
    return result.exit_code, result.stdout, out


def test_the_batch_command_writes_the_gallery_and_prints_it(
    cli: typer.Typer, emulator: ModelsLabEmulator, tmp_path: Path
) -> None:
    code, stdout, out = one_row_batch(cli, emulator, tmp_path)
    assert code == 0, stdout
    assert f"Gallery: {out / 'index.html'}" in stdout
    assert "a fox" in (out / "index.html").read_text(encoding="utf-8")


def test_a_gallery_that_cannot_be_written_does_not_fail_the_batch(
    cli: typer.Typer, emulator: ModelsLabEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(gallery_module, "awrite_gallery", broken)
    code, stdout, out = one_row_batch(cli, emulator, tmp_path)
    assert code == 0, stdout
    assert (out / "results.csv").is_file()
    assert not (out / "index.html").exists()
    assert "Gallery:" not in stdout
