"""Challenge pages: the public list and page, and the organizer's list, form and overview."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from challenge import clock
from challenge.accounts.models import User
from challenge.audit import AuditEvent
from challenge.challenges import bundle
from challenge.challenges.models import Challenge, Team
from tests.conftest import login
from tests.services.test_challenges import DEADLINE, SLUG, contract, publish_guidelines

ADMIN = "/organize/challenges"
HOSTILE = "<script>alert(1)</script> [click](javascript:alert(2)) **bold**"


@pytest.fixture
def challenge(session):
    publish_guidelines(session)
    created = bundle.apply(session, contract()).challenge
    session.commit()
    return created


@pytest.fixture
def organizer(client, make_user):
    make_user("org@example.org", "organizer")
    login(client, "org@example.org")
    return client


def as_role(client, make_user, role: str, email: str | None = None):
    email = email or f"{role}@example.org"
    make_user(email, role)
    login(client, email)
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


# --- the public page ---------------------------------------------------------------------------

def test_public_page_shows_brief_guidelines_phases_countdown_and_rubric(app, challenge):
    clock.freeze(datetime(2027, 2, 26, 13, 0, tzinfo=UTC))
    response = app.test_client().get(f"/c/{SLUG}")
    html = text(response)
    assert response.status_code == 200
    # guidelines, through the shared partial, with their evidence links
    assert 'id="g-exercise"' in html and "Keeping my glucose steady when I exercise" in html
    assert "/s/daily-life-2027/guidelines/evidence#need-exercise" in html
    # phases in the viewer's time zone (anonymous: UTC) and the current one
    for label, when in (("Registration opens", "Sun 10 Jan 2027, 00:00 UTC"),
                        ("Submission deadline", "Mon 01 Mar 2027, 17:00 UTC"),
                        ("Judging closes", "Thu 01 Apr 2027, 17:00 UTC"),
                        ("Results", "Thu 15 Apr 2027, 17:00 UTC")):
        assert label in html and when in html
    assert "Current phase: Registration and submissions open" in html
    # the countdown is computed by the server, inside a <time> element
    assert ('<time class="countdown" datetime="2027-03-01T17:00:00Z" data-countdown '
            'data-server-now="2027-02-26T13:00:00Z">in 3 days 4 hours</time>') in html
    assert "js/countdown.js" in html and "<script>" not in html
    # the rubric: criteria, weights, levels, cited guidelines
    for part in ("Impact on daily life", "Feasibility", "Design for real people",
                 "40% of the score", "Transforms a daily routine", "No clear benefit",
                 'href="#g-exercise"'):
        assert part in html, part
    assert "Log in to take part" in html


def test_times_show_in_the_viewers_time_zone_with_utc_beside(client, challenge, make_user,
                                                             session):
    make_user("paris@example.org", "entrant")
    session.scalar(select(User).where(User.email == "paris@example.org")).timezone = \
        "Europe/Paris"
    session.commit()
    login(client, "paris@example.org")
    html = text(client.get(f"/c/{SLUG}"))
    assert "Mon 01 Mar 2027, 18:00 CET (17:00 UTC)" in html


def test_call_to_action_depends_on_the_viewer(app, client, session, make_user):
    make_user("lee@example.org", "entrant")  # has a password: the import only adds a team
    publish_guidelines(session)
    bundle.apply(session, contract())
    session.commit()
    clock.freeze(datetime(2027, 2, 1, tzinfo=UTC))
    has_teams = "teams.for_challenge" in app.view_functions
    assert "Log in to take part" in text(client.get(f"/c/{SLUG}"))
    as_role(client, make_user, "entrant", "new@example.org")
    html = text(client.get(f"/c/{SLUG}"))
    assert "Teams have 1 to 5 members" in html
    if has_teams:
        assert f'href="/c/{SLUG}/team"' in html and "Create a team or join one" in html
    client.post("/logout")
    login(client, "lee@example.org")
    html = text(client.get(f"/c/{SLUG}"))
    assert "You are in team <strong>GlucoGo</strong>" in html
    if has_teams:
        assert "Go to your team" in html
    client.post("/logout")
    clock.freeze(DEADLINE)
    login(client, "new@example.org")
    assert "new teams can no longer form" in text(client.get(f"/c/{SLUG}"))


def test_public_list_shows_published_challenges_only(app, session, challenge):
    listed = app.test_client().get("/challenges")
    assert SLUG in text(listed) and "Data Design Diabetes 2027" in text(listed)
    challenge_row = session.scalar(select(Challenge))
    challenge_row.published = False
    session.commit()
    html = text(app.test_client().get("/challenges"))
    assert SLUG not in html and "No challenge is published yet." in html


def test_unpublished_challenge_is_404_except_for_organizers(client, session, challenge,
                                                            make_user):
    session.scalar(select(Challenge)).published = False
    session.commit()
    assert client.get(f"/c/{SLUG}").status_code == 404
    as_role(client, make_user, "entrant")
    assert client.get(f"/c/{SLUG}").status_code == 404
    client.post("/logout")
    as_role(client, make_user, "organizer")
    response = client.get(f"/c/{SLUG}")
    assert response.status_code == 200 and "Not published." in text(response)
    assert client.get("/c/nope").status_code == 404


def test_page_without_guidelines_or_rubric(app, session):
    doc = contract(survey=None, rubric={"criteria": []}, teams=[])
    bundle.apply(session, doc)
    session.commit()
    html = text(app.test_client().get(f"/c/{SLUG}"))
    assert "The guidelines for this challenge are not published yet." in html
    assert "The judging criteria will be published here" in html


def test_navigation_links(client, make_user):
    assert 'href="/challenges"' in text(client.get("/"))
    as_role(client, make_user, "organizer")
    html = text(client.get("/dashboard"))
    assert 'href="/organize/challenges/"' in html and "Challenges (organize)" in html


# --- organizer pages: access ----------------------------------------------------------------

def _organizer_pages() -> list[str]:
    return [f"{ADMIN}/", f"{ADMIN}/new", f"{ADMIN}/{SLUG}", f"{ADMIN}/{SLUG}/edit",
            f"{ADMIN}/{SLUG}/teams.csv"]


def _organizer_posts(team_id: int) -> list[str]:
    return [f"{ADMIN}/new", f"{ADMIN}/{SLUG}/edit",
            f"{ADMIN}/{SLUG}/teams/{team_id}/extension",
            f"{ADMIN}/{SLUG}/teams/{team_id}/extension/remove"]


def test_organizer_pages_are_for_organizers_only(app, client, challenge, make_user, session):
    team_id = session.scalar(select(Team.id))
    for path in _organizer_pages():
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    for path in _organizer_posts(team_id):
        response = client.post(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    for role in ("patient", "entrant", "judge"):
        as_role(client, make_user, role)
        for path in _organizer_pages():
            assert client.get(path).status_code == 403, (role, path)
        for path in _organizer_posts(team_id):
            assert client.post(path).status_code == 403, (role, path)
        client.post("/logout")
    as_role(client, make_user, "organizer")
    for path in _organizer_pages():
        assert client.get(path).status_code == 200, path
    endpoints = {r.endpoint for r in app.url_map.iter_rules()
                 if r.endpoint.startswith("challenge_admin.")}
    assert len(endpoints) == 7
    for endpoint in endpoints:
        assert app.view_functions[endpoint].allowed_roles == ("organizer",), endpoint


def test_unknown_challenge_or_team_is_404(organizer, challenge, session):
    for path in (f"{ADMIN}/nope", f"{ADMIN}/nope/edit", f"{ADMIN}/nope/teams.csv"):
        assert organizer.get(path).status_code == 404, path
    assert organizer.post(f"{ADMIN}/{SLUG}/teams/9999/extension").status_code == 404


def test_empty_list_tells_what_to_do(organizer):
    html = text(organizer.get(f"{ADMIN}/"))
    assert "Create your first challenge" in html
    assert "flask --app challenge challenges import FILE.json" in html


# --- create and edit ---------------------------------------------------------------------------

FORM = {
    "title": "Sleep 2028", "slug": "sleep-2028", "description": "The **brief**",
    "rules": "Rules", "ip_terms": "IP", "sponsor_disclosure": "Sponsored by Acme",
    "team_min": "1", "team_max": "4", "timezone": "Europe/Paris",
    "registration_opens": "2028-01-10T09:00", "submission_deadline": "2028-07-01T17:00",
    "judging_closes": "2028-08-01T17:00", "results_at": "2028-08-15T17:00",
    "survey": "", "published": "y",
}


def test_create_reads_times_in_the_chosen_zone_and_stores_utc(organizer, session):
    form = text(organizer.get(f"{ADMIN}/new"))
    assert 'type="datetime-local"' in form and "stored in UTC" in form
    assert '<option selected value="UTC">' in form
    response = organizer.post(f"{ADMIN}/new", data=FORM)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{ADMIN}/sleep-2028")
    created = session.scalar(select(Challenge).where(Challenge.slug == "sleep-2028"))
    assert created.registration_opens == datetime(2028, 1, 10, 8, 0, tzinfo=UTC)  # CET
    assert created.submission_deadline == datetime(2028, 7, 1, 15, 0, tzinfo=UTC)  # CEST
    assert created.published is True and created.team_max == 4
    assert session.scalar(select(AuditEvent.action).where(
        AuditEvent.action == "challenge.created")) is not None
    # the edit form shows the stored times (in UTC, the default zone)
    edit = text(organizer.get(f"{ADMIN}/sleep-2028/edit"))
    assert 'value="2028-07-01T15:00"' in edit


def test_form_errors_sit_beside_fields_and_keep_what_was_typed(organizer, session):
    bad = dict(FORM, title="", description="Typed brief that must survive",
               submission_deadline="2027-12-01T17:00", team_min="6", team_max="3",
               results_at="not a time")
    response = organizer.post(f"{ADMIN}/new", data=bad)
    html = text(response)
    assert response.status_code == 422
    assert "Typed brief that must survive" in html
    assert 'value="2027-12-01T17:00"' in html and 'value="not a time"' in html
    assert "Give the challenge a title." in html
    assert 'id="results_at-error"' in html
    assert session.scalar(select(Challenge.id)) is None
    # rules checked by the service: placed beside their fields, typed values kept
    response = organizer.post(f"{ADMIN}/new", data=dict(
        FORM, submission_deadline="2027-12-01T17:00", team_min="6", team_max="3",
        description="Kept again"))
    html = text(response)
    assert response.status_code == 422
    assert 'id="submission_deadline-error"' in html and "Must be after registration opens" \
        in html
    assert 'id="team_max-error"' in html and "Kept again" in html
    assert '<option selected value="Europe/Paris">' in html
    assert session.scalar(select(Challenge.id)) is None


def test_a_time_the_clocks_skip_is_refused(organizer, session):
    response = organizer.post(f"{ADMIN}/new", data=dict(
        FORM, registration_opens="2028-03-26T02:30"))
    assert response.status_code == 422
    assert "This time does not exist in Europe/Paris" in text(response)


def test_edit_keeps_the_address_once_teams_exist(organizer, challenge, session):
    form = text(organizer.get(f"{ADMIN}/{SLUG}/edit"))
    assert 'value="2027-03-01T17:00"' in form
    assert '<option selected value="daily-life-2027">' in form
    data = dict(FORM, slug="renamed", survey="daily-life-2027", timezone="UTC",
                registration_opens="2027-01-10T00:00", submission_deadline="2027-03-01T17:00",
                judging_closes="2027-04-01T17:00", results_at="2027-04-15T17:00")
    response = organizer.post(f"{ADMIN}/{SLUG}/edit", data=data)
    assert response.status_code == 422 and "Teams have already registered" in text(response)
    response = organizer.post(f"{ADMIN}/{SLUG}/edit", data=dict(data, slug=SLUG))
    assert response.status_code == 302
    assert session.scalar(select(Challenge.title)) == "Sleep 2028"


# --- overview, extension, CSV ------------------------------------------------------------------

def test_overview_shows_teams_members_status_and_activity(organizer, challenge):
    html = text(organizer.get(f"{ADMIN}/{SLUG}"))
    assert "GlucoGo" in html and "lee@example.org" in html and "captain" in html
    assert "Submitted" in html
    assert "Last-minute activity" in html
    assert "Grant an extension" in html


def test_last_minute_chart_is_svg_with_a_table(organizer, challenge, session):
    bundle.apply(session, contract(teams=[{"name": "GlucoGo", "members": ["lee@example.org"],
                                           "submission": {"title": "Late", "needs": []}}]))
    session.commit()
    html = text(organizer.get(f"{ADMIN}/{SLUG}"))
    assert "Nothing was saved or submitted in the last 24 hours" in html
    with clock.frozen(DEADLINE - timedelta(minutes=30)):
        bundle.apply(session, contract(teams=[{
            "name": "GlucoGo", "members": ["lee@example.org"],
            "submission": {"title": "Later still", "needs": []}}]))
    session.commit()
    html = text(organizer.get(f"{ADMIN}/{SLUG}"))
    assert '<svg class="bar-chart"' in html and "Versions per hour before the deadline" in html
    assert "style=" not in html and "<script>" not in html


def test_grant_extension_through_the_form_is_audited(organizer, challenge, session):
    team_id = session.scalar(select(Team.id))
    refused = organizer.post(f"{ADMIN}/{SLUG}/teams/{team_id}/extension", data={
        f"t{team_id}-until": "2027-02-01T10:00", f"t{team_id}-timezone": "UTC"})
    assert refused.status_code == 422
    html = text(refused)
    assert "must end after the submission deadline" in html
    assert 'value="2027-02-01T10:00"' in html
    response = organizer.post(f"{ADMIN}/{SLUG}/teams/{team_id}/extension", data={
        f"t{team_id}-until": "2027-03-02T10:00", f"t{team_id}-timezone": "Europe/Paris"})
    assert response.status_code == 302
    team = session.scalar(select(Team))
    assert team.deadline_extension == datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
    event = session.scalar(select(AuditEvent).where(
        AuditEvent.action == "team.extension_granted"))
    assert event.details["until"] == "2027-03-02T09:00:00Z"
    assert event.actor_label == "org@example.org"
    page = text(organizer.get(f"{ADMIN}/{SLUG}"))
    assert "Extended to" in page and "data-confirm=" in page
    assert organizer.post(f"{ADMIN}/{SLUG}/teams/{team_id}/extension/remove"
                          ).status_code == 302
    session.expire_all()
    assert session.scalar(select(Team)).deadline_extension is None


def test_extension_forms_share_one_list_of_time_zones(organizer, challenge, session):
    """Fifty teams a page, each with its extension form: the zones are listed once on the
    page, each form's zone field suggests from that list, and an unknown zone is refused
    beside the field with what was typed kept."""
    bundle.apply(session, contract(teams=[{"name": f"Team {i:02d}",
                                           "members": [f"m{i}@example.org"]}
                                          for i in range(50)]))
    session.commit()
    html = text(organizer.get(f"{ADMIN}/{SLUG}"))
    assert html.count('list="time-zones"') == 50
    assert html.count('<datalist id="time-zones">') == 1
    assert html.count('<option value="Europe/Paris">') == 1
    assert len(html) < 400_000  # a select in each row made this page about 1.4 MB
    team_id = session.scalar(select(Team.id).where(Team.name == "Team 07"))
    refused = organizer.post(f"{ADMIN}/{SLUG}/teams/{team_id}/extension", data={
        f"t{team_id}-until": "2027-03-02T10:00", f"t{team_id}-timezone": "Mars/Olympus"})
    assert refused.status_code == 422
    html = text(refused)
    assert "Choose a time zone from the list" in html
    assert 'value="Mars/Olympus"' in html and 'value="2027-03-02T10:00"' in html
    assert session.get(Team, team_id).deadline_extension is None


def test_extension_form_offers_times_in_the_organizers_zone(organizer, challenge, session):
    team_id = session.scalar(select(Team.id))
    session.scalar(select(User).where(User.email == "org@example.org")).timezone = \
        "Europe/Paris"
    session.commit()
    html = text(organizer.get(f"{ADMIN}/{SLUG}"))
    (field,) = re.findall(rf'<input[^>]*id="t{team_id}-timezone"[^>]*>', html)
    assert 'value="Europe/Paris"' in field


def test_csv_download_is_formula_safe_and_audited(organizer, challenge, session):
    bundle.apply(session, contract(teams=[
        {"name": "GlucoGo", "members": ["lee@example.org"],
         "submission": {"title": "GlucoGo", "summary": "Markdown", "needs": ["exercise"]}},
        {"name": "=cmd()", "members": ["kim@example.org"]}]))
    session.commit()
    response = organizer.get(f"{ADMIN}/{SLUG}/teams.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment;" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text(response), newline="")))
    assert ["'=cmd()", "kim@example.org", "", "none", "", ""] in rows
    assert session.scalar(select(AuditEvent).where(
        AuditEvent.action == "challenge.exported")).target == f"challenge:{SLUG}"


# --- hostile text ------------------------------------------------------------------------------

def test_markdown_and_titles_are_neutralised_on_every_page(app, organizer, session):
    publish_guidelines(session)
    doc = contract(title="<script>alert('title')</script> Hostile", description=HOSTILE,
                   rules=HOSTILE, ip_terms=HOSTILE, sponsor_disclosure=HOSTILE)
    doc["rubric"]["criteria"][0]["name"] = "<script>alert('criterion')</script>"
    doc["rubric"]["criteria"][0]["levels"]["1"] = "<img src=x onerror=alert(3)>"
    doc["teams"] = [{"name": "<script>alert('team')</script>", "members": ["lee@example.org"],
                     "submission": {"title": "<script>alert('s')</script>", "needs": []}}]
    bundle.apply(session, doc)
    session.commit()
    pages = [f"/c/{SLUG}", "/challenges", f"{ADMIN}/", f"{ADMIN}/{SLUG}",
             f"{ADMIN}/{SLUG}/edit"]
    for path in pages:
        html = text(organizer.get(path))
        assert "<script>alert" not in html, path
        assert 'href="javascript' not in html and "<img src=x" not in html, path
    public = text(app.test_client().get(f"/c/{SLUG}"))
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt; Hostile" in public
    assert "<strong>bold</strong>" in public
