"""`prefect-modelslab deploy` from the wheel, installed into a fresh virtual environment.

No clone: the wheel is built, installed with its dependencies (pinned by
requirements.lock) into a new environment, and the command runs from an empty
folder against a real Prefect server.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, WorkPoolCreate
from prefect.settings import PREFECT_API_URL, temporary_settings
from scale_helpers import BIN, PrefectServer

from conftest import KEY
from prefect_modelslab import ModelsLabCredentials

pytestmark = pytest.mark.scale

ROOT = Path(__file__).resolve().parents[2]


def run(
    command: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def must(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"{done.args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def install_wheel(root: Path) -> Path:
    """Build the wheel and install it into a new environment; returns that environment."""
    wheels, venv = root / "wheels", root / "venv"
    root.mkdir(parents=True, exist_ok=True)
    uv = BIN / "uv" if (BIN / "uv").exists() else shutil.which("uv")
    if uv is not None:  # seconds
        must(
            run([str(uv), "build", "-q", "--wheel", "--out-dir", str(wheels), str(ROOT)], cwd=root)
        )
        must(run([str(uv), "venv", "-q", "--python", sys.executable, str(venv)], cwd=root))
        install = [str(uv), "pip", "install", "-q", "--python", str(venv / "bin" / "python")]
    else:  # pip: about 90 s more
        must(
            run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "wheel",
                    "-q",
                    "--no-deps",
                    "-w",
                    str(wheels),
                    str(ROOT),
                ],
                cwd=root,
            )
        )
        must(run([sys.executable, "-m", "venv", str(venv)], cwd=root))
        install = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    (wheel,) = wheels.glob("prefect_modelslab-*.whl")
    must(run([*install, str(wheel), "-c", str(ROOT / "requirements.lock")], cwd=root, timeout=600))
    return venv


async def test_deploy_from_an_installed_wheel_creates_the_deployment_on_the_pool(
    prefect_server: PrefectServer, tmp_path: Path
) -> None:
    venv = install_wheel(tmp_path / "build")
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in prefect_server.env().items() if k != "PYTHONPATH"}

    # The package comes from the new environment, not from this checkout.
    where = must(
        run(
            [
                str(venv / "bin" / "python"),
                "-c",
                "import prefect_modelslab; print(prefect_modelslab.__file__)",
            ],
            cwd=empty,
            env=env,
        )
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

    tag = uuid.uuid4().hex[:6]
    pool, block, limit, name = f"wheel-{tag}", f"wheel-{tag}", f"wheel-{tag}", f"wheel-{tag}"
    command = [str(venv / "bin" / "prefect-modelslab"), "deploy", "--name", name]
    command += ["--csv", "s3://prompts/nightly.csv", "--out", "s3://videos/nightly/"]
    command += ["--cron", "0 2 * * *", "--pool", pool, "--credentials", block]
    command += ["--concurrency-limit", limit]

    with temporary_settings(updates={PREFECT_API_URL: prefect_server.url}):
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=limit, limit=5)
            )
        await ModelsLabCredentials(api_key=KEY).save(block)

        deployed = must(run(command, cwd=empty, env=env))
        async with get_client() as client:
            stored = await client.read_deployment_by_name(f"generate-videos-from-csv/{name}")
    assert stored.work_pool_name == pool
    assert stored.entrypoint == "prefect_modelslab.flows.batch.generate_videos_from_csv"
    assert stored.schedules[0].schedule.cron == "0 2 * * *"  # type: ignore[union-attr]
    assert stored.parameters["credentials"] == block
    assert str(stored.id) in deployed.stdout
    assert f"prefect worker start --pool {pool}" in deployed.stdout
    assert KEY not in deployed.stdout + deployed.stderr + stored.model_dump_json()
    assert list(empty.iterdir()) == []  # nothing written where it ran
