"""`flask judging assign | assignments` (CONTRACTS.md "Judging"), also after an import."""

from __future__ import annotations

import copy
import json
from collections import Counter

import pytest
from sqlalchemy import func, select

from challenge import clock
from challenge.challenges.models import Challenge, Team
from challenge.db import session_scope
from challenge.judging import access, conflicts, setup
from challenge.judging.models import Assignment, JudgeSeat, Panel, Rubric
from tests.services.test_challenges import CONTRACT, SLUG, publish_guidelines
from tests.services.test_judging_setup import JUDGING, make_challenge, make_person, make_team
from tests.web.test_challenge_cli import run, write_json


@pytest.fixture(autouse=True)
def _frozen(app):
    clock.freeze(JUDGING)
    yield
    clock.freeze(None)


def _count(app, model) -> int:
    with app.app_context(), session_scope(app) as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.fixture
def grid(app):
    """Challenge "grid" (2 reviews per entry): judges j0..j3, teams A..E with entries."""
    with app.app_context(), session_scope(app) as s:
        c = make_challenge(s, "grid", reviews_per_entry=2,
                           judges=[{"email": f"j{i}@example.org", "name": "", "panel": "expert"}
                                   for i in range(4)])
        for i in range(4):
            make_person(s, f"j{i}@example.org", "judge")
        for name in "ABCDE":
            make_team(s, c, f"Team {name}", make_person(s, f"{name.lower()}@example.org"))
        setup.sync_from_challenge(s, c)


def test_assign_then_list_as_json(app, grid):
    result = run(app, "judging", "assign", "grid")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "10 new assignments, 0 kept; 5 entries, 4 judges, 2-3 entries per judge" in (
        result.stderr)
    listed = run(app, "judging", "assignments", "grid", "--format", "json")
    assert listed.exit_code == 0, listed.stderr
    doc = json.loads(listed.stdout)
    assert doc["challenge"] == "grid" and len(doc["assignments"]) == 10
    assert all({"judge", "team"} <= set(a) for a in doc["assignments"])
    keys = [(a["judge"], a["team"]) for a in doc["assignments"]]
    assert keys == sorted(keys) and len(set(keys)) == 10
    assert set(Counter(t for _j, t in keys).values()) == {2}
    loads = Counter(j for j, _t in keys)
    assert max(loads.values()) - min(loads.values()) <= 1
    # Again: nothing new, same listing.
    again = run(app, "judging", "assign", "grid")
    assert again.exit_code == 0 and "0 new assignments, 10 kept" in again.stderr
    assert json.loads(run(app, "judging", "assignments", "grid", "--format", "json").stdout) == doc
    text = run(app, "judging", "assignments", "grid")
    assert text.stdout.splitlines()[0] == "\t".join(keys[0])


def test_infeasible_names_the_entries_and_changes_nothing(app, grid):
    with app.app_context(), session_scope(app) as s:
        team_c = s.scalar(select(Team).where(Team.name == "Team C"))
        for i in range(3):
            judge = s.scalar(select(JudgeSeat).join(JudgeSeat.user).where(
                JudgeSeat.user.has(email=f"j{i}@example.org")))
            conflicts.add(s, team_c.challenge, judge.user_id, team_c.id, actor=None)
    result = run(app, "judging", "assign", "grid")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "Short: Team C." in result.stderr
    assert _count(app, Assignment) == 0


def test_unknown_slug_and_bad_format(app):
    result = run(app, "judging", "assign", "nope")
    assert result.exit_code == 1 and "no challenge 'nope'" in result.stderr
    result = run(app, "judging", "assignments", "nope", "--format", "json")
    assert result.exit_code == 1 and result.stdout == ""
    assert run(app, "judging", "assignments", "x", "--format", "xml").exit_code == 2


def test_import_materialises_judging_then_assign(app, tmp_path):
    """The import hook builds panels, rubric and seats; the contract example has one judge
    for three reviews per entry, so assigning names GlucoGo."""
    with app.app_context(), session_scope(app) as s:
        publish_guidelines(s)
    doc = copy.deepcopy(CONTRACT)
    path = write_json(tmp_path, doc)
    assert run(app, "challenges", "import", path).exit_code == 0
    assert _count(app, Panel) == 1 and _count(app, Rubric) == 1 and _count(app, JudgeSeat) == 1
    result = run(app, "judging", "assign", SLUG)
    assert result.exit_code == 1 and "GlucoGo" in result.stderr
    # More judges and a second panel: importing again adds seats; the rubric stays v1.
    doc["panels"] = {"expert": 0.7, "patient": 0.3}
    doc["judges"] += [{"email": "bo@example.org", "panel": "patient"},
                      {"email": "cy@example.org"}]
    path = write_json(tmp_path, doc)
    assert run(app, "challenges", "import", path).exit_code == 0
    assert run(app, "challenges", "import", path).exit_code == 0  # idempotent
    assert _count(app, Panel) == 2 and _count(app, JudgeSeat) == 3 and _count(app, Rubric) == 1
    with app.app_context(), session_scope(app) as s:
        c = s.scalar(select(Challenge).where(Challenge.slug == SLUG))
        assert [cr.key for cr in access.current_rubric(s, c).criteria] == [
            "impact", "feasibility", "design"]
    result = run(app, "judging", "assign", SLUG)
    assert result.exit_code == 0, result.stderr
    doc_out = json.loads(run(app, "judging", "assignments", SLUG, "--format", "json").stdout)
    assert doc_out == {"challenge": SLUG, "assignments": [
        {"judge": email, "team": "GlucoGo", "source": "auto"}
        for email in ("ana@example.org", "bo@example.org", "cy@example.org")]}
    # The export round-trips: importing it back changes nothing in judging either.
    exported = run(app, "challenges", "export", SLUG)
    assert exported.exit_code == 0
    again = write_json(tmp_path, json.loads(exported.stdout), "again.json")
    result = run(app, "challenges", "import", again)
    assert result.exit_code == 0 and "unchanged" in result.stderr
