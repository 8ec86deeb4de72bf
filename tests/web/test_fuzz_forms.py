"""Every form, fuzzed: no POST a person can send gets a 500, or echoes markup that runs.

For every route of `app.url_map` that takes POST, a visitor the authorization matrix allows
to use it (tests/web/test_authorization_matrix.py, EXPECTED) posts hypothesis-generated
form data: the fields the platform's own forms send to that route (found by parsing every
page the visitor can open) plus random extra keys, with random, empty, huge, NUL-laden,
Unicode, out-of-range, non-finite and repeated (list) values, and hostile markup; at a
random moment of the challenge (before the deadline, while judging, after results). The
world is the authorization matrix's, built once for the module.
"""

from __future__ import annotations

import io
import itertools
from datetime import timedelta
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import MethodNotAllowed, NotFound

from challenge import clock
from tests.conftest import PASSWORD, login
from tests.html_safety import PAYLOAD, SHORT_PAYLOAD, unsafe_markup
from tests.services.test_reviews import DURING
from tests.web.test_authorization_matrix import (
    ALLOWED,
    EMAILS,
    EXPECTED,
    POST_BODY,
    RULES,
    _build,
    _url,
    close_world,
    visitor_client,
    visitor_clients,
    world_app,
)

MOMENTS = (DURING - timedelta(days=10), DURING, DURING + timedelta(days=60))
# Visitors tried first when several may use a route (the ones whose world matters most
# to the route: the captain for team routes, the organizer for organizer routes).
PREFERENCE = ("organizer", "member_a", "judge_assigned", "safety", "entrant", "member_b",
              "patient", "judge_conflicted", "judge_unassigned", "anonymous")
# Routes that end the visitor's session on success: log in again after each example.
SESSION_ENDING = {"accounts.logout", "accounts.delete_account", "accounts.change_password",
                  "accounts.login", "accounts.register", "accounts.reset_password",
                  "accounts.accept_invite"}
# One-click buttons shown only in states the world is not in (an extension granted, a
# pending request, a second member, an invitation, a closed survey, ...): their fields are
# unknown here, so they get the authorization matrix's plausible body plus random keys.
STATE_DEPENDENT = {"challenge_admin.remove_extension", "guidelines.new_version",
                   "judging_admin.sync", "submissions.submit", "survey_admin.open_survey",
                   "teams.accept_request", "teams.cancel_request", "teams.decline_request",
                   "teams.hand_over", "teams.remove_member", "teams.revoke_invitation"}
