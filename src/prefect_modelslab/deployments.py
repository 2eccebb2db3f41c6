"""Scheduled batch generation: deployments of `generate_videos_from_csv`.

A deployment names the credentials block by its saved name, so the key stays in
the block (encrypted in the Prefect database) and never becomes a parameter.
The flow is addressed by module path, so any worker whose environment has
`prefect-modelslab` installed can run it: no source checkout or image needed.

Names cannot collide by accident: the default name comes from the CSV and the
output folder (`default_deployment_name`), and applying a `BatchDeployment`
refuses to replace an existing deployment of the same name whose CSV, output
folder, schedule or work pool differ (`DeploymentConflictError`), unless it was
built with `replace=True`. A deployment bound to a work pool is never taken over
by one without a pool (`prefect.serve`, `prefect-modelslab serve`), even with
`replace=True`: the pool's workers would keep running its runs as well.

Example:
    Serve a nightly batch from this process:
    ```python
    # not run: serves until stopped
    from prefect import serve
    from prefect_modelslab import batch_deployment

    nightly = batch_deployment(
        csv_url="s3://prompts/nightly.csv",
        output_url="s3://videos/nightly/",
        credentials_block="modelslab",
        cron="0 2 * * *",
    )
    serve(nightly)  # deployment "nightly-to-nightly-<hash>"
    ```

    Or register it on a process work pool and let workers pick it up:
    ```python
    # not run: needs the work pool "video-pool" and a worker to be useful
    nightly = batch_deployment(
        csv_url="s3://prompts/nightly.csv",
        output_url="s3://videos/nightly/",
        credentials_block="modelslab",
        work_pool_name="video-pool",
    )
    nightly.apply()
    # then, on each worker host: prefect worker start --pool video-pool
    ```
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Coroutine, Sequence
from datetime import timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.client.schemas.schedules import (
    SCHEDULE_TYPES,
    CronSchedule,
    IntervalSchedule,
    RRuleSchedule,
)
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectNotFound
from prefect.types.entrypoint import EntrypointType
from pydantic import PrivateAttr, ValidationError

from prefect_modelslab.exceptions import DeploymentConflictError
from prefect_modelslab.runtime.dispatch import in_async_context

if TYPE_CHECKING:
    from prefect.client.schemas.responses import DeploymentResponse

__all__ = [
    "DEFAULT_CONCURRENCY_LIMIT",
    "DEFAULT_CRON",
    "BatchDeployment",
    "batch_deployment",
    "batch_schedule",
    "default_deployment_name",
    "describe_schedule",
]

#: Every night at 02:00.
DEFAULT_CRON = "0 2 * * *"

#: One run of a deployment at a time; the next one waits its turn (see `batch_deployment`).
DEFAULT_CONCURRENCY_LIMIT = ConcurrencyLimitConfig(
    limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE
)

#: Longest readable part (CSV stem, folder name) of a default name.
_SLUG_CHARS = 24
#: Hex digits of the hash of CSV and folder in a default name.
_HASH_CHARS = 8
#: What the server prefixes to an RRULE that has no DTSTART (not shown in messages).
_DEFAULT_DTSTART = "DTSTART:20200101T000000\n"


class _Unset(Enum):
    UNSET = "unset"


_UNSET: Literal[_Unset.UNSET] = _Unset.UNSET


def _slug(text: str, fallback: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:_SLUG_CHARS].strip("-") or fallback


def _last_part(url: str) -> str:
    """The last path part of a URL or path; of a chained fsspec URL, its first with a path."""
    segments = url.split("::")
    for number, segment in enumerate(segments):
        if "://" not in segment and number < len(segments) - 1:
            continue  # a bare protocol in a chain: "simplecache::s3://..."
        path = segment.split("://", 1)[-1].split("?", 1)[0].rstrip("/")
        if path:
            return path.rsplit("/", 1)[-1]
    return ""


def _folder(url: str) -> str:
    """`url` without trailing slashes: `videos/` and `videos` are one folder."""
    return url.strip().rstrip("/") or url.strip()


def default_deployment_name(csv_url: str, output_url: str) -> str:
    """The deployment name a batch gets when none is given: `<csv>-to-<folder>-<hash>`.

    The readable part is the CSV's stem and the output folder's last part,
    slugged; the hash covers both URLs in full, so two CSVs, or one CSV into two
    folders, never share a name, and the same pair always gets the same one. A
    trailing slash on the folder does not change it. Every default ends with a
    dash and 8 hex digits, so a name without them (the repository's
    `nightly-batch`) is never a default.

    Args:
        csv_url: The prompts CSV, as the deployment will pass it to the flow.
        output_url: The output folder, likewise.

    Returns:
        The name, e.g. `nightly-to-videos-3f2a9c1d`.

    Example:
        ```python
        from prefect_modelslab.deployments import default_deployment_name

        name = default_deployment_name("s3://prompts/nightly.csv", "s3://bucket/videos/")
        assert name.startswith("nightly-to-videos-")
        ```
    """
    csv_name = _last_part(csv_url)
    stem = csv_name.rsplit(".", 1)[0] if "." in csv_name.lstrip(".") else csv_name
    if stem.lower().endswith(".csv"):  # prompts.csv.gz
        stem = stem[:-4]
    digest = hashlib.sha256(f"{csv_url.strip()}\n{_folder(output_url)}".encode()).hexdigest()
    return (
        f"{_slug(stem, 'prompts')}-to-{_slug(_last_part(output_url), 'out')}-{digest[:_HASH_CHARS]}"
    )


def describe_schedule(schedule: SCHEDULE_TYPES | None) -> str:
    """A schedule in words, as the conflict messages show it.

    Args:
        schedule: A cron, interval or RRULE schedule; None for no schedule.

    Returns:
        E.g. `cron '0 2 * * *' (UTC)`, `every 60 s (UTC)`, `none`.

    Example:
        ```python
        from prefect_modelslab.deployments import batch_schedule, describe_schedule

        assert describe_schedule(batch_schedule(interval=60)) == "every 60 s (UTC)"
        ```
    """
    if schedule is None:
        return "none"
    timezone = schedule.timezone if hasattr(schedule, "timezone") else None
    zone = timezone or "UTC"
    if isinstance(schedule, CronSchedule):
        return f"cron {schedule.cron!r} ({zone})" + ("" if schedule.day_or else " day_or=False")
    if isinstance(schedule, IntervalSchedule):
        return f"every {schedule.interval.total_seconds():g} s ({zone})"
    if isinstance(schedule, RRuleSchedule):
        return f"rrule {schedule.rrule.removeprefix(_DEFAULT_DTSTART)!r} ({zone})"
    return repr(schedule)


def _schedule_key(schedule: SCHEDULE_TYPES) -> str:
    """What makes two schedules the same: not an interval's anchor, not active or paused."""
    if isinstance(schedule, RRuleSchedule):
        # The server adds a default DTSTART; `to_rrule` adds the same one.
        return f"rrule {schedule.to_rrule()} ({schedule.timezone or 'UTC'})"
    return describe_schedule(schedule)


