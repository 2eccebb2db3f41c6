"""Fixtures for the media probe tests (they need no Prefect server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ROOT = HERE.parents[1]
SHARED_MEDIA = ROOT.parent / "shared" / "media"


@pytest.fixture(scope="session", autouse=True)
def prefect_harness() -> Iterator[None]:
    """The probe imports nothing from Prefect: skip the session's Prefect test server here."""
    yield


def load_truth(folder: Path) -> dict[str, dict[str, Any]]:
    """`truth.json` of a reference folder (ffprobe's view of each file)."""
    truth: dict[str, dict[str, Any]] = json.loads((folder / "truth.json").read_text())
    return truth
