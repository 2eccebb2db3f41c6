"""The fetcher checks the address it actually connected to, every hop (issue 17: DNS rebinding).

A rebinding name resolves to a public address for the pre-check and to a
private one for the connect. Here the pre-check (`is_private_url`) is patched to
say "public" while the real connection goes over loopback to the emulator: the
address of the connection must still refuse it, before any byte is stored.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from prefect_modelslab.client import fetcher as fetcher_module
from prefect_modelslab.client.fetcher import FileFetcher
from prefect_modelslab.exceptions import DownloadError
from prefect_modelslab.testing import ModelsLabEmulator

pytestmark = pytest.mark.filterwarnings(
    "ignore:Logger 'prefect.task_runs' attempted to send logs:UserWarning"
)

#: Another loopback address, for a "public" first hop (all of 127.0.0.0/8 is loopback).
HOP_HOST = "127.0.0.2"


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def file_url(emulator: ModelsLabEmulator) -> str:
    """The link of a finished generation on the emulator (http://127.0.0.1:<port>/...)."""
    emulator.configure(latency=0)
    answer = httpx.post(
        f"{emulator.base_url}/video/text2video",
        json={
            "key": emulator.api_key,
            "model_id": "cogvideox",
            "prompt": "a fox behind a rebinding name",
            "width": 64,
            "height": 64,
            "num_frames": 4,
        },
        timeout=10,
    ).json()
    assert answer["status"] == "success", answer
    url: str = answer["output"][0]
    assert url.startswith("http://127.0.0.1:")
    return url


@pytest.fixture
def pre_check_says_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a rebinding DNS answer does to the pre-check: every name looks public."""

    async def public(url: str) -> bool:
        return False

    monkeypatch.setattr(fetcher_module, "is_private_url", public)


class Redirector:
    """A file host on 127.0.0.2 whose every GET answers 302 to `target`."""

    def __init__(self) -> None:
        self.target = ""
        redirector = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(302)
                self.send_header("Location", redirector.target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((HOP_HOST, 0), Handler)
        self.url = f"http://{HOP_HOST}:{self.server.server_address[1]}/hop/fox.gif"


@pytest.fixture
def redirector() -> Iterator[Redirector]:
    host = Redirector()
    thread = threading.Thread(target=host.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        host.server.shutdown()
        host.server.server_close()
        thread.join(5)


async def test_a_name_that_passes_the_pre_check_but_connects_to_loopback_is_refused(
    file_url: str, pre_check_says_public: None, emulator: ModelsLabEmulator, tmp_path: Path
) -> None:
    destination = tmp_path / "videos" / "fox.gif"
    async with FileFetcher() as fetcher:
        with pytest.raises(DownloadError) as caught:
            await fetcher.download([file_url], str(destination), link_wait_seconds=0)
    error = caught.value
    assert error.reason == "refused_url" and error.url == file_url
    assert "the connection went to 127.0.0.1" in str(error)
    assert _files(tmp_path) == []  # no temporary file, nothing at the final path
    assert emulator.counters.download_requests == 1  # refused, not retried


async def test_allow_private_hosts_downloads_from_the_same_loopback_host(
    file_url: str, pre_check_says_public: None, tmp_path: Path
) -> None:
    destination = tmp_path / "videos" / "fox.gif"
    async with FileFetcher(allow_private_hosts=True) as fetcher:
        stored = await fetcher.download([file_url], str(destination), link_wait_seconds=0)
    assert stored.format == "gif" and destination.read_bytes()[:6] == b"GIF89a"


async def test_a_redirect_hop_that_connects_to_loopback_is_refused(
    file_url: str,
    pre_check_says_public: None,
    redirector: Redirector,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # The first hop's address (127.0.0.2) counts as public here; the redirect goes
    # to the emulator on 127.0.0.1: that hop's connection must be refused.
    is_private = fetcher_module._is_private_address
    monkeypatch.setattr(
        fetcher_module, "_is_private_address", lambda ip: ip != HOP_HOST and is_private(ip)
    )
    redirector.target = file_url
    hop_url = redirector.url
    destination = tmp_path / "fox.gif"
    async with FileFetcher() as fetcher:
        with pytest.raises(DownloadError) as caught:
            await fetcher.download([hop_url], str(destination), link_wait_seconds=0)
    assert caught.value.reason == "refused_url"
    assert caught.value.url == file_url  # the hop that was refused: the redirect's target
    assert "the connection went to 127.0.0.1" in str(caught.value)
    assert _files(tmp_path) == []

    # With both addresses counted as public the same hops download: it was the
    # second hop's address that refused it, not the first's.
    monkeypatch.setattr(fetcher_module, "_is_private_address", lambda ip: False)
    async with FileFetcher() as fetcher:
        stored = await fetcher.download([hop_url], str(destination), link_wait_seconds=0)
    assert stored.source_url == hop_url and destination.is_file()


async def test_through_a_proxy_the_proxy_resolves_and_connects(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A forward proxy on loopback (a local agent): its address is the connection's,
    # so only the pre-check of the file host's name applies.
    gif = b"GIF89a" + b"\0" * 32
    asked: list[str] = []

    class Proxy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)  # a proxy is asked for the absolute URL
            self.send_response(200)
            self.send_header("Content-Type", "image/gif")
            self.send_header("Content-Length", str(len(gif)))
            self.end_headers()
            self.wfile.write(gif)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_address[1]}")
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        async with FileFetcher() as fetcher:
            stored = await fetcher.download(
                ["http://videos.example.test/fox.gif"], str(tmp_path / "fox.gif")
            )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert asked == ["http://videos.example.test/fox.gif"]
    assert stored.bytes == len(gif) and (tmp_path / "fox.gif").read_bytes() == gif
