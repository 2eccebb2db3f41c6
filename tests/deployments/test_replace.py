"""Applying a batch deployment never silently replaces another one of the same name."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.responses import DeploymentResponse
from prefect.runner import Runner
from typer.testing import CliRunner

from prefect_modelslab import ModelsLabCredentials, batch_deployment
from prefect_modelslab.cli import serve as cli_serve
from prefect_modelslab.deployments import BatchDeployment
from prefect_modelslab.exceptions import DeploymentConflictError


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def build(name: str, **changes: Any) -> BatchDeployment:
    arguments: dict[str, Any] = {
        "csv_url": "s3://prompts/nightly.csv",
        "output_url": "s3://videos/nightly/",
        "credentials_block": "modelslab",
        "name": name,
    }
    return batch_deployment(**{**arguments, **changes})


async def read(name: str) -> DeploymentResponse:
    async with get_client() as client:
        return await client.read_deployment_by_name(f"generate-videos-from-csv/{name}")


@pytest.fixture(scope="module")
def pool() -> Iterator[str]:
    """A process work pool on the session's test server."""
    import asyncio

    name = unique("pool")

    async def create() -> None:
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name=name, type="process"))

    asyncio.run(create())
    yield name


# --- the same definition again -------------------------------------------------


def test_apply_twice_in_sync_code_updates_the_same_deployment() -> None:
    name = unique("sync")
    first = build(name).apply()
    second = build(name).apply()
    assert first == second


async def test_aapply_twice_updates_the_same_deployment() -> None:
    name = unique("async")
    first = await build(name).aapply()
    second = await build(name).aapply()
    assert first == second


async def test_apply_in_async_code_is_checked_too() -> None:
    name = unique("dispatch")
    first = await build(name).apply()  # type: ignore[misc]
    assert first == await build(name).aapply()
    with pytest.raises(DeploymentConflictError):
        await build(name, output_url="s3://videos/other/").apply()  # type: ignore[misc]


async def test_an_interval_schedule_applied_again_is_the_same_schedule() -> None:
    # Each build anchors its interval at "now": the anchor is not part of the definition.
    name = unique("interval")
    first = await build(name, interval=60).aapply()
    assert await build(name, interval=60).aapply() == first


async def test_an_rrule_applied_again_is_the_same_schedule() -> None:
    # The server adds a DTSTART to the rule; that is not a change either.
    name = unique("rrule")
    first = await build(name, rrule="FREQ=DAILY;BYHOUR=2", timezone="Europe/Paris").aapply()
    again = build(name, rrule="FREQ=DAILY;BYHOUR=2", timezone="Europe/Paris")
    assert await again.aapply() == first


async def test_other_parameters_are_updated_without_replace() -> None:
    name = unique("tweak")
    first = await build(name, max_concurrency=5).aapply()
    assert await build(name, max_concurrency=3).aapply() == first
    assert (await read(name)).parameters["max_concurrency"] == 3


async def test_two_csvs_with_default_names_are_two_deployments() -> None:
    folder = f"s3://videos/{unique('shared')}/"
    one = batch_deployment(csv_url="s3://p/nightly.csv", output_url=folder, credentials_block="m")
    other = batch_deployment(csv_url="s3://p/weekly.csv", output_url=folder, credentials_block="m")
    assert await one.aapply() != await other.aapply()
    assert (await read(one.name)).parameters["csv_url"] == "s3://p/nightly.csv"
    assert (await read(other.name)).parameters["csv_url"] == "s3://p/weekly.csv"


# --- another definition under the same name --------------------------------------


async def test_another_output_folder_is_refused_and_nothing_changes() -> None:
    name = unique("folder")
    await build(name).aapply()
    with pytest.raises(DeploymentConflictError) as refused:
        await build(name, output_url="s3://videos/other/", interval=60).aapply()
    message = str(refused.value)
    assert f"'generate-videos-from-csv/{name}'" in message
    assert "output folder 's3://videos/nightly/' -> 's3://videos/other/'" in message
    assert "schedule cron '0 2 * * *' (UTC) -> every 60 s (UTC)" in message
    assert "replace=True" in message and "--replace" in message
    assert [what for what, _, _ in refused.value.differences] == ["output folder", "schedule"]
    stored = await read(name)
    assert stored.parameters["output_url"] == "s3://videos/nightly/"
    assert stored.schedules[0].schedule.cron == "0 2 * * *"  # type: ignore[union-attr]


def test_another_csv_is_refused_in_sync_code() -> None:
    name = unique("csv")
    build(name).apply()
    with pytest.raises(DeploymentConflictError, match=r"CSV 's3://prompts/nightly\.csv' -> "):
        build(name, csv_url="s3://prompts/weekly.csv").apply()


async def test_another_schedule_is_refused() -> None:
    name = unique("schedule")
    await build(name, cron="0 2 * * *").aapply()
    with pytest.raises(DeploymentConflictError, match=r"cron '0 2 \* \* \*' \(UTC\) -> cron"):
        await build(name, cron="0 2 * * *", timezone="Europe/Paris").aapply()
    with pytest.raises(DeploymentConflictError, match="-> none"):
        await build(name, cron=None).aapply()


