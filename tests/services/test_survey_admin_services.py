"""The organizer's survey builder rules, on a real database (no HTTP)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from challenge.audit import AuditEvent
from challenge.errors import Conflict, NotFound
from surveys import admin_services as services
from surveys import charts, definition
from surveys.admin_services import BuilderInvalid, QuestionData, SurveySettings
from surveys.models import Answer, Question, Response, Survey


@pytest.fixture
def organizer(make_user):
    return make_user("org@example.org", "organizer")


@pytest.fixture
def survey(session, organizer):
    created = services.create_survey(session, SurveySettings(title="Daily life 2027"),
                                     actor=organizer)
    session.commit()
    return created


def single(key="role", text="Which describes you?", **extra) -> QuestionData:
    return QuestionData(text=text, type="single", key=key,
                        options=[{"value": "patient", "label": "I live with diabetes"},
                                 {"value": "carer", "label": "I care for someone"}], **extra)


def add(session, survey, organizer, data: QuestionData) -> Question:
    question = services.add_question(session, survey, data, actor=organizer)
    session.commit()
    return question


def keys(survey: Survey) -> list[str]:
    return [q.key for q in sorted(survey.active_questions, key=lambda q: q.position)]


def answer(session, survey, question, *, on=date(2027, 1, 12), status="submitted", **cols):
    response = Response(survey_id=survey.id, status=status, consent_version=1,
                        submitted_on=on if status == "submitted" else None)
    response.answers.append(Answer(question_id=question.id, **cols))
    session.add(response)
    session.commit()
    return response


def actions(session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# --- settings -------------------------------------------------------------------------------

def test_create_makes_a_draft_with_a_suggested_slug_and_default_consent(session, survey):
    assert survey.slug == "daily-life-2027"
    assert survey.status == "draft" and survey.anonymous is True
    assert survey.min_cell_size == 11
    assert survey.consent_text == definition.DEFAULT_CONSENT
    assert "survey.imported" in actions(session)
    assert services.suggest_slug(session, "Daily life 2027") == "daily-life-2027-2"
    assert services.suggest_slug(session, "¡Ça va!") == "ca-va"
    assert services.suggest_slug(session, "??") == "survey"


def test_create_refuses_a_taken_slug_on_the_slug_field(session, survey, organizer):
    with pytest.raises(BuilderInvalid) as caught:
        services.create_survey(session, SurveySettings(title="Other", slug="daily-life-2027"),
                               actor=organizer)
    assert "already uses" in caught.value.fields["slug"][0]


def test_settings_problems_come_from_definition_and_land_on_their_fields(session, organizer):
    settings = SurveySettings(title="Times", slug="Bad Slug!",
                              opens_at=datetime(2027, 2, 1, tzinfo=UTC),
                              closes_at=datetime(2027, 1, 1, tzinfo=UTC), min_cell_size=2)
    with pytest.raises(BuilderInvalid) as caught:
        services.create_survey(session, settings, actor=organizer)
    fields = caught.value.fields
    assert fields["closes_at"] == ["Must be after opens_at."]
    assert "lower-case" in fields["slug"][0]
    assert "3 to 1000" in fields["min_cell_size"][0]
    assert caught.value.status_code == 422


def test_update_settings_renames_slug_and_bumps_consent_version(session, survey, organizer):
    settings = SurveySettings.of(survey)
    settings.slug = "daily-life"
    settings.consent_text = "New consent."
    settings.closes_at = datetime(2027, 3, 1, 17, 0, tzinfo=UTC)
    services.update_settings(session, survey, settings, actor=organizer)
    session.commit()
    assert survey.slug == "daily-life"
    assert survey.consent_version == 2
    assert survey.closes_at == datetime(2027, 3, 1, 17, 0, tzinfo=UTC)
    assert "survey.slug_changed" in actions(session)
    with pytest.raises(NotFound):
        services.get_survey(session, "daily-life-2027")


def test_slug_and_anonymity_are_frozen_once_someone_answered(session, survey, organizer):
    role = add(session, survey, organizer, single())
    answer(session, survey, role, status="draft", choice="patient")
    settings = SurveySettings.of(survey)
    settings.slug, settings.anonymous = "renamed", False
    with pytest.raises(BuilderInvalid) as caught:
        services.update_settings(session, survey, settings, actor=organizer)
    assert "address cannot change" in caught.value.fields["slug"][0]
    assert "cannot switch between anonymous" in caught.value.fields["anonymous"][0]
    session.rollback()
    settings = SurveySettings.of(survey)
    settings.title = "Still editable"
    services.update_settings(session, survey, settings, actor=organizer)
    assert survey.title == "Still editable"


# --- questions ------------------------------------------------------------------------------

def test_add_questions_of_every_type(session, survey, organizer):
    add(session, survey, organizer, single(segment=True, required=True))
    add(session, survey, organizer, QuestionData(
        text="Which type?", type="single", key="dtype", show_if={"key": "role",
                                                                  "equals": "patient"},
        options=[{"value": "t1", "label": "Type 1"}, {"value": "t2", "label": "Type 2"}]))
    add(session, survey, organizer, QuestionData(
        text="Keeping my glucose steady when I exercise", type="need", category="activity"))
    add(session, survey, organizer, QuestionData(
        text="Which do you use?", type="multi", key="devices",
        options=[{"value": "cgm", "label": "CGM"}], section="Tools"))
    add(session, survey, organizer, QuestionData(
        text="How stressful is meal planning?", type="scale", key="stress", min=0, max=10,
        min_label="Calm", max_label="Very"))
    add(session, survey, organizer, QuestionData(text="Your age", type="number", key="age",
                                                 min=0, max=120))
    add(session, survey, organizer, QuestionData(text="What else?", type="text", key="story",
                                                 help="Anything at all"))
    assert keys(survey) == ["role", "dtype", "keeping_my_glucose_steady_when", "devices",
                            "stress", "age", "story"]
    doc = definition.export(survey)
    assert doc["questions"][1]["show_if"] == {"key": "role", "equals": "patient"}
    assert doc["questions"][4] == {"key": "stress", "type": "scale",
                                   "text": "How stressful is meal planning?", "min": 0,
                                   "max": 10, "min_label": "Calm", "max_label": "Very"}
    assert doc["questions"][0]["segment"] is True
    assert definition.validate(doc) == []


@pytest.mark.parametrize(("data", "field", "words"), [
    (QuestionData(text="Pick", type="single", key="pick"), "options", "at least one option"),
    (QuestionData(text="Pick", type="multi", key="pick",
                  options=[{"value": "a;b", "label": "A"}]), "options", "Option 1: value"),
    (QuestionData(text="Rate", type="scale", key="rate", min=4, max=2), "min_value",
     "a scale runs"),
    (QuestionData(text="Rate", type="scale", key="rate", min=1.5, max=4), "min_value",
     "whole numbers"),
    (QuestionData(text="Age", type="number", key="age", min=10, max=2), "min_value",
     "not be greater"),
    (QuestionData(text="Say", type="text", key="say", min=1), "min_value",
     "only scale and number"),
    (QuestionData(text="Say", type="text", key="say",
                  options=[{"value": "x", "label": "x"}]), "options",
     "only single and multi"),
    (QuestionData(text="Many", type="multi", key="many", segment=True,
                  options=[{"value": "x", "label": "x"}]), "segment", "single-choice"),
    (QuestionData(text="Later", type="text", key="later",
                  show_if={"key": "nowhere", "equals": "x"}), "show_if",
     "not an earlier question"),
    (QuestionData(text="Later", type="text", key="later",
                  show_if={"key": "role", "equals": "nobody"}), "show_if", "not an option"),
    (QuestionData(text="Bad key", type="text", key="Bad Key"), "key", "lower-case"),
    (QuestionData(text="Twice", type="text", key="role"), "key", "used twice"),
    (QuestionData(text=" ", type="text", key="blank"), "text", "required"),
])
def test_invalid_questions_are_refused_on_the_right_field(session, survey, organizer, data,
                                                          field, words):
    add(session, survey, organizer, single())
    with pytest.raises(BuilderInvalid) as caught:
        services.add_question(session, survey, data, actor=organizer)
    assert field in caught.value.fields, caught.value.problems
    assert words.lower() in " ".join(caught.value.fields[field]).lower()
    session.rollback()
    assert keys(survey) == ["role"]


def test_edit_renames_key_and_follows_conditions(session, survey, organizer):
    add(session, survey, organizer, single())
    add(session, survey, organizer, QuestionData(
        text="Which type?", type="single", key="dtype",
        show_if={"key": "role", "equals": "patient"}, options=[{"value": "t1", "label": "T1"}]))
    data = QuestionData.of(services.get_question(survey, "role"))
    data.key, data.text = "who", "Who are you?"
    services.update_question(session, survey, "role", data, actor=organizer)
    session.commit()
    assert keys(survey) == ["who", "dtype"]
    assert services.get_question(survey, "dtype").show_if == {"key": "who", "equals": "patient"}
    assert services.get_question(survey, "who").text == "Who are you?"


def test_answered_question_keeps_key_type_and_used_options(session, survey, organizer):
    role = add(session, survey, organizer, single())
    answer(session, survey, role, choice="carer")
    data = QuestionData.of(role)
    data.key = "who"
    with pytest.raises(BuilderInvalid) as caught:
        services.update_question(session, survey, "role", data, actor=organizer)
    assert "key cannot change" in caught.value.fields["key"][0]
    data = QuestionData.of(role)
    data.type, data.options = "text", []
    with pytest.raises(BuilderInvalid) as caught:
        services.update_question(session, survey, "role", data, actor=organizer)
    assert "type cannot change" in caught.value.fields["type"][0]
    data = QuestionData.of(role)
    data.options = [{"value": "patient", "label": "Patient"}]
    with pytest.raises(BuilderInvalid) as caught:
        services.update_question(session, survey, "role", data, actor=organizer)
    assert "'carer'" in caught.value.fields["options"][0]
    session.rollback()
    data = QuestionData.of(role)
    data.text = "Reworded"
    data.options.append({"value": "other", "label": "Other"})
    services.update_question(session, survey, "role", data, actor=organizer)
    assert services.get_question(survey, "role").option_values == ["patient", "carer", "other"]


def test_problem_in_another_question_goes_to_the_summary(session, survey, organizer):
    add(session, survey, organizer, single())
    add(session, survey, organizer, QuestionData(
        text="Which type?", type="single", key="dtype",
        show_if={"key": "role", "equals": "patient"}, options=[{"value": "t1", "label": "T1"}]))
    data = QuestionData.of(services.get_question(survey, "role"))
    data.options = [{"value": "carer", "label": "Carer"}]
    with pytest.raises(BuilderInvalid) as caught:
        services.update_question(session, survey, "role", data, actor=organizer)
    assert caught.value.fields == {}
    assert caught.value.general == [
        "Question 2 “dtype”, condition: 'patient' is not an option of 'role'."]


def test_move_up_and_down_and_keep_conditions_below_their_question(session, survey,
                                                                   organizer):
    add(session, survey, organizer, single())
    add(session, survey, organizer, QuestionData(text="Age", type="number", key="age"))
    add(session, survey, organizer, QuestionData(
        text="Which type?", type="single", key="dtype",
        show_if={"key": "role", "equals": "patient"}, options=[{"value": "t1", "label": "T1"}]))
    services.move_question(session, survey, "age", "up", actor=organizer)
    session.commit()
    assert keys(survey) == ["age", "role", "dtype"]
    services.move_question(session, survey, "age", "down", actor=organizer)
    session.commit()
    assert keys(survey) == ["role", "age", "dtype"]
    services.move_question(session, survey, "dtype", "up", actor=organizer)
    session.commit()
    assert keys(survey) == ["role", "dtype", "age"]
    with pytest.raises(Conflict, match="must stay below"):
        services.move_question(session, survey, "dtype", "up", actor=organizer)
    with pytest.raises(Conflict, match="must stay below"):
        services.move_question(session, survey, "role", "down", actor=organizer)
    with pytest.raises(Conflict, match="already the first"):
        services.move_question(session, survey, "role", "up", actor=organizer)
    with pytest.raises(Conflict, match="already the last"):
        services.move_question(session, survey, "age", "down", actor=organizer)
    with pytest.raises(NotFound):
        services.move_question(session, survey, "nope", "down", actor=organizer)


def test_remove_deletes_unanswered_and_archives_answered(session, survey, organizer):
    role = add(session, survey, organizer, single())
    age = add(session, survey, organizer, QuestionData(text="Age", type="number", key="age"))
    add(session, survey, organizer, QuestionData(text="Story", type="text", key="story"))
    answer(session, survey, age, number=40)
    assert services.remove_question(session, survey, "story", actor=organizer) is False
    assert services.remove_question(session, survey, "age", actor=organizer) is True
    session.commit()
    assert keys(survey) == ["role"]
    stored = session.scalars(select(Question.key).where(Question.survey_id == survey.id)
                             .order_by(Question.key)).all()
    assert stored == ["age", "role"]
    assert session.get(Question, age.id).archived is True
    assert session.scalar(select(func.count(Answer.id))) == 1
    assert {"survey.question_archived", "survey.question_removed"} <= set(actions(session))
    # an archived key is not silently reused for a new question
    with pytest.raises(BuilderInvalid) as caught:
        services.add_question(session, survey, QuestionData(text="Age?", type="number",
                                                            key="age"), actor=organizer)
    assert "removed question" in caught.value.fields["key"][0]
    session.rollback()
    assert services.suggest_key(survey, "Age") == "age_2"
    assert role.id in {q.id for q in survey.active_questions}


def test_remove_refuses_a_condition_and_the_last_question_of_an_open_survey(session, survey,
                                                                             organizer):
    add(session, survey, organizer, single())
    add(session, survey, organizer, QuestionData(
        text="Which type?", type="single", key="dtype",
        show_if={"key": "role", "equals": "patient"}, options=[{"value": "t1", "label": "T1"}]))
    with pytest.raises(Conflict, match="“dtype” is shown only after an answer to “role”"):
        services.remove_question(session, survey, "role", actor=organizer)
    services.remove_question(session, survey, "dtype", actor=organizer)
    services.set_status(session, survey, "open", actor=organizer)
    session.commit()
    with pytest.raises(Conflict, match="only question of an open survey"):
        services.remove_question(session, survey, "role", actor=organizer)


# --- status ---------------------------------------------------------------------------------

def test_status_transitions(session, survey, organizer):
    with pytest.raises(Conflict, match="without questions cannot be opened"):
        services.set_status(session, survey, "open", actor=organizer)
    with pytest.raises(Conflict, match="cannot become closed"):
        services.set_status(session, survey, "closed", actor=organizer)
    add(session, survey, organizer, single())
    services.set_status(session, survey, "open", actor=organizer)
    session.commit()
    assert survey.status == "open"
    with pytest.raises(Conflict, match="cannot become open"):
        services.set_status(session, survey, "open", actor=organizer)
    services.set_status(session, survey, "closed", actor=organizer)
    services.set_status(session, survey, "open", actor=organizer)
    session.commit()
    assert session.scalar(select(Survey.status).where(Survey.id == survey.id)) == "open"
    events = session.execute(select(AuditEvent.action, AuditEvent.details)
                             .where(AuditEvent.action.in_(
                                 ("survey.opened", "survey.closed", "survey.reopened")))
                             .order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["survey.opened", "survey.closed", "survey.reopened"]
    assert events[-1].details == {"before": "closed", "after": "open"}


# --- lists and figures ----------------------------------------------------------------------

def test_list_counts_questions_and_responses(session, survey, organizer):
    other = services.create_survey(session, SurveySettings(title="Empty one"), actor=organizer)
    role = add(session, survey, organizer, single())
    add(session, survey, organizer, QuestionData(text="Age", type="number", key="age"))
    for _ in range(3):
        answer(session, survey, role, choice="patient")
    answer(session, survey, role, status="draft", choice="carer")
    rows, total = services.list_surveys(session, limit=10, offset=0)
    assert total == 2
    by_slug = {r.survey.slug: r for r in rows}
    assert (by_slug["daily-life-2027"].questions, by_slug["daily-life-2027"].submitted,
            by_slug["daily-life-2027"].drafts) == (2, 3, 1)
    assert (by_slug[other.slug].questions, by_slug[other.slug].submitted) == (0, 0)
    assert services.status_counts(session) == {"draft": 2, "open": 0, "closed": 0}
    rows, total = services.list_surveys(session, limit=1, offset=1)
    assert len(rows) == 1 and total == 2


def test_response_overview(session, survey, organizer):
    role = add(session, survey, organizer, single())
    empty = services.response_overview(session, survey)
    assert (empty.submitted, empty.drafts, empty.completion_rate) == (0, 0, None)
    for day in (date(2027, 1, 10), date(2027, 1, 10), date(2027, 1, 13)):
        answer(session, survey, role, on=day, choice="patient")
    for page in (0, 1, 1):
        draft = Response(survey_id=survey.id, status="draft", consent_version=1,
                         page_reached=page)
        session.add(draft)
    session.commit()
    overview = services.response_overview(session, survey)
    assert (overview.submitted, overview.drafts) == (3, 3)
    assert overview.completion_rate == 0.5
    assert overview.per_day == [(date(2027, 1, 10), 2), (date(2027, 1, 11), 0),
                                (date(2027, 1, 12), 0), (date(2027, 1, 13), 1)]
    assert overview.dropoff == [(0, 1), (1, 2)]
    assert overview.pages == 1


def test_bar_chart_scales_to_the_largest_value():
    chart = charts.bar_chart([("a", 2), ("b", 0), ("c", 4)], width=300, height=120,
                               margin_top=20, margin_bottom=20)
    assert chart.max_value == 4 and chart.baseline == 100
    assert [b.height for b in chart.bars] == [40, 0, 80]
    assert [b.y for b in chart.bars] == [60, 100, 20]
    assert chart.bars[1].x > chart.bars[0].x
    assert charts.bar_chart([]).bars == []


def test_textarea_line_endings_do_not_start_a_new_consent_version(session, survey, organizer):
    settings = SurveySettings.of(survey)
    settings.consent_text = "First line.\nSecond line."
    services.update_settings(session, survey, settings, actor=organizer)
    session.commit()
    assert survey.consent_version == 2
    settings = SurveySettings.of(survey)
    settings.consent_text = "First line.\r\nSecond line.\r\n"  # as a browser sends it back
    settings.title = "New title"
    services.update_settings(session, survey, settings, actor=organizer)
    session.commit()
    assert survey.consent_version == 2
    assert survey.consent_text == "First line.\nSecond line."
