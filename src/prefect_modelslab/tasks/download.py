"""The `download_video` task: a ready generation's file into any fsspec destination."""

from __future__ import annotations

import time
from typing import Any

from prefect_modelslab.client.fetcher import (
    DEFAULT_DOWNLOAD_TIMEOUT,
    DEFAULT_LINK_WAIT_SECONDS,
    DEFAULT_MAX_BYTES,
    FileFetcher,
    StoredVideo,
    is_private_url,
)
from prefect_modelslab.client.models import VideoJob
from prefect_modelslab.exceptions import DownloadError
from prefect_modelslab.runtime.dispatch import dispatching
from prefect_modelslab.runtime.logs import run_logger
from prefect_modelslab.tasks._common import download_run_name, modelslab_task, row_label

__all__ = ["adownload_video", "download_video"]


@modelslab_task(
    name="download_video",
    description="Stream a generated video to any fsspec destination, atomically and checked.",
    run_name=download_run_name,
    # The fetcher is the one layer that retries (broken transfers, 404 links),
    # bounded by its deadline; what is left after it is not worth a second round.
    retries=0,
)
async def adownload_video(
    job: VideoJob,
    video_url: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    link_wait_seconds: float = DEFAULT_LINK_WAIT_SECONDS,
    timeout_seconds: float = DEFAULT_DOWNLOAD_TIMEOUT,
    allow_private_hosts: bool | None = None,
    storage_options: dict[str, Any] | None = None,
) -> StoredVideo:
    """Download a ready generation's file to `video_url` (any fsspec URL).

    The file is streamed (constant memory), hashed (sha256) and written
    atomically: to a hidden `.NAME.part-UUID` next to `video_url`, moved into
    place only when complete. Links are tried best first (`output`, then
    `future_links`, then `proxy_links`); broken transfers are fetched again
    with backoff, links that answer 404 are tried again for up to
    `link_wait_seconds`, and the whole download ends by `timeout_seconds`.
    The body must start like a GIF or an MP4, match its `Content-Length` and
    stay under `max_bytes`. Only http(s) links are fetched, never with the API
    key, and only from public hosts unless the API itself is on a private one.

    Args:
        job: A ready job (`wait_for_video`'s result).
        video_url: The final file URL, e.g. `s3://bucket/videos/fox.gif`
            (its extension is yours to choose: `job.output_type` says what the
            server made, always `mp4` for a `text2video_ultra` job).
        max_bytes: Largest file accepted.
        link_wait_seconds: How long to keep retrying 404 links.
        timeout_seconds: Deadline of the whole download, in seconds.
        allow_private_hosts: Fetch from loopback, link-local or private
            addresses; None allows them only when the job's API root (`job.base_url`,
            e.g. the emulator) is on such an address.
        storage_options: Options for the destination's fsspec filesystem.

    Returns:
        Where the file is, its size, sha256, source URL and content type.

    Raises:
        DownloadError: No link gave a whole video; the message lists each
            link tried and what went wrong. Nothing is left at `video_url`.

    Example:
        ```python
        from prefect_modelslab.tasks import download_video, wait_for_video

        ready = await wait_for_video(credentials, job)
        stored = await download_video(ready, "videos/fox.gif")
        stored.sha256, stored.bytes
        ```
    """
    logger = run_logger()
    urls = job.download_urls
    if not urls:
        raise DownloadError(
            f"no downloadable link for generation {job.generation_id} (the job has no links)",
            generation_id=job.generation_id,
            reason="refused_url",
        )
    if allow_private_hosts is None:
        allow_private_hosts = job.base_url is not None and await is_private_url(job.base_url)
    started = time.monotonic()
    async with FileFetcher(allow_private_hosts=allow_private_hosts) as fetcher:
        try:
            stored = await fetcher.download(
                urls,
                video_url,
                max_bytes=max_bytes,
                link_wait_seconds=link_wait_seconds,
                timeout_seconds=timeout_seconds,
                storage_options=storage_options,
                label=row_label(job),
            )
        except DownloadError as error:
            error.generation_id = job.generation_id
            raise
    logger.info(
        "Stored %s at %s (%d bytes, %.1f s)",
        row_label(job),
        video_url,
        stored.bytes,
        time.monotonic() - started,
    )
    return stored


#: `adownload_video` for sync and async callers alike (see `prefect_modelslab.runtime.dispatch`).
download_video = dispatching(adownload_video)
