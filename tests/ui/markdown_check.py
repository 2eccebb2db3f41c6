"""Render markdown as the Prefect UI would and say what in it an attacker could have chosen.

The Prefect UI renders artifacts with marked (GFM: tables, raw HTML, bare-URL
autolinks). markdown-it-py's CommonMark with tables renders the same links,
images and raw HTML; GFM's bare-URL autolinks it does not do, so those are
looked for in the source: a hostile `https://`, `www.` or e-mail left unescaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from markdown_it import MarkdownIt

#: Hostile prompts (issue 17's review), each alone and all in one.
HOSTILE_TEXTS = [
    "![p](https://attacker.example/t.png)",
    "[Download the fixed video](https://attacker.example/phish)",
    "<img src=https://attacker.example/i>",
    "<https://attacker.example>",
    "a fox, see https://attacker.example/x now",
    "| a | b |",
    "two lines\n# the second a heading",
    "`code` and ```fence```",
    "[click](javascript:alert(1))",
    "<a href='javascript:alert(1)'>x</a>",
    "www.attacker.example/w or mail@attacker.example",
]
#: A server message carrying all of them (a failed generation's message).
HOSTILE_MESSAGE = "Generation failed: " + " ".join(HOSTILE_TEXTS)

_RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# marked renders `javascript:` links as they are; markdown-it would drop them.
_RENDERER.validateLink = lambda url: True  # type: ignore[method-assign]
_TAGS = re.compile(r"<\s*/?\s*([a-zA-Z][\w-]*)")
#: Tags our own markdown makes: headings, lists, tables, emphasis, code, links.
_OURS = {"p", "h1", "h2", "h3", "ul", "li", "table", "thead", "tbody", "tr", "th", "td"}
_OURS |= {"a", "strong", "em", "code", "br"}
_HREF = re.compile(r'<a href="([^"]*)"')
_AUTOLINKABLE = re.compile(r"(?i)(?:https?|ftp)://[^\s/]*attacker|www\.attacker|[\w.+-]@attacker")


def render(markdown: str) -> str:
    """The HTML of `markdown`."""
    return _RENDERER.render(markdown)


def links(markdown: str) -> list[str]:
    """The link addresses in the rendered `markdown`."""
    return [html.unescape(href) for href in _HREF.findall(render(markdown))]


def hostile_output(markdown: str, own_links: Iterable[str] = ()) -> list[str]:
    """What in rendered `markdown` comes from an attacker: images, raw HTML, other links.

    Args:
        markdown: The artifact's markdown (or a table cell, or a description).
        own_links: Addresses (or their beginnings) of links we made.

    Returns:
        Each problem found, in words; empty when the markdown is safe.
    """
    rendered = render(markdown)
    found: list[str] = []
    if "<img" in rendered:
        found.append("an image")
    if "<!--" in rendered:
        found.append("an HTML comment")
    tags = set(_TAGS.findall(rendered)) - _OURS
    if tags:
        found.append(f"raw HTML {sorted(tags)}")
    own = tuple(own_links)
    for href in links(markdown):
        host = urlsplit(href).hostname or ""
        if "attacker" in host or not own or not href.startswith(own):
            found.append(f"a link to {href}")
    bare = _AUTOLINKABLE.search(markdown)
    if bare:
        found.append(f"a bare link GFM autolinks: {bare.group()!r}")
    return found


def visible_text(markdown: str) -> str:
    """What a reader sees of `markdown`: the rendered text without tags, on one line."""
    text = re.sub(r"<[^>]+>", " ", render(markdown))
    return " ".join(html.unescape(text).split())
