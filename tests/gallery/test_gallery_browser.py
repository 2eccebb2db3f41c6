"""The gallery of a real batch, opened in headless Chromium over local HTTP.

One batch runs against the emulator (a GIF, two MP4s, a failed generation, a
video that fails its check, an invalid row, a prompt carrying a script); its
output folder is served on 127.0.0.1 and `index.html` is opened in the
system's headless Chromium, driven by Playwright (see `conftest.launch_chromium`).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import pytest
import pytest_asyncio

from prefect_modelslab.blocks import ModelsLabCredentials
from prefect_modelslab.flows.batch import generate_videos_from_csv
from prefect_modelslab.testing import Fault, ModelsLabEmulator
from prefect_modelslab.ui.gallery import render_gallery, video_file_name

from .conftest import ServedFolder, WatchedPage, launch_chromium, needs_chromium, serve_folder

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = needs_chromium

TINY = {"width": 64, "height": 48, "num_frames": 4, "fps": 4}
SCRIPT_PROMPT = '<script>window.pwned = 1</script> a "quoted" <b>fox</b> & co'
ROWS = [
    ["id", "prompt", "output_type", "fps"],
    ["fox", "a red fox", "gif", ""],
    ["", "a thunder storm", "mp4", ""],  # the generation fails
    ["", "an owl at night", "mp4", ""],  # one frame short: check_failed
    ["bad", "too fast", "gif", "99"],  # invalid
    ["xss", SCRIPT_PROMPT, "mp4", ""],
    ["", "a calm lake", "mp4", "8"],
]

# Every media element has loaded its file or failed to (set by the page's script).
# Waits are functions, not strings: the page's CSP forbids eval, which a string needs.
ALL_SETTLED = """() => {
  const media = [...document.querySelectorAll('.media img, .media video')];
  return media.length > 0 && media.every(m => m.dataset.loaded || m.dataset.loadError);
}"""

# Scroll each card into view in turn, as a reader would.
SCROLL_THROUGH = """(async () => {
  for (const card of document.querySelectorAll('.card')) {
    card.scrollIntoView({block: 'center'});
    await new Promise(r => setTimeout(r, 50));
  }
  return true;
})()"""

MEDIA_STATE = """[...document.querySelectorAll('.media img, .media video')].map(m => ({
  row: m.closest('.card').dataset.row,
  tag: m.tagName,
  src: m.getAttribute('src'),
  loaded: m.dataset.loaded || null,
  error: m.dataset.loadError || null,
  ready: m.tagName === 'IMG' ? (m.complete && m.naturalWidth > 0) : m.readyState >= 2,
  width: m.tagName === 'IMG' ? m.naturalWidth : m.videoWidth,
  height: m.tagName === 'IMG' ? m.naturalHeight : m.videoHeight,
}))"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def batch_output(
    emulator_server: ModelsLabEmulator, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Path]:
    """A batch output folder written by the real flow against the emulator."""
    emulator_server.reset()
    emulator_server.configure(latency=0.2, queue_limit=5)
    emulator_server.inject(Fault("generation_failed", prompt="storm", times=None))
    emulator_server.inject(Fault("wrong_frames", prompt="owl", times=None))
    folder = tmp_path_factory.mktemp("gallery")
    prompts = folder / "prompts.csv"
    with prompts.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(ROWS)
    out = folder / "out"
    credentials = ModelsLabCredentials(
        api_key=emulator_server.api_key, base_url=emulator_server.base_url
    )
    await generate_videos_from_csv(
        str(prompts), str(out), credentials, defaults=TINY, allow_partial=True
    )
    emulator_server.reset()
    yield out


@pytest.fixture(scope="module")
def results(batch_output: Path) -> list[dict[str, str]]:
    with (batch_output / "results.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def served(batch_output: Path) -> Iterator[ServedFolder]:
    with serve_folder(batch_output) as folder:
        yield folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def gallery(browser: Browser, served: ServedFolder) -> WatchedPage:
    """The gallery, opened and scrolled through until every video has loaded or failed."""
    watched = WatchedPage.open(browser, width=1280, height=800)
    watched.page.goto(served.base_url + "index.html")
    watched.page.evaluate(SCROLL_THROUGH)
    watched.page.wait_for_function(ALL_SETTLED, timeout=30_000)  # every video loaded
    return watched


def test_the_batch_wrote_every_status_and_the_gallery(
    batch_output: Path, results: list[dict[str, str]]
) -> None:
    assert [r["status"] for r in results] == [
        "succeeded",
        "failed",
        "check_failed",
        "invalid",
        "succeeded",
        "succeeded",
    ]
    assert (batch_output / "index.html").is_file()


def test_every_video_loads_its_file(gallery: WatchedPage, results: list[dict[str, str]]) -> None:
    media = gallery.page.evaluate(MEDIA_STATE)
    with_video = [r for r in results if r["video"]]
    assert [m["row"] for m in media] == [r["row"] for r in with_video]
    for shown, row in zip(media, with_video, strict=True):
        assert shown["tag"] == ("IMG" if row["format"] == "gif" else "VIDEO")
        assert shown["src"] == video_file_name(row["video"])
        assert shown["loaded"] == "1" and shown["error"] is None and shown["ready"], shown
        assert (shown["width"], shown["height"]) == (int(row["width"]), int(row["height"]))
    assert {m["tag"] for m in media} == {"IMG", "VIDEO"}


def test_the_counts_shown_match_results_csv(
    gallery: WatchedPage, results: list[dict[str, str]]
) -> None:
    page = gallery.page
    shown = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('button[data-status]')]"
        ".map(b => [b.dataset.status, Number(b.querySelector('.n').textContent)]))"
    )
    assert shown == dict(Counter(r["status"] for r in results))
    assert page.evaluate("document.getElementById('summary').dataset.total") == str(len(results))
    assert page.evaluate("document.querySelectorAll('.card').length") == len(results)


