"""`md_text` and `md_link`: user and server text renders as text, our links as links."""

from __future__ import annotations

import pytest

from prefect_modelslab.ui.markdown import md_link, md_text

from .markdown_check import HOSTILE_MESSAGE, HOSTILE_TEXTS, hostile_output, links, visible_text

EXTRA = [
    "1. a list",
    "3) another",
    "- a bullet",
    "+ a plus",
    "> a quote",
    "---",
    "===",
    "    indented code",
    "*emphasis* _also_ **strong** ~~struck~~",
    "&lt;img src=x&gt; &#60;b&#62;",
    "a backslash at the end \\",
    "<!-- a comment -->",
    "<script>alert(1)</script>",
    "HTTPS://ATTACKER.EXAMPLE/shout",
    "ftp://attacker.example/f",
    "[ref]: https://attacker.example/ref",
    "\\[escaped](https://attacker.example/e)",
    "tab\there, nul\x00 and esc\x1b[31m",
    "un renard — 狐狸 🦊",
]
CONTEXTS = {
    "paragraph": "{}",
    "list item": "- {}",
    "heading": "### {}: check passed",
    "table cell": "| video | prompt |\n|---|---|\n| fox.gif | {} |",
}


def flat(text: str) -> str:
    """The text a reader should see: control characters and line breaks as spaces, one line."""
    return " ".join("".join(" " if ord(c) < 32 or 127 <= ord(c) < 160 else c for c in text).split())


@pytest.mark.parametrize("context", list(CONTEXTS))
@pytest.mark.parametrize("text", [*HOSTILE_TEXTS, HOSTILE_MESSAGE, *EXTRA])
def test_text_renders_as_itself_and_nothing_else(text: str, context: str) -> None:
    markdown = CONTEXTS[context].format(md_text(text))
    assert hostile_output(markdown) == []
    assert "\n" not in md_text(text)
    shown = visible_text(markdown)
    assert flat(text) in shown, (markdown, shown)
    if context == "table cell":  # still two cells: nothing split or added one
        assert markdown.splitlines()[2].count(" | ") == 1


@pytest.mark.parametrize(
    "text",
    [
        "![p](https://attacker.example/t.png)",
        "[x](https://attacker.example/phish)",
        "<img src=https://attacker.example/i>",
        "<https://attacker.example>",
        "see https://attacker.example/x",
        "[click](javascript:alert(1))",
    ],
)
def test_the_check_finds_the_same_text_unescaped(text: str) -> None:
    """The checker above can fail: each hostile text, as it is, is found."""
    assert hostile_output(text) != []


def test_plain_text_stays_as_it_is() -> None:
    assert md_text("a red fox, running through snow (at dawn)!") == (
        "a red fox, running through snow (at dawn)!"
    )
    assert md_text("fox-1a2b3c4d.gif") == "fox-1a2b3c4d.gif"
    assert md_text("frames: got 3, expected 4") == "frames: got 3, expected 4"
    assert md_text(12345) == "12345"


def test_our_links_are_links_to_the_address_we_made() -> None:
    url = "https://cdn.example/videos/fox (1)|x.gif"
    markdown = md_link("fox [1] | `x`.gif", url)
    assert links(markdown) == ["https://cdn.example/videos/fox%20%281%29%7Cx.gif"]
    assert visible_text(markdown) == "fox [1] | `x`.gif"
    in_a_table = f"| video |\n|---|\n| {markdown} |"
    assert links(in_a_table) == links(markdown)
    assert hostile_output(in_a_table, own_links=["https://cdn.example/"]) == []


def test_an_s3_endpoint_and_a_ui_path_are_links_too() -> None:
    assert links(md_link("fox.gif", "http://127.0.0.1:9000/bucket/out/fox.gif")) == [
        "http://127.0.0.1:9000/bucket/out/fox.gif"
    ]
    assert links(md_link("results table", "/artifacts/artifact/0b6c")) == [
        "/artifacts/artifact/0b6c"
    ]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//attacker.example/x",
        "videos/fox.gif",
        "file:///etc/passwd",
        "http://[::1",
    ],
)
def test_anything_but_an_http_url_or_a_site_path_is_no_link(url: str) -> None:
    markdown = md_link("a label [x](y)", url)
    assert links(markdown) == []
    assert visible_text(markdown) == "a label [x](y)"
