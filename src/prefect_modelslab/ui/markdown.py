"""Markdown that shows text as text: the one escaping rule for what the Prefect UI renders.

The Prefect UI renders artifact markdown, table-artifact cells and artifact
descriptions as GitHub-flavoured markdown (marked, with GFM autolinks and raw
HTML). Every text from a user or a server (prompts, ids, file names, sources,
error and server messages) goes through `md_text` on its way there, so it shows
as the same characters and never as a link, an image, HTML, a heading, a list,
code or a new table cell. Links are made only by `md_link`, from URLs this
package built (a stored video's address, the gallery, a Prefect UI page).

This module imports nothing from Prefect.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

__all__ = ["md_link", "md_text"]

# Backslash-escaped wherever they are: links and images ([ ]), HTML and autolinks
# (< >), table cells (|), code (`), emphasis (* _ ~), entities (&), e-mail autolinks
# (@), and the backslash itself.
_ESCAPED = re.compile(r"([\\`*_\[\]<>|~&@])")
# GFM autolinks a bare `scheme://...` and `www.`: break both with an escape.
_SCHEME = re.compile(r":(?=//)")
_WWW = re.compile(r"(?i)(www)\.")
# A line that starts like a heading, a list, a quote or a setext underline.
_BLOCK_START = re.compile(r"^(?:[#+=-]|\d{1,9}(?=[.)]))")
# Control characters (line breaks included): a rendered cell or line is one line.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
# What stays as it is in a link's address; everything else is percent-encoded.
_URL_SAFE = ":/?#[]@!$&*+,;=%-._~"


def md_text(text: object) -> str:
    """`text` as markdown that renders as that text, on one line.

    Line breaks and runs of blanks become one space and control characters go.
    Markdown and HTML syntax is backslash-escaped (`[`, `]`, `<`, `>`, `|`, a
    backtick, `*`, `_`, `~`, `&`, `@`, `\\`), bare `https://` and `www.` are
    broken so nothing autolinks, and a heading, list or quote marker at the
    start is escaped. A renderer drops the backslashes, so a reader sees the
    original text; it is safe in a paragraph, a list item, a heading, a link's
    label and a table cell.

    Example:
        ```python
        from prefect_modelslab.ui.markdown import md_text

        md_text("![p](https://attacker.example/t.png)")
        # '!\\[p\\](https\\://attacker.example/t.png)'
        md_text("| a | b |\\n# not a heading")  # '\\| a \\| b \\| # not a heading'
        ```
    """
    flat = " ".join(_CONTROLS.sub(" ", str(text)).split())
    escaped = _WWW.sub(r"\1\\.", _SCHEME.sub(r"\\:", _ESCAPED.sub(r"\\\1", flat)))
    start = _BLOCK_START.match(escaped)
    if start is None:
        return escaped
    if start.group().isdigit():  # `1. ` or `1) ` would start an ordered list
        end = start.end()
        return f"{escaped[:end]}\\{escaped[end:]}"
    return "\\" + escaped


def md_link(label: str, url: str) -> str:
    """A markdown link to a URL this package built, or the label as text when it is not one.

    Only absolute `http(s)` URLs and paths of the same site (`/artifacts/...`,
    as Prefect's UI links are without a UI URL) make a link; anything else
    (`javascript:`, `data:`, a local path) gives `md_text(label)`. The label is
    escaped with `md_text`; characters that could end the address (spaces,
    parentheses, `<`, `>`, `|`, quotes, backslashes) are percent-encoded.

    Example:
        ```python
        from prefect_modelslab.ui.markdown import md_link

        md_link("fox [1].gif", "https://cdn.example/videos/fox (1).gif")
        # '[fox \\[1\\].gif](https://cdn.example/videos/fox%20%281%29.gif)'
        md_link("x", "javascript:alert(1)")  # 'x'
        ```
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return md_text(label)
    absolute = parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)
    same_site = not parts.scheme and not parts.netloc and url.startswith("/")
    if not (absolute or same_site):
        return md_text(label)
    return f"[{md_text(label)}]({quote(url, safe=_URL_SAFE)})"
