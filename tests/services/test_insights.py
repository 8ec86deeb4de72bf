"""Insight reports on a real database: SQL counting, golden vectors end to end, bootstrap
reproducibility, insufficient data, themes and safety flags, stored snapshots."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event, func, insert, select

from challenge import clock
from challenge.accounts.models import User
from challenge.audit import AuditEvent
from challenge.safety import services as safety
from surveys import admin_services, definition, insight_counts, insights, stats
from surveys.models import Answer, InsightReport, Response, Survey, random_id
from tests.conftest import ON_POSTGRES, golden

GOLDEN = golden("odi.json")
NUMBER_FIELDS = ("n", "importance", "satisfaction", "opportunity", "importance_ci",
                 "satisfaction_ci", "opportunity_ci", "robust")


# --- helpers shared with the privacy and web tests ---------------------------------------------

def options(*values: str) -> list[dict[str, str]]:
    return [{"value": v, "label": v.upper()} for v in values]


def survey_doc(slug: str = "insights-2027", *, needs=("n1", "n2", "n3"), segments=True,
               text=True, min_cell_size: int = 11, status: str = "open") -> dict:
    """A survey document: optional segments role and dtype (dtype only for patients)."""
    questions: list[dict] = []
    if segments:
        questions += [
            {"key": "role", "type": "single", "text": "Which describes you?", "segment": True,
             "options": [{"value": "patient", "label": "I live with diabetes"},
                         {"value": "carer", "label": "I care for someone who does"}]},
            {"key": "dtype", "type": "single", "text": "Which type?", "segment": True,
             "show_if": {"key": "role", "equals": "patient"},
             "options": [{"value": "t1", "label": "Type 1"}, {"value": "t2", "label": "Type 2"},
                         {"value": "other", "label": "Other or not sure"}]},
        ]
    questions += [{"key": key, "type": "need", "text": f"Need {key}", "category": "daily"}
                  for key in needs]
    if text:
        questions.append({"key": "story", "type": "text", "text": "What else?"})
    return {"slug": slug, "title": f"Survey {slug}", "anonymous": True, "status": status,
            "min_cell_size": min_cell_size, "questions": questions}


def make_survey(session, doc: dict) -> Survey:
    survey, _ = definition.apply(session, doc)
    session.flush()
    return survey


_ANSWER_COLUMNS = ("choice", "number", "text", "importance", "satisfaction", "safety_flag_id")


def add_responses(session, survey: Survey, rows: list[dict], *, status: str = "submitted"
                  ) -> list[str]:
    """Bulk-insert responses; each row maps question key → value (single: the option
    value; need: (importance, satisfaction), either may be None; text: the text)."""
    questions = {q.key: q for q in survey.questions}
    responses, answers, ids = [], [], []
    for values in rows:
        rid = random_id()
        ids.append(rid)
        responses.append({"id": rid, "survey_id": survey.id, "status": status,
                          "consent_version": 1, "quote_consent": False, "page_reached": 1,
                          "source": "web",
                          "submitted_on": date(2027, 1, 12) if status == "submitted" else None})
        for key, value in values.items():
            if value is None:
                continue
            question = questions[key]
            cols = dict.fromkeys(_ANSWER_COLUMNS)
            if question.type == "need":
                cols["importance"], cols["satisfaction"] = value
            elif question.type == "text":
                cols["text"] = value
            else:
                cols["choice"] = value
            answers.append({"response_id": rid, "question_id": question.id, **cols})
    if responses:
        session.execute(insert(Response), responses)
    if answers:
        session.execute(insert(Answer), answers)
    session.flush()
    return ids


def numbers_in(value, skip=("min_cell_size",)) -> list:
    """Every number in a JSON-like structure (keys in `skip` left out)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, dict):
        return [x for k, v in value.items() if k not in skip for x in numbers_in(v, skip)]
    if isinstance(value, list | tuple):
        return [x for v in value for x in numbers_in(v, skip)]
    return []


def by_key(entries: list[dict]) -> dict[str, dict]:
    return {e["key"]: e for e in entries}


@pytest.fixture
def organizer(make_user):
    return make_user("org@example.org", "organizer")


# --- SQL aggregation against counting in Python ---------------------------------------------

