"""The `download_video` task: stream a generated file to any fsspec destination.

The body is streamed in chunks to a hidden temporary file next to the final
one, hashed on the way, and moved into place only once it is complete, of the
announced length, under the size limit and recognisably a GIF or an MP4. A
failure never leaves anything at the final path.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE

from prefect_modelslab.client import AsyncModelsLabClient
from prefect_modelslab.exceptions import (
    DownloadError,
    ModelsLabConnectionError,
    ModelsLabTimeoutError,
)
from prefect_modelslab.models import VideoJob
from prefect_modelslab.results import StoredVideo
from prefect_modelslab.storage import AtomicFile, split_url
from prefect_modelslab.tasks._common import run_logger, run_name

__all__ = [
    "DEFAULT_LINK_WAIT_SECONDS",
    "DEFAULT_MAX_BYTES",
    "download_video",
    "sniff_video",
    "stream_to_storage",
]

#: Largest file accepted, in bytes (the API's largest outputs are far smaller).
DEFAULT_MAX_BYTES = 1 << 30
#: How long to keep trying links that answer 404 (`future_links` not ready yet).
DEFAULT_LINK_WAIT_SECONDS = 30.0
#: Restarts from scratch after a broken transfer, across all links.
TRANSFER_RETRIES = 3

_CHUNK = 64 * 1024
_FLUSH = 1 << 20  # hand the storage 1 MiB at a time
_SNIFF = 12
_NOT_FOUND = {404, 410}
_TIMEOUT = httpx.Timeout(60.0, connect=10.0)

VideoFormat = Literal["gif", "mp4"]


class _Refused(DownloadError):
    """The body is not acceptable from this URL (not a video)."""


class _TooLarge(DownloadError):
    """The body is over the size limit: no other link will help."""


class _Incomplete(DownloadError):
    """The body ended before its announced length: worth another transfer."""


def sniff_video(head: bytes) -> VideoFormat:
    """The format announced by a file's first bytes: `gif` or `mp4` (ISO BMFF `ftyp`).

    Raises:
        DownloadError: The bytes are not a GIF or ISO BMFF header; the message
            quotes what was seen, e.g. `body starts with '<!DOCTYPE html'`.

    Example:
        ```python
        sniff_video(b"GIF89a\\x40\\x00\\x40\\x00")                  # 'gif'
        sniff_video(b"\\x00\\x00\\x00\\x20ftypisom\\x00\\x00\\x02\\x00")  # 'mp4'
        ```
    """
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return "mp4"
    if not head:
        raise _Refused("not a video: the body is empty")
    seen = head[:16].decode("latin-1")
    raise _Refused(f"not a video: body starts with {seen!r}")


def _declared_length(response: httpx.Response) -> int | None:
    if response.headers.get("content-encoding", "identity") not in ("identity", ""):
        return None  # the header counts compressed bytes
    raw = response.headers.get("content-length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


async def stream_to_storage(
    client: AsyncModelsLabClient,
    url: str,
    destination: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    storage_options: dict[str, Any] | None = None,
) -> StoredVideo:
    """Stream one URL to `destination` atomically; one attempt, no retries.

    Memory stays constant whatever the size: chunks go to a temporary file
    next to `destination` (1 MiB at a time) and are hashed on the way.

    Raises:
        DownloadError: The GET failed, the body broke off, is over
            `max_bytes`, shorter than its `Content-Length`, or not a video.

    Example:
        ```python
        async with credentials.get_async_client() as client:
            stored = await stream_to_storage(client, url, "memory://videos/fox.gif")
        ```
    """
    async with client.stream(url) as response:
        declared = _declared_length(response)
        if declared is not None and declared > max_bytes:
            raise _TooLarge(
                f"the file is {declared} bytes, over the {max_bytes}-byte limit", url=url
            )
        digest = hashlib.sha256()
        total = 0
        head = b""
        buffer = bytearray()
        fmt: VideoFormat | None = None
        out: AtomicFile | None = None
        try:
            async for chunk in response.aiter_bytes(_CHUNK):
                if out is None:
                    head += chunk
                    if len(head) < _SNIFF:
                        continue
                    fmt = sniff_video(head)
                    out = AtomicFile(destination, storage_options)
                    await asyncio.to_thread(out.open)
                    chunk, head = head, b""
                total += len(chunk)
                if total > max_bytes:
                    raise _TooLarge(f"the file is over the {max_bytes}-byte limit", url=url)
                digest.update(chunk)
                buffer += chunk
                if len(buffer) >= _FLUSH:
                    await asyncio.to_thread(out.write, bytes(buffer))
                    buffer.clear()
            if out is None:  # a body shorter than a header
                fmt = sniff_video(head)
                out = AtomicFile(destination, storage_options)
                await asyncio.to_thread(out.open)
                total, buffer = len(head), bytearray(head)
                digest.update(head)
            # Without a content-encoding, the bytes read are the bytes announced.
            if declared is not None and total != declared:
                raise _Incomplete(f"the body ended after {total} of {declared} bytes", url=url)
            if buffer:
                await asyncio.to_thread(out.write, bytes(buffer))
            await asyncio.to_thread(out.commit)
        except BaseException:
            if out is not None:
                out.abort()  # blocking on purpose: it must run even when cancelled
            raise
        assert fmt is not None
        return StoredVideo(
            url=destination,
            name=split_url(destination)[1],
            bytes=total,
            sha256=digest.hexdigest(),
            source_url=url,
            content_type=response.headers.get("content-type"),
            format=fmt,
            downloaded_at=datetime.now(UTC),
        )


def _kind(error: Exception) -> Literal["fatal", "refused", "not_found", "transient"]:
    if isinstance(error, _TooLarge):
        return "fatal"
    if isinstance(error, _Refused):
        return "refused"
    if isinstance(error, _Incomplete | ModelsLabConnectionError | ModelsLabTimeoutError):
        return "transient"
    if isinstance(error, DownloadError):
        code = error.status_code
        if code in _NOT_FOUND:
            return "not_found"
        if code is None or code >= 500 or code in (408, 429):
            return "transient"  # a broken-off body, or a server error after the client's retries
        return "refused"
    return "fatal"


def _run_name(parameters: dict[str, Any]) -> str:
    destination = parameters.get("destination")
    return f"download · {split_url(destination)[1]}" if isinstance(destination, str) else "download"


def _is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


@task(
    name="download_video",
    description="Stream a generated video to any fsspec destination, atomically and checked.",
    task_run_name=run_name(_run_name),
    # Retries happen inside, per link and bounded (broken transfers, 404 links);
    # what is left after them is not worth a second round.
    retries=0,
    cache_policy=NO_CACHE,
    persist_result=False,
)
async def download_video(
    job: VideoJob,
    destination: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    link_wait_seconds: float | None = None,
    **storage_options: Any,
) -> StoredVideo:
    """Download a ready generation's file to `destination` (any fsspec URL).

    The file is streamed (constant memory), hashed (sha256) and written
    atomically: to a hidden `.NAME.part-UUID` next to `destination`, moved into
    place only when complete. Links are tried best first (`output`, then
    `future_links`, then `proxy_links`). A body that breaks off is fetched
    again from scratch (bounded); links that answer 404 (a `future_link` not
    there yet, or expired) are tried again with backoff for up to
    `link_wait_seconds`, falling back to the proxies. The body must start like
    a GIF or an MP4, match its `Content-Length` and stay under `max_bytes`.
    Only http(s) URLs are fetched, and never with the API key.

    Args:
        job: A ready job (`wait_for_video`'s result).
        destination: The final file URL, e.g. `s3://bucket/videos/fox.gif`.
        max_bytes: Largest file accepted.
        link_wait_seconds: How long to keep retrying 404 links (default 30 s).
        **storage_options: Options for the destination's fsspec filesystem.

    Returns:
        Where the file is, its size, sha256, source URL and content type.

    Raises:
        DownloadError: No link gave a whole video; the message lists each
            link tried and what went wrong. Nothing is left at `destination`.

    Example:
        ```python
        ready = await wait_for_video(credentials, job)
        stored = await download_video(ready, "s3://bucket/videos/fox.gif", anon=False)
        stored.sha256, stored.bytes
        ```
    """
    logger = run_logger()
    link_wait = DEFAULT_LINK_WAIT_SECONDS if link_wait_seconds is None else link_wait_seconds
    candidates = [url for url in job.download_urls if _is_http(url)]
    problems: dict[str, str] = {
        url: "not an http(s) URL" for url in job.download_urls if not _is_http(url)
    }
    if not candidates:
        detail = "; ".join(f"{u}: {p}" for u, p in problems.items()) or "the job has no links"
        raise DownloadError(
            f"no downloadable link for generation {job.generation_id} ({detail})",
            generation_id=job.generation_id,
        )

    client = _file_client()
    transfers_left = TRANSFER_RETRIES
    link_delay, waited = 0.5, 0.0
    started = time.monotonic()
    try:
        while True:
            missing = False
            for url in list(candidates):
                while True:
                    try:
                        stored = await stream_to_storage(
                            client,
                            url,
                            destination,
                            max_bytes=max_bytes,
                            storage_options=storage_options,
                        )
                    except Exception as error:
                        kind = _kind(error)
                        problems[url] = str(error)
                        if kind == "fatal":
                            raise _failure(job, problems, error) from None
                        if kind == "transient" and transfers_left > 0:
                            transfers_left -= 1
                            logger.warning("Download of %s broke (%s); trying again", url, error)
                            await asyncio.sleep(0.2 * (TRANSFER_RETRIES - transfers_left))
                            continue
                        if kind == "not_found":
                            missing = True
                        else:
                            candidates.remove(url)
                        break
                    logger.info(
                        "Stored generation %s at %s (%d bytes, %.1f s)",
                        job.generation_id,
                        destination,
                        stored.bytes,
                        time.monotonic() - started,
                    )
                    return stored
            if not (missing and candidates) or waited + link_delay > link_wait:
                break
            logger.info(
                "Links of generation %s answer 404; trying again in %.1f s",
                job.generation_id,
                link_delay,
            )
            await asyncio.sleep(link_delay)
            waited += link_delay
            link_delay = min(link_delay * 2, 8.0)
    finally:
        await client.aclose()
    raise _failure(job, problems, None)


def _file_client() -> AsyncModelsLabClient:
    # File GETs never carry the key (the client sends it only in POST bodies
    # to the API), so this client gets a placeholder: the real key stays out
    # of the download path entirely. It brings the streaming, retries of 5xx
    # and connection errors, and the http(s)-only rule.
    return AsyncModelsLabClient("no-key-for-file-downloads", timeout=_TIMEOUT)


def _failure(job: VideoJob, problems: dict[str, str], error: Exception | None) -> DownloadError:
    detail = "; ".join(f"{url}: {problem}" for url, problem in problems.items())
    last = getattr(error, "url", None) or next(reversed(problems), None)
    return DownloadError(
        f"could not download generation {job.generation_id}: {detail}",
        generation_id=job.generation_id,
        url=last,
    )
