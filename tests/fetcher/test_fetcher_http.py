"""`FileFetcher` over a mocked file host: no key, one retry layer, refusals, atomic writes."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import respx

from prefect_modelslab.client.fetcher import FileFetcher, is_private_url, sniff_video
from prefect_modelslab.client.retries import RetryPolicy
from prefect_modelslab.exceptions import DownloadError

pytestmark = pytest.mark.filterwarnings(
    "ignore:Logger 'prefect.task_runs' attempted to send logs:UserWarning"
)


class SleepLog:
    """Records the waits the fetcher asks for instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def async_sleep(self, seconds: float) -> None:
        self.delays.append(seconds)

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=4,
            base_delay=1.0,
            max_delay=8.0,
            jitter=0.0,
            max_retry_after=60.0,
            async_sleep=self.async_sleep,
        )


class BrokenBody(httpx.AsyncByteStream):
    """A body that sends some bytes, then fails like a dropped connection."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"GIF89a"
        raise httpx.ReadError("peer closed connection")


@pytest.fixture
def sleeps() -> SleepLog:
    return SleepLog()


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_mocked=True, assert_all_called=False)


@pytest.fixture
async def fetcher(router: respx.Router, sleeps: SleepLog) -> AsyncIterator[FileFetcher]:
    transport = httpx.MockTransport(router.async_handler)
    async with FileFetcher(retry=sleeps.policy(), transport=transport) as fetcher:
        yield fetcher


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


GIF = b"GIF89a" + b"\0" * 20


async def _get(fetcher: FileFetcher, tmp_path: Path, *urls: str) -> bytes:
    dest = tmp_path / "out.gif"
    await fetcher.download(list(urls), str(dest), link_wait_seconds=0)
    return dest.read_bytes()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"GIF89a\x40\x00\x40\x00\xf7\x00", "gif"),
        (b"GIF87a\x40\x00\x40\x00\xf7\x00", "gif"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "mp4"),
        (b"\x00\x00\x00\x1cftypmp42\x00\x00\x00\x00", "mp4"),
    ],
)
def test_sniff_accepts_gif_and_iso_bmff(head: bytes, expected: str) -> None:
    assert sniff_video(head) == expected


@pytest.mark.parametrize(
    ("head", "quoted"),
    [
        (b"<!DOCTYPE html><html><body>502</body></html>", "'<!DOCTYPE html><'"),
        (b'{"status":"error","message":"x"}', '\'{"status":"error\''),
        (b"\x00\x00\x00\x20moov\x00\x00\x00\x00", "moov"),
    ],
)
def test_sniff_refuses_other_bodies_and_quotes_them(head: bytes, quoted: str) -> None:
    with pytest.raises(DownloadError, match="not a video: body starts with") as caught:
        sniff_video(head)
    assert quoted in str(caught.value)
    assert caught.value.reason == "not_video"


def test_sniff_refuses_an_empty_body() -> None:
    with pytest.raises(DownloadError, match="empty"):
        sniff_video(b"")


async def test_gets_the_file_without_any_key_or_body(
    fetcher: FileFetcher, router: respx.Router, tmp_path: Path
) -> None:
    route = router.get("https://cdn.test/a.gif").respond(200, content=GIF)
    assert await _get(fetcher, tmp_path, "https://cdn.test/a.gif") == GIF
    request = route.calls.last.request
    assert request.method == "GET" and request.content == b""
    assert "key" not in str(request.url).lower()
    assert {name.lower() for name in request.headers} <= {
        "host",
        "accept",
        "accept-encoding",
        "connection",
        "user-agent",
    }


@pytest.mark.parametrize(
    "url", ["ftp://cdn.test/a.gif", "file:///etc/passwd", "not a url", "https:///nohost"]
)
async def test_refuses_non_http_urls(fetcher: FileFetcher, tmp_path: Path, url: str) -> None:
    with pytest.raises(DownloadError) as caught:
        await _get(fetcher, tmp_path, url)
    assert caught.value.url == url and caught.value.reason == "refused_url"


@pytest.mark.parametrize("code", [403, 404, 410])
async def test_4xx_is_a_download_error_with_the_status_and_no_retry(
    fetcher: FileFetcher, router: respx.Router, tmp_path: Path, code: int
) -> None:
    route = router.get("https://cdn.test/a.gif").respond(code)
    with pytest.raises(DownloadError) as caught:
        await _get(fetcher, tmp_path, "https://cdn.test/a.gif")
    assert caught.value.status_code == code and route.call_count == 1


async def test_retries_5xx_429_and_connect_errors_with_backoff(
    fetcher: FileFetcher, router: respx.Router, sleeps: SleepLog, tmp_path: Path
) -> None:
    route = router.get("https://cdn.test/a.gif").mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.ConnectError("refused"),
            httpx.Response(200, content=GIF),
        ]
    )
    assert await _get(fetcher, tmp_path, "https://cdn.test/a.gif") == GIF
    assert route.call_count == 4 and sleeps.delays == [1.0, 3.0, 4.0]


async def test_5xx_that_persists_is_a_download_error(
    fetcher: FileFetcher, router: respx.Router, tmp_path: Path
) -> None:
    route = router.get("https://cdn.test/a.gif").respond(500)
    with pytest.raises(DownloadError, match="after 4 attempts") as caught:
        await _get(fetcher, tmp_path, "https://cdn.test/a.gif")
    assert caught.value.status_code == 500
    assert route.call_count == 4  # one layer of retries, not retries of retries


async def test_connect_errors_that_persist_are_a_connection_failure(
    fetcher: FileFetcher, router: respx.Router, tmp_path: Path
) -> None:
    router.get("https://cdn.test/a.gif").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(DownloadError) as caught:
        await _get(fetcher, tmp_path, "https://cdn.test/a.gif")
    assert caught.value.reason == "connection"


async def test_follows_redirects(
    fetcher: FileFetcher, router: respx.Router, tmp_path: Path
) -> None:
    router.get("https://cdn.test/a.gif").respond(302, headers={"Location": "https://cdn2.test/b"})
    router.get("https://cdn2.test/b").respond(200, content=GIF)
    assert await _get(fetcher, tmp_path, "https://cdn.test/a.gif") == GIF


async def test_a_body_that_breaks_off_is_fetched_again_then_fails(
    fetcher: FileFetcher, router: respx.Router, tmp_path: Path
) -> None:
    route = router.get("https://cdn.test/a.gif").mock(
        side_effect=lambda request: httpx.Response(200, stream=BrokenBody())
    )
    with pytest.raises(DownloadError, match="broke off") as caught:
        await _get(fetcher, tmp_path, "https://cdn.test/a.gif")
    assert caught.value.url == "https://cdn.test/a.gif"
    assert route.call_count == 4
    assert _files(tmp_path) == []


async def test_the_next_link_is_tried_when_one_is_not_a_video(
    fetcher: FileFetcher, router: respx.Router, tmp_path: Path
) -> None:
    router.get("https://cdn.test/a.gif").respond(200, content=b"<!DOCTYPE html>oops")
    router.get("https://proxy.test/a.gif").respond(200, content=GIF)
    assert (
        await _get(fetcher, tmp_path, "https://cdn.test/a.gif", "https://proxy.test/a.gif") == GIF
    )


def _fetcher_serving(body: bytes, headers: dict[str, str]) -> FileFetcher:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, content=body)

    return FileFetcher(transport=httpx.MockTransport(handler))


async def test_body_shorter_than_its_content_length_is_not_stored(tmp_path: Path) -> None:
    async with _fetcher_serving(GIF + b"\0" * 80, {"Content-Length": "1000"}) as fetcher:
        with pytest.raises(DownloadError, match="ended after 106 of 1000 bytes") as caught:
            await fetcher.stream_to_storage("http://cdn.test/x.gif", str(tmp_path / "x.gif"))
    assert caught.value.reason == "incomplete"
    assert _files(tmp_path) == []


async def test_announced_size_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    async with _fetcher_serving(GIF + b"\0" * 80, {"Content-Length": "5000000"}) as fetcher:
        with pytest.raises(DownloadError, match="5000000 bytes, over the 1000-byte limit"):
            await fetcher.stream_to_storage(
                "http://cdn.test/x.gif", str(tmp_path / "x.gif"), max_bytes=1000
            )
    assert _files(tmp_path) == []


async def test_a_body_of_the_announced_length_is_stored(tmp_path: Path) -> None:
    body = b"\x00\x00\x00\x18ftypisom" + b"\x01" * 3000
    headers = {"Content-Length": str(len(body)), "Content-Type": "video/mp4"}
    async with _fetcher_serving(body, headers) as fetcher:
        stored = await fetcher.stream_to_storage("http://cdn.test/x.mp4", str(tmp_path / "x.mp4"))
    assert (stored.format, stored.bytes, stored.content_type) == ("mp4", len(body), "video/mp4")
    assert stored.sha256 == hashlib.sha256(body).hexdigest()
    assert _files(tmp_path) == ["x.mp4"]


class Trickle(httpx.AsyncByteStream):
    """A host that sends a header, then one byte at a time, slowly, forever."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        import asyncio

        yield GIF
        while True:
            await asyncio.sleep(0.05)
            yield b"\0"


