"""prefect-modelslab: Prefect blocks, tasks and flows for ModelsLab text-to-video.

Public names are re-exported here and imported on first use, so that
`prefect_modelslab.media` (the ffmpeg-free probe) stays usable without paying
for `import prefect`.

Example:
    ```python
    from prefect_modelslab import ModelsLabCredentials, generate_videos_from_csv

    report = generate_videos_from_csv(
        csv_url="prompts.csv",
        output_url="s3://my-bucket/videos/",
        credentials="modelslab",  # a saved ModelsLabCredentials block
    )
    ```
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {
    # blocks
    "ModelsLabCredentials": ("blocks", "ModelsLabCredentials"),
    # client
    "AsyncModelsLabClient": ("client", "AsyncModelsLabClient"),
    "ModelsLabClient": ("client", "ModelsLabClient"),
    "DEFAULT_BASE_URL": ("client", "DEFAULT_BASE_URL"),
    "RetryPolicy": ("retries", "RetryPolicy"),
    # models
    "FieldProblem": ("models", "FieldProblem"),
    "Text2VideoRequest": ("models", "Text2VideoRequest"),
    "Text2VideoResponse": ("models", "Text2VideoResponse"),
    "VideoJob": ("models", "VideoJob"),
    "VideoMeta": ("models", "VideoMeta"),
    "validation_problems": ("models", "validation_problems"),
    # exceptions
    "DownloadError": ("exceptions", "DownloadError"),
    "ForbiddenError": ("exceptions", "ForbiddenError"),
    "GenerationFailedError": ("exceptions", "GenerationFailedError"),
    "GenerationTimeoutError": ("exceptions", "GenerationTimeoutError"),
    "InsufficientCreditsError": ("exceptions", "InsufficientCreditsError"),
    "InvalidAPIKeyError": ("exceptions", "InvalidAPIKeyError"),
    "ModelsLabAPIError": ("exceptions", "ModelsLabAPIError"),
    "ModelsLabConnectionError": ("exceptions", "ModelsLabConnectionError"),
    "ModelsLabError": ("exceptions", "ModelsLabError"),
    "ModelsLabTimeoutError": ("exceptions", "ModelsLabTimeoutError"),
    "RateLimitError": ("exceptions", "RateLimitError"),
    "RequestRejectedError": ("exceptions", "RequestRejectedError"),
    "ServerError": ("exceptions", "ServerError"),
    "SubmitOutcomeUnknownError": ("exceptions", "SubmitOutcomeUnknownError"),
    # media probe (no Prefect)
    "ExpectedVideo": ("media", "ExpectedVideo"),
    "VideoCheck": ("media", "VideoCheck"),
    "VideoInfo": ("media", "VideoInfo"),
    "VideoProbeError": ("media", "VideoProbeError"),
    "probe_video": ("media", "probe_video"),
    # tasks (the plain, Prefect-free check is `prefect_modelslab.media.check_video`)
    "submit_video": ("tasks", "submit_video"),
    "wait_for_video": ("tasks", "wait_for_video"),
    "download_video": ("tasks", "download_video"),
    "check_video": ("tasks", "check_video"),
    # results
    "StoredVideo": ("results", "StoredVideo"),
    "VideoResult": ("results", "VideoResult"),
    "BatchReport": ("report", "BatchReport"),
    "RowResult": ("report", "RowResult"),
    # flows
    "generate_video": ("flows", "generate_video"),
    "generate_videos_from_csv": ("flows", "generate_videos_from_csv"),
    "run_video": ("flows", "run_video"),
    "batch_progress": ("flows.batch", "batch_progress"),
    # CSV input
    "InvalidCsvError": ("csv_input", "InvalidCsvError"),
    "plan_csv": ("csv_input", "plan_csv"),
    # deployments
    "batch_deployment": ("deployments", "batch_deployment"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'prefect_modelslab' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"prefect_modelslab.{module_name}"), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from prefect_modelslab.blocks import ModelsLabCredentials
    from prefect_modelslab.client import DEFAULT_BASE_URL, AsyncModelsLabClient, ModelsLabClient
    from prefect_modelslab.csv_input import InvalidCsvError, plan_csv
    from prefect_modelslab.deployments import batch_deployment
    from prefect_modelslab.exceptions import (
        DownloadError,
        ForbiddenError,
        GenerationFailedError,
        GenerationTimeoutError,
        InsufficientCreditsError,
        InvalidAPIKeyError,
        ModelsLabAPIError,
        ModelsLabConnectionError,
        ModelsLabError,
        ModelsLabTimeoutError,
        RateLimitError,
        RequestRejectedError,
        ServerError,
        SubmitOutcomeUnknownError,
    )
    from prefect_modelslab.flows import generate_video, generate_videos_from_csv, run_video
    from prefect_modelslab.flows.batch import batch_progress
    from prefect_modelslab.media import (
        ExpectedVideo,
        VideoCheck,
        VideoInfo,
        VideoProbeError,
        probe_video,
    )
    from prefect_modelslab.models import (
        FieldProblem,
        Text2VideoRequest,
        Text2VideoResponse,
        VideoJob,
        VideoMeta,
        validation_problems,
    )
    from prefect_modelslab.report import BatchReport, RowResult
    from prefect_modelslab.results import StoredVideo, VideoResult
    from prefect_modelslab.retries import RetryPolicy
    from prefect_modelslab.tasks import check_video, download_video, submit_video, wait_for_video