def _schedules_text(schedules: Sequence[SCHEDULE_TYPES]) -> str:
    return " + ".join(describe_schedule(s) for s in schedules) or "none (runs on demand only)"


class BatchDeployment(RunnerDeployment):
    """A `RunnerDeployment` of the CSV batch that will not silently replace another one.

    `apply()`, `aapply()` and therefore `prefect.serve(...)` (whose runner calls
    `aapply`) first read the deployment of the same flow and name; when it exists
    with another CSV, output folder, schedule or work pool they raise
    `DeploymentConflictError` and change nothing, unless the deployment was built
    with `replace=True`. A pool-bound deployment is never replaced by one without
    a pool. Re-applying the same definition updates it in place (same id).

    Example:
        ```python
        # not run: needs a Prefect server
        from prefect_modelslab import batch_deployment

        deployment = batch_deployment(
            csv_url="prompts.csv", output_url="videos/", credentials_block="modelslab"
        )
        deployment.check()  # raises DeploymentConflictError, or returns None
        deployment_id = deployment.apply()
        ```
    """

    _replace: bool = PrivateAttr(default=False)

    @property
    def replace(self) -> bool:
        """Whether applying may replace a deployment of this name with another definition."""
        return self._replace

    @replace.setter
    def replace(self, value: bool) -> None:
        self._replace = value

    def conflict(
        self,
        existing: DeploymentResponse,
        *,
        work_pool_name: str | None = None,
        schedules: list[dict[str, Any]] | None = None,
    ) -> DeploymentConflictError | None:
        """Why applying this over `existing` is refused, or None when it may go ahead.

        Args:
            existing: The deployment of the same flow and name, as the server has it.
            work_pool_name: The pool `apply` was given, if any (it wins over this one's).
            schedules: The schedules `apply` was given, if any (likewise).

        Example:
            ```python
            # not run: needs a Prefect server
            existing = await client.read_deployment_by_name(deployment.full_name)
            if (error := deployment.conflict(existing)) is not None:
                print(error)
            ```
        """
        name = self.full_name
        pool = work_pool_name or self.work_pool_name
        old_pool = existing.work_pool_name
        if old_pool and not pool:
            return DeploymentConflictError(
                f"deployment {name!r} is bound to work pool {old_pool!r}, so it is not "
                "served, nor applied without a pool, even with replace (that pool's "
                "workers would run its runs too); nothing was changed. Serve under "
                "another name (--name), replace it on a pool (`prefect-modelslab deploy "
                f"... --pool {old_pool} --replace`), or delete it first "
                f"(`prefect deployment delete '{name}'`)",
                deployment=name,
                pool_bound=old_pool,
            )
        differences = self._differences(existing, pool, schedules)
        if not differences or self._replace:
            return None
        listed = "; ".join(f"{what} {old} -> {new}" for what, old, new in differences)
        return DeploymentConflictError(
            f"deployment {name!r} exists with another definition: {listed}; nothing was "
            "changed. To replace it, pass replace=True (command line: --replace); to keep "
            "both, give this one another name (--name)",
            deployment=name,
            differences=differences,
        )

    def _differences(
        self,
        existing: DeploymentResponse,
        pool: str | None,
        schedules: list[dict[str, Any]] | None,
    ) -> list[tuple[str, str, str]]:
        found: list[tuple[str, str, str]] = []
        old_parameters = existing.parameters or {}
        for what, key in (("CSV", "csv_url"), ("output folder", "output_url")):
            old, new = old_parameters.get(key), self.parameters.get(key)
            same = (
                _folder(old) == _folder(new)
                if isinstance(old, str) and isinstance(new, str)
                else old == new
            )
            if not same:
                found.append((what, repr(old), repr(new)))
        old_schedules = [s.schedule for s in existing.schedules or []]
        if schedules:
            new_schedules = [DeploymentScheduleCreate(**s).schedule for s in schedules]
        else:
            new_schedules = [s.schedule for s in self.schedules or [] if s.schedule is not None]
        if sorted(map(_schedule_key, old_schedules)) != sorted(map(_schedule_key, new_schedules)):
            found.append(
                ("schedule", _schedules_text(old_schedules), _schedules_text(new_schedules))
            )
        old_pool = existing.work_pool_name or None
        if old_pool != (pool or None):
            found.append(("work pool", repr(old_pool) if old_pool else "none", repr(pool)))
        return found

    async def acheck(
        self,
        *,
        work_pool_name: str | None = None,
        schedules: list[dict[str, Any]] | None = None,
    ) -> None:
        """Raise `DeploymentConflictError` if applying now would be refused; change nothing.

        Args:
            work_pool_name: The pool `aapply` will be given, if any.
            schedules: The schedules `aapply` will be given, if any.

        Raises:
            DeploymentConflictError: See `conflict`.

        Example:
            ```python
            # not run: needs a Prefect server
            await deployment.acheck()
            ```
        """
        async with get_client() as client:
            try:
                existing = await client.read_deployment_by_name(self.full_name)
            except ObjectNotFound:
                return
        error = self.conflict(existing, work_pool_name=work_pool_name, schedules=schedules)
        if error is not None:
            raise error

    def check(
        self,
        *,
        work_pool_name: str | None = None,
        schedules: list[dict[str, Any]] | None = None,
    ) -> None:
        """`acheck` for synchronous code.

        Example:
            ```python
            # not run: needs a Prefect server
            deployment.check()
            ```
        """
        with get_client(sync_client=True) as client:
            try:
                existing = client.read_deployment_by_name(self.full_name)
            except ObjectNotFound:
                return
        error = self.conflict(existing, work_pool_name=work_pool_name, schedules=schedules)
        if error is not None:
            raise error

    async def aapply(
        self,
        schedules: list[dict[str, Any]] | None = None,
        work_pool_name: str | None = None,
        image: str | None = None,
        version_info: Any = None,
    ) -> UUID:
        """Register this deployment, after `acheck`; returns its id.

        Args:
            schedules: Schedules instead of this deployment's (Prefect's `aapply`).
            work_pool_name: Work pool instead of this deployment's.
            image: An image for the pool's job (Prefect's `aapply`).
            version_info: Version information (Prefect's `aapply`).

        Raises:
            DeploymentConflictError: A deployment of this name exists with another
                definition (see `conflict`); nothing was changed.

        Example:
            ```python
            # not run: needs a Prefect server
            deployment_id = await deployment.aapply()
            ```
        """
        await self.acheck(work_pool_name=work_pool_name, schedules=schedules)
        return await super().aapply(schedules, work_pool_name, image, version_info)

    def apply(
        self,
        schedules: list[dict[str, Any]] | None = None,
        work_pool_name: str | None = None,
        image: str | None = None,
        version_info: Any = None,
        *,
        _sync: bool | None = None,
    ) -> UUID | Coroutine[Any, Any, UUID]:
        """Register this deployment, after `check`; a coroutine in async code (`aapply`).

        Args:
            schedules: Schedules instead of this deployment's (Prefect's `apply`).
            work_pool_name: Work pool instead of this deployment's.
            image: An image for the pool's job (Prefect's `apply`).
            version_info: Version information (Prefect's `apply`).
            _sync: Force the synchronous (True) or asynchronous (False) version.

        Raises:
            DeploymentConflictError: See `aapply`.

        Example:
            ```python
            # not run: needs a Prefect server
            deployment_id = deployment.apply()
            ```
        """
        run_async = in_async_context() if _sync is None else not _sync
        if run_async:
            return self.aapply(schedules, work_pool_name, image, version_info)
        self.check(work_pool_name=work_pool_name, schedules=schedules)
        applied = super().apply(schedules, work_pool_name, image, version_info, _sync=True)  # type: ignore[call-arg]
        assert isinstance(applied, UUID)  # _sync=True: the id itself
        return applied

    def to_prefect_yaml(self) -> str:
        """This deployment as a `prefect.yaml` for `prefect deploy --all --prefect-file PATH`.

        The file has the same entrypoint (by module path, nothing to pull),
        parameters, schedule, concurrency limit and work pool as `apply` would
        register, and comments with the commands that create what it needs.
        `prefect deploy` does not run the replace check: it overwrites a
        deployment of the same name.

        Raises:
            ValueError: The deployment has no work pool (`prefect deploy` needs one).

        Example:
            ```python
            from pathlib import Path

            from prefect_modelslab import batch_deployment

            deployment = batch_deployment(
                csv_url="s3://prompts/nightly.csv",
                output_url="s3://videos/nightly/",
                credentials_block="modelslab",
                work_pool_name="video-pool",
            )
            Path("prefect.yaml").write_text(deployment.to_prefect_yaml(), encoding="utf-8")
            ```
        """
        import prefect

        if not self.work_pool_name:
            raise ValueError("a prefect.yaml deployment needs a work pool (work_pool_name)")
        entry: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "entrypoint": self.entrypoint,
            "tags": list(self.tags),
            "parameters": self.parameters,
            "schedules": [
                _schedule_yaml(s.schedule, active=s.active is not False and not self.paused)
                for s in self.schedules or []
                if s.schedule is not None
            ],
        }
        if self.concurrency_limit is not None:
            limit: dict[str, Any] = {"limit": self.concurrency_limit}
            if self.concurrency_options is not None:
                limit["collision_strategy"] = self.concurrency_options.collision_strategy.value
            entry["concurrency_limit"] = limit
        pool: dict[str, Any] = {"name": self.work_pool_name}
        if self.work_queue_name:
            pool["work_queue_name"] = self.work_queue_name
        pool["job_variables"] = self.job_variables
        entry["work_pool"] = pool
        document = {
            "name": "prefect-modelslab",
            "prefect-version": prefect.__version__,
            "build": None,
            "push": None,
            "pull": [],  # the flow is addressed by module path: nothing to pull
            "deployments": [entry],
        }
        block = self.parameters.get("credentials", "modelslab")
        needs = [
            f"#   prefect work-pool create {self.work_pool_name} --type process",
            f"#   python -c 'from prefect_modelslab import ModelsLabCredentials; "
            f'ModelsLabCredentials(api_key="...").save("{block}")\'',
        ]
        if limit_name := self.parameters.get("concurrency_limit_name"):
            needs.append(f"#   prefect gcl create {limit_name} --limit 5   # your plan's queue")
        header = [
            f"# The ModelsLab batch deployment {self.name!r}, written by prefect-modelslab.",
            "# Before `prefect deploy --all --prefect-file <this file>`, once per Prefect server:",
            *needs,
            f"# Then, on each worker host: prefect worker start --pool {self.work_pool_name}",
            "",
        ]
        body: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
        return "\n".join(header) + body


