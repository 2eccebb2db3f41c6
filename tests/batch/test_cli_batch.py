"""`prefect-modelslab batch` and `demo`: exit codes, messages, outputs."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from prefect_modelslab.cli import batch as cli_batch
from prefect_modelslab.inputs.plan import known_fields_line
from prefect_modelslab.testing import Fault, ModelsLabEmulator

from .conftest import WriteCsv, batch_args, invoke, key_env

ROOT = Path(__file__).resolve().parents[2]


def test_all_rows_succeed_exit_0(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    path = write_csv([["prompt"], ["a red fox"], ["a calm lake"]])
    out = tmp_path / "out"
    args = batch_args(path, out, fast_emulator, "--output-type", "mp4", "--concurrency", "2")
    result = invoke(cli, args, key_env(fast_emulator))
    assert result.exit_code == 0, result.output
    assert "2 rows: 2 succeeded" in result.stdout
    with (out / "results.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["format"] for r in rows] == ["mp4", "mp4"]
    assert fast_emulator.counters.max_queued <= 2
    assert fast_emulator.api_key not in result.output


def test_a_failed_row_exits_1(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    fast_emulator.inject(Fault("generation_failed", prompt="storm", times=None))
    path = write_csv([["prompt"], ["a red fox"], ["a storm"]])
    result = invoke(cli, batch_args(path, tmp_path / "out", fast_emulator), key_env(fast_emulator))
    assert result.exit_code == 1, result.output
    assert "1 succeeded, 1 failed" in result.stdout
    assert "Generation failed" in result.stdout
    # The run ends Failed (BatchNotSucceededError): the table, no traceback.
    assert "Traceback" not in result.output and "BatchNotSucceededError" not in result.output


def test_missing_file_exits_2_with_one_line(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, tmp_path: Path
) -> None:
    args = batch_args(tmp_path / "nope.csv", tmp_path / "out", fast_emulator)
    result = invoke(cli, args, key_env(fast_emulator))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: prompts file not found: {args[1]}"]


def test_missing_key_exits_2(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    path = write_csv([["prompt"], ["a red fox"]])
    env = {"MODELSLAB_API_KEY": None, "COLUMNS": "200"}
    result = invoke(cli, batch_args(path, tmp_path / "out", fast_emulator), env)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: MODELSLAB_API_KEY is not set")
    assert fast_emulator.counters.submit_requests == 0


def test_missing_block_exits_2(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    path = write_csv([["prompt"], ["a red fox"]])
    args = batch_args(path, tmp_path / "out", fast_emulator, "--credentials", "no-such-block")
    result = invoke(cli, args, key_env(fast_emulator))
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "cannot load credentials block 'no-such-block'" in line


def test_a_saved_block_runs_the_batch_with_its_key(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    from prefect_modelslab import ModelsLabCredentials

    name = f"cli-{tmp_path.name}".lower().replace("_", "-")[:40]
    block = ModelsLabCredentials(api_key=fast_emulator.api_key, base_url=fast_emulator.base_url)
    block.save(name, overwrite=True)
    path = write_csv([["prompt"], ["a fox from a block"]])
    env = {"MODELSLAB_API_KEY": None, "MODELSLAB_BASE_URL": None, "COLUMNS": "200"}
    result = invoke(
        cli, ["batch", str(path), "--out", str(tmp_path / "out"), "--credentials", name], env
    )
    assert result.exit_code == 0, result.output
    assert fast_emulator.counters.submits_by_prompt == {"a fox from a block": 1}


@pytest.mark.parametrize(
    ("rows", "extra", "needle"),
    [
        ([["prompt", "colour"], ["a fox", "red"]], [], "unknown column 'colour'"),
        ([["prompt", "fps"], ["a fox", "8"], ["a cat", "99"]], ["--strict"], "line 3 (row 2): fps"),
        ([["prompt"], ["a fox"]], ["--model", "sora"], "model_id: must be one of"),
    ],
)
def test_invalid_input_exits_2_before_any_submit(
    cli: typer.Typer,
    fast_emulator: ModelsLabEmulator,
    write_csv: WriteCsv,
    tmp_path: Path,
    rows: list[list[str]],
    extra: list[str],
    needle: str,
) -> None:
    path = write_csv(rows)
    result = invoke(
        cli, batch_args(path, tmp_path / "out", fast_emulator, *extra), key_env(fast_emulator)
    )
    assert result.exit_code == 2, result.output
    line, *known = result.stderr.strip().splitlines()
    assert needle in line and "Traceback" not in result.output
    # A bad header lists every known column, whole, on a line of its own.
    assert known == ([known_fields_line()] if "column" in needle else [])
    assert fast_emulator.counters.submit_requests == 0


def test_an_unknown_column_names_the_closest_and_lists_every_known_one_whole(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    path = write_csv([["prompt", "fsp", "resolutoin"], ["a fox", "8", "480"]])
    env = {**key_env(fast_emulator), "COLUMNS": "80"}  # narrower than the list
    result = invoke(cli, batch_args(path, tmp_path / "out", fast_emulator), env)
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: bad header: unknown column 'fsp' (did you mean 'fps'?); "
        "unknown column 'resolutoin' (did you mean 'resolution'?)",
        known_fields_line(),
    ]
    assert fast_emulator.counters.submit_requests == 0


def test_the_installed_command_gives_no_traceback(tmp_path: Path) -> None:
    command = Path(sys.executable).with_name("prefect-modelslab")
    done = subprocess.run(
        [str(command), "batch", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: prompts file not found: {tmp_path / 'nope.csv'}"
    ]


def test_demo_runs_the_examples_into_a_folder(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_batch, "DEMO_LATENCY_S", 0.2)
    monkeypatch.setattr(
        cli_batch, "DEMO_DEFAULTS", {"width": 64, "height": 64, "num_frames": 4, "fps": 4}
    )
    out = tmp_path / "videos"
    result = invoke(cli, ["demo", "--out", str(out)], {"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    with (out / "results.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 15 and {r["status"] for r in rows} == {"succeeded"}
    assert {r["format"] for r in rows} == {"gif", "mp4"}
    ultra = [r for r in rows if r["endpoint"] == "text2video_ultra"]
    assert len(ultra) == 3 and {r["format"] for r in ultra} == {"mp4"}
    skater = next(r for r in ultra if r["id"] == "hd-skater")  # portrait: 9:16
    assert int(skater["height"]) > int(skater["width"])
    assert (out / "red-fox.gif").is_file() and (out / "lighthouse.mp4").is_file()
    for label in ("Videos:", "Results:", "Prefect UI:"):
        assert label in result.stdout


def test_the_packaged_examples_match_the_repository_copy() -> None:
    packaged = ROOT / "src" / "prefect_modelslab" / "examples" / "prompts.csv"
    assert packaged.read_bytes() == (ROOT / "examples" / "prompts.csv").read_bytes()
    assert cli_batch.example_prompts().is_file()


def test_results_csv_that_could_not_be_written_exits_1(
    cli: typer.Typer,
    fast_emulator: ModelsLabEmulator,
    write_csv: WriteCsv,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect_modelslab.ledger.ledger import Ledger

    async def storage_down(*args: object, **kwargs: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(Ledger, "write_results", storage_down)
    path = write_csv([["prompt"], ["a red fox"]])
    result = invoke(cli, batch_args(path, tmp_path / "out", fast_emulator), key_env(fast_emulator))
    assert result.exit_code == 1, result.output
    assert "1 rows: 1 succeeded" in result.stdout
    assert "results.csv could not be written" in result.output
