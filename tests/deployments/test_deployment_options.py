"""`batch_deployment` options: schedules, job variables, the deployment concurrency limit."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

from prefect_modelslab import batch_deployment
from prefect_modelslab.deployments import DEFAULT_CRON, batch_schedule

BASE = {"csv_url": "a.csv", "output_url": "out/", "credentials_block": "modelslab"}


def test_the_default_is_a_nightly_cron_with_one_run_at_a_time_enqueued() -> None:
    deployment = batch_deployment(**BASE)
    (schedule,) = deployment.schedules
    assert schedule.schedule.cron == DEFAULT_CRON
    assert deployment.concurrency_limit == 1
    assert deployment.concurrency_options is not None
    assert deployment.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.ENQUEUE


def test_an_interval_replaces_the_default_cron() -> None:
    deployment = batch_deployment(**BASE, interval=90, timezone="Europe/Paris")
    (schedule,) = deployment.schedules
    assert schedule.schedule.interval == timedelta(seconds=90)
    assert schedule.schedule.timezone == "Europe/Paris"


def test_an_rrule_replaces_the_default_cron() -> None:
    deployment = batch_deployment(**BASE, rrule="FREQ=DAILY;BYHOUR=2;BYMINUTE=0")
    (schedule,) = deployment.schedules
    assert "FREQ=DAILY" in schedule.schedule.rrule


@pytest.mark.parametrize(
    "schedules",
    [
        {"cron": "0 2 * * *", "interval": 60},
        {"interval": 60, "rrule": "FREQ=DAILY"},
        {"cron": "0 2 * * *", "rrule": "FREQ=DAILY"},
    ],
)
def test_two_schedules_at_once_are_refused(schedules: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="at most one schedule"):
        batch_deployment(**BASE, **schedules)  # type: ignore[arg-type]


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        batch_schedule(interval=-5)


def test_job_variables_and_a_custom_concurrency_limit() -> None:
    deployment = batch_deployment(
        **BASE,
        cron=None,
        job_variables={"env": {"AWS_PROFILE": "videos"}},
        concurrency_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
        ),
    )
    assert not deployment.schedules
    assert deployment.job_variables == {"env": {"AWS_PROFILE": "videos"}}
    assert deployment.concurrency_options is not None
    assert deployment.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW


def test_an_int_limit_enqueues_and_none_removes_it() -> None:
    assert batch_deployment(**BASE, concurrency_limit=2).concurrency_limit == 2
    unlimited = batch_deployment(**BASE, concurrency_limit=None)
    assert unlimited.concurrency_limit is None


async def test_the_limit_reaches_the_server() -> None:
    from prefect.client.orchestration import get_client

    deployment = batch_deployment(**BASE, name="limited-batch", cron=None)
    deployment_id = await deployment.aapply()
    async with get_client() as client:
        stored = await client.read_deployment(deployment_id)
    assert stored.global_concurrency_limit is not None
    assert stored.global_concurrency_limit.limit == 1
    assert stored.concurrency_options is not None
    assert stored.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.ENQUEUE


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ({"cron": "0 25 * * *"}, "invalid schedule cron '0 25 * * *'"),
        ({"rrule": "FREQ=NEVER"}, "invalid schedule rrule 'FREQ=NEVER'"),
        ({"interval": 60, "timezone": "Atlantis/City"}, "invalid schedule timezone"),
        ({"cron": "0 2 * * *", "timezone": "Atlantis/City"}, "invalid schedule timezone"),
    ],
)
def test_a_bad_schedule_names_the_field_and_the_value(
    schedule: dict[str, object], expected: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(expected)) as raised:
        batch_schedule(**schedule)  # type: ignore[arg-type]
    assert "pydantic" not in str(raised.value)
