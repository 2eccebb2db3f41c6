"""`render_gallery` and `write_gallery`: escaping, relative links, counts, lazy loading."""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import re

import fsspec
import pytest

from ledger_helpers import plant_video
from prefect_modelslab.ledger.report import RowResult
from prefect_modelslab.ui.gallery import (
    awrite_gallery_or_warn,
    render_gallery,
    status_counts,
    video_file_name,
    write_gallery,
)

ATTR_URLS = re.compile(r'\s(?:src|data-src|href)="([^"]*)"')


def row(n: int, status: str = "succeeded", **values: str) -> dict[str, str]:
    base = {
        "row": str(n),
        "id": f"clip-{n}",
        "prompt": f"prompt {n}",
        "status": status,
        "video": "",
        "format": "",
        "error": "",
    }
    return {**base, **values}


def gif(n: int, folder: str = "/data/out") -> dict[str, str]:
    return row(n, video=f"{folder}/clip-{n}.gif", format="gif", width="64", height="48")


def mp4(n: int, folder: str = "/data/out") -> dict[str, str]:
    return row(n, video=f"{folder}/clip-{n}.mp4", format="mp4", width="64", height="48")


def cards(page: str) -> list[str]:
    return re.findall(r"<article .*?</article>", page, flags=re.S)


def test_prompts_errors_and_statuses_render_as_text() -> None:
    evil = '<script>alert("x")</script> & "quotes"'
    page = render_gallery(
        [
            row(1, prompt=evil, error="<img src=x onerror=alert(1)>"),
            row(2, status='"><script>alert(2)</script>'),
        ],
        title="<b>title</b>",
    )
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "<b>title</b>" not in page
    assert '<p class="prompt">&lt;script&gt;alert("x")&lt;/script&gt; &amp; "quotes"</p>' in page
    assert 'alt="&lt;script&gt;' not in page  # no video: no alt text at all
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'data-status="&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"' in page
    assert page.count("<script>") == 1  # the page's own


def test_videos_are_linked_by_file_name_relative_to_the_page() -> None:
    page = render_gallery(
        [
            gif(1, folder="/tmp/run/out"),
            row(2, video="s3://bucket/run/a fox?.mp4", format="mp4"),
            row(3, video="C:\\videos\\koi.gif", format="gif"),
            row(4, video="memory://x/javascript:alert(1).gif", format="gif"),
        ]
    )
    links = ATTR_URLS.findall(page)
    assert 'src="clip-1.gif"' in page
    assert 'data-src="a%20fox%3F.mp4"' in page
    assert 'src="koi.gif"' in page
    assert 'src="javascript%3Aalert%281%29.gif"' in page
    assert 'href="clip-1.json"' in page  # the sidecar next to the video
    for link in links:
        assert ":" not in link.split("/")[0] or link.startswith("data:"), link
        assert not link.startswith(("/", "\\")), link
    assert not re.search(r"https?://|//[a-z]", page.replace("<!DOCTYPE html>", ""))


def test_gif_is_a_lazy_img_and_mp4_a_muted_looping_video_without_src() -> None:
    page = render_gallery([gif(1), mp4(2)])
    img = re.search(r"<img [^>]*>", page)
    video = re.search(r"<video [^>]*>", page)
    assert img and video
    assert 'loading="lazy"' in img.group(0) and 'width="64" height="48"' in img.group(0)
    for attribute in ('preload="none"', "muted", "loop", "autoplay", "playsinline"):
        assert attribute in video.group(0)
    assert " src=" not in video.group(0)  # set by the script when the card is in view


def test_failed_check_failed_and_invalid_rows_show_their_reason() -> None:
    page = render_gallery(
        [
            row(1, "failed", error="Generation failed: out of capacity"),
            {**mp4(2), "status": "check_failed", "error": "3 frames, expected 4"},
            row(3, "invalid", error="line 4 (row 3): fps: must be in 1..16 (got '99')"),
        ]
    )
    failed, check_failed, invalid = cards(page)
    assert "no video" in failed and "Generation failed: out of capacity" in failed
    assert "<video" in check_failed and "3 frames, expected 4" in check_failed
    assert "s-warn" in check_failed and "s-bad" in failed and "s-invalid" in invalid
    assert "line 4 (row 3): fps: must be in 1..16 (got '99')" in invalid


