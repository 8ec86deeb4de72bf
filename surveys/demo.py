"""The demo survey: "Daily life with diabetes", open and anonymous, with synthetic answers.

The answers are generated from a fixed seed, so every demo shows the same picture: some
needs clearly underserved (night-time lows, exercise, emotional load, sick days), some
served or overserved, segments that differ, and free text with recurring themes.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from challenge import clock
from surveys import definition, guidelines, insights
from surveys.models import Response, Survey
from surveys.services import add_answer

SLUG = "daily-life-with-diabetes"
RESPONSES = 320

NEEDS = [
    ("exercise", "Keeping my glucose steady when I exercise", "activity"),
    ("meals", "Planning meals and counting carbohydrates without stress", "food"),
    ("night_lows", "Being warned in time about lows during the night", "sleep"),
    ("travel", "Managing insulin, devices and time zones when I travel", "travel"),
    ("work", "Fitting diabetes care into my working day without stigma", "work"),
    ("sick_days", "Knowing what to do with my treatment on sick days", "health"),
    ("devices", "Getting my devices and apps to work together", "technology"),
    ("emotional", "Coping with the emotional load of managing diabetes every day", "wellbeing"),
    ("supplies", "Getting supplies and prescriptions without running out", "access"),
]

DOCUMENT = {
    "slug": SLUG,
    "title": "Daily life with diabetes: what is missing?",
    "intro": (
        "Tell us which parts of daily life with diabetes matter most to you, and how well "
        "you can manage them today. It takes about 8 minutes. Your answers become the "
        "guidelines that teams in the **Data Design Diabetes** challenge build against."
    ),
    "sponsor_disclosure": (
        "This survey is run by the challenge organizers and **sponsored by a pharmaceutical "
        "company** that makes diabetes medicines. The sponsor sees only combined results."
    ),
    "usage": (
        "Answers are combined into scores for each need. Needs that many people find "
        "important but poorly served today are published as guidelines for innovators."
    ),
    "anonymous": True,
    "status": "open",
    "min_cell_size": 11,
    "questions": [
        {"key": "role", "type": "single", "text": "Which describes you?", "segment": True,
         "required": True, "section": "About you",
         "options": [{"value": "patient", "label": "I live with diabetes"},
                     {"value": "carer", "label": "I care for someone who does"}]},
        {"key": "dtype", "type": "single", "text": "Which type of diabetes?", "segment": True,
         "section": "About you", "show_if": {"key": "role", "equals": "patient"},
         "options": [{"value": "t1", "label": "Type 1"}, {"value": "t2", "label": "Type 2"},
                     {"value": "other", "label": "Other or not sure"}]},
        {"key": "age_band", "type": "single", "text": "How old are you?", "segment": True,
         "section": "About you",
         "options": [{"value": "18-29", "label": "18 to 29"}, {"value": "30-49",
                      "label": "30 to 49"}, {"value": "50-64", "label": "50 to 64"},
                     {"value": "65+", "label": "65 or older"}]},
        {"key": "tools", "type": "multi", "text": "Which of these do you use?",
         "section": "About you",
         "options": [{"value": "cgm", "label": "Continuous glucose monitor"},
                     {"value": "pump", "label": "Insulin pump"},
                     {"value": "pens", "label": "Insulin pens or syringes"},
                     {"value": "tablets", "label": "Tablets"},
                     {"value": "app", "label": "An app to log or plan"}]},
        *[{"key": key, "type": "need", "text": text, "category": category,
           "section": "Daily life" if i < 5 else "Daily life, continued"}
          for i, (key, text, category) in enumerate(NEEDS)],
        {"key": "stress", "type": "scale", "min": 1, "max": 5, "section": "Your story",
         "text": "How stressful is diabetes for you on an ordinary day?",
         "min_label": "Not at all", "max_label": "Very stressful"},
        {"key": "story", "type": "text", "section": "Your story",
         "text": "What else should innovators know about your daily life with diabetes?"},
    ],
}

# (importance top-2 probability, satisfaction top-2 probability) per need and segment
_PROFILES = {
    "exercise": (0.85, 0.25), "meals": (0.7, 0.6), "night_lows": (0.9, 0.2),
    "travel": (0.55, 0.45), "work": (0.6, 0.35), "sick_days": (0.75, 0.3),
    "devices": (0.5, 0.7), "emotional": (0.85, 0.2), "supplies": (0.65, 0.55),
}
_T1_SHIFT = {"night_lows": (0.08, -0.1), "exercise": (0.05, -0.1), "devices": (0.2, -0.2)}
_T2_SHIFT = {"night_lows": (-0.45, 0.3), "meals": (0.2, -0.25), "supplies": (0.1, -0.1)}

_STORIES = [
    "Night time lows scare me the most, my CGM alarm wakes my partner but not me.",
    "I wish my sensor alarms at night were smarter, too many false alarms and I sleep badly.",
    "Exercise is a guessing game: I go low after running and high after the gym.",
    "Counting carbs at restaurants is exhausting, menus never show the numbers.",
    "The emotional side is never discussed at clinic, I feel burnt out and alone some weeks.",
    "Sick days are confusing, nobody tells you what to do with your insulin when you vomit.",
    "My pump and my phone app do not talk to each other, I copy numbers by hand.",
    "At work I hide in the toilet to inject, I wish colleagues understood diabetes.",
    "Travelling across time zones with insulin is stressful, airport security asks questions.",
    "Running out of test strips because the pharmacy is slow happens every other month.",
    "As a parent of a child with type 1 I barely sleep, checking glucose every night.",
    "Meal planning for the whole family around my diabetes takes hours each week.",
    "I would love an app that plans exercise and food together with my glucose trends.",
    "Burnout is real. Diabetes never takes a day off and neither do I.",
    "The cost of supplies and sensors worries me every month.",
    "Hypos during sport ruin my confidence, I stopped playing football because of them.",
    "Since starting Ozempic I feel nauseous most mornings and have lost my appetite.",
    "My new metformin dose gives me stomach cramps and diarrhea, I am not sure who to tell.",
]


def _rate(rng: random.Random, p_top2: float) -> int:
    return rng.choice((4, 5)) if rng.random() < max(0.02, min(0.98, p_top2)) else rng.choice(
        (1, 2, 3))


def _values(rng: random.Random) -> dict:
    role = "patient" if rng.random() < 0.8 else "carer"
    values: dict = {"role": role}
    if role == "patient":
        values["dtype"] = rng.choices(("t1", "t2", "other"), weights=(45, 50, 5))[0]
    values["age_band"] = rng.choices(("18-29", "30-49", "50-64", "65+"),
                                     weights=(20, 40, 28, 12))[0]
    tools = [t for t, p in (("cgm", 0.55), ("pump", 0.25), ("pens", 0.6), ("tablets", 0.45),
                            ("app", 0.5)) if rng.random() < p]
    values["tools"] = tools
    for key, _text, _category in NEEDS:
        imp, sat = _PROFILES[key]
        shift = (_T1_SHIFT if values.get("dtype") == "t1" else
                 _T2_SHIFT if values.get("dtype") == "t2" else {}).get(key, (0, 0))
        if rng.random() < 0.03:
            continue  # a few people skip a need
        values[key] = (_rate(rng, imp + shift[0]), _rate(rng, sat + shift[1]))
    values["stress"] = rng.choices((1, 2, 3, 4, 5), weights=(8, 18, 30, 28, 16))[0]
    if rng.random() < 0.55:
        story = rng.choice(_STORIES[:-2]) if rng.random() > 0.02 else rng.choice(_STORIES[-2:])
        values["story"] = story
    return values


def load(session: Session) -> Survey:
    """Create the demo survey and its synthetic responses, unless they exist already."""
    survey, _changed = definition.apply(session, DOCUMENT)
    existing = session.scalar(select(func.count(Response.id)).where(
        Response.survey_id == survey.id)) or 0
    if not existing:
        _add_responses(session, survey)
    if guidelines.published(session, survey) is None:
        report = insights.latest(session, survey) or insights.refresh(session, survey,
                                                                        trigger="demo")
        draft = guidelines.current_draft(session, survey) or guidelines.generate_draft(
            session, survey, report)
        guidelines.publish(session, draft)
    return survey


def _add_responses(session: Session, survey: Survey) -> None:
    rng = random.Random(20270110)  # noqa: S311 - demo data, not security
    today = clock.today_utc()
    questions = {q.key: q for q in survey.active_questions}
    for i in range(RESPONSES):
        values = _values(rng)
        response = Response(survey_id=survey.id, status="submitted",
                            consent_version=survey.consent_version,
                            submitted_on=today - timedelta(days=rng.randint(0, 27)),
                            source="demo", external_id=f"demo-{i:04d}",
                            quote_consent=rng.random() < 0.4)
        session.add(response)
        session.flush()
        for key, value in values.items():
            add_answer(session, response.id, questions[key], value, source="survey-response")
    session.flush()
