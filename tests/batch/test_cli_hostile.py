"""`prefect-modelslab batch` under hostile input: one line, a documented exit code."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from prefect_modelslab.testing import Fault, ModelsLabEmulator

from .conftest import WriteCsv, batch_args, invoke, key_env

MARKUP = "[/bold] [red]x"


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No AWS credentials anywhere, and an S3 endpoint nothing listens on."""
    import s3fs

    # fsspec caches filesystems by their arguments: none here, so drop the cached ones.
    s3fs.S3FileSystem.clear_instance_cache()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    yield
    s3fs.S3FileSystem.clear_instance_cache()


# --- (a) rich markup in user and server text ---------------------------------------------


def test_markup_in_an_invalid_row_is_printed_as_text(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    path = write_csv([["prompt", "fps"], ["a fox", "4"], [f"a cat {MARKUP}", MARKUP]])
    fast_emulator.configure(latency=0.05)
    result = invoke(
        cli, [*batch_args(path, tmp_path / "out", fast_emulator)], key_env(fast_emulator)
    )
    assert result.exit_code == 1, result.output
    assert "1 invalid row will not run" in result.stdout
    assert MARKUP in result.stdout  # in the preview and in the table, verbatim


def test_markup_in_a_server_message_is_printed_as_text(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    fast_emulator.configure(latency=0.05)
    fast_emulator.inject(Fault("generation_failed", message=f"GPU {MARKUP}", times=None))
    path = write_csv(
        [["prompt", "num_frames", "width", "height", "fps"], ["a fox", "4", "64", "64", "4"]]
    )
    result = invoke(cli, batch_args(path, tmp_path / "out", fast_emulator), key_env(fast_emulator))
    assert result.exit_code == 1, result.output
    assert f"GPU {MARKUP}" in result.stdout


def test_markup_in_the_output_folder_is_printed_as_text(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, tmp_path: Path
) -> None:
    fast_emulator.configure(latency=0.05)
    path = write_csv(
        [["prompt", "num_frames", "width", "height", "fps"], ["a fox", "4", "64", "64", "4"]]
    )
    out = tmp_path / "out [/bold]"
    result = invoke(cli, batch_args(path, out, fast_emulator), key_env(fast_emulator))
    assert result.exit_code == 0, result.output
    assert f"Videos:  {out}" in result.stdout


def test_markup_in_the_error_line_is_printed_as_text(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, tmp_path: Path
) -> None:
    missing = tmp_path / f"prompts {MARKUP}.csv"
    result = invoke(
        cli, batch_args(missing, tmp_path / "out", fast_emulator), key_env(fast_emulator)
    )
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: prompts file not found: {missing}"]


# --- (b) a giant cell -----------------------------------------------------------------------


def test_a_cell_over_the_csv_limit_exits_2_naming_line_and_column(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    limit = csv.field_size_limit()
    path.write_text(f"prompt,fps\na fox,4\n{'x' * (limit + 1)},4\n", encoding="utf-8")
    result = invoke(cli, batch_args(path, tmp_path / "out", fast_emulator), key_env(fast_emulator))
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert f"line 3, column prompt: a cell is longer than {limit} characters" in line
    assert fast_emulator.counters.submit_requests == 0


# --- (c) storage that cannot be reached ------------------------------------------------------


@pytest.mark.usefixtures("no_aws")
def test_s3_prompts_without_credentials_exit_2_with_one_line(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, tmp_path: Path
) -> None:
    args = batch_args("s3://bucket/prompts.csv", tmp_path / "out", fast_emulator)
    result = invoke(cli, args, key_env(fast_emulator))
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: the prompts file s3://bucket/prompts.csv cannot be read:")
    assert "credentials" in line
    assert fast_emulator.api_key not in result.output


@pytest.mark.usefixtures("no_aws")
def test_s3_output_without_credentials_exits_2_before_any_submit(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv
) -> None:
    path = write_csv([["prompt"], ["a fox"]])
    result = invoke(
        cli, batch_args(path, "s3://bucket/videos", fast_emulator), key_env(fast_emulator)
    )
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: the output folder s3://bucket/videos cannot be used:")
    assert "credentials" in line
    assert fast_emulator.counters.submit_requests == 0


def test_unknown_protocol_for_the_prompts_exits_2(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, tmp_path: Path
) -> None:
    args = batch_args("nosuchproto://x/prompts.csv", tmp_path / "out", fast_emulator)
    result = invoke(cli, args, key_env(fast_emulator))
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1


# --- process-local destinations ----------------------------------------------------------------


@pytest.mark.parametrize("out", ["memory://videos", "memory:///videos/", "dir::memory://videos"])
def test_memory_output_is_refused_before_any_submit(
    cli: typer.Typer, fast_emulator: ModelsLabEmulator, write_csv: WriteCsv, out: str
) -> None:
    path = write_csv([["prompt"], ["a fox"]])
    result = invoke(cli, batch_args(path, out, fast_emulator), key_env(fast_emulator))
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert f"--out {out}" in line
    assert "only in this process" in line
    assert fast_emulator.counters.submit_requests == 0
