"""Authorization matrix: every route of app.url_map, every kind of visitor, one outcome each.

One world is built once for the module (a module-scoped app on its own database): a survey
with a submitted response and a draft, a challenge with teams A and B, entries with files,
a rubric, reviews, a published result snapshot, a safety flag, guidelines and an insight
report, and a logged-in client for every kind of visitor. New routes must be added to
EXPECTED, or the completeness test fails.
"""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, text

from challenge import clock, create_app
from challenge.challenges.models import Membership, SubmissionFile, Team
from challenge.db import make_engine
from challenge.models import Base
from tests.conftest import ON_POSTGRES, PASSWORD, IsolatedClient, login
from tests.services.test_results import add_entry as results_add_entry
from tests.services.test_results import make_challenge as results_make_challenge
from tests.services.test_reviews import DURING, FULL, build_world
from tests.services.test_submissions import make_person
from tests.web.test_survey_answering import CONTRACT, PAGE1, PAGE2

VISITORS = ("anonymous", "patient", "entrant", "member_a", "member_b", "judge_assigned",
            "judge_unassigned", "judge_conflicted", "organizer", "safety")
EMAILS = {"patient": "patient@example.org", "entrant": "entrant@example.org",
          "member_a": "lee@example.org", "member_b": "max@example.org",
          "judge_assigned": "ana@example.org", "judge_unassigned": "olga@example.org",
          "judge_conflicted": "cy@example.org", "organizer": "org@example.org",
          "safety": "safety@example.org"}
LOGIN = "login"


# --- the world, once per module ------------------------------------------------------------

def _database(_schema_template, tmp_path_factory):
    if ON_POSTGRES:
        return _schema_template
    target = tmp_path_factory.mktemp("authz") / "world.db"
    shutil.copyfile(_schema_template, target)
    return f"sqlite:///{target}"


def _empty_postgres(url: str) -> None:
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


def _build(app) -> SimpleNamespace:
    import json

    from challenge.db import session_scope
    from challenge.judging import results, reviews
    from challenge.judging.models import Assignment, Conflict, JudgeSeat
    from challenge.safety import services as safety
    from surveys import definition, insights
    from surveys.models import GuidelineDocument, GuidelineItem, Survey

    clock.freeze(DURING)
    with app.app_context(), session_scope(app) as s:
        w = build_world(s)
        make_person(s, EMAILS["patient"], "patient")
        make_person(s, EMAILS["entrant"], "entrant")
        make_person(s, EMAILS["safety"], "safety")
        doc = json.loads(CONTRACT.read_text())
        survey, _ = definition.apply(s, doc)
        s.flush()
        for judge, sub in ((w.ana, w.sub_a), (w.ana, w.sub_b)):
            reviews.save_review(s, judge, sub.id, scores=FULL, feedback_to_team="Nice.",
                                submit=True)
        s.flush()
        results.publish(s, w.challenge, w.org, confirm_unscored=True)
        # a second challenge, published, whose results are not
        quiet = results_make_challenge(s, "quiet-2027")
        results_add_entry(s, quiet, "Quiet team", "Secret project")
        hidden = results_make_challenge(s, "hidden-2027", published=False)
        flag = safety.screen(s, source="survey-response", source_ref="response:x/story",
                             text="After Ozempic I had severe vomiting and fainted.")
        if flag is None:  # the lexicon did not match: write the row directly
            from challenge.safety.models import Flag
            flag = Flag(source="survey-response", source_ref="response:x/story",
                        excerpt="vomiting", products=["insulin"], events=["vomiting"],
                        first_seen=clock.now(), status="new")
            s.add(flag)
            s.flush()
        seat = s.scalar(select(JudgeSeat).where(JudgeSeat.user_id == w.ana.id))
        assignment = s.scalar(select(Assignment).where(Assignment.user_id == w.ana.id))
        conflict = s.scalar(select(Conflict))
        file_a = s.scalar(select(SubmissionFile).where(
            SubmissionFile.submission_id == w.sub_a.id))
        ids = SimpleNamespace(
            challenge=w.challenge.slug, survey=survey.slug,
            challenge_survey=s.get(Survey, w.challenge.survey_id).slug,
            team_a=w.team_a.id, team_b=w.team_b.id, sub_a=w.sub_a.id, sub_b=w.sub_b.id,
            file_a=file_a.id, flag=flag.id, seat=seat.id, assignment=assignment.id,
            conflict=conflict.id, org=w.org.id, lee=w.lee.id, max=w.max.id,
            survey_id=survey.id, quiet=quiet.slug, hidden=hidden.slug)
    # Survey answers through the real pages: a patient submits, an anonymous visitor keeps
    # a draft (with a private resume link).
    patient = app.test_client()
    login(patient, EMAILS["patient"])
    patient.post(f"/s/{ids.survey}", data={"consent": "yes"})
    patient.post(f"/s/{ids.survey}/page/1", data=PAGE1)
    done = patient.post(f"/s/{ids.survey}/page/2", data=PAGE2)
    assert done.status_code == 302, done.status_code
    stranger = app.test_client()
    stranger.post(f"/s/{ids.survey}", data={"consent": "yes"})
    page = stranger.get(f"/s/{ids.survey}/page/1").get_data(as_text=True)
    match = re.search(rf"/s/{re.escape(ids.survey)}/resume/([A-Za-z0-9_\-]+)", page)
    assert match, "no resume link on the first page"
    ids.resume_token = match.group(1)
    with app.app_context(), session_scope(app) as s:
        survey = s.get(Survey, ids.survey_id)
        report = insights.refresh(s, survey, actor=None)
        s.flush()
        now = clock.now()  # a draft guideline document (too few answers to generate one)
        draft = GuidelineDocument(survey_id=survey.id, version=1, status="draft",
                                  title="Draft guidelines", intro="", created_at=now,
                                  updated_at=now)
        draft.items = [GuidelineItem(key="exercise", position=0, title="Sport",
                                     body="Why it matters.")]
        s.add(draft)
        ids.report = report.id
    return ids


