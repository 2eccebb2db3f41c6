"""A small headless-Chromium driver over the DevTools protocol, for tests and screenshots.

No browser download and no driver package: it starts the system's Chromium
(Debian: `apt-get install chromium`) with a fresh profile and
`--remote-debugging-port=0`, reads the port Chromium picked from the profile's
`DevToolsActivePort`, and talks the Chrome DevTools Protocol (CDP) over one
websocket (`websockets`, which Prefect already installs), with flattened
sessions per page. Synchronous and single-threaded: each command waits for
its answer; events that arrive meanwhile are kept per page.

Like the rest of `prefect_modelslab.testing` it imports nothing from the rest
of the package, nor Prefect.

Example:
    ```python
    from prefect_modelslab.testing.chromium import Chromium

    with Chromium() as browser:
        page = browser.new_page(width=1280, height=800)
        page.goto("http://127.0.0.1:8000/index.html")
        page.wait_for("document.querySelectorAll('[data-loaded]').length > 0")
        page.screenshot("gallery.png")
    ```
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.sync.client import ClientConnection, connect

__all__ = ["CHROMIUM_FLAGS", "BrowserError", "Chromium", "Page", "find_chromium"]

#: Flags for a quiet headless Chromium on a closed network, as root.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserError(RuntimeError):
    """Chromium could not start, a command failed, or a wait timed out."""


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) executable: `$CHROMIUM`, else the first on PATH.

    Example:
        ```python
        from prefect_modelslab.testing.chromium import find_chromium

        find_chromium()  # '/usr/bin/chromium' or None
        ```
    """
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """A headless Chromium process and its DevTools connection (a context manager).

    Args:
        executable: The browser; default: `find_chromium()`.
        start_timeout: Seconds to wait for the DevTools endpoint.
        extra_args: More command-line flags.

    Example:
        ```python
        with Chromium() as browser:
            page = browser.new_page()
            page.goto("http://127.0.0.1:8000/")
            print(page.evaluate("document.title"))
        ```
    """

    def __init__(
        self,
        executable: str | None = None,
        *,
        start_timeout: float = 30.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.executable = executable or find_chromium()
        self.start_timeout = start_timeout
        self.extra_args = extra_args
        self._process: subprocess.Popen[bytes] | None = None
        self._profile: str | None = None
        self._ws: ClientConnection | None = None
        self._next_id = 0
        self._events: dict[str | None, list[dict[str, Any]]] = {}

    def __enter__(self) -> Chromium:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start the browser with a fresh profile and connect to it."""
        if not self.executable:
            raise BrowserError("Chromium not found: install it (Debian: apt-get install chromium)")
        self._profile = tempfile.mkdtemp(prefix="modelslab-chromium-")
        log = Path(self._profile) / "chromium.log"
        with log.open("wb") as out:
            self._process = subprocess.Popen(  # noqa: S603 - a fixed browser command line
                [
                    self.executable,
                    *CHROMIUM_FLAGS,
                    *self.extra_args,
                    f"--user-data-dir={self._profile}",
                    "--remote-debugging-address=127.0.0.1",
                    "--remote-debugging-port=0",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.start_timeout
        while True:
            lines = port_file.read_text().split() if port_file.exists() else []
            if len(lines) >= 2:
                break
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                self.close()
                raise BrowserError(f"Chromium did not start ({self.executable}):\n{tail}")
            time.sleep(0.1)
        url = f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        self._ws = connect(url, max_size=None, open_timeout=self.start_timeout)

    def close(self) -> None:
        """Close the browser and delete its profile; safe to call twice."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self.send("Browser.close", timeout=5)
            with contextlib.suppress(Exception):
                self._ws.close()
            self._ws = None
        if self._process is not None:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    def new_page(self, width: int = 1280, height: int = 800, scale: float = 1.0) -> Page:
        """Open a new tab with a `width` x `height` viewport and return it."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        page = Page(self, session)
        page.send("Page.enable")
        page.send("Runtime.enable")
        page.send("Network.enable")
        page.set_viewport(width, height, scale)
        return page

    def send(
        self, method: str, session: str | None = None, timeout: float = 60.0, **params: Any
    ) -> dict[str, Any]:
        """Send one CDP command and return its result (raises `BrowserError` on an error)."""
        if self._ws is None:
            raise BrowserError("the browser is not running")
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no answer to {method} within {timeout} s")
            try:
                reply = json.loads(self._ws.recv(timeout=left))
            except TimeoutError:
                continue
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self._events.setdefault(reply.get("sessionId"), []).append(reply)

    def events(self, session: str | None) -> list[dict[str, Any]]:
        """The events received so far for a session (oldest first)."""
        return self._events.setdefault(session, [])


class Page:
    """One tab of a `Chromium`: navigate, evaluate JavaScript, wait, take screenshots."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def send(self, method: str, timeout: float = 60.0, **params: Any) -> dict[str, Any]:
        """Send a CDP command to this page."""
        return self.browser.send(method, self.session, timeout, **params)

    def set_viewport(self, width: int, height: int, scale: float = 1.0) -> None:
        """Emulate a `width` x `height` CSS-pixel viewport at `scale` device pixels per pixel."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=scale,
            mobile=False,
        )

    def goto(self, url: str, timeout: float = 30.0) -> None:
        """Load `url` and wait until the document has loaded."""
        answer = self.send("Page.navigate", url=url)
        if answer.get("errorText"):
            raise BrowserError(f"cannot load {url}: {answer['errorText']}")
        self.wait_for(
            f"document.readyState === 'complete' && location.href === {json.dumps(url)}",
            timeout=timeout,
            what=f"{url} to load",
        )

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        answer = self.send(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=await_promise,
        )
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error in {expression[:80]!r}: {text}")
        return answer.get("result", {}).get("value")

    def wait_for(
        self, expression: str, *, timeout: float = 30.0, interval: float = 0.2, what: str = ""
    ) -> Any:
        """Poll a JavaScript expression until it is truthy and return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout} s waiting for {what or expression}")
            time.sleep(interval)

    def requested_urls(self) -> list[str]:
        """Every URL this page has requested so far (from `Network.requestWillBeSent`)."""
        self.evaluate("1")  # drain events that arrived since the last command
        return [
            e["params"]["request"]["url"]
            for e in self.browser.events(self.session)
            if e["method"] == "Network.requestWillBeSent"
        ]

    def console_errors(self) -> list[str]:
        """Console errors and uncaught exceptions seen so far (CSP violations included)."""
        self.evaluate("1")
        errors: list[str] = []
        for e in self.browser.events(self.session):
            if e["method"] == "Runtime.exceptionThrown":
                errors.append(str(e["params"]["exceptionDetails"].get("text")))
            elif e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error":
                errors.append(" ".join(str(a.get("value")) for a in e["params"]["args"]))
        return errors

    def screenshot(self, path: str | Path, *, full_page: bool = False) -> Path:
        """Save a PNG of the viewport (or of the whole page) to `path`."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["captureBeyondViewport"] = True
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": metrics["width"],
                "height": metrics["height"],
                "scale": 1,
            }
        data = self.send("Page.captureScreenshot", **params)["data"]
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(data))
        return out