def _schedule_yaml(schedule: SCHEDULE_TYPES, *, active: bool) -> dict[str, Any]:
    """One schedule in `prefect.yaml`'s form."""
    entry: dict[str, Any]
    if isinstance(schedule, CronSchedule):
        entry = {"cron": schedule.cron, "day_or": schedule.day_or}
    elif isinstance(schedule, IntervalSchedule):
        entry = {"interval": schedule.interval.total_seconds()}
    elif isinstance(schedule, RRuleSchedule):
        entry = {"rrule": schedule.rrule.removeprefix(_DEFAULT_DTSTART)}
    else:
        raise ValueError(f"cannot write {schedule!r} as a prefect.yaml schedule")
    return {**entry, "timezone": schedule.timezone or "UTC", "active": active}


def batch_schedule(
    *,
    cron: str | None = None,
    interval: float | timedelta | None = None,
    rrule: str | None = None,
    timezone: str = "UTC",
) -> SCHEDULE_TYPES | None:
    """One schedule from at most one of `cron`, `interval` and `rrule`.

    Args:
        cron: A cron expression, e.g. `"0 2 * * *"`.
        interval: Seconds (or a `timedelta`) between runs.
        rrule: An iCalendar RRULE, e.g. `"FREQ=DAILY;BYHOUR=2;BYMINUTE=0"`.
        timezone: The IANA time zone the schedule is read in.

    Returns:
        The schedule, or None when none of the three is given.

    Raises:
        ValueError: More than one of them is given, the interval is not positive,
            or the cron, the RRULE or the time zone is not valid (the message
            names which).

    Example:
        ```python
        batch_schedule(cron="0 2 * * *", timezone="Europe/Paris")
        batch_schedule(interval=3600)
        ```
    """
    given = [n for n, v in (("cron", cron), ("interval", interval), ("rrule", rrule)) if v]
    if len(given) > 1:
        raise ValueError(f"give at most one schedule (cron, interval or rrule), not {given}")
    try:
        if cron:
            return CronSchedule(cron=cron, timezone=timezone)
        if interval is not None and interval != 0:
            every = interval if isinstance(interval, timedelta) else timedelta(seconds=interval)
            if every <= timedelta(0):
                raise ValueError(f"interval must be positive (got {interval})")
            return IntervalSchedule(interval=every, timezone=timezone)
        if rrule:
            return RRuleSchedule(rrule=rrule, timezone=timezone)
    except ValidationError as error:
        first = error.errors()[0]
        reason = first["msg"].removeprefix("Value error, ")
        # An interval's time zone is checked by the whole model (no field in `loc`).
        fallback = "timezone" if "timezone" in reason.lower() else given[0]
        field = ".".join(str(part) for part in first["loc"]) or fallback
        value = {"cron": cron, "rrule": rrule, "timezone": timezone}.get(field, interval)
        raise ValueError(f"invalid schedule {field} {value!r}: {reason}") from None
    return None


