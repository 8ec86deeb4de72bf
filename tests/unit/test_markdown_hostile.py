"""Markdown fields against hostile sources: scripts, handlers, script URLs, raw HTML, images.

Every field rendered as Markdown (challenge description, rules, IP terms, sponsor
disclosure, survey intro, submission summaries, rubric descriptions, guideline bodies) goes
through `challenge.markdown.render_markdown` (markdown-it-py, then nh3). The output is
parsed the way a browser tokenizes it (tests/html_safety.py), so an escape that only looks
right as a string cannot pass.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from challenge.markdown import plain_excerpt, render_markdown
from tests.html_safety import PAYLOAD, unsafe_markup

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))


def browser_scheme(url: str) -> str | None:
    """The scheme a browser reads in `url` (WHATWG URL: leading/trailing C0 controls and
    spaces are stripped, tabs and newlines removed anywhere), or None for a relative URL
    (such as "java%09script:x", whose "%" cannot be part of a scheme)."""
    cleaned = re.sub(r"[\t\n\r]", "", url.strip(_C0_AND_SPACE))
    match = _SCHEME.match(cleaned)
    return match.group(1).lower() if match else None


class _Links(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [value or "" for name, value in attrs if name in {"href", "src"}]


def parsed(source: str) -> _Links:
    links = _Links()
    links.feed(str(render_markdown(source)))
    return links


def assert_harmless(source: str) -> str:
    out = str(render_markdown(source))
    assert unsafe_markup(out) == [], (source, out)
    links = parsed(source)
    assert not {"img", "script", "iframe", "svg", "math", "style", "form", "input",
                "object", "embed", "details", "video", "audio"} & set(links.tags), out
    for url in links.urls:
        assert browser_scheme(url) in (None, "http", "https", "mailto"), (source, out)
    return out


SCRIPT_LINKS = [
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](  javascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](java\tscript:alert(1))",
    "[x](java&#x09;script:alert(1))",
    "[x](java&#10;script:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1))",
    "[x](&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105"
    "&#0000112&#0000116&#0000058alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](%6Aavascript:alert(1))",
    "[x](\x01javascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](VBScript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](DATA:text/html,<script>alert(1)</script>)",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "[x][ref]\n\n[ref]: <javascript:alert(1)> \"title\"",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<vbscript:msgbox(1)>",
    "<data:text/html,alert(1)>",
    "[x](https://example.org \"a\" onmouseover=\"alert(1)\")",
    "[x](https://example.org\"onmouseover=\"alert(1))",
    "[x](\"onmouseover=alert(1))",
]

RAW_HTML = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"https://ok.example\" onclick=\"alert(1)\">x</a>",
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<object data=\"data:text/html,<script>alert(1)</script>\"></object>",
    "<embed src=javascript:alert(1)>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<input autofocus onfocus=alert(1)>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:/\">",
    "<style>@import 'javascript:alert(1)';</style>",
    "<!--><script>alert(1)</script>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<video><source onerror=alert(1)></video>",
    "<p>inline <b onmouseover=alert(1)>bold</b></p>",
    "text\n\n<div>\n<script>alert(1)</script>\n</div>",
    "    <script>alert(1)</script>",  # indented code block
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    PAYLOAD,
]

IMAGES = [
    "![a](javascript:alert(1))",
    "![a](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![a](https://evil.example/pixel.png)",
    "![a\" onerror=\"alert(1)](x)",
    "![a](x \"t\" onerror=alert(1))",
    "[![a](https://evil.example/p.png)](javascript:alert(1))",
    "![a][img]\n\n[img]: javascript:alert(1)",
]


@pytest.mark.parametrize("source", SCRIPT_LINKS)
def test_script_urls_never_become_links(source):
    links = parsed(source)
    assert_harmless(source)
    assert all(browser_scheme(url) in (None, "http", "https") for url in links.urls), source


@pytest.mark.parametrize("source", RAW_HTML)
def test_raw_html_is_shown_as_text_never_as_markup(source):
    out = assert_harmless(source)
    # what the person typed is still there to read, as text
    if "<script>alert(1)</script>" in source and "`" not in source:
        assert "&lt;script&gt;" in out


@pytest.mark.parametrize("source", IMAGES)
def test_images_are_dropped_whatever_their_source(source):
    out = assert_harmless(source)
    assert "<img" not in out


def test_safe_links_and_formatting_survive():
    out = str(render_markdown("**bold** [site](https://example.org/a?b=1&c=2) "
                              "[mail](mailto:team@example.org) [page](/c/ddd-2027)"))
    assert "<strong>bold</strong>" in out
    assert 'href="https://example.org/a?b=1&amp;c=2"' in out
    assert 'href="mailto:team@example.org"' in out
    assert 'href="/c/ddd-2027"' in out
    assert 'rel="noopener noreferrer nofollow"' in out


def test_payload_text_survives_escaped():
    out = str(render_markdown("Before " + PAYLOAD + " after"))
    assert html.unescape(out).count("alert(1)") == 3  # kept as text for the reader
    assert unsafe_markup(out) == []


def test_plain_excerpt_is_plain_text_for_autoescaping():
    # plain_excerpt returns a str (not Markup), so Jinja escapes it where it is shown
    excerpt = plain_excerpt(PAYLOAD)
    assert type(excerpt) is str and "<script>" in excerpt


HOSTILE_PIECES = st.sampled_from([
    "<", ">", "\"", "'", "`", "&", "&#", ";", ":", "(", ")", "[", "]", "!", "\n", "\t", " ",
    "javascript", "JaVaScRiPt", "vbscript", "data", "script", "img", "svg", "src", "href",
    "onerror", "onload", "=", "alert(1)", "x", "//", "&#106;", "&colon;", "%0a", "\x00",
    "<script>", "</script>", "](", "![", "<a ", "<img ", "\u202e",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(HOSTILE_PIECES, max_size=40).map("".join))
def test_any_mix_of_hostile_pieces_renders_harmless(source):
    assert_harmless(source)