def _random_rows(rng: random.Random, count: int) -> list[dict]:
    rows = []
    for _ in range(count):
        role = rng.choice(["patient", "patient", "carer", None])
        row: dict = {"role": role}
        if role == "patient":
            row["dtype"] = rng.choice(["t1", "t1", "t2", "other", None])
        for key in ("n1", "n2", "n3"):
            draw = rng.random()
            if draw < 0.15:
                row[key] = None
            elif draw < 0.2:  # only one part rated: not counted
                row[key] = (rng.randint(1, 5), None)
            else:
                row[key] = (rng.randint(1, 5), rng.randint(1, 5))
        rows.append(row)
    return rows


def test_sql_tables_equal_counting_in_python(session):
    rng = random.Random(20270112)
    survey = make_survey(session, survey_doc(min_cell_size=5))
    other = make_survey(session, survey_doc("other-survey"))
    add_responses(session, survey, _random_rows(rng, 240))
    add_responses(session, survey, _random_rows(rng, 30), status="draft")  # never counted
    add_responses(session, other, _random_rows(rng, 30))
    session.commit()

    questions = {q.key: q for q in survey.questions}
    need_ids = {questions[k].id: k for k in ("n1", "n2", "n3")}
    raw = session.execute(
        select(Answer.response_id, Answer.question_id, Answer.choice, Answer.importance,
               Answer.satisfaction)
        .join(Response, Response.id == Answer.response_id)
        .where(Response.survey_id == survey.id, Response.status == "submitted")).all()
    choice_of: dict[str, dict[str, str]] = defaultdict(dict)
    for rid, qid, choice, _, _ in raw:
        for seg in ("role", "dtype"):
            if qid == questions[seg].id:
                choice_of[seg][rid] = choice

    def combo(i, s):
        return {(True, True): "both", (True, False): "important_only",
                (False, True): "satisfied_only", (False, False): "neither"}[(i >= 4, s >= 4)]

    expected_overall: dict[int, Counter] = defaultdict(Counter)
    expected_by_seg: dict[str, dict[tuple, Counter]] = {s: defaultdict(Counter)
                                                        for s in ("role", "dtype")}
    for rid, qid, _, imp, sat in raw:
        if qid in need_ids and imp is not None and sat is not None:
            expected_overall[qid][combo(imp, sat)] += 1
            for seg in ("role", "dtype"):
                value = choice_of[seg].get(rid, insights.NO_ANSWER)
                expected_by_seg[seg][(value, qid)][combo(imp, sat)] += 1

    def nonzero(table: stats.TopBoxTable) -> dict[str, int]:
        return {name: n for name, n in vars(table).items() if n}

    # One statement counts everything: the overall tables, and per segment question the
    # respondents and tables of every cell ("no answer" included, counted directly).
    counts = insight_counts.count_answers(session, survey, list(need_ids),
                                          [questions["role"].id, questions["dtype"].id])
    assert counts.respondents == 240
    assert {q: nonzero(t) for q, t in counts.needs.items()} == {
        q: dict(c) for q, c in expected_overall.items()}
    for seg in ("role", "dtype"):
        sizes = counts.sizes[questions[seg].id]
        assert sizes == {**Counter(choice_of[seg].values()),
                         insights.NO_ANSWER: 240 - len(choice_of[seg])}
        cells = counts.cells[questions[seg].id]
        assert {(value, q): nonzero(t) for value, tables in cells.items()
                for q, t in tables.items() if t.n} == {
            k: dict(c) for k, c in expected_by_seg[seg].items()}

    # ... and the report is built from exactly those tables.
    report = insights.compute(session, survey, resamples=50)
    assert report["respondents"] == 240
    for qid, key in need_ids.items():
        table = counts.needs[qid]
        need = by_key(report["needs"])[key]
        assert need["n"] == table.n
        assert need["importance"] == 10 * table.importance_top2 / table.n
        assert need["satisfaction"] == 10 * table.satisfaction_top2 / table.n
    role_cells = {c["value"]: c for c in report["segments"] if c["question"] == "role"}
    assert role_cells["patient"]["n"] == Counter(choice_of["role"].values())["patient"]
    assert role_cells[None]["n"] == 240 - len(choice_of["role"])  # the "no answer" cell


