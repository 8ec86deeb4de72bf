"""Is this HTML safe to show? A checker shared by the hostile-content tests.

The page is parsed with the standard library's `html.parser` (the way a browser tokenizes
tags and attributes), so a payload that broke out of text or of an attribute value shows up
as a real tag or attribute, whatever its spelling. Escaped payloads (``&lt;script&gt;``)
are text and pass.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

PAYLOAD = ("<script>alert(1)</script><img src=x onerror=alert(1)>\"'>"
           "<svg onload=alert(1)>")
"""The stored-XSS probe: a script, an event handler, an attribute breakout, an SVG handler."""
SHORT_PAYLOAD = "\"'><svg onload=alert(1)>"
"""For fields too short for PAYLOAD: still breaks out of an attribute and carries a handler."""
ESCAPED_MARK = "&lt;svg onload=alert(1)&gt;"
"""How the end of either payload reads once escaped (Jinja escapes < > & " ')."""

DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "base", "frame", "frameset",
                  "applet", "meta", "link", "style"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster",
                  "background", "srcset", "lowsrc", "dynsrc", "ping", "cite"}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:", "livescript:")
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f-\x9f]")  # browsers drop these in a scheme


class _TagCollector(HTMLParser):
    """Collects every problem a browser would execute: tags, handlers, script URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_head = False

    def handle_starttag(self, tag, attrs):
        self._check(tag, attrs)

    def handle_startendtag(self, tag, attrs):
        self._check(tag, attrs)

    def _check(self, tag: str, attrs) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "head":
            self._in_head = True
        if tag == "body":
            self._in_head = False
        own_asset = (tag == "script" and values.get("src", "").startswith("/static/")) or (
            tag in {"link", "meta", "style"} and self._in_head)
        if tag in DANGEROUS_TAGS and not own_asset:
            self.problems.append(f"<{tag}> {attrs}")
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name in URL_ATTRIBUTES or name.endswith(":href"):
                scheme = _IGNORED_IN_SCHEME.sub("", value).lower()
                if scheme.startswith(BAD_SCHEMES):
                    self.problems.append(f"<{tag} {name}={value!r}>")
            if name == "srcdoc":
                self.problems.append(f"<{tag} srcdoc>")
        if tag == "img" and values.get("src") == "x":
            self.problems.append("<img src=x>")

    def handle_endtag(self, tag):
        if tag == "head":
            self._in_head = False


def unsafe_markup(html: str) -> list[str]:
    """Every executable thing in `html` that the application did not write itself."""
    collector = _TagCollector()
    collector.feed(html)
    collector.close()
    problems = list(collector.problems)
    for raw in ("<script>alert", "<img src=x", "<svg onload"):
        # raw text forms (also inside <textarea> or <title>, which html.parser treats as text)
        if raw in html:
            problems.append(f"raw {raw!r}")
    return problems
