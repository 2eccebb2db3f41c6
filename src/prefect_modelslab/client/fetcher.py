"""Fetching a generated file: links in, one whole, checked file in storage out.

`FileFetcher` has an HTTP client of its own that never knows the API key:
output links live on other hosts (a CDN) and are fetched without it. It is
the one layer that decides about retries of a download:

* a transfer that broke off, a 5xx, 429 or 408 answer, a connection or read
  timeout: fetched again from scratch, with backoff (`retry`), up to
  `retry.max_attempts` transfers in all;
* links that answer 404/410 (a `future_link` not there yet, or expired): tried
  again with backoff for up to `link_wait_seconds`, while other links are tried;
* anything else (another 4xx, a body that is not a video, a link we refuse):
  that link is dropped and the next one tried;
* a file over `max_bytes`: the download fails at once;
* the whole download has a deadline (`timeout_seconds`), so a host that trickles
  bytes cannot keep it alive forever.

Only http(s) links are fetched, and only from public hosts unless told
otherwise (`allow_private_hosts`, for an emulator on loopback). Every hop,
redirects included, is checked twice: its host name is resolved and refused
before connecting when it points at a loopback, link-local, private or other
non-public address (a cheap pre-check), and then the address of the
connection actually made is checked before any byte of the body is read.
That second check is what decides: a name can resolve to a public address for
the pre-check and to a private one for the connect (DNS rebinding). Through a
proxy the connection goes to the proxy, which resolves the name itself: only
the pre-check applies there.

Each transfer streams to a hidden temporary file next to the destination
(`storage.AtomicFile`), hashed on the way, and is moved into place only once
it is complete, of the announced length, under the size limit and
recognisably a GIF or an MP4. A failure never leaves anything at the final path.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from prefect_modelslab.client.api import _USER_AGENT, AsyncPool, _ssl_context
from prefect_modelslab.client.outcomes import check_http_url, retry_after_of
from prefect_modelslab.client.retries import RetryPolicy
from prefect_modelslab.exceptions import DownloadError, DownloadFailure
from prefect_modelslab.ledger.storage import AtomicFile, split_url

__all__ = [
    "DEFAULT_DOWNLOAD_TIMEOUT",
    "DEFAULT_LINK_WAIT_SECONDS",
    "DEFAULT_MAX_BYTES",
    "FileFetcher",
    "StoredVideo",
    "is_private_url",
    "sniff_video",
]

logger = logging.getLogger(__name__)

#: Largest file accepted, in bytes (the API's largest outputs are far smaller).
DEFAULT_MAX_BYTES = 1 << 30
#: How long to keep trying links that answer 404 (`future_links` not ready yet).
DEFAULT_LINK_WAIT_SECONDS = 30.0
#: Deadline of one whole download (every link and retry), in seconds.
DEFAULT_DOWNLOAD_TIMEOUT = 600.0
#: Transfers in all (first included) when transfers fail on the way.
DEFAULT_RETRY = RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=8.0, max_retry_after=30.0)
#: Backoff between rounds over links that answer 404/410 (no jitter).
_LINK_WAIT = RetryPolicy(base_delay=0.5, max_delay=8.0, jitter=0.0)
#: The NAT64 well-known prefix: the last 32 bits are an IPv4 address.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
_CHUNK = 64 * 1024
_FLUSH = 1 << 20  # hand the storage 1 MiB at a time
_SNIFF = 12

VideoFormat = Literal["gif", "mp4"]
_Verdict = Literal["retry", "wait", "drop", "fatal"]


class StoredVideo(BaseModel):
    """A downloaded video: where it is and what was written.

    Attributes:
        url: The file's URL (fsspec), e.g. `s3://bucket/videos/fox.gif`.
        name: The file name.
        bytes: Size in bytes.
        sha256: Hex digest of the content.
        source_url: The link it was downloaded from (never carries the key).
        content_type: The `Content-Type` the file host sent.
        format: `gif` or `mp4`, from the file's first bytes.
        downloaded_at: When the download finished (UTC).
    """

    model_config = ConfigDict(frozen=True)

    url: str
    name: str
    bytes: int = Field(ge=0)
    sha256: str
    source_url: str
    content_type: str | None = None
    format: Literal["gif", "mp4"]
    downloaded_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def sniff_video(head: bytes) -> VideoFormat:
    """The format announced by a file's first bytes: `gif` or `mp4` (ISO BMFF `ftyp`).

    Raises:
        DownloadError: The bytes are not a GIF or ISO BMFF header (`reason`
            `not_video`); the message quotes what was seen, e.g.
            `body starts with '<!DOCTYPE html'`.

    Example:
        ```python
        from prefect_modelslab.client.fetcher import sniff_video

        sniff_video(b"GIF89a\\x40\\x00\\x40\\x00")                       # 'gif'
        sniff_video(b"\\x00\\x00\\x00\\x20ftypisom\\x00\\x00\\x02\\x00")  # 'mp4'
        ```
    """
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return "mp4"
    if not head:
        raise DownloadError("not a video: the body is empty", reason="not_video")
    seen = head[:16].decode("latin-1")
    raise DownloadError(f"not a video: body starts with {seen!r}", reason="not_video")


def _is_private_address(address: str) -> bool:
    """Whether an IP address is anything but a public unicast one (ValueError: not an IP)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one (::ffff:127.0.0.1, 6to4, NAT64) is judged as IPv4.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            ip = embedded
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _peer_address(response: httpx.Response) -> str | None:
    """The IP address the response's connection is to, when the transport tells it."""
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    try:
        peer = stream.get_extra_info("server_addr")
    except Exception:
        return None
    if isinstance(peer, tuple | list) and peer:
        return str(peer[0])
    return str(peer) if isinstance(peer, str) and peer else None