@pytest.mark.parametrize("n_needs", [45, insight_counts.TALLY_MAX_NEEDS + 5])
def test_counting_more_needs_than_one_packed_word_holds(session, n_needs):
    """Ratings are packed twenty needs to an integer: 45 needs take three words of a tally,
    85 more than a tally holds (they are counted from the answers), and either way every
    table equals counting in Python (a response without any answer counts as a respondent
    in the "no answer" cell)."""
    rng = random.Random(n_needs)
    keys = tuple(f"n{i}" for i in range(n_needs))
    survey = make_survey(session, survey_doc(needs=keys, text=False, min_cell_size=5))
    rows = []
    for _ in range(60):
        row = {"role": rng.choice(["patient", "carer", None])}
        for key in keys:
            if rng.random() < 0.9:
                row[key] = (rng.randint(1, 5), rng.choice([rng.randint(1, 5), None]))
        rows.append(row)
    add_responses(session, survey, rows + [{}])
    questions = {q.key: q for q in survey.questions}

    expected: dict[tuple, Counter] = defaultdict(Counter)
    for row in rows:
        for key in keys:
            if key in row and row[key][1] is not None:
                importance, satisfaction = row[key]
                cell = row["role"] or insights.NO_ANSWER
                name = {(True, True): "both", (True, False): "important_only",
                        (False, True): "satisfied_only", (False, False): "neither"}[
                    (importance >= 4, satisfaction >= 4)]
                expected[(cell, key)][name] += 1
                expected[("all", key)][name] += 1

    counts = insight_counts.count_answers(session, survey, [questions[k].id for k in keys],
                                          [questions["role"].id])
    assert counts.respondents == 61
    tallied = set(session.scalars(select(Response.tally_layout)
                                  .where(Response.survey_id == survey.id)))
    fits = n_needs <= insight_counts.TALLY_MAX_NEEDS
    assert tallied == ({insight_counts.layout_key([questions[k].id for k in keys],
                                                  [questions["role"].id])} if fits else {None})
    role = questions["role"].id
    assert counts.sizes[role] == {**Counter(r["role"] or insights.NO_ANSWER for r in rows),
                                  insights.NO_ANSWER: 1 + sum(r["role"] is None for r in rows)}
    for key in keys:
        qid = questions[key].id
        assert vars(counts.needs[qid]) == {**dict.fromkeys(vars(counts.needs[qid]), 0),
                                           **expected[("all", key)]}
        for cell, tables in counts.cells[role].items():
            assert vars(tables[qid]) == {**dict.fromkeys(vars(tables[qid]), 0),
                                         **expected[(cell, key)]}


# --- golden vectors through the database ---------------------------------------------------

def _golden_rows() -> list[dict]:
    """20 respondents; need nK gets the golden top-2 counts of NK (pairs vary in overlap)."""
    rows: list[dict] = [{} for _ in range(20)]
    for vector in GOLDEN["needs"]:
        n, ki, ks = vector["n"], vector["importance_top2"], vector["satisfaction_top2"]
        assert n == 20
        for j in range(n):
            importance = 5 if j < ki else (2 if j % 2 else 3)
            satisfaction = 4 if j >= n - ks else 1
            rows[j][vector["key"].lower()] = (importance, satisfaction)
    return rows


def test_golden_vectors_end_to_end_through_the_database(session):
    survey = make_survey(session, survey_doc(needs=("n1", "n2", "n3", "n4", "n5"),
                                             segments=False, text=False))
    add_responses(session, survey, _golden_rows())
    report = insights.compute(session, survey)
    needs = by_key(report["needs"])
    for vector in GOLDEN["needs"]:
        need = needs[vector["key"].lower()]
        assert need["n"] == vector["n"]
        for name in ("importance", "satisfaction", "opportunity"):
            assert need[name] == pytest.approx(vector[name], abs=1e-9), (vector["key"], name)
        for name in ("importance_ci", "satisfaction_ci"):
            assert need[name] == pytest.approx(vector[name], abs=1e-9), (vector["key"], name)
        assert need["status"] == vector["status"], vector["key"]
        low, high = need["opportunity_ci"]
        assert low <= need["opportunity"] <= high
        assert need.get("robust", False) == (need["status"] == "underserved" and low >= 10)
    # O = 10 exactly (N5) is underserved: the boundary is inclusive.
    assert needs["n5"]["opportunity"] == 10.0 and needs["n5"]["status"] == "underserved"
    # Ranked by opportunity, highest first.
    assert [n["key"] for n in report["needs"]] == ["n1", "n2", "n5", "n4", "n3"]


