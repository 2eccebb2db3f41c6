"""`prefect-modelslab deploy`: checks what it needs, then deploys, or writes a prefect.yaml."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import yaml
from click.testing import Result
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, WorkPoolCreate
from prefect.client.schemas.responses import DeploymentResponse
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings
from typer.testing import CliRunner

from prefect_modelslab import ModelsLabCredentials
from prefect_modelslab.cli import deploy as cli_deploy

KEY = "deploy-cli-key-5e0b97"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def server_parts() -> Iterator[tuple[str, str, str]]:
    """A credentials block, a process work pool and a global limit on the test server."""
    block, pool, limit = unique("creds"), unique("pool"), unique("account")

    async def create() -> None:
        await ModelsLabCredentials(api_key=KEY).save(block)
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=limit, limit=5)
            )

    asyncio.run(create())
    yield block, pool, limit


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    app = typer.Typer(pretty_exceptions_enable=False)
    app.callback()(lambda: None)  # a group, so that `deploy` is a sub-command
    cli_deploy.register(app)
    return app


def invoke(app: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(app, ["deploy", *args], env={"COLUMNS": "400"})


def read(name: str) -> DeploymentResponse:
    async def fetch() -> DeploymentResponse:
        async with get_client() as client:
            return await client.read_deployment_by_name(f"generate-videos-from-csv/{name}")

    return asyncio.run(fetch())


def exists(name: str) -> bool:
    try:
        read(name)
    except ObjectNotFound:
        return False
    return True


def base_args(name: str, block: str, pool: str, *extra: str) -> list[str]:
    return [
        *("--csv", "s3://prompts/nightly.csv", "--out", "s3://videos/nightly/"),
        *("--pool", pool, "--credentials", block, "--name", name, *extra),
    ]


def test_it_creates_the_deployment_on_the_pool(
    app: typer.Typer, server_parts: tuple[str, str, str]
) -> None:
    block, pool, limit = server_parts
    name = unique("nightly")
    args = base_args(name, block, pool, "--cron", "30 1 * * *", "--timezone", "Europe/Paris")
    result = invoke(app, *args, "--concurrency-limit", limit, "--concurrency", "3")
    assert result.exit_code == 0, result.output

    stored = read(name)
    assert stored.work_pool_name == pool
    assert stored.entrypoint == "prefect_modelslab.flows.batch.generate_videos_from_csv"
    (schedule,) = stored.schedules
    assert schedule.schedule.cron == "30 1 * * *"  # type: ignore[union-attr]
    assert schedule.schedule.timezone == "Europe/Paris"
    assert stored.parameters == {
        "csv_url": "s3://prompts/nightly.csv",
        "output_url": "s3://videos/nightly/",
        "credentials": block,  # the block's name, never the key
        "max_concurrency": 3,
        "strict": False,
        "concurrency_limit_name": limit,
    }
    assert KEY not in stored.model_dump_json()
    assert KEY not in result.output
    assert f"generate-videos-from-csv/{name}" in result.output
    assert str(stored.id) in result.output
    assert f"prefect worker start --pool {pool}" in result.output


def test_the_default_name_comes_from_the_csv_and_the_folder(
    app: typer.Typer, server_parts: tuple[str, str, str], tmp_path: Path
) -> None:
    block, pool, _ = server_parts
    folder = tmp_path / "clips"
    args = ["--csv", str(tmp_path / "spring.csv"), "--out", str(folder), "--pool", pool]
    result = invoke(app, *args, "--credentials", block, "--interval", "3600")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("Deployment"))
    name = line.split("/", 1)[1].split("'", 1)[0]
    assert name.startswith("spring-to-clips-")
    assert read(name).parameters["output_url"] == str(folder)


def test_relative_paths_are_stored_absolute(
    app: typer.Typer,
    server_parts: tuple[str, str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    block, pool, _ = server_parts
    monkeypatch.chdir(tmp_path)
    name = unique("relative")
    args = ["--csv", "prompts.csv", "--out", "videos", "--pool", pool, "--credentials", block]
    result = invoke(app, *args, "--name", name, "--cron", "0 2 * * *")
    assert result.exit_code == 0, result.output
    parameters = read(name).parameters
    assert parameters["csv_url"] == str(tmp_path / "prompts.csv")
    assert parameters["output_url"] == str(tmp_path / "videos")


def test_deploying_again_is_idempotent_and_a_change_needs_replace(
    app: typer.Typer, server_parts: tuple[str, str, str]
) -> None:
    block, pool, _ = server_parts
    name = unique("again")
    assert invoke(app, *base_args(name, block, pool, "--cron", "0 2 * * *")).exit_code == 0
    first = read(name).id
    again = invoke(app, *base_args(name, block, pool, "--cron", "0 2 * * *"))
    assert again.exit_code == 0, again.output
    assert read(name).id == first

    changed = invoke(app, *base_args(name, block, pool, "--interval", "60"))
    assert changed.exit_code == 2
    assert f"'generate-videos-from-csv/{name}'" in changed.output
    assert "schedule cron '0 2 * * *' (UTC) -> every 60 s (UTC)" in changed.output
    assert "--replace" in changed.output
    assert read(name).schedules[0].schedule.cron == "0 2 * * *"  # type: ignore[union-attr]

    replaced = invoke(app, *base_args(name, block, pool, "--interval", "60", "--replace"))
    assert replaced.exit_code == 0, replaced.output
    stored = read(name)
    assert stored.id == first
    assert stored.schedules[0].schedule.interval.total_seconds() == 60  # type: ignore[union-attr]


@pytest.mark.parametrize("missing", ["block", "pool", "limit"])
def test_a_missing_block_pool_or_limit_exits_2_naming_it(
    app: typer.Typer, server_parts: tuple[str, str, str], missing: str
) -> None:
    block, pool, limit = server_parts
    if missing == "block":
        block = unique("no-such-block")
    elif missing == "pool":
        pool = unique("no-such-pool")
    else:
        limit = unique("no-such-limit")
    name = unique("missing")
    args = base_args(name, block, pool, "--cron", "0 2 * * *", "--concurrency-limit", limit)
    result = invoke(app, *args)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1, result.output
    expected = {
        "block": f"credentials block {block!r} does not exist: save it with",
        "pool": f"work pool {pool!r} does not exist: create it with "
        f"`prefect work-pool create {pool} --type process`",
        "limit": f"global concurrency limit {limit!r} does not exist: create it with "
        f"`prefect gcl create {limit} --limit 5`",
    }[missing]
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not exists(name)


def test_a_block_of_another_type_is_not_taken_for_credentials(
    app: typer.Typer, server_parts: tuple[str, str, str]
) -> None:
    from prefect.blocks.system import Secret

    _, pool, _ = server_parts
    other = unique("secret")
    Secret(value="not-a-modelslab-key").save(other)
    result = invoke(app, *base_args(unique("typed"), other, pool, "--cron", "0 2 * * *"))
    assert result.exit_code == 2
    assert f"credentials block {other!r} does not exist" in result.output


def test_exactly_one_schedule(app: typer.Typer, server_parts: tuple[str, str, str]) -> None:
    block, pool, _ = server_parts
    for schedules in ([], ["--cron", "0 2 * * *", "--interval", "60"]):
        result = invoke(app, *base_args(unique("schedules"), block, pool, *schedules))
        assert result.exit_code == 2
        assert "exactly one of --cron, --interval, --rrule" in result.output


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (["--cron", "61 * * * *"], "invalid schedule cron '61 * * * *': Invalid cron string"),
        (["--rrule", "FREQ=SOMETIMES"], "invalid schedule rrule 'FREQ=SOMETIMES'"),
        (["--interval", "60", "--timezone", "Mars/Base"], "invalid schedule timezone 'Mars/Base'"),
    ],
)
def test_a_bad_schedule_exits_2_naming_the_field(
    app: typer.Typer, server_parts: tuple[str, str, str], schedule: list[str], expected: str
) -> None:
    block, pool, _ = server_parts
    result = invoke(app, *base_args(unique("bad-schedule"), block, pool, *schedule))
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert expected in result.output


def test_an_unreachable_prefect_api_exits_1_on_one_line(app: typer.Typer) -> None:
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        result = invoke(app, *base_args("unreachable", "b", "p", "--cron", "0 2 * * *"))
    assert result.exit_code == 1
    assert "cannot reach the Prefect API at http://127.0.0.1:9/api" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


# --- --write-yaml ---------------------------------------------------------------


def test_write_yaml_asks_the_api_nothing_and_writes_the_deployment(
    app: typer.Typer, tmp_path: Path
) -> None:
    target = tmp_path / "prefect.yaml"
    args = base_args("yaml-only", "modelslab", "video-pool", "--rrule", "FREQ=DAILY;BYHOUR=2")
    args += ["--concurrency-limit", "modelslab-account", "--write-yaml", str(target)]
    # No server at this address: the command must not need one.
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        result = invoke(app, *args)
    assert result.exit_code == 0, result.output
    assert f"prefect deploy --all --prefect-file {target}" in result.output

    text = target.read_text(encoding="utf-8")
    assert "prefect work-pool create video-pool --type process" in text
    assert "prefect gcl create modelslab-account" in text
    document = yaml.safe_load(text)
    assert document["pull"] == []
    (entry,) = document["deployments"]
    assert entry["name"] == "yaml-only"
    assert entry["entrypoint"] == "prefect_modelslab.flows.batch.generate_videos_from_csv"
    assert entry["work_pool"]["name"] == "video-pool"
    assert entry["schedules"] == [
        {"rrule": "FREQ=DAILY;BYHOUR=2", "timezone": "UTC", "active": True}
    ]
    assert entry["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
    assert entry["parameters"]["credentials"] == "modelslab"
    assert entry["parameters"]["concurrency_limit_name"] == "modelslab-account"


def test_write_yaml_does_not_overwrite_a_file_without_replace(
    app: typer.Typer, tmp_path: Path
) -> None:
    target = tmp_path / "prefect.yaml"
    target.write_text("# mine\n", encoding="utf-8")
    args = base_args("yaml-kept", "modelslab", "video-pool", "--cron", "0 2 * * *")
    result = invoke(app, *args, "--write-yaml", str(target))
    assert result.exit_code == 2
    assert "exists" in result.output and "--replace" in result.output
    assert target.read_text(encoding="utf-8") == "# mine\n"
    assert invoke(app, *args, "--write-yaml", str(target), "--replace").exit_code == 0
    assert "yaml-kept" in target.read_text(encoding="utf-8")


@pytest.mark.slow
def test_prefect_deploy_accepts_the_written_yaml(
    app: typer.Typer, server_parts: tuple[str, str, str], tmp_path: Path
) -> None:
    """`prefect deploy --all --prefect-file PATH`, run from an empty folder, creates it."""
    block, pool, limit = server_parts
    name = unique("from-yaml")
    target = tmp_path / "written" / "prefect.yaml"
    target.parent.mkdir()
    args = base_args(name, block, pool, "--interval", "900", "--timezone", "Europe/Paris")
    result = invoke(app, *args, "--concurrency-limit", limit, "--write-yaml", str(target))
    assert result.exit_code == 0, result.output

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    prefect = [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"]
    deployed = subprocess.run(
        [*prefect, "--prefect-file", str(target)],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    stored = read(name)
    assert stored.work_pool_name == pool
    assert stored.pull_steps == []
    (schedule,) = stored.schedules
    assert schedule.schedule.interval.total_seconds() == 900  # type: ignore[union-attr]
    assert schedule.schedule.timezone == "Europe/Paris"
    assert stored.parameters["credentials"] == block
    assert stored.parameters["concurrency_limit_name"] == limit
    assert stored.concurrency_options is not None
    assert stored.concurrency_options.collision_strategy == "ENQUEUE"

    # Our own deploy of the same definition afterwards is the same deployment.
    again = invoke(app, *args, "--concurrency-limit", limit)
    assert again.exit_code == 0, again.output
    assert read(name).id == stored.id
