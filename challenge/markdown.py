"""Markdown to safe HTML: markdown-it-py renders, nh3 (ammonia) sanitizes.

Raw HTML in the source is escaped by markdown-it ("html": False) and the output is
sanitized again, so neither tags nor `javascript:` links survive.
"""

from __future__ import annotations

import functools

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "del",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}


@functools.cache
def _renderer() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable(
        "strikethrough"
    )


#: Texts up to this length are remembered once rendered (see render_markdown).
CACHED_LENGTH = 8_000


def render_markdown(source: str | None) -> Markup:
    """Sanitized HTML for a Markdown text (headings start at h2: the page owns h1).

    Rendering is a pure function of the text, and list pages (the gallery) show the same
    texts again and again, so short texts are remembered (a bounded LRU per process)."""
    source = source or ""
    if len(source) <= CACHED_LENGTH:
        return _render_cached(source)
    return _render(source)


@functools.lru_cache(maxsize=1024)
def _render_cached(source: str) -> Markup:
    return _render(source)


def _render(source: str) -> Markup:
    html = _renderer().render(source)
    html = html.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    clean = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)  # noqa: S704 - sanitized by nh3 just above


def plain_excerpt(source: str | None, length: int = 200) -> str:
    """A short plain-text excerpt of a Markdown text (for lists and meta tags)."""
    text = " ".join((source or "").split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"
