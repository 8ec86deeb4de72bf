"""The organizer's insight report page and `flask insights report` (CONTRACTS.md)."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from surveys.models import InsightReport
from tests.conftest import login
from tests.services.test_insights import add_responses, make_survey, survey_doc

SLUG = "insights-2027"
PAGE = f"/organize/surveys/{SLUG}/insights"
REFRESH = f"{PAGE}/refresh"
XSS = "<script>alert(1)</script>"


def _rows() -> list[dict]:
    """37 respondents: 20 type 1, 3 type 2, 2 other, 12 carers (who never see dtype)."""
    return ([{"role": "patient", "dtype": "t1", "n1": (5, 1), "n2": (4, 4), "n3": (5, 2),
              "story": "night lows wake me"}] * 20
            + [{"role": "patient", "dtype": "t2", "n1": (5, 5), "n2": (2, 4)}] * 3
            + [{"role": "patient", "dtype": "other", "n1": (2, 5), "n2": (5, 1)}] * 2
            + [{"role": "carer", "n1": (4, 2), "n2": (1, 5), "n3": (3, 3)}] * 12)


@pytest.fixture
def survey(app, session):
    doc = survey_doc(SLUG)
    doc["questions"][2]["text"] = XSS  # need n1
    created = make_survey(session, doc)
    session.commit()
    return created


@pytest.fixture
def organizer(client, make_user):
    make_user("org@example.org", "organizer")
    login(client, "org@example.org")
    return client


def _reports(session) -> int:
    return session.scalar(select(func.count(InsightReport.id)))


def _refresh(client):
    response = client.post(REFRESH)
    assert response.status_code == 302 and response.headers["Location"].endswith(PAGE)
    return response


def test_report_page_shows_chart_table_and_suppressed_cells(organizer, survey, session):
    add_responses(session, survey, _rows())
    _refresh(organizer)
    page = organizer.get(PAGE)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'<svg class="opportunity-chart"[^>]*role="img"[^>]*'
                     r'aria-labelledby="opp-title opp-desc"', html)
    assert '<title id="opp-title">' in html and '<desc id="opp-desc">' in html
    assert '<polygon class="zone"' in html
    assert '<table class="needs-table">' in html
    assert "Of 37 respondents, 2 needs are underserved; the largest gap is" in html
    assert "from <strong>37</strong> submitted responses" in html
    # Small groups: "fewer than 11", never their size.
    assert "fewer than 11" in html
    assert "Type 2" in html and ">3 people<" not in html and ">2 people<" not in html
    assert "20 people" in html and "12 people" in html and "25 people" in html
    # One decimal on pages; the stored numbers stay unrounded.
    stored = session.scalar(select(InsightReport))
    n1 = next(n for n in stored.data["needs"] if n["key"] == "n1")
    assert n1["importance"] == 10 * 35 / 37  # 9.459...
    assert '<td class="num">9.5 <span class="ci">' in html
    # CSP: no inline styles or scripts.
    assert " style=" not in html and "<script>" not in html
    assert "No new responses since" in html


def test_need_text_is_escaped_in_svg_labels_and_tables(organizer, survey, session):
    add_responses(session, survey, _rows())
    _refresh(organizer)
    html = organizer.get(PAGE).get_data(as_text=True)
    assert XSS not in html
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    svg = html[html.index("<svg class=\"opportunity-chart\""):html.index("</svg>")]
    assert re.search(r'<text class="legend-label"[^>]*>\d\. ' + re.escape(escaped) + "</text>",
                     svg)  # the key that names each numbered point
    assert re.search(r"<title>\d\. " + re.escape(escaped) + ": importance", svg)
    table = html[html.index('<table class="needs-table">'):]
    assert f'<th scope="row">{escaped}<br>' in table


def test_empty_state_before_any_report_and_get_never_computes(organizer, survey, session):
    add_responses(session, survey, _rows()[:5])
    html = organizer.get(PAGE).get_data(as_text=True)
    assert "No report has been computed yet." in html
    assert "Compute the report" in html and f'action="{REFRESH}"' in html
    assert "are 5 submitted responses so far" in html
    assert _reports(session) == 0


def test_refresh_stores_a_snapshot_and_the_page_says_when_new_responses_arrive(
        organizer, survey, session):
    add_responses(session, survey, _rows())
    _refresh(organizer)
    assert _reports(session) == 1
    assert "Report computed from 37 submitted responses." in organizer.get(PAGE).get_data(
        as_text=True)
    add_responses(session, survey, _rows()[:2])
    html = organizer.get(PAGE).get_data(as_text=True)
    assert "2 new responses have arrived since" in html and "(39 submitted now)" in html
    assert _reports(session) == 1  # reading does not recompute
    _refresh(organizer)
    assert _reports(session) == 2
    assert "No new responses since" in organizer.get(PAGE).get_data(as_text=True)


def test_insufficient_data_page(organizer, survey, session):
    add_responses(session, survey, _rows()[:4])
    _refresh(organizer)
    page = organizer.get(PAGE)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "insufficient data" in html
    assert ("This report covers 4 submitted responses: fewer than the minimum group size "
            "of 11") in html
    assert "<svg" not in html and "needs-table" not in html
    assert "Not enough ratings to score" in html and "Need n2" in html


def test_page_for_a_survey_without_answers_to_its_needs(organizer, survey, session):
    add_responses(session, survey, [{"role": "carer"}] * 15)
    _refresh(organizer)
    page = organizer.get(PAGE)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "no need was rated (importance and satisfaction) by at least 11 people" in html
    assert "insufficient data" in html and "<svg" not in html


def test_builder_and_responses_pages_link_to_the_report(organizer, survey):
    for url in (f"/organize/surveys/{SLUG}/questions", f"/organize/surveys/{SLUG}/responses"):
        assert f'href="{PAGE}"' in organizer.get(url).get_data(as_text=True)


def test_unknown_survey_is_404(organizer):
    assert organizer.get("/organize/surveys/nope/insights").status_code == 404
    assert organizer.post("/organize/surveys/nope/insights/refresh").status_code == 404


@pytest.mark.parametrize("role", ["patient", "entrant", "judge", "safety"])
def test_other_roles_are_refused(client, make_user, survey, session, role):
    make_user(f"{role}@example.org", role)
    login(client, f"{role}@example.org")
    assert client.get(PAGE).status_code == 403
    assert client.post(REFRESH).status_code == 403
    assert _reports(session) == 0


def test_anonymous_visitors_are_sent_to_log_in(client, survey, session):
    for response in (client.get(PAGE), client.post(REFRESH)):
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _reports(session) == 0


# --- CLI ----------------------------------------------------------------------------------------

def test_cli_report_json_prints_one_document_and_stores_a_snapshot(app, survey, session):
    add_responses(session, survey, _rows())
    session.commit()
    result = app.test_cli_runner().invoke(args=["insights", "report", SLUG, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)  # exactly one JSON document, nothing else on stdout
    assert {"survey", "respondents", "min_cell_size", "needs", "segments", "themes"} <= set(doc)
    assert doc["survey"] == SLUG and doc["respondents"] == 37 and doc["min_cell_size"] == 11
    first = doc["needs"][0]
    assert {"key", "text", "n", "importance", "satisfaction", "opportunity", "importance_ci",
            "satisfaction_ci", "opportunity_ci", "status"} <= set(first)
    assert isinstance(first["importance"], float)
    assert [n["opportunity"] for n in doc["needs"] if "opportunity" in n] == sorted(
        (n["opportunity"] for n in doc["needs"] if "opportunity" in n), reverse=True)
    assert any(c["suppressed"] and set(c) == {"question", "value", "label", "suppressed"}
               for c in doc["segments"])
    session.expire_all()
    stored = session.scalar(select(InsightReport))
    assert stored.trigger == "cli" and stored.response_count == 37 and stored.data == doc


def test_cli_report_text_is_the_default(app, survey, session):
    add_responses(session, survey, _rows())
    session.commit()
    result = app.test_cli_runner().invoke(args=["insights", "report", SLUG])
    assert result.exit_code == 0, result.stderr
    assert "needs (by opportunity):" in result.stdout
    assert "dtype=t2: fewer than 11 (suppressed)" in result.stdout


def test_cli_unknown_slug_exits_1_with_one_clear_line(app, survey, session):
    result = app.test_cli_runner().invoke(args=["insights", "report", "nope", "--format",
                                                "json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["error: unknown survey 'nope'"]
    assert _reports(session) == 0