def test_bootstrap_interval_is_reproducible_and_resamples_whole_respondents(session):
    survey = make_survey(session, survey_doc(needs=("n1", "n2", "n3", "n4", "n5"),
                                             segments=False, text=False))
    rows = _golden_rows()
    add_responses(session, survey, rows)
    first = insights.refresh(session, survey).data
    second = insights.refresh(session, survey).data
    assert first["needs"] == second["needs"]
    assert insights.compute(session, survey)["needs"] == first["needs"]
    for need in first["needs"]:
        pairs = [row[need["key"]] for row in rows]
        assert tuple(need["opportunity_ci"]) == stats.bootstrap_opportunity_ci(pairs)


# --- insufficient data -------------------------------------------------------------------------

def _assert_no_numbers(report: dict) -> None:
    assert report["status"] == stats.INSUFFICIENT
    assert report["respondents"] is None
    assert report["segments"] == [] and report["themes"] == [] and report["keywords"] == []
    for need in report["needs"]:
        assert need["status"] == stats.INSUFFICIENT
        assert not set(need) & set(NUMBER_FIELDS)
    assert numbers_in(report) == []


def test_no_responses_is_insufficient_data_without_numbers(session):
    survey = make_survey(session, survey_doc())
    report = insights.compute(session, survey)
    _assert_no_numbers(report)
    assert [n["key"] for n in report["needs"]] == ["n1", "n2", "n3"]
    assert report["reason"] == insights.TOO_FEW_RESPONDENTS


def test_fewer_respondents_than_the_minimum_is_insufficient_data(session):
    survey = make_survey(session, survey_doc(min_cell_size=11))
    add_responses(session, survey, [{"role": "patient", "dtype": "t1", "n1": (5, 1),
                                     "story": "night lows night lows"}] * 10)
    stored = insights.refresh(session, survey)
    _assert_no_numbers(stored.data)
    assert stored.response_count == 10  # the organizer's row says what it covers


def test_a_need_nobody_answered_has_no_numbers(session):
    survey = make_survey(session, survey_doc(segments=False, text=False))
    add_responses(session, survey, [{"n1": (5, 1), "n2": (4, None)}] * 15)
    report = insights.compute(session, survey, resamples=50)
    needs = by_key(report["needs"])
    assert needs["n1"]["n"] == 15 and needs["n1"]["status"] == "underserved"
    for key in ("n2", "n3"):  # n2 only half rated, n3 never
        assert needs[key] == {"key": key, "text": f"Need {key}", "category": "daily",
                              "status": stats.INSUFFICIENT}
    assert report["status"] == "ok"
    assert [n["key"] for n in report["needs"]][0] == "n1"


def test_no_need_rated_by_enough_people_makes_the_report_insufficient(session):
    survey = make_survey(session, survey_doc(needs=("n1",), min_cell_size=11))
    add_responses(session, survey, [{"role": "patient", "dtype": "t1"}] * 12
                  + [{"role": "carer", "n1": (5, 1)}] * 3)
    report = insights.compute(session, survey, resamples=50)
    assert report["status"] == stats.INSUFFICIENT
    assert report["reason"] == insights.NO_RATED_NEEDS
    assert report["respondents"] == 15
    assert report["needs"] == [{"key": "n1", "text": "Need n1", "category": "daily",
                                "status": stats.INSUFFICIENT}]


# --- segments -------------------------------------------------------------------------------

def test_segments_suppress_small_cells_and_their_complement(session):
    survey = make_survey(session, survey_doc(needs=("n1",), text=False))
    add_responses(session, survey,
                  [{"role": "patient", "dtype": "t1", "n1": (5, 1)}] * 20
                  + [{"role": "patient", "dtype": "t2", "n1": (5, 5)}] * 3
                  + [{"role": "patient", "dtype": "other", "n1": (2, 5)}] * 2
                  + [{"role": "carer", "n1": (4, 2)}] * 12)
    report = insights.compute(session, survey, resamples=50)
    cells = {(c["question"], c["value"]): c for c in report["segments"]}
    assert cells[("role", "patient")]["n"] == 25 and cells[("role", "carer")]["n"] == 12
    assert ("role", None) not in cells  # everyone answered role
    assert cells[("dtype", "t1")]["n"] == 20
    assert cells[("dtype", "t1")]["needs"][0]["n"] == 20
    # t2 (3) and other (2) are too small; together 5 < 11, so the next smallest cell, the
    # carers who never saw dtype (12), is hidden too.
    for value in ("t2", "other", None):
        assert cells[("dtype", value)] == {"question": "dtype", "value": value,
                                          "label": cells[("dtype", value)]["label"],
                                          "suppressed": True}
    assert cells[("dtype", None)]["label"] == "No answer"