def world_app(schema_template, tmp_path_factory):
    """(app, database url): an app on its own copy of the schema, with clients that keep
    their cookies to themselves. Hand both to `close_world` when done."""
    url = _database(schema_template, tmp_path_factory)
    app = create_app({"APP_ENV": "test", "DATABASE_URL": url,
                      "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads"))})
    app.test_client_class = IsolatedClient
    return app, url


def visitor_client(app, visitor: str):
    """A new client for `visitor`: logged in, unless anonymous."""
    client = app.test_client()
    if visitor != "anonymous":
        assert login(client, EMAILS[visitor]).status_code == 302, visitor
    return client


def visitor_clients(app) -> dict:
    """One client per visitor kind, anonymous included."""
    return {visitor: visitor_client(app, visitor) for visitor in ("anonymous", *EMAILS)}


def close_world(app, url: str) -> None:
    clock.freeze(None)
    app.extensions["db_engine"].dispose()
    if ON_POSTGRES:
        _empty_postgres(url)


@pytest.fixture(scope="module")
def world(_schema_template, tmp_path_factory):
    app, url = world_app(_schema_template, tmp_path_factory)
    ids = _build(app)
    yield SimpleNamespace(app=app, ids=ids, clients=visitor_clients(app))
    close_world(app, url)


@pytest.fixture(autouse=True)
def _frozen():
    clock.freeze(DURING)
    yield


def url_args(rule, ids) -> dict:
    """Values for every URL parameter of `rule`, taken from the world."""
    endpoint = rule.endpoint
    survey_side = endpoint.split(".")[0] in {"surveys", "survey_admin", "insights",
                                             "guidelines"}
    slug = ids.survey if survey_side else ids.challenge
    if endpoint in {"surveys.public_guidelines", "surveys.evidence", "surveys.outcomes"}:
        slug = ids.challenge_survey
    values = {
        "slug": slug, "team_id": ids.team_a, "submission_id": ids.sub_a, "file_id": ids.file_a,
        "flag_id": ids.flag, "seat_id": ids.seat, "assignment_id": ids.assignment,
        "conflict_id": ids.conflict, "version": 1, "key": "role", "direction": "up",
        "number": 1, "token": "no-such-token-0000", "request_id": 1, "invitation_id": 1,
        "user_id": ids.lee,
    }
    if endpoint == "admin.user_roles":
        values["user_id"] = ids.max
    if endpoint == "surveys.resume":
        values["token"] = ids.resume_token
    return {name: values[name] for name in rule.arguments}