def batch_deployment(
    *,
    csv_url: str,
    output_url: str,
    credentials_block: str,
    name: str | None = None,
    cron: str | Literal[_Unset.UNSET] | None = _UNSET,
    timezone: str = "UTC",
    defaults: dict[str, Any] | None = None,
    max_concurrency: int = 5,
    concurrency_limit_name: str | None = None,
    strict: bool = False,
    storage_options: dict[str, Any] | None = None,
    webhook_url: str | None = None,
    work_pool_name: str | None = None,
    work_queue_name: str | None = None,
    tags: list[str] | None = None,
    paused: bool | None = None,
    interval: float | timedelta | None = None,
    rrule: str | None = None,
    job_variables: dict[str, Any] | None = None,
    concurrency_limit: int | ConcurrencyLimitConfig | None = DEFAULT_CONCURRENCY_LIMIT,
    replace: bool = False,
    max_submits: int | None = None,
    resubmit_check_failed: bool = False,
    endpoint: str | None = None,
) -> BatchDeployment:
    """Build a (by default nightly) deployment of the CSV batch flow.

    Args:
        csv_url: The prompts CSV, any fsspec URL.
        output_url: The folder for videos, sidecars and `results.csv`.
        credentials_block: Name of a saved `ModelsLabCredentials` block.
        name: Deployment name. Default: `default_deployment_name(csv_url, output_url)`,
            e.g. `nightly-to-videos-3f2a9c1d`, distinct for each CSV and folder.
        cron: Cron schedule. Default: `DEFAULT_CRON` (02:00 every night) unless
            `interval` or `rrule` is given; `None` (and no other schedule) for a
            deployment run only on demand.
        timezone: Time zone the schedule is read in.
        defaults: Request defaults for every row (model_id, output_type, ...).
        max_concurrency: Generations queued at once at ModelsLab.
        concurrency_limit_name: Prefect global concurrency limit shared by every
            run that uses the same account (see README, "Scheduled batches").
        strict: Stop before submitting anything if any row is invalid.
        storage_options: fsspec options for both URLs (no secrets here: prefer
            environment credentials or an fsspec config on the worker).
        webhook_url: Sent as every submit's `webhook` (a `webhook-receiver`
            for `output_url` behind it recovers lost submit answers).
        work_pool_name: Work pool the deployment runs on, when applied.
        work_queue_name: Work queue within the pool.
        tags: Tags for the deployment and its runs.
        paused: Create the schedule paused.
        interval: Seconds (or a `timedelta`) between runs, instead of `cron`.
        rrule: An iCalendar RRULE, instead of `cron`.
        job_variables: Work-pool job variables (e.g. `{"env": {...}}`, an image,
            a working directory) for the runs of this deployment.
        concurrency_limit: Runs of this deployment allowed at once. The default,
            1 with `ENQUEUE`, keeps tonight's run from overlapping last night's:
            two runs of one CSV into one folder would race on the same rows (and
            both could pay for a row neither has journaled yet), and together
            they would queue twice the account's share. A run that waits starts
            when the previous one ends and reuses its finished videos for free,
            so no night is skipped (`CANCEL_NEW` would drop it). An int means
            that many with `ENQUEUE`; `None`: no limit.
        replace: Let `apply` replace a deployment of this name whose CSV, output
            folder, schedule or work pool differ (never a pool-bound one by a
            deployment without a pool). Without it, `apply` raises
            `DeploymentConflictError` instead.
        max_submits: Each run refuses, before any submit, a plan that needs
            more new submits than this (a guard against the wrong CSV or folder).
        resubmit_check_failed: Each run pays again for rows whose video failed
            its check (the failed video is kept under a versioned name).
        endpoint: The endpoint of rows that name none (`text2video_ultra`).

    Returns:
        A `BatchDeployment`: pass it to `prefect.serve(...)`, or call `.apply()`.

    Raises:
        ValueError: More than one of `cron`, `interval` and `rrule` is given.

    Example:
        ```python
        # not run: needs the work pool "video-pool"
        from prefect_modelslab import batch_deployment

        deployment = batch_deployment(
            csv_url="prompts.csv",
            output_url="videos/",
            credentials_block="modelslab",
            work_pool_name="video-pool",
        )
        deployment_id = deployment.apply()  # in async code: await deployment.aapply()
        ```
    """
    from prefect_modelslab.flows import generate_videos_from_csv

    parameters: dict[str, Any] = {
        "csv_url": csv_url,
        "output_url": output_url,
        "credentials": credentials_block,
        "max_concurrency": max_concurrency,
        "strict": strict,
    }
    if defaults:
        parameters["defaults"] = defaults
    if concurrency_limit_name:
        parameters["concurrency_limit_name"] = concurrency_limit_name
    if storage_options:
        parameters["storage_options"] = storage_options
    if webhook_url:
        parameters["webhook_url"] = webhook_url
    if max_submits is not None:
        parameters["max_submits"] = max_submits
    if resubmit_check_failed:
        parameters["resubmit_check_failed"] = True
    if endpoint:
        parameters["endpoint"] = endpoint

    if cron is _UNSET:
        cron = None if interval or rrule else DEFAULT_CRON
    schedule = batch_schedule(cron=cron, interval=interval, rrule=rrule, timezone=timezone)
    schedules = [schedule] if schedule is not None else None
    if isinstance(concurrency_limit, int):
        concurrency_limit = ConcurrencyLimitConfig(
            limit=concurrency_limit, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE
        )
    # `RunnerDeployment.from_flow` (not the sync/async-dispatching
    # `Flow.to_deployment`) returns the deployment in sync and async code alike.
    deployment = BatchDeployment.from_flow(
        generate_videos_from_csv,
        name=name or default_deployment_name(csv_url, output_url),
        schedules=schedules,
        paused=paused,
        parameters=parameters,
        description=f"Generate the videos of {csv_url} into {output_url} with ModelsLab.",
        tags=["modelslab", *(tags or [])],
        work_pool_name=work_pool_name,
        work_queue_name=work_queue_name,
        job_variables=job_variables,
        concurrency_limit=concurrency_limit,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    assert isinstance(deployment, BatchDeployment)  # from_flow builds `cls`
    deployment.replace = replace
    return deployment
