"""The gallery of a batch: `index.html` next to `results.csv`, every row's video at a glance.

The page is self-contained (inline CSS and script, no font, style or script from
anywhere else) and links each video by its file name relative to `index.html`,
so the output folder can be moved, downloaded or served as it is. Everything
from `results.csv` (prompts, server messages) is HTML-escaped, and a
Content-Security-Policy lets only the page's own script run and only files of
the page's own origin load.

Large batches stay smooth: GIFs are `<img loading="lazy">`; MP4s are
`<video preload="none">` without a `src` until an IntersectionObserver sees
their card near the viewport, and they pause when it leaves (Chromium then
releases idle players' decoders). Cards use `content-visibility: auto`, so
the browser lays out only what is on screen. Each media element gets
`data-loaded` once its first frame is decoded (`data-load-error` if it cannot
load), which tests and scripts can wait for.

This module imports nothing from Prefect.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import html
import io
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from prefect_modelslab.ledger import Ledger, storage
from prefect_modelslab.ledger.ledger import GALLERY_FILE, RESULTS_FILE
from prefect_modelslab.ledger.report import RowResult
from prefect_modelslab.ledger.results import RESULT_COLUMNS, cells_of

__all__ = [
    "GALLERY_FILE",
    "KNOWN_STATUSES",
    "awrite_gallery",
    "awrite_gallery_or_warn",
    "read_results",
    "render_gallery",
    "status_counts",
    "video_file_name",
    "write_gallery",
]

#: Name of the gallery page in the output folder.

#: Statuses with their own colour, in the order the filter shows them; any
#: other status string is shown too, in a neutral style, after these.
KNOWN_STATUSES: dict[str, str] = {
    "succeeded": "ok",
    "check_failed": "warn",
    "failed": "bad",
    "invalid": "invalid",
    "unknown": "unknown",
    "not_started": "idle",
}

_NO_STATUS = "(none)"

_CSS = """
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--fg:#1d2330;--muted:#667085;
--line:#d9dde3;--ok:#16803c;--warn:#b25e09;--bad:#c0262d;--invalid:#7a3fb0;
--unknown:#1f5fbf;--idle:#5c6370;--other:#44505f}
@media (prefers-color-scheme:dark){:root{--bg:#14161a;--card:#1e2127;--fg:#e6e8eb;
--muted:#9aa3ae;--line:#343a43}}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:var(--bg);color:var(--fg)}
header{position:sticky;top:0;z-index:2;background:var(--bg);border-bottom:1px solid var(--line);
padding:12px 20px}
h1{font-size:18px;margin:0 0 4px}
.summary{color:var(--muted);margin:0 0 8px}
.summary a{color:inherit}
.filters{display:flex;flex-wrap:wrap;gap:6px;align-items:center}
.filters button{font:inherit;cursor:pointer;border:1px solid var(--line);border-radius:999px;
padding:3px 12px;background:var(--card);color:var(--fg)}
.filters button[aria-pressed=false]{opacity:.45;text-decoration:line-through}
.filters button .n{font-weight:600;margin-left:4px}
.filters .shown{color:var(--muted);margin-left:8px}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:14px;
padding:16px 20px}
.card{background:var(--card);border:1px solid var(--line);border-top:4px solid var(--c);
border-radius:8px;overflow:hidden;content-visibility:auto;contain-intrinsic-size:auto 420px}
.card[hidden]{display:none}
.media{background:#000;display:flex;align-items:center;justify-content:center;
aspect-ratio:1/1}
.media img,.media video{display:block;width:100%;height:100%;object-fit:contain}
.media.empty{background:var(--line)}
.nomedia{color:#cfd4da;padding:16px;text-align:center}
.empty .nomedia{color:var(--muted)}
.body{padding:10px 12px}
.top{display:flex;gap:8px;align-items:baseline;justify-content:space-between}
.badge{color:#fff;background:var(--c);border-radius:4px;padding:1px 7px;font-size:12px;
font-weight:600;white-space:nowrap}
.rowid{color:var(--muted);font-size:12px;overflow-wrap:anywhere}
.prompt{margin:6px 0;overflow-wrap:anywhere}
.facts{color:var(--muted);font-size:12px;margin:0}
.error{margin:6px 0 0;color:var(--c);font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere}
.warning{margin:6px 0 0;color:var(--muted);font-size:12px;font-style:italic;overflow-wrap:anywhere}
.links{margin:6px 0 0;font-size:12px}
.links a{color:var(--muted)}
.s-ok{--c:var(--ok)}.s-warn{--c:var(--warn)}.s-bad{--c:var(--bad)}
.s-invalid{--c:var(--invalid)}.s-unknown{--c:var(--unknown)}.s-idle{--c:var(--idle)}
.s-other{--c:var(--other)}
"""

# Filters by status; plays a video only while its card is near the viewport.
_SCRIPT = """
(function () {
  "use strict";
  var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
  var buttons = Array.prototype.slice.call(document.querySelectorAll("button[data-status]"));
  var shown = document.getElementById("shown");
  var hiddenStatuses = new Set();
  function apply() {
    var n = 0;
    cards.forEach(function (card) {
      card.hidden = hiddenStatuses.has(card.dataset.status);
      if (!card.hidden) { n++; }
    });
    buttons.forEach(function (b) {
      b.setAttribute("aria-pressed", String(!hiddenStatuses.has(b.dataset.status)));
    });
    shown.textContent = n + " of " + cards.length + " shown";
  }
  buttons.forEach(function (b) {
    b.addEventListener("click", function () {
      var s = b.dataset.status;
      if (hiddenStatuses.has(s)) { hiddenStatuses.delete(s); } else { hiddenStatuses.add(s); }
      apply();
    });
  });
  document.getElementById("all").addEventListener("click", function () {
    hiddenStatuses.clear();
    apply();
  });
  function loaded(el) { el.dataset.loaded = "1"; }
  function failed(el) { el.dataset.loadError = "1"; }
  document.querySelectorAll(".media img").forEach(function (img) {
    if (img.complete && img.naturalWidth > 0) { loaded(img); }
    img.addEventListener("load", function () { loaded(img); });
    img.addEventListener("error", function () { failed(img); });
  });
  var videos = document.querySelectorAll(".media video");
  videos.forEach(function (v) {
    v.muted = true;
    v.addEventListener("loadeddata", function () { loaded(v); });
    v.addEventListener("error", function () { failed(v); });
  });
  function start(v) {
    if (!v.getAttribute("src")) { v.src = v.dataset.src; }
    var p = v.play();
    if (p && p.catch) { p.catch(function () {}); }
  }
  apply();
  if (!("IntersectionObserver" in window)) {
    videos.forEach(start);
    return;
  }
  var observer = new IntersectionObserver(function (entries) {
    entries.forEach(function (e) {
      var v = e.target.querySelector("video");
      if (!v) { return; }
      if (e.isIntersecting) { start(v); } else if (!v.paused) { v.pause(); }
    });
  }, {rootMargin: "300px 0px"});
  videos.forEach(function (v) { observer.observe(v.closest(".card")); });
})();
"""

_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode("utf-8")).digest()).decode()
# Only this page's own script runs; nothing loads from another origin.
_CSP = (
    "default-src 'none'; img-src 'self' data:; media-src 'self'; "
    f"style-src 'unsafe-inline'; script-src 'sha256-{_SCRIPT_HASH}'; base-uri 'none'; "
    "form-action 'none'"
)


def video_file_name(video: str) -> str:
    """The file name of a video URL or path: how the gallery links it.

    Example:
        ```python
        from prefect_modelslab.ui.gallery import video_file_name

        video_file_name("s3://bucket/videos/fox-1a2b3c4d.mp4")  # 'fox-1a2b3c4d.mp4'
        video_file_name("C:\\\\videos\\\\fox.gif")                 # 'fox.gif'
        ```
    """
    return video.replace("\\", "/").rstrip("/").rpartition("/")[2]


def status_counts(rows: Iterable[Mapping[str, Any] | RowResult]) -> dict[str, int]:
    """How many rows have each status, known statuses first, in the filter's order.

    Example:
        ```python
        from prefect_modelslab.ui.gallery import status_counts

        status_counts([{"status": "failed"}, {"status": "succeeded"}, {"status": "failed"}])
        # {'succeeded': 1, 'failed': 2}
        ```
    """
    tally = Counter(_status(_as_dict(r)) for r in rows)
    known = [s for s in KNOWN_STATUSES if s in tally]
    others = sorted(s for s in tally if s not in KNOWN_STATUSES)
    return {s: tally[s] for s in [*known, *others]}


def render_gallery(
    rows: Iterable[Mapping[str, Any] | RowResult],
    title: str = "Batch gallery",
    *,
    results_file: str | None = "results.csv",
) -> str:
    """The gallery page of a batch: one card per row, filterable by status.

    Pure: the page depends only on its arguments. Each card shows the row's
    video (a GIF as a lazy `<img>`, an MP4 as a muted, looping `<video>` that
    loads and plays when scrolled into view), its prompt, status, format,
    frames, fps, size, duration and file size, and the row's `error` (the
    check's problems, or why there is no video). Videos are linked by their file
    name, relative to the page, which belongs next to them.

    Args:
        rows: The rows of `results.csv` (dicts of its columns, as
            `csv.DictReader` gives them) or `RowResult`s, in input order.
        title: The page's title and heading.
        results_file: Linked from the page's header (relative); None for no link.

    Returns:
        The HTML document.

    Example:
        ```python
        from prefect_modelslab.ui.gallery import render_gallery

        page = render_gallery(report.rows, title="Nightly batch")  # or read_results(...)
        ```
    """
    records = [_as_dict(r) for r in rows]
    counts = status_counts(records)
    cards = "\n".join(_card(record) for record in records)
    summary = f"{len(records)} row{'s' if len(records) != 1 else ''}: " + (
        ", ".join(f"{n} {_label(s)}" for s, n in counts.items()) or "none"
    )
    results_link = (
        f' · <a href="{_attr(quote(results_file))}">{_text(results_file)}</a>'
        if results_file
        else ""
    )
    buttons = "".join(
        f'<button type="button" class="{_style(s)}" data-status="{_attr(s)}" '
        f'data-count="{n}" aria-pressed="true">{_text(_label(s))}<span class="n">{n}</span>'
        "</button>"
        for s, n in counts.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_attr(_CSP)}">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>{_text(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{_text(title)}</h1>
<p class="summary" id="summary" data-total="{len(records)}">{_text(summary)}{results_link}</p>
<div class="filters" role="group" aria-label="Filter by status">
<button type="button" id="all">all<span class="n">{len(records)}</span></button>{buttons}
<span class="shown" id="shown">{len(records)} of {len(records)} shown</span>
</div>
</header>
<main>
{cards}
</main>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def read_results(
    url: str, *, storage_options: Mapping[str, Any] | None = None
) -> list[dict[str, str]]:
    """The rows of a `results.csv` at any fsspec URL, as dicts of its columns.

    Raises:
        FileNotFoundError: There is no file at `url`.

    Example:
        ```python
        from prefect_modelslab.ui.gallery import read_results

        rows = read_results(report.results_url)  # e.g. "s3://bucket/videos/results.csv"
        ```
    """
    fs, path = storage.get_filesystem(url, dict(storage_options or {}))
    with fs.open(path, "rb") as handle:
        text = handle.read().decode("utf-8-sig")
    return [dict(row) for row in csv.DictReader(io.StringIO(text, newline=""))]


async def awrite_gallery(
    folder: str | Ledger, *, storage_options: Mapping[str, Any] | None = None
) -> str:
    """Write the gallery of an output folder, `index.html`, from the folder's entries.

    The page shows the same lines as `results.csv` (both are views of the
    folder's entries) and is written atomically, so a reader sees the old page
    or the new one, never half of one. Run it again at any time.

    Args:
        folder: The output folder (a path or any fsspec URL), or its `Ledger`.
        storage_options: Passed to fsspec (with a URL).

    Returns:
        The URL of the page written.

    Raises:
        FileNotFoundError: The folder holds nothing this integration wrote.

    Example:
        ```python
        # not run: needs a folder a batch wrote
        from prefect_modelslab.ui.gallery import awrite_gallery

        await awrite_gallery("s3://bucket/videos")  # -> "s3://bucket/videos/index.html"
        ```
    """
    ledger = folder if isinstance(folder, Ledger) else Ledger(folder, dict(storage_options or {}))
    rows = await ledger.rows()
    if not rows:
        raise FileNotFoundError(f"{ledger.output_url} holds no videos of a batch")
    name = video_file_name(ledger.output_url) or ledger.output_url
    page = render_gallery(rows, title=f"Gallery of {name}", results_file=RESULTS_FILE)
    return await ledger.write_page(GALLERY_FILE, page)


def write_gallery(output_url: str, *, storage_options: Mapping[str, Any] | None = None) -> str:
    """`awrite_gallery` for sync code (a script, the CLI); not inside a running event loop.

    Example:
        ```python
        # not run: needs a folder a batch wrote
        from prefect_modelslab.ui.gallery import write_gallery

        write_gallery("videos")  # 'videos/index.html'
        ```
    """
    return asyncio.run(awrite_gallery(output_url, storage_options=storage_options))


async def awrite_gallery_or_warn(
    folder: str | Ledger, logger: logging.Logger | logging.LoggerAdapter[Any]
) -> str | None:
    """`awrite_gallery`, logging its URL, or a warning instead of raising when it fails.

    The gallery is a view of the folder, so failing to write it never fails a run.

    Returns:
        The page's URL, or None when it could not be written.

    Example:
        ```python
        import logging

        await awrite_gallery_or_warn("videos", logging.getLogger("batch"))
        ```
    """
    try:
        url = await awrite_gallery(folder)
    except Exception as error:
        logger.warning("Could not write the gallery (%s): %s", GALLERY_FILE, _one_line(error))
        return None
    logger.info("Gallery: %s", url)
    return url


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# --- one card ----------------------------------------------------------------------


def _card(row: Mapping[str, str]) -> str:
    status = _status(row)
    video = row.get("video") or ""
    name = video_file_name(video) if video else ""
    number, row_id = row.get("row", ""), row.get("id", "")
    heading = f"#{number} · {row_id}" if row_id else f"#{number}"
    parts = [
        f'<article class="card {_style(status)}" data-status="{_attr(status)}" '
        f'data-row="{_attr(number)}">',
        f'<div class="media{"" if name else " empty"}">{_media(row, name)}</div>',
        '<div class="body"><div class="top">'
        f'<span class="badge">{_text(_label(status))}</span>'
        f'<span class="rowid">{_text(heading)}</span></div>',
        f'<p class="prompt">{_text(row.get("prompt", ""))}</p>',
    ]
    facts = _facts(row)
    if facts:
        parts.append(f'<p class="facts">{_text(facts)}</p>')
    if row.get("error"):
        parts.append(f'<p class="error">{_text(row.get("error", ""))}</p>')
    if row.get("warnings"):  # e.g. the server made it with another model
        parts.append(f'<p class="warning">{_text(row.get("warnings", ""))}</p>')
    if name:
        href = _attr(quote(name))
        links = f'<a href="{href}">{_text(name)}</a>'
        stem, dot, _ = name.rpartition(".")
        if dot:
            links += f' · <a href="{_attr(quote(stem + ".json"))}">sidecar</a>'
        parts.append(f'<p class="links">{links}</p>')
    parts.append("</div></article>")
    return "".join(parts)


def _media(row: Mapping[str, str], name: str) -> str:
    if not name:
        return f'<div class="nomedia">{_text("no video")}</div>'
    fmt = (row.get("format") or name.rpartition(".")[2]).lower()
    src = _attr(quote(name))
    size = "".join(
        f' {dim}="{int(row[dim])}"' for dim in ("width", "height") if (row.get(dim) or "").isdigit()
    )
    alt = _attr(row.get("prompt", ""))
    if fmt == "gif":
        return f'<img src="{src}" alt="{alt}" loading="lazy" decoding="async"{size}>'
    if fmt == "mp4":
        # No src until the card is near the viewport (see the script).
        return (
            f'<video data-src="{src}" preload="none" muted loop autoplay playsinline{size} '
            f'aria-label="{alt}"></video>'
        )
    shown = f"{fmt or 'unknown'} file: not shown"
    return f'<div class="nomedia">{_text(shown)}</div>'


def _facts(row: Mapping[str, str]) -> str:
    facts: list[str] = []
    if row.get("endpoint") not in (None, "", "text2video"):  # the default goes unsaid
        facts.append(row["endpoint"])
    if row.get("format"):
        facts.append(row["format"])
    if row.get("frames"):
        facts.append(f"{row['frames']} frames")
    if row.get("fps"):
        facts.append(f"{row['fps']} fps")
    if row.get("width") and row.get("height"):
        facts.append(f"{row['width']}x{row['height']}")
    if row.get("duration_s"):
        facts.append(f"{row['duration_s']} s")
    if (row.get("bytes") or "").isdigit():
        facts.append(_size(int(row["bytes"])))
    if row.get("reused") == "true":
        facts.append("reused")
    return " · ".join(facts)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def _as_dict(row: Mapping[str, Any] | RowResult) -> dict[str, str]:
    if isinstance(row, RowResult):
        return dict(zip(RESULT_COLUMNS, cells_of(row), strict=True))
    return {str(k): "" if v is None else str(v) for k, v in row.items()}


def _status(row: Mapping[str, str]) -> str:
    return (row.get("status") or "").strip() or _NO_STATUS


def _style(status: str) -> str:
    return f"s-{KNOWN_STATUSES.get(status, 'other')}"


def _label(status: str) -> str:
    return status.replace("_", " ")


def _text(value: str) -> str:
    return html.escape(value, quote=False)


def _attr(value: str) -> str:
    return html.escape(value, quote=True)