# --- the matrix ------------------------------------------------------------------------------

ALLOWED = "allowed"  # a POST the visitor may make: exercised by the feature tests, not here
DENIED = "denied"  # a POST the visitor may not make: login (anonymous), 403 or 404


def row(default, **over):
    unknown = set(over) - set(VISITORS)
    assert not unknown, unknown
    return {v: over.get(v, default) for v in VISITORS}


PUBLIC = row(200)
SIGNED_IN = row(200, anonymous=LOGIN)
ORGANIZER = row(403, anonymous=LOGIN, organizer=200)
ORGANIZER_POST = row(DENIED, organizer=ALLOWED)
EVERYONE_404 = row(404)
TEAM_A_CAPTAIN_POST = row(DENIED, member_a=ALLOWED)
OWN_TEAM_POST = row(DENIED, member_a=ALLOWED, member_b=ALLOWED)  # /c/<slug>/submission/...
TEAM_FORMING_POST = row(DENIED, entrant=ALLOWED, member_a=ALLOWED, member_b=ALLOWED,
                        organizer=ALLOWED)
JUDGES = ("judge_assigned", "judge_unassigned", "judge_conflicted")
TEAM_A_ENTRY = row(404, anonymous=LOGIN, member_a=200, judge_assigned=200, organizer=200)

