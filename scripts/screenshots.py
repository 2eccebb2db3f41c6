"""Take the README's screenshots: the demo batch in the Prefect UI, and its gallery.

One command, re-runnable, from the repository root after `make install`:

    .venv/bin/python scripts/screenshots.py            # writes docs/images/*.png

It starts a real `prefect server start` on a free loopback port (a temporary
PREFECT_HOME, analytics off, the UI pointed at the same server), runs
`prefect-modelslab demo` against it into a temporary folder, finds the flow
run and its artifacts through the Prefect API, and drives the system's
headless Chromium with Playwright (the dev extra installs it) to save:

- `progress.png`: the demo's progress artifact while it runs (counts, eta);
- `flow-run.png`: the flow run page (state, task timeline with the progress
  artifact's markers, logs);
- `flow-run-artifacts.png`: its Artifacts tab;
- `results-table.png`: the results table artifact of the batch with problems;
- `summary.png`: its summary (markdown) artifact;
- `events.png`: the event feed, filtered to `modelslab.video.*`;
- `event-check-failed.png`: one `modelslab.video.check_failed` event's page;
- `gallery.png`: the demo batch's `index.html`;
- `gallery-problems.png`: the gallery of a small batch, run after the demo
  against the bundled emulator with faults, that has a failed, a
  check-failed and an invalid row.

It installs nothing and downloads no browser (never `playwright install`):
Chromium comes from the system (Debian/Ubuntu: `apt-get install chromium`,
/usr/bin/chromium; or set CHROMIUM=/path/to/chromium); the status
markers (✅ ❌ ...) need a colour emoji font (`fonts-noto-color-emoji`). Exits 0 when
every picture was taken and looks like a page (not blank), 1 on any failure,
2 when Chromium or the project's commands are missing; the servers it starts
are stopped in every case.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Error as BrowserError
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[1]
#: Flags for a quiet headless Chromium on a closed network, as root (the
#: gallery tests use the same). Playwright gives each launch a fresh profile.
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
VIEWPORT = (1440, 900)
MAX_HEIGHT = 3000  # of a full-page picture
FLOW_NAME = "generate-videos-from-csv"
SETTLE_S = 2.0  # after a page's content is there: let charts and fonts finish drawing


class ScreenshotError(Exception):
    """A step failed: the message says which and why."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="PNG folder")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per page wait")
    args = parser.parse_args(argv)

    chromium = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
    if not os.access(chromium, os.X_OK):
        print(
            f"error: Chromium not found at {chromium}. Install it (Debian/Ubuntu: "
            "`apt-get install chromium`) or set CHROMIUM=/path/to/chromium.",
            file=sys.stderr,
        )
        return 2
    bin_dir = Path(sys.executable).parent
    prefect, cli = bin_dir / "prefect", bin_dir / "prefect-modelslab"
    if not (prefect.is_file() and cli.is_file()):
        print(
            f"error: {prefect} or {cli} missing: run `make install` and use .venv/bin/python",
            file=sys.stderr,
        )
        return 2

    work = Path(tempfile.mkdtemp(prefix="modelslab-screenshots-"))
    try:
        taken = take_all(chromium, prefect, cli, work, args.out, args.timeout)
    except (ScreenshotError, BrowserError, httpx.HTTPError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        print(f"(logs in {work})" if args.keep else "(run with --keep for logs)", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    for path, what in taken:
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {what}")
    return 0


def take_all(
    chromium: str, prefect: Path, cli: Path, work: Path, out: Path, timeout: float
) -> list[tuple[Path, str]]:
    """Start the server, run the demo, take every picture; returns (path, caption) pairs."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    ui = f"http://127.0.0.1:{port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PREFECT_") and key != "MODELSLAB_API_KEY"
    }
    env.update(
        PREFECT_HOME=str(work / "prefect-home"),
        PREFECT_API_URL=api,
        PREFECT_UI_API_URL=api,
        PREFECT_UI_URL=ui,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT="false",
    )
    videos, problems = work / "videos", work / "problems"
    with prefect_server(prefect, port, env, work / "server.log"):
        out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=CHROMIUM_FLAGS, headless=True, timeout=60_000
            )
            page = browser.new_page(viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]})
            page.set_default_timeout(timeout * 1000)
            step(f"Prefect server up at {ui}; running the demo batch (progress while it runs)")
            with (work / "demo.log").open("w") as demo_log:
                demo = subprocess.Popen(  # noqa: S603 - the project's own command
                    [str(cli), "demo", "--out", str(videos)],
                    env={**env, "COLUMNS": "160"},
                    stdin=subprocess.DEVNULL,
                    stdout=demo_log,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                try:
                    live = progress_while_running(page, ui, api, out, timeout)
                    code = demo.wait(timeout=900)
                finally:
                    if demo.poll() is None:
                        demo.kill()
                        demo.wait(timeout=30)
            if code not in (0, 1) or not (videos / "results.csv").is_file():
                tail = (work / "demo.log").read_text(errors="replace")[-1500:]
                raise ScreenshotError(f"the demo failed (exit {code}):\n{tail}")
            if not (videos / "index.html").is_file():
                raise ScreenshotError(f"the demo wrote no gallery ({videos / 'index.html'})")
            run = latest_flow_run(api, "batch · prompts.csv")
            artifacts = run_artifacts(api, run["id"])
            step(f"demo flow run {run['name']!r} ({run['id']}); taking screenshots")
            taken = [
                live,
                flow_run_page(page, ui, run, out, timeout),
                artifacts_tab(page, ui, run, artifacts, out, timeout),
                gallery_page(page, videos, out / "gallery.png", timeout),
            ]
            step("running a batch with problems")
            run_batch_with_problems(cli, env, work, problems)
            # Rows did not all succeed, so the run says Failed (with its counts).
            run = latest_flow_run(api, "batch · problems-prompts.csv", expected="FAILED")
            artifacts = run_artifacts(api, run["id"])
            step(f"problems flow run {run['name']!r} ({run['id']}); taking screenshots")
            taken += [
                artifact_page(page, ui, artifacts["table"], out / "results-table.png", timeout),
                artifact_page(
                    page, ui, artifacts["summary"], out / "summary.png", timeout, full_page=True
                ),
                events_page(page, ui, out, timeout),
                event_page(page, ui, api, "modelslab.video.check_failed", out, timeout),
                gallery_page(page, problems, out / "gallery-problems.png", timeout),
            ]
    for path, _ in taken:
        check_not_blank(path)
    return taken


# --- the pages ---------------------------------------------------------------------


def flow_run_page(
    page: Page, ui: str, run: dict[str, Any], out: Path, timeout: float
) -> tuple[Path, str]:
    page.goto(f"{ui}/runs/flow-run/{run['id']}")
    wait_for_text(page, [run["name"], "Completed", "Beginning flow run"], timeout)
    wait_for(page, "document.querySelector('canvas') !== null", timeout, "the graph")
    return shoot(page, out / "flow-run.png", "the flow run: state, task timeline, logs")


def artifacts_tab(
    page: Page,
    ui: str,
    run: dict[str, Any],
    artifacts: dict[str, dict[str, Any]],
    out: Path,
    timeout: float,
) -> tuple[Path, str]:
    page.goto(f"{ui}/runs/flow-run/{run['id']}")
    wait_for_text(page, [run["name"], "Artifacts"], timeout)
    click_tab = (
        "(() => { const tab = [...document.querySelectorAll('li.p-tab, [role=tab]')]"
        ".find(t => t.textContent.trim() === 'Artifacts'); if (tab) tab.click(); return !!tab; })()"
    )
    wait_for(page, click_tab, timeout, "the Artifacts tab")
    keys = [a["key"] for a in artifacts.values()]
    wait_for_text(page, keys, timeout)
    # The whole tab, however many artifacts there are.
    return shoot(
        page, out / "flow-run-artifacts.png", "the Artifacts tab of the flow run", full_page=True
    )


def progress_while_running(
    page: Page, ui: str, api: str, out: Path, timeout: float
) -> tuple[Path, str]:
    """The running batch's progress artifact, once its text gives counts and an eta."""
    deadline = time.monotonic() + timeout
    while True:
        answer = httpx.post(
            f"{api}/artifacts/filter",
            json={"artifacts": {"type": {"any_": ["progress"]}}, "limit": 10},
            timeout=30,
        )
        answer.raise_for_status()
        live = [a for a in answer.json() if "eta" in (a.get("description") or "")]
        if live:
            break
        if time.monotonic() > deadline:
            raise ScreenshotError("no progress artifact with an eta appeared while the demo ran")
        time.sleep(0.3)
    page.goto(f"{ui}/artifacts/artifact/{live[0]['id']}")
    wait_for_text(page, ["rows:", "eta"], timeout)
    return shoot(page, out / "progress.png", "the progress artifact while the batch runs")


def artifact_page(
    page: Page,
    ui: str,
    artifact: dict[str, Any],
    path: Path,
    timeout: float,
    *,
    full_page: bool = False,
) -> tuple[Path, str]:
    page.goto(f"{ui}/artifacts/artifact/{artifact['id']}")
    texts = [artifact["key"]]
    if artifact.get("description"):
        texts.append(" ".join(str(artifact["description"]).split())[:40])
    wait_for_text(page, texts, timeout)
    caption = f"the {artifact['type']} artifact {artifact['key']}"
    return shoot(page, path, caption, full_page=full_page)


def events_page(page: Page, ui: str, out: Path, timeout: float) -> tuple[Path, str]:
    page.goto(f"{ui}/events?events=modelslab.video.*")
    wait_for_text(page, ["Event Feed", "modelslab.video."], timeout)
    return shoot(
        page, out / "events.png", "the event feed, filtered to modelslab.video.*", full_page=True
    )


def event_page(
    page: Page, ui: str, api: str, name: str, out: Path, timeout: float
) -> tuple[Path, str]:
    """The newest event called `name`, on its own page (its Details tab)."""
    answer = httpx.post(
        f"{api}/events/filter",
        json={"filter": {"event": {"name": [name]}}, "limit": 1},
        timeout=30,
    )
    answer.raise_for_status()
    events = answer.json().get("events") or []
    if not events:
        raise ScreenshotError(f"no {name} event on the server")
    event = events[0]
    page.goto(f"{ui}/events/event/{event['occurred'][:10]}/{event['id']}")
    wait_for_text(page, [event["resource"]["prefect.resource.id"]], timeout)
    path = out / f"event-{name.rpartition('.')[2].replace('_', '-')}.png"
    return shoot(page, path, f"one {name} event", full_page=True)


def gallery_page(page: Page, videos: Path, path: Path, timeout: float) -> tuple[Path, str]:
    with serve_folder(videos) as base_url:
        page.goto(base_url + "index.html")
        # Everything on screen loaded, and the videos on screen playing.
        wait_for(
            page,
            """(() => {
              const inView = e => { const r = e.getBoundingClientRect();
                return r.bottom > 0 && r.top < innerHeight; };
              const media = [...document.querySelectorAll('.media img, .media video')]
                .filter(inView);
              return media.length > 0 && media.every(m => m.dataset.loaded)
                && media.filter(m => m.tagName === 'VIDEO').every(v => !v.paused);
            })()""",
            timeout,
            "the gallery's videos to load and play",
        )
        return shoot(page, path, f"the gallery, index.html, of {videos.name}/")


def run_batch_with_problems(cli: Path, env: dict[str, str], work: Path, out: Path) -> None:
    """`prefect-modelslab batch` against the emulator: a failed, a check-failed, an invalid row."""
    from prefect_modelslab.testing import Fault, ModelsLabEmulator

    prompts = work / "problems-prompts.csv"
    prompts.write_text(
        "id,prompt,output_type,num_frames,fps,width,height\n"
        'fox,"a red fox running through fresh snow at dawn",gif,16,8,256,256\n'
        'storm,"a lighthouse in a thunderstorm, waves crashing",mp4,16,8,256,256\n'
        'owl,"an owl turning its head at night",mp4,16,8,256,256\n'
        'hummingbird,"a hummingbird, far too fast",gif,16,99,256,256\n'
        'koi,"koi fish swirling in a pond, seen from above",gif,12,6,256,256\n'
        'lake,"a calm lake at sunrise, mist over the water",mp4,16,8,256,256\n'
    )
    with ModelsLabEmulator(latency=1.0, queue_limit=5) as emulator:
        emulator.inject(Fault("generation_failed", prompt="thunderstorm", times=None))
        emulator.inject(Fault("wrong_frames", prompt="owl", times=None))
        batch = subprocess.run(  # noqa: S603 - the project's own command
            [str(cli), "batch", str(prompts), "--out", str(out), "--base-url", emulator.base_url],
            env={**env, "MODELSLAB_API_KEY": emulator.api_key, "COLUMNS": "160"},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    (work / "problems.log").write_text(batch.stdout + batch.stderr)
    if batch.returncode != 1 or not (out / "index.html").is_file():
        tail = (batch.stdout + batch.stderr)[-1500:]
        raise ScreenshotError(f"the batch with problems did not end as expected:\n{tail}")


# --- helpers -----------------------------------------------------------------------


def step(message: str) -> None:
    print(f"-- {message}", flush=True)


def shoot(page: Page, path: Path, caption: str, *, full_page: bool = False) -> tuple[Path, str]:
    """Save the viewport; with `full_page`, grow the viewport to fit the page's scrolled pane."""
    time.sleep(SETTLE_S)
    if not full_page:
        page.screenshot(path=path)
        return path, caption
    # The UI scrolls an inner pane, not the document: fit the tallest one.
    extra = page.evaluate(
        "Math.max(0, ...[...document.querySelectorAll('*')]"
        ".map(e => e.scrollHeight - e.clientHeight))"
    )
    height = min(VIEWPORT[1] + int(extra), MAX_HEIGHT)
    page.set_viewport_size({"width": VIEWPORT[0], "height": height})
    try:
        time.sleep(SETTLE_S)
        page.screenshot(path=path)
    finally:
        page.set_viewport_size({"width": VIEWPORT[0], "height": VIEWPORT[1]})
    return path, caption


def wait_for_text(page: Page, texts: list[str], timeout: float) -> None:
    """Wait until the page shows every text and no loading indicator."""
    checks = " && ".join(f"document.body.innerText.includes({text!r})" for text in texts)
    loading = "document.querySelector('.p-loading-icon, [aria-busy=true]') === null"
    wait_for(page, f"({checks}) && {loading}", timeout, f"the page to show {texts}")


def wait_for(page: Page, expression: str, timeout: float, what: str) -> None:
    """Poll a JavaScript expression until it is truthy; a clear error after `timeout` s."""
    try:
        # A function, not a string: a string is eval-ed, which a page's CSP may forbid.
        page.wait_for_function(f"() => ({expression})", timeout=timeout * 1000, polling=200)
    except PlaywrightTimeout:
        raise ScreenshotError(f"timed out after {timeout:g} s waiting for {what}") from None


def check_not_blank(path: Path) -> None:
    """A page, not a blank screen or a lone spinner: many colours in the picture."""
    from PIL import Image  # the dev extra brings Pillow (for the emulator)

    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    if colours is not None and len(colours) < 20:
        raise ScreenshotError(f"{path} looks blank ({len(colours)} colours)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def prefect_server(prefect: Path, port: int, env: dict[str, str], log: Path) -> Iterator[None]:
    """`prefect server start` on 127.0.0.1:port, stopped (its whole process group) on exit."""
    step(f"starting `prefect server start --port {port}` (log: {log})")
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - the venv's own prefect
            [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-1500:]
                raise ScreenshotError(f"the Prefect server did not start:\n{tail}")
            time.sleep(0.5)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def latest_flow_run(api: str, name: str, expected: str = "COMPLETED") -> dict[str, Any]:
    """The newest run of the batch flow called `name`, which must have ended `expected`."""
    answer = httpx.post(
        f"{api}/flow_runs/filter",
        json={
            "flows": {"name": {"any_": [FLOW_NAME]}},
            "flow_runs": {"name": {"any_": [name]}},
            "sort": "START_TIME_DESC",
            "limit": 1,
        },
        timeout=30,
    )
    answer.raise_for_status()
    runs: list[dict[str, Any]] = answer.json()
    if not runs:
        raise ScreenshotError(f"no run {name!r} of flow {FLOW_NAME!r} on the server")
    if runs[0].get("state_type") != expected:
        raise ScreenshotError(f"the flow run ended {runs[0].get('state_type')}, not {expected}")
    return runs[0]


def run_artifacts(api: str, flow_run_id: str) -> dict[str, dict[str, Any]]:
    """The batch's own artifacts of a flow run: its progress, results table and summary."""
    answer = httpx.post(
        f"{api}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200},
        timeout=30,
    )
    answer.raise_for_status()
    batch = [a for a in answer.json() if (a.get("key") or "").startswith("modelslab-batch")]
    found: dict[str, dict[str, Any]] = {}
    for artifact in batch:
        kind = {"progress": "progress", "table": "table", "markdown": "summary"}.get(
            artifact["type"]
        )
        if kind and kind not in found:
            found[kind] = artifact
    missing = {"progress", "table", "summary"} - set(found)
    if missing:
        keys = sorted(str(a.get("key")) for a in batch)
        raise ScreenshotError(f"the flow run has no {sorted(missing)} artifact (found {keys})")
    return found


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 (a free port) while in the block; yields its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