async def test_another_pool_is_refused(pool: str) -> None:
    name = unique("pool-change")
    await build(name).aapply()
    with pytest.raises(DeploymentConflictError, match=f"work pool none -> '{pool}'"):
        await build(name, work_pool_name=pool).aapply()
    assert (await read(name)).work_pool_name is None


async def test_replace_true_replaces_it_in_place(pool: str) -> None:
    name = unique("replace")
    first = await build(name).aapply()
    changed = build(
        name, output_url="s3://videos/other/", cron=None, work_pool_name=pool, replace=True
    )
    assert await changed.aapply() == first
    stored = await read(name)
    assert stored.parameters["output_url"] == "s3://videos/other/"
    assert stored.work_pool_name == pool
    assert stored.schedules == []


def test_replace_true_in_sync_code() -> None:
    name = unique("replace-sync")
    first = build(name).apply()
    assert build(name, interval=600, replace=True).apply() == first


async def test_the_apply_arguments_are_checked_too(pool: str) -> None:
    name = unique("arguments")
    await build(name).aapply()
    with pytest.raises(DeploymentConflictError, match="work pool"):
        await build(name).aapply(work_pool_name=pool)
    with pytest.raises(DeploymentConflictError, match="every 30 s"):
        await build(name).aapply(schedules=[{"schedule": {"interval": 30}}])


# --- a deployment on a work pool is never served -----------------------------------


async def test_a_pool_bound_deployment_is_not_applied_without_a_pool_even_with_replace(
    pool: str,
) -> None:
    name = unique("bound")
    await build(name, work_pool_name=pool).aapply()
    with pytest.raises(DeploymentConflictError) as refused:
        await build(name, replace=True).aapply()
    assert refused.value.pool_bound == pool
    message = str(refused.value)
    assert f"is bound to work pool '{pool}'" in message
    assert f"--pool {pool} --replace" in message
    assert f"prefect deployment delete 'generate-videos-from-csv/{name}'" in message
    assert (await read(name)).work_pool_name == pool


async def test_the_serve_runner_runs_the_check(pool: str) -> None:
    """`prefect.serve` registers each deployment with `Runner.add_deployment`: checked there too."""
    name = unique("runner")
    await build(name, work_pool_name=pool).aapply()
    runner = Runner(pause_on_shutdown=False)
    with pytest.raises(DeploymentConflictError, match="is bound to work pool"):
        await runner.aadd_deployment(build(name, interval=30, replace=True))
    stored = await read(name)
    assert stored.work_pool_name == pool
    assert stored.schedules[0].schedule.cron == "0 2 * * *"  # type: ignore[union-attr]


def test_prefect_modelslab_serve_refuses_a_pool_bound_deployment(
    pool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique("served")
    build(name, work_pool_name=pool).apply()
    ModelsLabCredentials(api_key="serve-test-key-71c4").save("serve-replace", overwrite=True)
    monkeypatch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    app = typer.Typer(pretty_exceptions_enable=False)
    app.callback()(lambda: None)  # a group, so that `serve` is a sub-command
    cli_serve.register(app)
    arguments = ["serve", "--csv", "s3://prompts/nightly.csv", "--out", "s3://videos/nightly/"]
    arguments += ["--interval", "30", "--credentials", "serve-replace", "--name", name]
    for extra in ([], ["--replace"]):
        result = CliRunner().invoke(app, [*arguments, *extra], env={"COLUMNS": "300"})
        assert result.exit_code == 2, result.output
        assert f"is bound to work pool '{pool}'" in result.output
        assert "Serving" not in result.output
        assert "Traceback" not in result.output
    assert build(name).name == name


def test_prefect_modelslab_serve_passes_its_budget_guard_to_every_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--max-submits` becomes the served deployment's `max_submits` parameter."""
    import prefect

    name = unique("budget")
    ModelsLabCredentials(api_key="serve-test-key-71c4").save("serve-budget", overwrite=True)
    served: list[BatchDeployment] = []

    def apply_instead_of_serving(*deployments: BatchDeployment, **_: Any) -> None:
        for deployment in deployments:  # what the runner does first; then "Ctrl-C"
            deployment.apply()
            served.append(deployment)

    monkeypatch.setattr(prefect, "serve", apply_instead_of_serving)
    monkeypatch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    app = typer.Typer(pretty_exceptions_enable=False)
    app.callback()(lambda: None)
    cli_serve.register(app)
    arguments = ["serve", "--csv", "s3://prompts/nightly.csv", "--out", "s3://videos/nightly/"]
    arguments += ["--interval", "30", "--credentials", "serve-budget", "--name", name]
    result = CliRunner().invoke(app, [*arguments, "--max-submits", "3"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert [deployment.name for deployment in served] == [name]
    import asyncio

    stored = asyncio.run(read(name))
    assert stored.parameters["max_submits"] == 3
    assert stored.parameters["credentials"] == "serve-budget"
