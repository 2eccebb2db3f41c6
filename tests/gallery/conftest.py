"""Fixtures for the gallery tests: serve a folder on 127.0.0.1 and log what is asked,
and open pages in the system's headless Chromium through Playwright."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request

#: Debian's Chromium (`apt-get install chromium`); Playwright drives it, and
#: never downloads a browser of its own (no `playwright install`).
CHROMIUM = Path("/usr/bin/chromium")
#: Flags for a quiet headless Chromium on a closed network, as root. Playwright
#: gives each launch a fresh user-data dir and removes it on close.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"needs Chromium at {CHROMIUM}: apt-get install chromium (.ci/run installs it)",
)


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """The system Chromium, headless, driven by Playwright; closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class WatchedPage:
    """A page (its own browser context) and what it did: every URL it asked for, every error.

    `errors` holds uncaught exceptions and console errors (a CSP violation or a
    file that failed to load is one).
    """

    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, browser: Browser, width: int = 1280, height: int = 800) -> WatchedPage:
        watched = cls(browser.new_page(viewport={"width": width, "height": height}))

        def on_request(request: Request) -> None:
            watched.requests.append(request.url)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                watched.errors.append(message.text)

        watched.page.on("request", on_request)
        watched.page.on("console", on_console)
        watched.page.on("pageerror", lambda error: watched.errors.append(str(error)))
        watched.page.set_default_timeout(30_000)
        return watched


@dataclass
class ServedFolder:
    """A folder served over HTTP on loopback, with the path of every request it answered."""

    folder: Path
    base_url: str
    access_log: list[str] = field(default_factory=list)


@contextmanager
def serve_folder(folder: Path) -> Iterator[ServedFolder]:
    """Serve `folder` (http.server in a thread on 127.0.0.1, a free port) while in the block."""
    served = ServedFolder(folder=folder, base_url="")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # the access log
            served.access_log.append(self.path)

    handler = functools.partial(Handler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    served.base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, name="gallery-http", daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