async def test_a_trickling_host_cannot_outlast_the_download_deadline(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Trickle())

    async with FileFetcher(transport=httpx.MockTransport(handler)) as fetcher:
        with pytest.raises(DownloadError, match=r"within 0\.5 s") as caught:
            await fetcher.download(
                ["http://cdn.test/slow.gif"], str(tmp_path / "slow.gif"), timeout_seconds=0.5
            )
    assert caught.value.reason == "timeout"
    assert _files(tmp_path) == []  # the partial file is gone too


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x.gif",
        "http://localhost/x.gif",
        "http://10.0.0.5/x.gif",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x.gif",
        "http://192.168.1.20/x.gif",
    ],
)
async def test_private_hosts_are_refused_before_any_request(tmp_path: Path, url: str) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, content=GIF)

    async with FileFetcher(transport=httpx.MockTransport(handler)) as fetcher:
        with pytest.raises(DownloadError, match="private host") as caught:
            await fetcher.download([url], str(tmp_path / "x.gif"))
    assert caught.value.reason == "refused_url"
    assert calls == [] and _files(tmp_path) == []
    assert await is_private_url(url)


async def test_a_redirect_to_a_private_host_is_refused(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "cdn.test":
            return httpx.Response(302, headers={"Location": "http://127.0.0.1/secret"})
        return httpx.Response(200, content=GIF)

    async with FileFetcher(transport=httpx.MockTransport(handler)) as fetcher:
        with pytest.raises(DownloadError, match="private host"):
            await fetcher.download(["http://cdn.test/x.gif"], str(tmp_path / "x.gif"))
    assert _files(tmp_path) == []


async def test_private_hosts_are_allowed_when_asked(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=GIF)

    async with FileFetcher(
        transport=httpx.MockTransport(handler), allow_private_hosts=True
    ) as fetcher:
        await fetcher.download(["http://127.0.0.1/x.gif"], str(tmp_path / "x.gif"))
    assert _files(tmp_path) == ["x.gif"]
