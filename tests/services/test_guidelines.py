"""Guidelines: drafted from a stored report, edited, versioned, published immutably."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from challenge.audit import AuditEvent
from challenge.errors import Conflict, DomainError
from surveys import definition, guidelines, insights
from surveys.models import Answer, GuidelineDocument, Response

CONTRACT = Path(__file__).resolve().parents[1] / "data" / "survey_contract.json"


def add_responses(session, survey, ratings, role="patient", dtype="t1"):
    """Submitted responses with the given (importance, satisfaction) for `exercise`."""
    questions = {q.key: q for q in survey.questions}
    for importance, satisfaction in ratings:
        response = Response(survey_id=survey.id, status="submitted", consent_version=1,
                            submitted_on=date(2027, 1, 12))
        session.add(response)
        session.flush()
        session.add_all([
            Answer(response_id=response.id, question_id=questions["role"].id, choice=role),
            Answer(response_id=response.id, question_id=questions["dtype"].id, choice=dtype),
            Answer(response_id=response.id, question_id=questions["exercise"].id,
                   importance=importance, satisfaction=satisfaction),
        ])
    session.flush()


@pytest.fixture
def survey(app, session):
    doc = json.loads(CONTRACT.read_text())
    created, _ = definition.apply(session, doc)
    return created


@pytest.fixture
def report(session, survey):
    add_responses(session, survey, [(5, 1)] * 20 + [(2, 4)] * 5)
    return insights.refresh(session, survey)


def test_draft_lists_underserved_needs_with_evidence(session, survey, report):
    doc = guidelines.generate_draft(session, survey, report)
    assert doc.version == 1 and doc.status == "draft"
    assert [i.key for i in doc.items] == ["exercise"]
    evidence = doc.items[0].evidence
    assert evidence["n"] == 25
    assert evidence["importance"] == pytest.approx(8.0)
    assert evidence["satisfaction"] == pytest.approx(2.0)
    assert evidence["opportunity"] == pytest.approx(14.0)
    assert evidence["status"] == "underserved"
    assert evidence["strongest_segments"][0]["label"] == "I live with diabetes"
    assert "25 people" in doc.intro


def test_needs_a_report_and_an_underserved_need(session, survey):
    with pytest.raises(DomainError, match="Compute the insight report first"):
        guidelines.generate_draft(session, survey, None)
    add_responses(session, survey, [(2, 5)] * 15)
    served = insights.refresh(session, survey)
    with pytest.raises(DomainError, match="no underserved need"):
        guidelines.generate_draft(session, survey, served)


def test_edit_publish_then_immutable_and_new_version(session, survey, report):
    doc = guidelines.generate_draft(session, survey, report)
    with pytest.raises(Conflict):
        guidelines.generate_draft(session, survey, report)  # one draft at a time
    guidelines.update_draft(session, doc, title="Build for exercise", intro="**Read me**",
                            items=[guidelines.ItemEdit("exercise", "Steady glucose in sport",
                                                       "Think of <script>x</script> runners")])
    assert doc.items[0].title == "Steady glucose in sport"
    guidelines.publish(session, doc)
    assert guidelines.published(session, survey).id == doc.id
    assert guidelines.published_keys(session, survey) == ["exercise"]
    with pytest.raises(Conflict):
        guidelines.update_draft(session, doc, title="x", intro="",
                                items=[guidelines.ItemEdit("exercise", "x", "")])
    second = guidelines.new_version_from_published(session, survey)
    assert second.version == 2 and second.items[0].title == "Steady glucose in sport"
    assert second.items[0].key == "exercise"  # the stable id survives versions
    guidelines.publish(session, second)
    rows = session.execute(select(GuidelineDocument.version, GuidelineDocument.status)).all()
    statuses = {version: status for version, status in rows}
    assert statuses == {1: "superseded", 2: "published"}
    actions = set(session.scalars(select(AuditEvent.action)))
    assert {"guidelines.drafted", "guidelines.published"} <= actions


def test_edit_refuses_unknown_items_and_removing_everything(session, survey, report):
    doc = guidelines.generate_draft(session, survey, report)
    with pytest.raises(DomainError, match="Unknown guideline item"):
        guidelines.update_draft(session, doc, title="t", intro="",
                                items=[guidelines.ItemEdit("nope", "x", "")])
    with pytest.raises(DomainError, match="at least one"):
        guidelines.update_draft(session, doc, title="t", intro="",
                                items=[guidelines.ItemEdit("exercise", "x", "", remove=True)])


def test_discard_only_drafts(session, survey, report):
    doc = guidelines.generate_draft(session, survey, report)
    guidelines.discard_draft(session, doc)
    assert guidelines.current_draft(session, survey) is None
    doc = guidelines.generate_draft(session, survey, report)
    guidelines.publish(session, doc)
    with pytest.raises(Conflict):
        guidelines.discard_draft(session, doc)


def test_evidence_never_uses_suppressed_cells(session, survey):
    add_responses(session, survey, [(5, 1)] * 20, dtype="t1")
    add_responses(session, survey, [(5, 1)] * 3, dtype="t2")  # a small cell
    report = insights.refresh(session, survey)
    doc = guidelines.generate_draft(session, survey, report)
    labels = [s["label"] for s in doc.items[0].evidence["strongest_segments"]]
    assert "Type 2" not in labels
    assert all(s["n"] >= survey.min_cell_size for s in doc.items[0].evidence["strongest_segments"])