# --- themes and safety flags ---------------------------------------------------------------

def test_themes_leave_out_texts_under_an_open_flag_until_reviewed(session, organizer):
    survey = make_survey(session, survey_doc(needs=("n1",), min_cell_size=5))
    story = next(q for q in survey.questions if q.key == "story")
    add_responses(session, survey, [{"n1": (5, 1), "story": "Night lows wake me up"}] * 6)
    flagged_ids = add_responses(session, survey,
                                [{"n1": (5, 1), "story": "Lantus makes me dizzy"}] * 6)
    flags = []
    for rid in flagged_ids:
        answer = session.scalar(select(Answer).where(Answer.response_id == rid,
                                                     Answer.question_id == story.id))
        flag = safety.screen(session, source="survey-response",
                             source_ref=f"response:{rid}/question:story", text=answer.text)
        assert flag is not None and flag.status == "new"
        answer.safety_flag_id = flag.id
        flags.append(flag)
    session.flush()

    before = insights.compute(session, survey, resamples=50)
    terms = {k["term"]: k["respondents"] for k in before["keywords"]}
    assert before["themes_mode"] == "keywords"  # fewer than 50 texts
    assert terms["night"] == 6 and terms["wake"] == 6
    assert "lantus" not in terms and "dizzy" not in terms

    reviewer = session.get(User, organizer.id)
    for flag in flags:
        safety.change_status(session, flag, "not_adverse_event", actor=reviewer)
    after = insights.compute(session, survey, resamples=50)
    terms = {k["term"]: k["respondents"] for k in after["keywords"]}
    assert terms["lantus"] == 6 and terms["dizzy"] == 6 and terms["night"] == 6
    assert all(k["respondents"] >= 5 for k in after["keywords"])


def test_themes_mode_publishes_only_themes_with_enough_respondents(session):
    survey = make_survey(session, survey_doc(needs=("n1",), min_cell_size=11))
    texts = (["night lows wake me up at night"] * 30 + ["carb counting meals is tiring"] * 25
             + ["my unique hometown pharmacy"] * 2)
    add_responses(session, survey, [{"n1": (4, 2), "story": t} for t in texts])
    report = insights.compute(session, survey, resamples=50)
    assert report["themes_mode"] == "themes"
    assert report["themes"] and all(t["respondents"] >= 11 for t in report["themes"])
    assert not any("hometown" in t["terms"] for t in report["themes"])


# --- stored snapshots ----------------------------------------------------------------------

def test_refresh_stores_a_snapshot_with_time_and_response_count(session, organizer):
    survey = make_survey(session, survey_doc())
    add_responses(session, survey, [{"role": "patient", "dtype": "t1", "n1": (5, 1)}] * 12)
    add_responses(session, survey, [{"role": "carer"}] * 4, status="draft")
    at = datetime(2027, 2, 1, 12, 30, tzinfo=UTC)
    with clock.frozen(at):
        first = insights.refresh(session, survey, trigger="cli",
                                 actor=session.get(User, organizer.id))
    session.commit()
    assert first.id is not None and first.computed_at == at
    assert first.response_count == 12 and first.trigger == "cli"
    assert first.data["computed_at"] == "2027-02-01T12:30:00Z"
    assert first.data["respondents"] == 12
    assert insights.latest(session, survey).id == first.id
    event_row = session.scalar(select(AuditEvent).where(AuditEvent.action == "insights.computed"))
    assert event_row.target == f"survey:{survey.slug}"

    add_responses(session, survey, [{"role": "carer", "n1": (2, 2)}] * 3)
    second = insights.refresh(session, survey)
    session.commit()
    assert insights.latest(session, survey).id == second.id
    assert second.response_count == 15 and second.data["respondents"] == 15
    session.expire_all()
    kept = session.get(InsightReport, first.id)
    assert kept.response_count == 12 and kept.data["respondents"] == 12  # snapshots stay
    assert insights.submitted_count(session, survey) == 15