EXPECTED: dict[str, dict[str, object]] = {
    # public pages
    "pages.home": PUBLIC, "pages.privacy": PUBLIC, "pages.healthz": PUBLIC,
    "challenges.index": PUBLIC, "challenges.detail": PUBLIC, "results.public": PUBLIC,
    "surveys.index": PUBLIC, "surveys.landing": PUBLIC, "surveys.thanks": PUBLIC,
    "surveys.public_guidelines": PUBLIC, "surveys.evidence": PUBLIC,
    "surveys.outcomes": PUBLIC,
    "surveys.page": row(302),  # no draft in this session: back to the landing page
    "surveys.resume": row(302),  # the private link is a bearer token: it resumes the draft
    "submissions.gallery": row(404, organizer=200),  # not open yet
    # accounts
    "accounts.login": row(302, anonymous=200), "accounts.register": row(302, anonymous=200),
    "accounts.forgot_password": PUBLIC,
    "accounts.reset_password": EVERYONE_404, "accounts.accept_invite": EVERYONE_404,
    "teams.accept_invite": EVERYONE_404,
    "accounts.dashboard": SIGNED_IN, "accounts.change_password": SIGNED_IN,
    "accounts.my_data": SIGNED_IN, "accounts.my_data_download": SIGNED_IN,
    "accounts.logout": row(ALLOWED, anonymous=DENIED),
    "accounts.delete_account": row(ALLOWED, anonymous=DENIED),
    # organizer pages
    **{e: ORGANIZER for e in (
        "admin.audit", "admin.outbox", "admin.user_roles", "admin.users",
        "challenge_admin.create", "challenge_admin.download_teams", "challenge_admin.edit",
        "challenge_admin.index", "challenge_admin.overview",
        "guidelines.edit", "guidelines.index", "guidelines.show", "insights.report",
        "judging_admin.conflicts_page", "judging_admin.invite", "judging_admin.overview",
        "judging_admin.panels", "judging_admin.rubric",
        "results_admin.dashboard", "results_admin.export",
        "survey_admin.add_question", "survey_admin.create", "survey_admin.download_responses",
        "survey_admin.edit_question", "survey_admin.index", "survey_admin.preview",
        "survey_admin.responses", "survey_admin.settings", "survey_admin.survey")},
    **{e: ORGANIZER_POST for e in (
        "challenge_admin.grant_extension", "challenge_admin.remove_extension",
        "guidelines.discard", "guidelines.generate", "guidelines.new_version",
        "guidelines.publish", "insights.refresh",
        "judging_admin.add_assignment", "judging_admin.assign", "judging_admin.change_panel",
        "judging_admin.remove_assignment", "judging_admin.remove_conflict",
        "judging_admin.remove_judge", "judging_admin.sync",
        "results_admin.publish", "results_admin.release_feedback",
        "survey_admin.close_survey", "survey_admin.move_question", "survey_admin.open_survey",
        "survey_admin.remove_question")},
    # safety
    "safety.queue": row(403, anonymous=LOGIN, organizer=200, safety=200),
    "safety.flag": row(403, anonymous=LOGIN, organizer=200, safety=200),
    # judging (judge.review and the entry pages are about team A's entry)
    "judge.queue": SIGNED_IN,  # an empty queue for anyone without assignments
    "judge.review": row(404, anonymous=LOGIN, judge_assigned=200, judge_conflicted=403),
    "judge_conflicts.conflicts": row(403, anonymous=LOGIN,
                                     **{j: 200 for j in JUDGES}),
    "results.feedback": row(403, anonymous=LOGIN, member_a=200, member_b=200),
    # teams and submissions (team A, team A's entry and file)
    "teams.show": row(404, anonymous=LOGIN, member_a=200, organizer=200),
    "teams.for_challenge": row(403, anonymous=LOGIN, entrant=200, member_a=302, member_b=302,
                               organizer=200),
    "teams.request_to_join": row(403, anonymous=LOGIN, entrant=200, member_a=302,
                                 member_b=200),
    "submissions.editor": SIGNED_IN,  # people without a team see how to form one
    "submissions.versions": TEAM_A_ENTRY,
    "submissions.download": TEAM_A_ENTRY,
    "submissions.gallery_choice": OWN_TEAM_POST, "submissions.remove_file": OWN_TEAM_POST,
    "submissions.submit": OWN_TEAM_POST, "submissions.upload": OWN_TEAM_POST,
    "teams.create": TEAM_FORMING_POST, "teams.open_invite_link": TEAM_FORMING_POST,
    "teams.cancel_request": row(DENIED, entrant=ALLOWED, member_b=ALLOWED),
    "teams.accept_request": TEAM_A_CAPTAIN_POST, "teams.decline_request": TEAM_A_CAPTAIN_POST,
    "teams.create_link": TEAM_A_CAPTAIN_POST, "teams.hand_over": TEAM_A_CAPTAIN_POST,
    "teams.invite_email": TEAM_A_CAPTAIN_POST, "teams.leave": TEAM_A_CAPTAIN_POST,
    "teams.remove_member": TEAM_A_CAPTAIN_POST, "teams.revoke_invitation": TEAM_A_CAPTAIN_POST,
}

# A plausible body, so a POST is not refused merely for being empty before permissions
# are checked.
POST_BODY = {"email": "someone@example.org", "name": "Intruders", "title": "Taken over",
             "confirm": "y", "status": "dismissed", "note": "x", "panel": "expert",
             "user_id": "1", "submission_id": "1", "team_id": "1", "choice": "yes"}


def _rules(app):
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static"),
                  key=lambda r: r.endpoint)


def _all_rules():
    app = create_app({"APP_ENV": "test", "DATABASE_URL": "sqlite://"})
    rules = [(r.endpoint, sorted(r.methods - {"HEAD", "OPTIONS"})) for r in _rules(app)]
    app.extensions["db_engine"].dispose()
    return rules


RULES = _all_rules()
GET_CASES = [(e, v) for e, methods in RULES if "GET" in methods for v in VISITORS]
POST_ONLY_CASES = [(e, v) for e, methods in RULES if "GET" not in methods for v in VISITORS]


def _url(world, endpoint: str) -> str:
    rule = next(r for r in world.app.url_map.iter_rules() if r.endpoint == endpoint)
    with world.app.test_request_context():
        from flask import url_for
        return url_for(endpoint, **url_args(rule, world.ids))


def outcome(response):
    if response.status_code == 302:
        return LOGIN if "/login" in response.headers["Location"] else 302
    return response.status_code