def test_a_status_filter_hides_and_shows_its_rows(
    gallery: WatchedPage, results: list[dict[str, str]]
) -> None:
    visible = (
        "[...document.querySelectorAll('.card')].filter(c => !c.hidden).map(c => c.dataset.row)"
    )
    page = gallery.page
    page.evaluate("document.querySelector('button[data-status=\"succeeded\"]').click()")
    assert page.evaluate(visible) == [r["row"] for r in results if r["status"] != "succeeded"]
    assert page.evaluate("document.getElementById('shown').textContent") == "3 of 6 shown"
    page.evaluate("document.getElementById('all').click()")
    assert page.evaluate(visible) == [r["row"] for r in results]


def test_failed_rows_show_their_reason(gallery: WatchedPage, results: list[dict[str, str]]) -> None:
    errors = gallery.page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.card')]"
        ".map(c => [c.dataset.row, c.querySelector('.error')?.textContent ?? '']))"
    )
    for row in results:
        assert errors[row["row"]] == row["error"]
    assert all(errors[r["row"]] for r in results if r["status"] != "succeeded")


def test_a_script_in_a_prompt_is_shown_as_text(gallery: WatchedPage) -> None:
    assert gallery.page.evaluate("typeof window.pwned") == "undefined"
    prompts = gallery.page.evaluate(
        "[...document.querySelectorAll('.prompt')].map(p => p.textContent)"
    )
    assert SCRIPT_PROMPT in prompts
    assert gallery.page.evaluate("document.querySelectorAll('script').length") == 1
    assert gallery.errors == []  # nothing blocked, nothing thrown


def test_no_request_leaves_the_output_folder(
    gallery: WatchedPage,
    served: ServedFolder,
    batch_output: Path,
    emulator_server: ModelsLabEmulator,
) -> None:
    assert served.access_log, "the server saw no request"
    root = batch_output.resolve()
    for path in served.access_log:
        file = (root / unquote(urlsplit(path).path).lstrip("/")).resolve()
        assert file.is_relative_to(root) and file.is_file(), path
    requested = gallery.requests
    assert requested and all(url.startswith(served.base_url) for url in requested), requested
    page = (batch_output / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"(?:src|href)=\"(?:[a-z+.-]+:|/)", page.replace('href="data:,"', ""))
    assert not re.search(r"https?://(?!127\.0\.0\.1)", page)
    assert emulator_server.api_key not in page


def test_the_gallery_opens_from_the_file_system_too(browser: Browser, batch_output: Path) -> None:
    watched = WatchedPage.open(browser, width=1280, height=800)
    page = watched.page
    page.goto((batch_output / "index.html").resolve().as_uri())
    page.evaluate(SCROLL_THROUGH)
    page.wait_for_function(ALL_SETTLED, timeout=30_000)  # every video loaded from file://
    assert all(m["loaded"] == "1" and m["ready"] for m in page.evaluate(MEDIA_STATE))
    assert watched.errors == []


def test_a_thousand_rows_load_only_the_videos_near_the_viewport(
    browser: Browser, batch_output: Path, results: list[dict[str, str]], tmp_path: Path
) -> None:
    gif = next(r for r in results if r["format"] == "gif" and r["status"] == "succeeded")
    mp4 = next(r for r in results if r["format"] == "mp4" and r["status"] == "succeeded")
    for row in (gif, mp4):
        name = video_file_name(row["video"])
        (tmp_path / name).write_bytes((batch_output / name).read_bytes())
    rows = [{**(gif if n % 2 else mp4), "row": str(n)} for n in range(1, 1001)]
    (tmp_path / "index.html").write_text(render_gallery(rows), encoding="utf-8")
    with serve_folder(tmp_path) as served:
        page = WatchedPage.open(browser, width=1280, height=800).page
        page.goto(served.base_url + "index.html")
        page.wait_for_function("() => document.querySelector('video[src]')?.dataset.loaded")
        started = page.evaluate("document.querySelectorAll('video[src]').length")
        assert 0 < started < 40  # of 500: only those near the viewport
        page.evaluate("document.querySelector('.card:last-of-type').scrollIntoView()")
        page.wait_for_function(  # the last video loaded and playing
            "() => { const v = document.querySelector('.card:last-of-type video');"
            " return v && v.dataset.loaded && !v.paused; }"
        )
        assert page.evaluate("document.querySelectorAll('video[src]').length") < 80
