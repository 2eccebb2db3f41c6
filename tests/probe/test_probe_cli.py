"""`prefect-modelslab probe`: table, --json and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from prefect_modelslab.cli.probe import register

from .builders import Mp4Spec, build_mp4, gif_bytes


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """A stand-in for the package's app."""

    register(app)
    return app


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "good.gif": gif_bytes([6, 7, 6, 6], width=320, height=240),
        "good.mp4": build_mp4(Mp4Spec()),
        "html.mp4": b"<!DOCTYPE html><html>403</html>",
    }
    for name, data in paths.items():
        (tmp_path / name).write_bytes(data)
    return {name: tmp_path / name for name in paths}


def test_json_output(app: typer.Typer, files: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        app, ["probe", str(files["good.gif"]), str(files["good.mp4"]), "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [set(row) for row in rows] == [
        {"path", "ok", "format", "width", "height", "frames", "fps", "duration_s", "error"}
    ] * 2
    gif, mp4 = rows
    assert gif == {
        "path": str(files["good.gif"]),
        "ok": True,
        "format": "gif",
        "width": 320,
        "height": 240,
        "frames": 4,
        "fps": pytest.approx(16.0),
        "duration_s": pytest.approx(0.25),
        "error": None,
    }
    assert (mp4["format"], mp4["frames"], mp4["fps"]) == ("mp4", 25, 16.0)


def test_errors_exit_one_and_do_not_stop_other_inputs(
    app: typer.Typer, files: dict[str, Path], tmp_path: Path
) -> None:
    missing = tmp_path / "missing.gif"
    result = CliRunner().invoke(
        app, ["probe", "--json", str(files["html.mp4"]), str(missing), str(files["good.mp4"])]
    )
    assert result.exit_code == 1
    html, gone, good = json.loads(result.stdout)
    assert html["ok"] is False and html["frames"] is None
    assert html["error"].startswith("not a GIF or MP4: file starts with '<!DOCTYPE html")
    assert gone["ok"] is False and gone["error"] == "file not found"
    assert good["ok"] is True and good["error"] is None


def test_table_output(app: typer.Typer, files: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        app, ["probe", str(files["good.gif"]), str(files["html.mp4"])], terminal_width=200
    )
    assert result.exit_code == 1
    assert "320x240" in result.stdout
    assert "16.000" in result.stdout and "0.250 s" in result.stdout
    assert "not a GIF or MP4" in result.stdout


def test_all_good_exits_zero(app: typer.Typer, files: dict[str, Path]) -> None:
    result = CliRunner().invoke(app, ["probe", str(files["good.mp4"])])
    assert result.exit_code == 0
    assert "ok" in result.stdout