def test_every_route_declares_who_may_use_it():
    missing = sorted({e for e, _m in RULES} - set(EXPECTED))
    assert not missing, (
        "new routes must declare who may use them: add to EXPECTED in "
        f"tests/web/test_authorization_matrix.py: {', '.join(missing)}")
    stale = sorted(set(EXPECTED) - {e for e, _m in RULES})
    assert not stale, f"EXPECTED names routes that no longer exist: {stale}"


@pytest.mark.parametrize(("endpoint", "visitor"), GET_CASES)
def test_get(world, endpoint, visitor):
    expected = EXPECTED.get(endpoint, {}).get(visitor)
    if expected is None:
        pytest.fail(f"{endpoint}: new routes must declare who may use them")
    response = world.clients[visitor].get(_url(world, endpoint))
    assert outcome(response) == expected, (
        f"GET {endpoint} as {visitor}: {response.status_code} "
        f"{response.headers.get('Location', '')}")


@pytest.mark.parametrize(("endpoint", "visitor"), POST_ONLY_CASES)
def test_post_only(world, endpoint, visitor):
    expected = EXPECTED.get(endpoint, {}).get(visitor)
    if expected is None:
        pytest.fail(f"{endpoint}: new routes must declare who may use them")
    url = _url(world, endpoint)
    assert world.clients[visitor].get(url).status_code == 405
    if expected == ALLOWED:
        return
    response = world.clients[visitor].post(url, data=POST_BODY)
    allowed = {LOGIN, 403, 404} if visitor == "anonymous" else {403, 404}
    assert outcome(response) in allowed, (
        f"POST {endpoint} as {visitor}: {response.status_code} "
        f"{response.headers.get('Location', '')}")


@pytest.mark.parametrize(("endpoint", "visitor"), [
    (e, v) for e, methods in RULES if {"GET", "POST"} <= set(methods) for v in VISITORS
    if EXPECTED.get(e, {}).get(v) in (LOGIN, 403, 404)])
def test_post_to_a_form_the_visitor_may_not_open(world, endpoint, visitor):
    """Where GET is refused (login, 403, 404), POST is refused the same way."""
    response = world.clients[visitor].post(_url(world, endpoint), data=POST_BODY)
    allowed = {LOGIN, 403, 404} if visitor == "anonymous" else {403, 404}
    assert outcome(response) in allowed, (
        f"POST {endpoint} as {visitor}: {response.status_code} "
        f"{response.headers.get('Location', '')}")


# --- object-level checks ---------------------------------------------------------------------

def _never_readable(response) -> None:
    assert response.status_code in (302, 403, 404), response.status_code
    if response.status_code == 302:
        assert "/login" in response.headers["Location"] or "/s/" in response.headers["Location"]


def test_another_teams_entry_files_and_team_page_are_hidden(world):
    ids, member_b = world.ids, world.clients["member_b"]
    for path in (f"/submissions/{ids.sub_a}/versions", f"/files/{ids.file_a}",
                 f"/teams/{ids.team_a}", f"/teams/{ids.team_a}/request"):
        response = member_b.get(path)
        assert response.status_code in (403, 404) or (
            path.endswith("/request") and response.status_code == 200
            and b"deck.pdf" not in response.data), path
    own = member_b.get(f"/c/{ids.challenge}/submission").get_data(as_text=True)
    assert "deck.pdf" not in own and "GlucoGo" not in own
    # ids guessed or incremented: nothing beyond what exists, nothing of team A
    for file_id in range(ids.file_a, ids.file_a + 5):
        assert member_b.get(f"/files/{file_id}").status_code == 404, file_id
    for sub_id in (ids.sub_a, ids.sub_b + 1, ids.sub_b + 50):
        assert member_b.get(f"/submissions/{sub_id}/versions").status_code == 404, sub_id
    for team_id in (ids.team_a, ids.team_b + 1, ids.team_b + 50):
        assert member_b.get(f"/teams/{team_id}").status_code == 404, team_id


def test_another_teams_file_cannot_be_removed(world):
    from challenge.db import session_scope

    response = world.clients["member_b"].post(
        f"/c/{world.ids.challenge}/submission/files/{world.ids.file_a}/remove")
    assert response.status_code in (403, 404, 409), response.status_code
    with world.app.app_context(), session_scope(world.app) as s:
        assert s.get(SubmissionFile, world.ids.file_a) is not None