DISCOVER_AT_EVERY_MOMENT = ("organizer", "member_a", "member_b", "entrant")
FUZZ = settings(max_examples=30, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


class _Forms(HTMLParser):
    """POST forms of a page: (action, field names)."""

    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[tuple[str, set[str], bool]] = []
        self._current: tuple[str, set[str], list[bool]] | None = None

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "form" and (values.get("method") or "get").lower() == "post":
            action = urljoin(self.page_url, values.get("action") or self.page_url)
            self._current = (action, set(), [False])
        elif self._current and tag in {"input", "select", "textarea", "button"}:
            if values.get("name") and values["name"] != "csrf_token":
                self._current[1].add(values["name"])
            if values.get("type") == "file":
                self._current[2][0] = True

    def handle_endtag(self, tag):
        if tag == "form" and self._current:
            action, names, has_file = self._current
            self.forms.append((action, names, has_file[0]))
            self._current = None


def _endpoint_of(app, url: str) -> str | None:
    adapter = app.url_map.bind("localhost")
    try:
        endpoint, _args = adapter.match(urlsplit(url).path, method="POST")
    except (NotFound, MethodNotAllowed):
        return None
    return endpoint


@pytest.fixture(scope="module")
def world(_schema_template, tmp_path_factory):
    app, url = world_app(_schema_template, tmp_path_factory)
    ids = _build(app)
    clients = visitor_clients(app)
    fields: dict[str, set[str]] = {}
    files: set[str] = set()
    for (visitor, client), moment in itertools.product(clients.items(), MOMENTS):
        if moment != DURING and visitor not in DISCOVER_AT_EVERY_MOMENT:
            continue
        clock.freeze(moment)  # some forms are shown only before the deadline, or after
        for endpoint, methods in RULES:
            if "GET" not in methods or EXPECTED[endpoint][visitor] != 200:
                continue
            page_url = _url(SimpleNamespace(app=app, ids=ids), endpoint)
            response = client.get(page_url)
            if response.mimetype != "text/html":
                continue
            parser = _Forms("http://localhost" + page_url)
            parser.feed(response.get_data(as_text=True))
            for action, names, has_file in parser.forms:
                target = _endpoint_of(app, action)
                if target:
                    fields.setdefault(target, set()).update(names)
                    if has_file:
                        files.add(target)
    clients = visitor_clients(app)  # the GETs above may have logged some out
    yield SimpleNamespace(app=app, ids=ids, clients=clients, fields=fields, files=files)
    close_world(app, url)


def _visitor_for(endpoint: str) -> str:
    row = EXPECTED[endpoint]
    for visitor in PREFERENCE:
        if row.get(visitor) in (ALLOWED, 200):
            return visitor
    return "anonymous"  # no one may: the refusal itself must not fail


POST_ENDPOINTS = sorted(e for e, methods in RULES if "POST" in methods)

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
VALUES = st.one_of(
    TEXT,
    st.sampled_from(["", " ", "\x00", "a\x00b", "\r\n", "\u202e", "𝒳", "é" * 3, PAYLOAD,
                     SHORT_PAYLOAD, "javascript:alert(1)", "=1+1", "null", "None", "true",
                     "[]", "{}", "../../etc/passwd", "%s%s%s", "' OR 1=1 --"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "-0", "0x10", "1_000", "٣", "1,5",
                     "2147483648", "-9223372036854775809", "99999999999999999999"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=1, max_value=4).map(lambda n: "x" * (50_000 * n)),
)
FIELD_VALUE = st.one_of(VALUES, st.lists(VALUES, min_size=2, max_size=4))
EXTRA_KEYS = st.sampled_from(["id", "user_id", "team_id", "role", "roles", "status",
                              "score", "next", "_method", "csrf_token", "q_x", "a" * 300,
                              "\x00", "items-0-key", "scores-impact", "action"])


@st.composite
def form_data(draw, fields: set[str], with_file: bool):
    data = {}
    for name in sorted(fields):
        if draw(st.integers(0, 5)) == 0:
            continue  # a missing field
        data[name] = draw(FIELD_VALUE)
    for key in draw(st.lists(EXTRA_KEYS, max_size=3)):
        data[key] = draw(FIELD_VALUE)
    if with_file and draw(st.booleans()):
        content = draw(st.binary(max_size=200))
        name = draw(st.one_of(TEXT, st.sampled_from(["a.pdf", "../../x.pdf", "\x00.pdf",
                                                     "x" * 400 + ".zip", "e.txt"])))
        data["file"] = (io.BytesIO(content), name.replace('"', "") or "f.pdf")
    return data


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_no_form_post_gives_a_server_error(world, endpoint):
    visitor = _visitor_for(endpoint)
    fields = world.fields.get(endpoint) or set(POST_BODY)
    with_file = endpoint in world.files
    url = _url(world, endpoint)

    @FUZZ
    @given(data=form_data(fields, with_file), moment=st.sampled_from(MOMENTS))
    def check(data, moment):
        clock.freeze(moment)
        client = world.clients[visitor]
        if endpoint == "surveys.page":  # a draft to post to: the anonymous visitor's
            client = world.app.test_client()
            client.get(f"/s/{world.ids.survey}/resume/{world.ids.resume_token}")
        kwargs = {"content_type": "multipart/form-data"} if "file" in data else {}
        response = client.post(url, data=data, **kwargs)
        assert response.status_code < 500, (endpoint, visitor, response.status_code)
        if response.mimetype == "text/html":
            assert unsafe_markup(response.get_data(as_text=True)) == [], (endpoint, data)
        if endpoint in SESSION_ENDING:
            world.clients[visitor] = visitor_client(world.app, visitor)

    try:
        check()
    finally:
        clock.freeze(DURING)
        world.clients[visitor] = visitor_client(world.app, visitor)


def test_every_post_route_was_found_in_a_form(world):
    """The fuzzing is not blind: the forms of the pages name each route's fields."""
    formless = {"accounts.reset_password", "accounts.accept_invite", "teams.accept_invite",
                "surveys.page",  # reached only with a valid token or an open draft
                *STATE_DEPENDENT}
    missing = sorted(set(POST_ENDPOINTS) - set(world.fields) - formless)
    assert missing == [], ", ".join(missing)


def test_the_password_still_works_after_fuzzing(world):
    """Nothing above changed an account it should not have (a fuzzed password form)."""
    for visitor in ("organizer", "member_a"):
        client = world.app.test_client()
        assert login(client, EMAILS[visitor], PASSWORD).status_code == 302, visitor


def test_unticking_every_role_removes_them_all(world):
    """Found by the fuzzing: a roles form with no box ticked sends no "roles" at all."""
    from challenge.accounts.models import User
    from challenge.db import session_scope

    response = world.clients["organizer"].post(f"/admin/users/{world.ids.max}/roles", data={})
    assert response.status_code == 302, response.status_code
    with world.app.app_context(), session_scope(world.app) as s:
        assert s.get(User, world.ids.max).roles == set()