def test_closing_a_survey_stores_a_snapshot(session, organizer):
    actor = session.get(User, organizer.id)
    survey = make_survey(session, survey_doc(status="draft"))
    admin_services.set_status(session, survey, "open", actor=actor)
    assert session.scalar(select(func.count(InsightReport.id))) == 0
    add_responses(session, survey, [{"role": "patient", "dtype": "t2", "n1": (5, 2)}] * 11)
    admin_services.set_status(session, survey, "closed", actor=actor)
    session.commit()
    stored = insights.latest(session, survey)
    assert stored is not None and stored.trigger == "closed"
    assert stored.response_count == 11 and stored.data["respondents"] == 11
    assert survey.status == "closed"


def _submit_elsewhere(engine, survey: Survey, role: str, rating: tuple[int, int]) -> None:
    """One more submitted response, committed by another connection."""
    questions = {q.key: q for q in survey.questions}
    rid = random_id()
    with engine.connect() as other:
        other.execute(insert(Response).values(
            id=rid, survey_id=survey.id, status="submitted", consent_version=1,
            quote_consent=False, page_reached=1, source="web", submitted_on=date(2027, 1, 13)))
        other.execute(insert(Answer).values(
            response_id=rid, question_id=questions["role"].id, choice=role))
        other.execute(insert(Answer).values(
            response_id=rid, question_id=questions["n1"].id, importance=rating[0],
            satisfaction=rating[1]))
        other.commit()


def _is_tally_count(statement: str) -> bool:
    return statement.lstrip().startswith("SELECT") and "tally_segments" in statement


def _compute_while_submitting(session, survey: Survey, arrivals: int) -> dict:
    """insights.compute, while another connection submits a carer's response just before
    each of the first `arrivals` statements that count the tallies."""
    engine = session.get_bind()
    state = {"arrived": 0}

    def _before(conn, cursor, statement, *_):
        if state["arrived"] < arrivals and _is_tally_count(statement):
            state["arrived"] += 1
            _submit_elsewhere(engine, survey, "carer", (5, 1))

    event.listen(engine, "before_cursor_execute", _before)
    try:
        report = insights.compute(session, survey, resamples=50)
    finally:
        event.remove(engine, "before_cursor_execute", _before)
        session.rollback()
    assert state["arrived"] == arrivals
    return report


def _assert_cells_add_up(report: dict, respondents: int) -> None:
    assert report["respondents"] == respondents
    role = [c for c in report["segments"] if c["question"] == "role"]
    assert sum(c["n"] for c in role) == respondents
    assert report["needs"][0]["n"] == respondents
    assert sum(c["needs"][0]["n"] for c in role) == respondents


# On SQLite the report is computed under the write lock (it rewrites stale tallies), so no
# response can arrive meanwhile; on PostgreSQL one can, between any two statements.
@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL: responses arrive during a compute")
def test_answers_arriving_during_compute_never_mix_two_states(session):
    """A response submitted after the tallies were refreshed but before they are counted
    is found stale by the counting statement: the tallies are refreshed and counted again,
    and the new response is in every number."""
    survey = make_survey(session, survey_doc(needs=("n1",), text=False, min_cell_size=3))
    add_responses(session, survey, [{"role": "patient", "dtype": "t1", "n1": (5, 1)}] * 6
                  + [{"role": "carer", "n1": (4, 4)}] * 6)
    session.commit()
    _assert_cells_add_up(_compute_while_submitting(session, survey, arrivals=1), 13)


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL: responses arrive during a compute")
def test_responses_arriving_before_every_count_fall_back_to_counting_answers(session):
    """Should responses keep arriving before every count of the tallies, the report counts
    from the answers in one statement instead, still one state in every number."""
    survey = make_survey(session, survey_doc(needs=("n1",), text=False, min_cell_size=3))
    add_responses(session, survey, [{"role": "carer", "n1": (4, 4)}] * 6)
    session.commit()
    report = _compute_while_submitting(session, survey, arrivals=insight_counts._ATTEMPTS)
    _assert_cells_add_up(report, 6 + insight_counts._ATTEMPTS)
