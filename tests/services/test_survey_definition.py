"""Survey definitions (surveys/definition.py): validation, create/update, export, history."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from challenge.audit import AuditEvent
from challenge.errors import ValidationFailed
from surveys import definition
from surveys.answers import answer_rows
from surveys.models import Answer, Question, Response, Survey

CONTRACT = json.loads((Path(__file__).parents[1] / "data" / "survey_contract.json").read_text())


def contract() -> dict:
    return copy.deepcopy(CONTRACT)


def question(doc: dict, key: str) -> dict:
    return next(q for q in doc["questions"] if q["key"] == key)


def answer(session, survey: Survey, **values) -> Response:
    """A submitted response with the given answers (question key -> cleaned value)."""
    by_key = {q.key: q for q in survey.questions}
    response = Response(survey_id=survey.id, status="submitted", consent_version=1,
                        submitted_on=date(2027, 1, 12), source="web")
    for key, value in values.items():
        for row in answer_rows(by_key[key], value):
            response.answers.append(Answer(question_id=by_key[key].id, **row))
    session.add(response)
    session.flush()
    return response


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


# --- validate ---------------------------------------------------------------------------

def test_contract_example_is_valid():
    assert definition.validate(contract()) == []


def _set(path: str, value):
    """A mutation of the contract document: set `value` at a dotted path (q<i> = question)."""

    def mutate(doc):
        target = doc
        parts = path.split(".")
        for part in parts[:-1]:
            target = target["questions"][int(part[1:])] if part.startswith("q") else target[part]
        if value is _DELETE:
            del target[parts[-1]]
        else:
            target[parts[-1]] = value
        return doc

    return mutate


_DELETE = object()


@pytest.mark.parametrize(("mutate", "expected"), [
    (_set("colour", "blue"), "colour: unknown key"),
    (_set("slug", "Daily Life"), "slug: must be"),
    (_set("title", _DELETE), "title: is required"),
    (_set("status", "live"), "status: must be one of draft, open, closed"),
    (_set("min_cell_size", 2), "min_cell_size: must be a whole number from 3 to 1000"),
    (_set("anonymous", "yes"), "anonymous: must be true or false"),
    (_set("intro", 5), "intro: must be text"),
    (_set("opens_at", "2027-01-10T00:00:00"), "opens_at: give a time zone"),
    (_set("opens_at", "next monday"), "opens_at: 'next monday' is not an ISO 8601"),
    (_set("questions", {}), "questions: must be a list"),
    (_set("q0.colour", "blue"), "questions[0].colour: unknown key"),
    (_set("q0.key", "Role"), "questions[0].key: must be lower-case"),
    (_set("q0.key", "external_id"), "questions[0].key: 'external_id' is reserved"),
    (_set("q1.key", "role"), "questions[1].key: 'role' is used twice"),
    (_set("q0.type", "slider"), "questions[0].type: must be one of"),
    (_set("q0.text", " "), "questions[0].text: is required"),
    (_set("q0.required", "yes"), "questions[0].required: must be true or false"),
    (_set("q0.options", []), "questions[0].options: a single question needs at least one"),
    (_set("q3.options", [{"value": "a;b", "label": "A"}]), "questions[3].options[0].value"),
    (_set("q3.options", [{"value": "a", "label": "A"}, {"value": "a", "label": "B"}]),
     "questions[3].options[1].value: 'a' is used twice"),
    (_set("q3.options", [{"value": "a", "colour": "A"}]), "questions[3].options[0]: must be"),
    (_set("q6.options", [{"value": "a", "label": "A"}]),
     "questions[6].options: only single and multi questions have options"),
    (_set("q3.segment", True), "questions[3].segment: only single-choice"),
    (_set("q4.max", 20), "questions[4]: a scale runs between whole numbers"),
    (_set("q4.min", "one"), "questions[4].min: must be a number"),
    (_set("q5.min", 200), "questions[5]: min must not be greater than max"),
    (_set("q6.max", 3), "questions[6]: only scale and number questions have min and max"),
    (_set("q1.show_if", {"key": "story", "equals": "x"}),
     "questions[1].show_if.key: 'story' is not an earlier question"),
    (_set("q1.show_if", {"key": "role", "equals": "child"}),
     "questions[1].show_if.equals: 'child' is not an option of 'role'"),
    (_set("q1.show_if", {"key": "role"}), "questions[1].show_if: must be"),
    (_set("q6.show_if", {"key": "stress", "equals": 1}),
     "questions[6].show_if.key: 'stress' must be a single or multi question"),
    (_set("q2.category", 7), "questions[2].category: must be text"),
])
def test_validate_names_the_path_of_each_problem(mutate, expected):
    problems = definition.validate(mutate(contract()))
    assert any(p.startswith(expected) for p in problems), problems


def test_validate_reports_every_problem_at_once():
    doc = contract()
    doc["colour"] = "blue"
    doc["min_cell_size"] = 0
    question(doc, "stress")["max"] = 50
    doc["questions"][1]["show_if"] = {"key": "role", "equals": "child"}
    problems = definition.validate(doc)
    assert len(problems) == 4
    assert definition.validate([1, 2]) == ["the document must be a JSON object"]
    doc = contract()
    doc["closes_at"], doc["opens_at"] = "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z"
    assert definition.validate(doc) == ["closes_at: must be after opens_at"]


# --- apply ------------------------------------------------------------------------------

def test_apply_creates_then_is_idempotent(session):
    survey, changed = definition.apply(session, contract())
    assert changed and survey.id is not None
    assert [q.key for q in survey.questions] == [q["key"] for q in CONTRACT["questions"]]
    assert survey.status == "open" and survey.anonymous and survey.consent_version == 1
    assert survey.consent_text == definition.DEFAULT_CONSENT
    stress = next(q for q in survey.questions if q.key == "stress")
    assert (stress.min_value, stress.max_value) == (1, 5)
    assert session.scalar(select(AuditEvent.action)) == "survey.imported"
    question_ids = [q.id for q in survey.questions]
    updated_at = survey.updated_at

    again, changed = definition.apply(session, contract())
    assert again is survey and not changed
    assert [q.id for q in again.questions] == question_ids
    assert again.updated_at == updated_at
    assert count(session, AuditEvent) == 1
    assert count(session, Survey) == 1 and count(session, Question) == 7


def test_apply_updates_in_place_matching_questions_by_key(session):
    survey, _ = definition.apply(session, contract())
    ids = {q.key: q.id for q in survey.questions}
    doc = contract()
    doc["title"] = "Daily life, second round"
    question(doc, "story")["text"] = "Anything else?"
    doc["questions"].insert(0, doc["questions"].pop())  # story first
    doc["questions"].append({"key": "sleep", "type": "need", "text": "Sleeping through"})
    survey, changed = definition.apply(session, doc)
    assert changed and survey.title == "Daily life, second round"
    assert [q.key for q in survey.questions][:2] == ["story", "role"]
    assert {q.key: q.id for q in survey.questions if q.key in ids} == ids
    assert next(q for q in survey.questions if q.key == "story").text == "Anything else?"
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["survey.imported", "survey.updated"]
    # an unanswered question may be dropped (deleted) or change type
    doc["questions"] = [q for q in doc["questions"] if q["key"] != "sleep"]
    question(doc, "age")["type"] = "scale"
    question(doc, "age")["min"], question(doc, "age")["max"] = 0, 10
    survey, changed = definition.apply(session, doc)
    assert changed and "sleep" not in [q.key for q in survey.questions]
    assert count(session, Question) == 7


def test_apply_refuses_invalid_documents_listing_every_problem(session):
    doc = contract()
    doc["colour"] = "blue"
    doc["questions"][6]["type"] = "slider"
    with pytest.raises(ValidationFailed) as raised:
        definition.apply(session, doc)
    assert raised.value.problems == definition.validate(doc)
    assert len(raised.value.problems) == 2
    assert count(session, Survey) == 0


def test_export_round_trips(session):
    survey, _ = definition.apply(session, contract())
    exported = definition.export(survey)
    for key, value in CONTRACT.items():
        assert exported[key] == value, key
    assert json.loads(json.dumps(exported)) == exported
    # importing the export changes nothing
    _, changed = definition.apply(session, exported)
    assert not changed
    assert definition.export(survey) == exported


def test_export_round_trips_every_optional_field(session):
    doc = contract()
    doc.update({"opens_at": "2027-01-10T00:00:00Z", "closes_at": "2027-03-01T17:00:00Z",
                "sponsor_disclosure": "Sponsored by X.", "usage": "Used for Y.",
                "consent_text": "I agree.", "anonymous": False, "status": "draft"})
    question(doc, "stress").update({"min_label": "Not at all", "max_label": "Very",
                                    "section": "Food", "help": "Think of last week."})
    question(doc, "age")["min"] = 0.5
    survey, _ = definition.apply(session, doc)
    exported = definition.export(survey)
    for key, value in doc.items():
        if key != "questions":
            assert exported[key] == value, key
    assert exported["questions"] == doc["questions"]
    _, changed = definition.apply(session, exported)
    assert not changed


def test_questions_with_answers_are_archived_not_deleted(session):
    survey, _ = definition.apply(session, contract())
    answer(session, survey, role="patient", devices=["cgm"], exercise=(5, 2))
    doc = contract()
    doc["questions"] = [q for q in doc["questions"]
                        if q["key"] not in ("devices", "exercise", "story")]
    survey, changed = definition.apply(session, doc)
    assert changed
    by_key = {q.key: q for q in survey.questions}
    assert "story" not in by_key  # never answered: deleted
    assert by_key["devices"].archived and by_key["exercise"].archived
    assert [q.key for q in survey.active_questions] == ["role", "dtype", "stress", "age"]
    assert "devices" not in [q["key"] for q in definition.export(survey)["questions"]]
    assert count(session, Answer) == 3
    positions = {q.key: q.position for q in survey.questions}

    survey, changed = definition.apply(session, doc)
    assert not changed
    assert {q.key: q.position for q in survey.questions} == positions

    # bringing an archived question back restores it, with its answers
    survey, changed = definition.apply(session, contract())
    assert changed and not by_key["devices"].archived
    assert [q.key for q in survey.active_questions] == [q["key"] for q in CONTRACT["questions"]]


def test_answered_question_type_cannot_change(session):
    survey, _ = definition.apply(session, contract())
    answer(session, survey, role="carer", stress=3)
    doc = contract()
    question(doc, "stress").update({"type": "number", "min": 0, "max": 10})
    question(doc, "role")["type"] = "multi"
    question(doc, "role").pop("segment")
    with pytest.raises(ValidationFailed) as raised:
        definition.apply(session, doc)
    assert raised.value.problems == [
        "questions[0].type: 'role' already has answers, so its type cannot change",
        "questions[4].type: 'stress' already has answers, so its type cannot change",
    ]
    session.expire_all()
    assert {q.key: q.type for q in survey.questions}["stress"] == "scale"


def test_answered_options_cannot_be_removed(session):
    survey, _ = definition.apply(session, contract())
    answer(session, survey, role="patient", dtype="t2", devices=["cgm"])
    doc = contract()
    question(doc, "dtype")["options"] = [{"value": "t1", "label": "Type 1"},
                                         {"value": "other", "label": "Other"}]
    question(doc, "devices")["options"] = [{"value": "pump", "label": "Pump"}]
    with pytest.raises(ValidationFailed) as raised:
        definition.apply(session, doc)
    assert raised.value.problems == [
        "questions[1].options: 'dtype' has answers using 't2'; keep those options",
        "questions[3].options: 'devices' has answers using 'cgm'; keep those options",
    ]
    # unanswered options may go, new ones may come, labels may change
    doc = contract()
    question(doc, "dtype")["options"] = [{"value": "t2", "label": "Type 2 diabetes"}]
    question(doc, "devices")["options"].append({"value": "pump", "label": "Pump"})
    survey, changed = definition.apply(session, doc)
    assert changed
    assert {q.key: q.option_values for q in survey.questions}["devices"] == ["cgm", "pump"]


def test_consent_text_change_bumps_consent_version(session):
    survey, _ = definition.apply(session, contract())
    assert survey.consent_version == 1
    doc = contract()
    doc["consent_text"] = "I agree to the new terms."
    survey, changed = definition.apply(session, doc)
    assert changed and survey.consent_version == 2
    survey, changed = definition.apply(session, doc)
    assert not changed and survey.consent_version == 2
    # leaving consent_text out keeps the current text and version
    survey, changed = definition.apply(session, contract())
    assert survey.consent_text == "I agree to the new terms." and survey.consent_version == 2
