"""Password policy, Markdown sanitizing and the clock: pure rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from challenge import clock
from challenge.markdown import render_markdown
from challenge.security import password_problems


@pytest.mark.parametrize("password", ["password", "Password1", "12345678", "qwertyuiop",
                                      "aaaaaaaaaa", "short"])
def test_weak_passwords_refused(password):
    assert password_problems(password)


@pytest.mark.parametrize(
    "password", ["correct horse battery staple", "abcdefgh-" * 8, "Gl0co-Go!2027"]
)
def test_good_passwords_accepted_up_to_64_and_beyond(password):
    assert password_problems(password) == []


def test_password_equal_to_email_refused():
    assert password_problems("lee@example.org", email="LEE@example.org")


@pytest.mark.parametrize("source", [
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    '<img src=x onerror="alert(1)">',
    "[x](JaVaScRiPt:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "![img](javascript:alert(1))",
    "<iframe src='//evil'></iframe>",
])
def test_markdown_never_lets_script_through(source):
    html = str(render_markdown(source)).lower()
    assert "<script" not in html
    assert not re.search(r"<[^>]*javascript:", html)  # no tag carries a script URL
    assert not re.search(r"<[^>]*\bon\w+=", html)  # no tag carries an event handler
    assert "<iframe" not in html


def test_markdown_keeps_formatting_and_safe_links():
    html = str(render_markdown("# Title\n\n**bold** [site](https://example.org)\n\n- a\n- b"))
    assert "<h2>Title</h2>" in html
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.org"' in html and "noopener" in html
    assert "<li>a</li>" in html


@given(st.text(max_size=300))
def test_markdown_output_never_contains_raw_script(text):
    html = str(render_markdown(text)).lower()
    assert "<script" not in html and not re.search(r"<[^>]*javascript:", html)


def test_clock_freeze_and_advance():
    at = datetime(2027, 3, 1, 16, 59, tzinfo=UTC)
    with clock.frozen(at):
        assert clock.now() == at
        clock.advance(timedelta(minutes=2))
        assert clock.now() == at + timedelta(minutes=2)
    assert clock.now().tzinfo is not None and clock.now() != at
    with pytest.raises(ValueError):
        with clock.frozen(datetime(2027, 1, 1)):
            pass
