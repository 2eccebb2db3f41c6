"""`examples/pipeline.py`: a sync flow that builds records, runs the batch, and uses the report."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from prefect_modelslab.testing import Fault, ModelsLabEmulator

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pipeline.py"


def test_the_pipeline_example_runs_and_feeds_its_next_step(
    emulator: ModelsLabEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSLAB_API_KEY", emulator.api_key)
    monkeypatch.setenv("MODELSLAB_BASE_URL", emulator.base_url)
    emulator.configure(latency=0.2)
    emulator.inject(Fault("generation_failed", prompt="whale", times=None))
    spec = importlib.util.spec_from_file_location("pipeline_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    videos = module.nightly_clips(str(tmp_path))

    assert sorted(Path(v).name for v in videos) == ["fox-clip.gif", "owl-clip.gif"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["counts"]["succeeded"] == 2 and manifest["counts"]["failed"] == 1
    assert (tmp_path / "results.csv").is_file()