def test_counts_per_status_known_first_any_other_status_styled_neutrally() -> None:
    rows = [
        row(1, "weird"),
        row(2, "failed"),
        row(3, "succeeded"),
        row(4, "not_started"),
        row(5, "unknown"),
        row(6, "failed"),
        row(7, ""),
    ]
    assert list(status_counts(rows).items()) == [
        ("succeeded", 1),
        ("failed", 2),
        ("unknown", 1),
        ("not_started", 1),
        ("(none)", 1),
        ("weird", 1),
    ]
    page = render_gallery(rows)
    buttons = re.findall(r'data-status="([^"]*)" data-count="(\d+)"', page)
    assert buttons == [
        ("succeeded", "1"),
        ("failed", "2"),
        ("unknown", "1"),
        ("not_started", "1"),
        ("(none)", "1"),
        ("weird", "1"),
    ]
    assert 'class="card s-other" data-status="weird"' in page
    assert 'class="card s-idle" data-status="not_started"' in page
    assert "7 rows: 1 succeeded, 2 failed, 1 unknown, 1 not started, 1 (none), 1 weird" in page


def test_a_thousand_rows_render_with_lazy_loading() -> None:
    rows = [gif(n) if n % 2 else mp4(n) for n in range(1, 1001)]
    page = render_gallery(rows)
    assert len(cards(page)) == 1000
    assert page.count('loading="lazy"') == 500
    assert page.count('preload="none"') == 500
    assert len(re.findall(r"<video [^>]*\ssrc=", page)) == 0
    assert 'data-total="1000"' in page
    assert 'data-status="succeeded" data-count="1000"' in page


def test_the_csp_lets_exactly_the_inline_script_run() -> None:
    page = render_gallery([gif(1)])
    (script,) = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    found = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert found
    csp = html.unescape(found.group(1))
    assert f"script-src 'sha256-{digest}';" in csp
    assert "default-src 'none';" in csp and "media-src 'self';" in csp


def test_row_results_render_like_their_csv_rows() -> None:
    result = RowResult(
        row=1, id="fox", prompt="a fox", status="check_failed", video="/o/fox.gif",
        format="gif", frames=3, fps=4.0, width=64, height=64, error="3 frames, expected 4",
    )  # fmt: skip
    as_csv = {
        "row": "1", "id": "fox", "prompt": "a fox", "status": "check_failed",
        "video": "/o/fox.gif", "format": "gif", "frames": "3", "fps": "4", "width": "64",
        "height": "64", "duration_s": "", "generation_id": "", "bytes": "", "sha256": "",
        "reused": "false", "error": "3 frames, expected 4",
    }  # fmt: skip
    assert render_gallery([result]) == render_gallery([as_csv])
    assert "gif · 3 frames · 4 fps · 64x64" in render_gallery([result])


def test_video_file_name() -> None:
    assert video_file_name("s3://b/videos/fox.mp4") == "fox.mp4"
    assert video_file_name("fox.gif") == "fox.gif"
    assert video_file_name("C:\\v\\fox.gif") == "fox.gif"


def test_write_gallery_builds_index_html_from_the_folders_entries_through_fsspec() -> None:
    import asyncio

    from prefect_modelslab.ledger import Ledger

    fs = fsspec.filesystem("memory")
    asyncio.run(plant_video("memory://gal", "fox", "<a fox>", b"GIF89a fox"))
    url = write_gallery("memory://gal")
    assert url == "memory://gal/index.html"
    page = fs.cat_file("/gal/index.html").decode()
    rows = asyncio.run(Ledger("memory://gal").rows())
    assert page == render_gallery(rows, title="Gallery of gal", results_file="results.csv")
    assert "&lt;a fox&gt;" in page and 'src="fox.gif"' in page
    assert "/gal/index.html" in fs.ls("/gal", detail=False)


def test_write_gallery_of_a_folder_without_entries_raises_file_not_found() -> None:
    with pytest.raises(FileNotFoundError):
        write_gallery("memory://no-batch-here")
    assert not fsspec.filesystem("memory").exists("/no-batch-here/index.html")


async def test_awrite_gallery_or_warn_logs_a_warning_instead_of_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("gallery-test")
    with caplog.at_level(logging.INFO, logger="gallery-test"):
        assert await awrite_gallery_or_warn("memory://nothing-here", logger) is None
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "Could not write the gallery (index.html): FileNotFoundError" in record.getMessage()


def test_an_ultra_card_names_its_endpoint_and_shows_its_warnings_as_text() -> None:
    drift = "model_id: the request asked ltx-2.3, the server's meta says wan2.2 <b>"
    ultra = mp4(1) | {"endpoint": "text2video_ultra", "warnings": drift}
    plain = gif(2) | {"endpoint": "text2video"}
    first, second = cards(render_gallery([ultra, plain]))
    assert '<p class="facts">text2video_ultra · mp4' in first
    assert f'<p class="warning">{html.escape(drift, quote=False)}</p>' in first
    assert "text2video" not in second and 'class="warning"' not in second