def test_entrant_without_team_sees_no_entry(world):
    entrant = world.clients["entrant"]
    assert entrant.get(f"/submissions/{world.ids.sub_a}/versions").status_code == 404
    assert entrant.get(f"/files/{world.ids.file_a}").status_code == 404
    page = entrant.get(f"/c/{world.ids.challenge}/submission").get_data(as_text=True)
    assert "deck.pdf" not in page and "GlucoGo" not in page


def test_judges_see_only_their_unconflicted_assignments(world):
    ids, clients = world.ids, world.clients
    for sub_id in (ids.sub_a, ids.sub_b, ids.sub_b + 1):
        assert clients["judge_unassigned"].get(f"/judging/reviews/{sub_id}").status_code == 404
        assert clients["judge_unassigned"].get(
            f"/submissions/{sub_id}/versions").status_code == 404
    assert clients["judge_unassigned"].get(f"/files/{ids.file_a}").status_code == 404
    conflicted = clients["judge_conflicted"]
    assert conflicted.get(f"/judging/reviews/{ids.sub_a}").status_code in (403, 404)
    assert conflicted.get(f"/submissions/{ids.sub_a}/versions").status_code == 404
    assert conflicted.get(f"/files/{ids.file_a}").status_code == 404
    assigned = clients["judge_assigned"]
    assert assigned.get(f"/judging/reviews/{ids.sub_b + 1}").status_code == 404
    assert assigned.get(f"/judging/reviews/{ids.sub_b + 50}").status_code == 404
    queue = clients["judge_unassigned"].get("/judging").get_data(as_text=True)
    assert "GlucoGo" not in queue and "Night owl" not in queue


def test_another_patients_answers_stay_private(world):
    ids, patient = world.ids, world.clients["patient"]
    for token in ("guessed-token", ids.resume_token[:-1] + "x", ids.resume_token.upper()):
        if token == ids.resume_token:
            continue
        client = world.app.test_client()
        _never_readable(client.get(f"/s/{ids.survey}/resume/{token}"))
        # and the session did not pick up anyone's draft
        page = client.get(f"/s/{ids.survey}/page/1")
        assert page.status_code == 302 and "/page/" not in page.headers["Location"]
    data = patient.get("/account/data.json").get_data(as_text=True)
    assert "resume" not in data.lower() or ids.resume_token not in data
    for visitor in VISITORS:
        if visitor != "organizer":
            _never_readable(world.clients[visitor].get(f"/organize/surveys/{ids.survey}"
                                                       "/responses.csv"))


def test_unpublished_results_reports_and_guidelines_are_hidden(world):
    ids = world.ids
    for visitor in VISITORS:
        client = world.clients[visitor]
        quiet = client.get(f"/c/{ids.quiet}/results")
        assert quiet.status_code == 404 or b"Secret project" not in quiet.data, visitor
        if visitor != "organizer":
            assert client.get(f"/c/{ids.hidden}").status_code == 404, visitor
            assert client.get(f"/c/{ids.hidden}/results").status_code == 404, visitor
            _never_readable(client.get(f"/organize/surveys/{ids.survey}/insights"))
            _never_readable(client.get(f"/organize/surveys/{ids.survey}/guidelines/1"))
        drafts = client.get(f"/s/{ids.survey}/guidelines")
        assert drafts.status_code == 404 or b"Draft guidelines" not in drafts.data, visitor
        feedback = client.get(f"/c/{ids.quiet}/results/feedback")
        assert feedback.status_code in (302, 403, 404), (visitor, feedback.status_code)


# --- sessions and requests ---------------------------------------------------------------------

def _counts(app, skip=("audit_event",)) -> dict[str, int]:
    from challenge.db import session_scope

    with app.app_context(), session_scope(app) as s:
        return {t.name: s.scalar(select(func.count()).select_from(t))
                for t in Base.metadata.sorted_tables if t.name not in skip}


@pytest.mark.parametrize("visitor", ["organizer", "member_a", "judge_assigned", "patient"])
def test_no_state_change_on_get(world, visitor):
    before = _counts(world.app)
    for endpoint, methods in RULES:
        if "GET" in methods:
            response = world.clients[visitor].get(_url(world, endpoint))
            assert response.status_code < 500, endpoint
    assert _counts(world.app) == before