async def is_private_url(url: str) -> bool:
    """Whether `url`'s host is, or resolves to, a loopback, link-local or other non-public address.

    This is the fetcher's pre-check; the address of the connection made
    decides. A host that cannot be resolved counts as not private (the GET
    then fails to connect, as it would anyway).

    Example:
        ```python
        from prefect_modelslab.client.fetcher import is_private_url

        await is_private_url("http://127.0.0.1:8765/api/v6")  # True
        await is_private_url("http://10.1.2.3/x.gif")         # True
        ```
    """
    host = httpx.URL(url).host
    if not host:
        return False
    try:
        return _is_private_address(host)
    except ValueError:
        pass  # a name, not an address: resolve it
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return any(_is_private_address(str(info[4][0])) for info in infos)


def _declared_length(response: httpx.Response) -> int | None:
    if response.headers.get("content-encoding", "identity") not in ("identity", ""):
        return None  # the header counts compressed bytes
    raw = response.headers.get("content-length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


class FileFetcher(AsyncPool):
    """Downloads generated files into any fsspec destination, with no API key.

    Args:
        retry: Backoff between transfers that failed on the way, and how many
            transfers to make in all.
        timeout: Per-request httpx timeouts (connect, read, ...).
        allow_private_hosts: Fetch from loopback, link-local and private
            addresses too (an emulator or a file host on the local network).
        transport: An httpx async transport, for tests. One that reports no
            connection (a mock) is checked by host name only.

    Example:
        ```python
        # not run: needs a bucket, and the emulator's links are on loopback
        from prefect_modelslab.client.fetcher import FileFetcher

        async with FileFetcher() as fetcher:
            stored = await fetcher.download(job.download_urls, "s3://bucket/videos/fox.gif")
        stored.sha256, stored.bytes
        ```
    """

    def __init__(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | float = _TIMEOUT,
        allow_private_hosts: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.retry = retry or DEFAULT_RETRY
        self.allow_private_hosts = allow_private_hosts
        self._own_transport = transport is None
        self._http = httpx.AsyncClient(
            timeout=timeout,
            headers={"Accept": "*/*", "User-Agent": _USER_AGENT},
            follow_redirects=True,
            transport=transport,
            event_hooks={"request": [self._guard], "response": [self._check_peer]},
            verify=_ssl_context(),
        )

    async def _guard(self, request: httpx.Request) -> None:
        # Every request, redirects included: refuse private hosts before connecting.
        url = str(request.url)
        if not self.allow_private_hosts and await is_private_url(url):
            raise DownloadError(
                f"refused to download from a loopback, link-local or private host: {url}",
                url=url,
                reason="refused_url",
            )

    async def _check_peer(self, response: httpx.Response) -> None:
        # Every response, redirects included, before its body is read: the address
        # of the connection made decides, whatever the name resolved to before.
        if self.allow_private_hosts:
            return
        url = str(response.request.url)
        if self._http._transport_for_url(response.request.url) is not self._http._transport:
            return  # through a proxy: the peer is the proxy, which resolves the name
        peer = _peer_address(response)
        if peer is None:
            if self._own_transport:
                raise DownloadError(
                    f"refused to download {url}: the connection's address is unknown",
                    url=url,
                    reason="refused_url",
                )
            return  # a caller's transport without sockets (a test's mock)
        try:
            private = _is_private_address(peer)
        except ValueError:
            private = True  # not an IP address (a Unix socket): not a public host
        if private:
            raise DownloadError(
                f"refused to download {url}: the connection went to {peer}, "
                "a loopback, link-local, private or otherwise non-public address",
                url=url,
                reason="refused_url",
            )

    async def stream_to_storage(
        self,
        url: str,
        destination: str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        storage_options: dict[str, Any] | None = None,
    ) -> StoredVideo:
        """Stream one URL to `destination` atomically: one transfer, no retries.

        Memory stays constant whatever the size: chunks go to a temporary file
        next to `destination` (1 MiB at a time) and are hashed on the way.

        Raises:
            DownloadError: The GET failed, the body broke off, is over
                `max_bytes`, shorter than its `Content-Length`, or not a video
                (`reason` says which).

        Example:
            ```python
            async with FileFetcher(allow_private_hosts=True) as fetcher:  # an emulator's link
                stored = await fetcher.stream_to_storage(url, "memory://videos/fox.gif")
            ```
        """
        try:
            check_http_url(url, "the file URL")
        except ValueError:
            raise DownloadError(
                f"not an http(s) URL: {url}", url=url, reason="refused_url"
            ) from None
        try:
            async with self._http.stream("GET", url) as response:
                _raise_for_status(response, url)
                return await self._store(response, url, destination, max_bytes, storage_options)
        except httpx.HTTPError as error:
            failure = _transport_failure(error, url)
        raise failure  # outside the except block: no httpx request in the context

    async def _store(
        self,
        response: httpx.Response,
        url: str,
        destination: str,
        max_bytes: int,
        storage_options: dict[str, Any] | None,
    ) -> StoredVideo:
        declared = _declared_length(response)
        if declared is not None and declared > max_bytes:
            raise DownloadError(
                f"the file is {declared} bytes, over the {max_bytes}-byte limit",
                url=url,
                reason="too_large",
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
                    raise DownloadError(
                        f"the file is over the {max_bytes}-byte limit", url=url, reason="too_large"
                    )
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
                raise DownloadError(
                    f"the body ended after {total} of {declared} bytes",
                    url=url,
                    reason="incomplete",
                )
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

    async def download(
        self,
        urls: Sequence[str],
        destination: str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        link_wait_seconds: float = DEFAULT_LINK_WAIT_SECONDS,
        timeout_seconds: float = DEFAULT_DOWNLOAD_TIMEOUT,
        storage_options: dict[str, Any] | None = None,
        label: str = "the file",
    ) -> StoredVideo:
        """Download the first link that gives a whole video, trying them best first.

        Args:
            urls: Candidate links, best first (e.g. `VideoJob.download_urls`).
            destination: The final file URL (any fsspec URL).
            max_bytes: Largest file accepted.
            link_wait_seconds: How long to keep retrying links that answer 404.
            timeout_seconds: Deadline of the whole download.
            storage_options: Options for the destination's fsspec filesystem.
            label: What is downloaded, for messages (e.g. "generation 42").

        Returns:
            Where the file is, its size, sha256, source URL and content type.

        Raises:
            DownloadError: No link gave a whole video in time; the message lists
                each link tried and what went wrong. Nothing is left at `destination`.

        Example:
            ```python
            async with FileFetcher(allow_private_hosts=True) as fetcher:  # an emulator's links
                stored = await fetcher.download(job.download_urls, "videos/fox.gif")
            ```
        """
        problems: dict[str, str] = {}
        try:
            async with asyncio.timeout(timeout_seconds):
                return await self._try_links(
                    list(urls), destination, max_bytes, link_wait_seconds, storage_options, problems
                )
        except TimeoutError:
            detail = "; ".join(f"{u}: {p}" for u, p in problems.items())
            raise DownloadError(
                f"could not download {label} within {timeout_seconds:g} s"
                + (f" ({detail})" if detail else ""),
                url=next(reversed(problems), None),
                reason="timeout",
            ) from None
        except DownloadError as error:
            detail = "; ".join(f"{u}: {p}" for u, p in problems.items()) or "no links"
            raise DownloadError(
                f"could not download {label}: {detail}",
                url=error.url,
                reason=error.reason,
                status_code=error.status_code,
            ) from None

    async def _try_links(
        self,
        candidates: list[str],
        destination: str,
        max_bytes: int,
        link_wait_seconds: float,
        storage_options: dict[str, Any] | None,
        problems: dict[str, str],
    ) -> StoredVideo:
        """Try each link in turn until one gives a whole video; see the module docstring."""
        transfers = 0
        waits = 0
        waited_until = time.monotonic() + link_wait_seconds
        last: DownloadError | None = None
        while candidates:
            missing: list[str] = []
            for url in list(candidates):
                while True:
                    try:
                        return await self.stream_to_storage(
                            url, destination, max_bytes=max_bytes, storage_options=storage_options
                        )
                    except DownloadError as error:
                        last = error
                        problems[url] = str(error)
                        verdict = _verdict(error)
                    transfers += 1
                    if verdict == "fatal":
                        raise last
                    if verdict == "retry":
                        delay = self.retry.delay(transfers, last.retry_after)
                        if delay is None and transfers > 1:
                            problems[url] = f"{last} (after {transfers} attempts)"
                        if delay is not None:
                            logger.info(
                                "Download of %s failed (%s); again in %.1f s", url, last, delay
                            )
                            await self.retry.async_sleep(delay)
                            continue
                    if verdict == "wait":
                        missing.append(url)
                    else:
                        candidates.remove(url)
                    break
            candidates = missing
            if not candidates:
                break
            waits += 1
            delay = _LINK_WAIT.backoff(waits)
            if time.monotonic() + delay > waited_until:
                break
            logger.info("Links answer 404; trying them again in %.1f s", delay)
            await self.retry.async_sleep(delay)
        raise last or DownloadError("no http(s) link to download", reason="refused_url")


def _verdict(error: DownloadError) -> _Verdict:
    reason: DownloadFailure = error.reason
    if reason == "too_large":
        return "fatal"
    if reason == "not_found":
        return "wait"
    if reason in ("connection", "timeout", "incomplete"):
        return "retry"
    if reason == "http_status":
        code = error.status_code
        return "retry" if code is not None and (code >= 500 or code in (408, 429)) else "drop"
    return "drop"


def _raise_for_status(response: httpx.Response, url: str) -> None:
    code = response.status_code
    if response.is_success:
        return
    reason: DownloadFailure = "not_found" if code in (404, 410) else "http_status"
    raise DownloadError(
        f"the file GET answered HTTP {code}: {url}",
        url=url,
        status_code=code,
        reason=reason,
        retry_after=retry_after_of(response) if code == 429 else None,
    )


def _transport_failure(error: httpx.HTTPError, url: str) -> DownloadError:
    kind = type(error).__name__
    if isinstance(error, httpx.TimeoutException):
        return DownloadError(f"the file GET timed out ({kind}): {url}", url=url, reason="timeout")
    if isinstance(error, httpx.ConnectError):
        return DownloadError(
            f"could not connect to the file host ({kind}: {error}): {url}",
            url=url,
            reason="connection",
        )
    if isinstance(error, httpx.TransportError | httpx.DecodingError) and not isinstance(
        error, httpx.UnsupportedProtocol
    ):
        return DownloadError(
            f"the download broke off ({kind}: {error}): {url}", url=url, reason="connection"
        )
    return DownloadError(f"the file GET failed ({kind}: {error})", url=url, reason="refused_url")
