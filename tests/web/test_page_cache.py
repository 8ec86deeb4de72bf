"""The public results and gallery pages are rendered once per process for anonymous
visitors (challenge/pagecache.py): whatever changes what they show must show at once.

Each test fills the cache with a first GET, changes the data the way the platform does,
and reads the page again.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from challenge import clock
from challenge.challenges.models import Team
from challenge.judging import results
from challenge.safety import services as safety
from surveys.models import Survey
from tests.conftest import login
from tests.services.test_insights import add_responses, make_survey, survey_doc
from tests.web.test_query_counts import (
    FLAGGED_TEXT,
    SLUG,
    ChallengeWorld,
    counting,
)

RESULTS = f"/c/{SLUG}/results"
GALLERY = f"/c/{SLUG}/gallery"


@pytest.fixture(autouse=True)
def _frozen(app):
    from tests.services.test_results import NOW

    clock.freeze(NOW)
    yield
    clock.freeze(None)


@pytest.fixture
def world(session):
    world = ChallengeWorld(session)
    world.grow(3)  # Team 000..002; Team 002's text is under an open flag
    world.publish()
    return world


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def test_a_repeated_anonymous_visit_is_served_from_the_cache(app, world):
    client = app.test_client()
    # What each page reads only to render: the ranking rows, the texts of the gallery's
    # page of entries (its key reads only team names and version ids).
    for url, rows_query in ((RESULTS, "FROM result_entry"),
                            (GALLERY, "submission_version.summary")):
        with counting(app) as statements:
            first = page(client, url)
        assert [s for s in statements if rows_query in s], url
        with counting(app) as statements:
            again = page(client, url)
        assert again == first
        # Only the cache key is read again (the challenge, the snapshot or the stamps).
        assert not [s for s in statements if rows_query in s], url


def test_a_new_publication_shows_at_once(app, session, world):
    client = app.test_client()
    assert "Newcomer award" not in page(client, RESULTS)
    results.publish(session, world.challenge, None, {"Team 002": "Newcomer award"})
    session.commit()
    html = page(client, RESULTS)
    assert "Newcomer award" in html and "Grand prize" not in html
    # An older version's page lists the new version too.
    assert "Newcomer award" not in page(client, f"{RESULTS}?version=1")


def test_an_entry_flagged_for_safety_leaves_the_gallery_at_once(app, session, world):
    client = app.test_client()
    html = page(client, GALLERY)
    assert "Team 001" in html and "Team 002" not in html
    safety.screen(session, source="submission",
                  source_ref=f"submission:{world.entries[1].id}/version:1", text=FLAGGED_TEXT)
    session.commit()
    html = page(client, GALLERY)
    assert "Team 001" not in html and "Team 000" in html


def test_a_team_opting_out_leaves_the_gallery_at_once(app, session, world):
    client = app.test_client()
    assert "Team 000" in page(client, GALLERY)
    world.entries[0].gallery_opt_in = False
    session.commit()
    assert "Team 000" not in page(client, GALLERY)


def test_a_renamed_team_shows_its_new_name_at_once(app, session, world):
    client = app.test_client()
    assert "Team 000" in page(client, GALLERY)
    # (As a challenge bundle's re-import does.)
    session.get(Team, world.entries[0].team_id).name = "The Night Owls"
    session.commit()
    html = page(client, GALLERY)
    assert "The Night Owls" in html and "Team 000" not in html


def test_logged_in_and_anonymous_visitors_never_share_a_page(app, make_user, world):
    anonymous = app.test_client()
    member = app.test_client()
    make_user("reader@example.org")
    assert login(member, "reader@example.org").status_code == 302
    for url in (RESULTS, GALLERY):
        before = page(anonymous, url)
        assert "Log out" not in before and "Log in" in before
        mine = page(member, url)
        assert "Log out" in mine and 'name="csrf_token"' in mine
        after = page(anonymous, url)
        assert "Log out" not in after and 'name="csrf_token"' not in after


def test_a_flashed_message_is_shown_once_and_not_cached(app, world):
    client = app.test_client()
    for url in (RESULTS, GALLERY):
        page(client, url)  # the cache holds the plain page
        with client.session_transaction() as cookie:
            cookie["_flashes"] = [("success", "Welcome back, reader.")]
        assert "Welcome back, reader." in page(client, url)
        assert "Welcome back, reader." not in page(client, url)
        assert "Welcome back, reader." not in page(app.test_client(), url)



def test_a_large_response_count_is_read_again_for_a_new_report(
        app, client, make_user, session, monkeypatch):
    from surveys import insights_views
    from tests.web import test_insights_views as report_pages

    make_survey(session, survey_doc(report_pages.SLUG))
    session.commit()
    make_user("org@example.org", "organizer")
    assert login(client, "org@example.org").status_code == 302
    add_responses(session, session.scalar(select(Survey)), report_pages._rows())
    session.commit()
    monkeypatch.setattr(insights_views, "LARGE_COUNT", 1)  # 37 responses count as many
    monkeypatch.setattr(insights_views, "COUNT_SECONDS", 1e12)  # one slice: no clock here
    report_pages._refresh(client)
    page(client, report_pages.PAGE)
    with counting(app) as statements:
        assert "No new responses since" in page(client, report_pages.PAGE)
    assert not [s for s in statements if "count(*)" in s]  # the figure came from the cache
    add_responses(session, session.scalar(select(Survey)), report_pages._rows()[:2])
    session.commit()
    report_pages._refresh(client)  # a new report: counted again, not the cached 37
    assert "No new responses since" in page(client, report_pages.PAGE)
