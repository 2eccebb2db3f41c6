"""`prefect-modelslab batch` with S3 prompts and output, credentials from the environment."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import s3fs
import typer
from typer.testing import CliRunner

from prefect_modelslab.cli import batch as cli_batch
from prefect_modelslab.testing import ModelsLabEmulator

pytestmark = [pytest.mark.s3]


def test_s3_prompts_and_output_with_credentials_pass_the_storage_checks(
    emulator: ModelsLabEmulator,
    s3_endpoint: str,
    s3_folder: str,
    s3_options: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # What a user has: keys and an endpoint in the environment, no storage_options.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    emulator.configure(latency=0.05)
    # fsspec caches filesystems by their arguments (none from the CLI): start afresh.
    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem(**s3_options)
    prompts = f"{s3_folder.rsplit('/', 1)[0]}/prompts.csv"
    fs.pipe(prompts, b"prompt,width,height,num_frames,fps\na red fox,64,64,4,4\n")
    app = typer.Typer(pretty_exceptions_enable=False)
    cli_batch.register(app)
    args = ["batch", prompts, "--out", s3_folder, "--base-url", emulator.base_url]
    env = {"MODELSLAB_API_KEY": emulator.api_key, "MODELSLAB_BASE_URL": None, "COLUMNS": "200"}
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    fs.invalidate_cache()
    rows = list(csv.DictReader(io.StringIO(fs.cat(f"{s3_folder}/results.csv").decode())))
    assert [r["status"] for r in rows] == ["succeeded"]