@pytest.fixture(scope="module")
def csrf_world(world):
    """The same database, served by an app with CSRF protection on."""
    app = create_app({"APP_ENV": "test", "DATABASE_URL": world.app.config["DATABASE_URL"],
                      "UPLOAD_DIR": world.app.config["UPLOAD_DIR"],
                      "WTF_CSRF_ENABLED": True})
    app.test_client_class = IsolatedClient
    clients = {"anonymous": app.test_client()}
    for kind in ("organizer", "member_a", "judge_assigned", "patient"):
        client = app.test_client()
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
                          client.get("/login").get_data(as_text=True)).group(1)
        assert client.post("/login", data={"email": EMAILS[kind], "password": PASSWORD,
                                           "csrf_token": token}).status_code == 302
        clients[kind] = client
    yield SimpleNamespace(app=app, ids=world.ids, clients=clients)
    app.extensions["db_engine"].dispose()


@pytest.mark.parametrize("visitor", ["anonymous", "organizer", "member_a", "judge_assigned",
                                     "patient"])
def test_csrf_rejects_every_post_without_a_token(csrf_world, visitor):
    before = _counts(csrf_world.app, skip=())
    client = csrf_world.clients[visitor]
    for endpoint, methods in RULES:
        if "POST" not in methods:
            continue
        response = client.post(_url(csrf_world, endpoint), data=POST_BODY)
        assert response.status_code == 400, (endpoint, response.status_code)
    assert _counts(csrf_world.app, skip=()) == before
    if visitor != "anonymous":  # still logged in: nothing was done, not even logout
        assert client.get("/dashboard").status_code == 200


def test_extra_fields_on_registration_are_ignored(world):
    from challenge.accounts.models import User
    from challenge.db import session_scope

    client = world.app.test_client()
    response = client.post("/register", data={
        "email": "newcomer@example.org", "password": PASSWORD, "confirm": PASSWORD,
        "role": "entrant", "roles": "organizer", "is_admin": "1", "user_id": "1",
        "status": "active", "score": "100", "team_id": "1", "accept": "y"})
    assert response.status_code == 302
    refused = world.app.test_client().post("/register", data={
        "email": "sneaky@example.org", "password": PASSWORD, "confirm": PASSWORD,
        "role": "organizer", "accept": "y"})
    assert refused.status_code == 422
    with world.app.app_context(), session_scope(world.app) as s:
        user = s.scalar(select(User).where(User.email == "newcomer@example.org"))
        assert user.has_role("entrant")
        assert not user.has_role("organizer", "judge", "safety", "patient")
        assert user.id != 1
        assert s.scalar(select(User).where(User.email == "sneaky@example.org")) is None


def test_extra_fields_on_team_creation_are_ignored(world):
    from challenge.db import session_scope

    ids = world.ids
    with world.app.app_context(), session_scope(world.app) as s:
        newcomer_id = make_person(s, "teamless@example.org").id
    client = world.app.test_client()
    login(client, "teamless@example.org")
    clock.freeze(DURING - timedelta(days=10))  # before the deadline: teams may form
    response = client.post(f"/c/{ids.challenge}/teams", data={
        "name": "Fair play", "team_id": str(ids.team_a), "user_id": str(ids.lee),
        "role": "organizer", "status": "captain", "score": "100", "challenge_id": "999"})
    assert response.status_code == 302, response.status_code
    with world.app.app_context(), session_scope(world.app) as s:
        team = s.scalar(select(Team).where(Team.name == "Fair play"))
        assert team.id not in (ids.team_a, ids.team_b)
        assert s.get(Team, ids.team_a).name == "GlucoGo Team"
        members = s.scalars(select(Membership).where(Membership.team_id == team.id)).all()
        assert [(m.role, m.user_id) for m in members] == [("captain", newcomer_id)]
        team_a = s.scalars(select(Membership).where(Membership.team_id == ids.team_a)).all()
        assert [(m.role, m.user_id) for m in team_a] == [("captain", ids.lee)]
