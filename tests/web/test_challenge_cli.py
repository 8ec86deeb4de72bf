"""`flask challenges import | export` (CONTRACTS.md "Challenges")."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, true

from challenge.audit import AuditEvent
from challenge.db import session_scope
from challenge.outbox import OutboxMessage
from tests.services.test_challenges import CONTRACT, SLUG, TABLES, publish_guidelines

CONTRACT_FILE = Path(__file__).parents[1] / "data" / "challenge_contract.json"


def run(app, *args):
    return app.test_cli_runner().invoke(args=[str(a) for a in args])


def counts(app) -> dict[str, int]:
    # An export leaves its own audit row (exports are audited); every other row counts.
    not_export = ~AuditEvent.action.like("%.exported")
    with app.app_context(), session_scope(app) as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m).where(
            not_export if m is AuditEvent else true())) for m in TABLES}


def errors(result) -> list[str]:
    return result.stderr.splitlines()


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def write_json(tmp_path: Path, doc, name: str = "challenge.json") -> Path:
    return write(tmp_path, name, json.dumps(doc, indent=2))


@pytest.fixture
def guidelines(app):
    """The contract survey with published guidelines citing "exercise"."""
    with app.app_context(), session_scope(app) as s:
        publish_guidelines(s)


@pytest.fixture
def imported(app, guidelines):
    result = run(app, "challenges", "import", CONTRACT_FILE)
    assert result.exit_code == 0, result.stderr
    return result


def test_import_the_contract_example_then_export_it(app, imported):
    assert imported.stdout == ""
    assert imported.stderr.strip() == (
        f"created challenge {SLUG} (1 team); 1 submission version added; 2 accounts created "
        f"and invited: ana@example.org, lee@example.org")
    exported = run(app, "challenges", "export", SLUG)
    assert exported.exit_code == 0 and exported.stderr == ""
    assert exported.stdout.startswith('{\n  "slug": ')
    doc = json.loads(exported.stdout)
    for key, value in CONTRACT.items():
        assert doc[key] == value, key
    with app.app_context(), session_scope(app) as s:
        invited = sorted(s.scalars(select(OutboxMessage.to).where(
            OutboxMessage.kind == "invite")))
    assert invited == ["ana@example.org", "lee@example.org"]


def test_importing_twice_changes_nothing(app, imported, tmp_path):
    before, exported = counts(app), run(app, "challenges", "export", SLUG).stdout
    again = run(app, "challenges", "import", CONTRACT_FILE)
    assert again.exit_code == 0
    assert again.stderr.strip() == f"challenge {SLUG} unchanged"
    assert counts(app) == before
    assert run(app, "challenges", "export", SLUG).stdout == exported
    back = run(app, "challenges", "import", write(tmp_path, "export.json", exported))
    assert back.exit_code == 0 and back.stderr.strip() == f"challenge {SLUG} unchanged"
    assert counts(app) == before


def test_update_reports_what_changed(app, imported, tmp_path):
    doc = copy.deepcopy(CONTRACT)
    doc["title"] = "Second round"
    doc["teams"][0]["submission"]["summary"] = "Improved"
    doc["judges"].append({"email": "bo@example.org", "name": "Bo"})
    result = run(app, "challenges", "import", write_json(tmp_path, doc))
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == (
        f"updated challenge {SLUG} (1 team); 1 submission version added; 1 account created "
        f"and invited: bo@example.org")
    exported = json.loads(run(app, "challenges", "export", SLUG).stdout)
    assert exported["title"] == "Second round"
    assert exported["judges"][1] == {"email": "bo@example.org", "name": "Bo", "panel": "expert"}


def test_existing_accounts_get_the_role_and_no_invitation(app, guidelines, make_user):
    make_user("ana@example.org", "patient")
    result = run(app, "challenges", "import", CONTRACT_FILE)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == (
        f"created challenge {SLUG} (1 team); 1 submission version added; 1 account created "
        f"and invited: lee@example.org; judge or entrant role added to 1 existing account: "
        f"ana@example.org")
    with app.app_context(), session_scope(app) as s:
        assert list(s.scalars(select(OutboxMessage.to))) == ["lee@example.org"]


def test_malformed_json_names_file_line_and_column(app, imported, tmp_path):
    before, exported = counts(app), run(app, "challenges", "export", SLUG).stdout
    path = write(tmp_path, "broken.json", '{\n  "slug": "ddd-2027",\n  "title" "x"\n}\n')
    result = run(app, "challenges", "import", path)
    assert result.exit_code == 1 and result.stdout == ""
    assert errors(result) == [f"error: {path}: line 3, column 11: Expecting ':' delimiter"]
    nan = run(app, "challenges", "import", write(tmp_path, "nan.json",
                                                 '{"reviews_per_entry": NaN}'))
    assert nan.exit_code == 1 and len(errors(nan)) == 1 and "NaN" in nan.stderr
    latin = run(app, "challenges", "import",
                write(tmp_path, "latin.json", '{"title": "é"}'.encode("latin-1")))
    assert latin.exit_code == 1 and "not UTF-8" in latin.stderr
    assert counts(app) == before
    assert run(app, "challenges", "export", SLUG).stdout == exported


def test_invalid_bundle_lists_every_problem_and_changes_nothing(app, imported, tmp_path):
    before, exported = counts(app), run(app, "challenges", "export", SLUG).stdout
    doc = copy.deepcopy(CONTRACT)
    doc["title"] = "Changed, but must not be saved"
    doc["colour"] = "blue"
    doc["phases"]["judging_closes"] = "2027-02-01T17:00:00Z"
    doc["judges"][0]["email"] = "ana"
    doc["teams"].append({"name": "New team", "members": ["new@example.org"]})
    doc["teams"][0]["submission"]["needs"] = ["sleep"]
    path = write_json(tmp_path, doc)
    result = run(app, "challenges", "import", path)
    assert result.exit_code == 1 and result.stdout == ""
    assert errors(result) == [
        f"error: {path}: colour: unknown key",
        f"error: {path}: phases.judging_closes: must be after submission deadline "
        f"(2027-03-01 17:00 UTC)",
        f"error: {path}: judges[0].email: 'ana' is not a valid e-mail address",
        f"error: {path}: teams[0].submission.needs[0]: 'sleep' is not a key of the published "
        f"guidelines (known: exercise)",
    ]
    assert counts(app) == before
    assert run(app, "challenges", "export", SLUG).stdout == exported


def test_a_bundle_before_its_survey_is_refused(app, tmp_path):
    before = counts(app)
    result = run(app, "challenges", "import", CONTRACT_FILE)
    assert result.exit_code == 1
    assert errors(result)[0] == (f"error: {CONTRACT_FILE}: survey: there is no survey "
                                 f"'daily-life-2027' (import it first)")
    assert all(line.startswith(f"error: {CONTRACT_FILE}: ") for line in errors(result))
    assert counts(app) == before


def test_unknown_slug_and_missing_file(app, guidelines, tmp_path):
    before = counts(app)
    result = run(app, "challenges", "export", "nope")
    assert result.exit_code == 1 and result.stdout == ""
    assert errors(result) == ["error: no challenge with slug 'nope'"]
    missing = run(app, "challenges", "import", tmp_path / "missing.json")
    assert missing.exit_code == 2  # a usage error
    assert counts(app) == before
