"""Session fixtures of the scale tests: one real Prefect server, one emulator process.

These tests start real processes (`prefect server start`, `prefect worker start`,
`prefect-modelslab serve`, the emulator); select them with `-m scale`.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from scale_helpers import (
    EmulatorProcess,
    PrefectServer,
    postgres_bin,
    postgres_cluster,
    start_emulator,
    start_prefect_server,
)

KEY = "scale-test-key-4b9e"


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A real `prefect server start` (SQLite in a temp folder) shared by the scale tests."""
    server = start_prefect_server(tmp_path_factory.mktemp("prefect-server"))
    try:
        yield server
    finally:
        server.proc.stop(signal.SIGINT)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PrefectServer]:
    """A Prefect server on a throwaway PostgreSQL 15 cluster (with pg_trgm)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql; .ci/run does it)")
    root = Path(tempfile.mkdtemp(prefix="modelslab-pg-"))
    root.chmod(0o755)  # the postgres OS user must reach its data folder inside
    try:
        with postgres_cluster(bin_dir, root / "pg") as database_url:
            server = start_prefect_server(root / "prefect", database_url)
            try:
                yield server
            finally:
                server.proc.stop(signal.SIGINT)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """One emulator in its own process (queue limit 3), shared by every worker."""
    emulator = start_emulator(
        tmp_path_factory.mktemp("emulator"), latency=2.0, queue_limit=3, key=KEY
    )
    try:
        yield emulator
    finally:
        emulator.proc.stop(signal.SIGINT)
