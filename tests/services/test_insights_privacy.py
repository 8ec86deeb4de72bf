"""Property test: whatever the answers, a stored report publishes nothing a reader could use
to work out a group smaller than the survey's minimum group size (METHODS.md section 2)."""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from surveys import insights
from tests.services.test_insights import add_responses, make_survey, numbers_in

_slugs = itertools.count(1)
WORDS = ("night lows wake me", "carb counting is tiring", "sensor falls off when swimming",
         "night sweats and lows", "insurance paperwork")


@st.composite
def scenarios(draw):
    """A survey definition and its answers: one or two segment questions (2-5 options, the
    second maybe shown only after one answer to the first), 1-3 needs, skewed answers with
    many small cells and skipped questions, and some free text."""
    min_cell = draw(st.integers(3, 11))
    n_segments = draw(st.integers(1, 2))
    segments = []
    for index in range(n_segments):
        values = [f"v{j}" for j in range(draw(st.integers(2, 5)))]
        show_if = None
        if index == 1 and draw(st.booleans()):
            show_if = {"key": "s0", "equals": segments[0]["values"][0]}
        segments.append({"key": f"s{index}", "values": values, "show_if": show_if})
    n_needs = draw(st.integers(1, 3))
    count = draw(st.integers(0, 70))
    rows = []
    for _ in range(count):
        row: dict = {}
        for seg in segments:
            if seg["show_if"] and row.get(seg["show_if"]["key"]) != seg["show_if"]["equals"]:
                continue
            # Skewed: the first option is common, the others rare, a few skip.
            weights = draw(st.integers(0, 9))
            if weights == 0:
                continue
            row[seg["key"]] = (seg["values"][0] if weights > 4
                               else seg["values"][draw(st.integers(0, len(seg["values"]) - 1))])
        for k in range(n_needs):
            kind = draw(st.integers(0, 9))
            if kind == 0:
                continue  # skipped
            importance = draw(st.integers(1, 5))
            satisfaction = None if kind == 1 else draw(st.integers(1, 5))
            row[f"need{k}"] = (importance, satisfaction)
        if draw(st.booleans()):
            row["story"] = draw(st.sampled_from(WORDS))
        rows.append(row)
    return {"min_cell": min_cell, "segments": segments, "n_needs": n_needs, "rows": rows}


def _doc(scenario: dict) -> dict:
    questions = []
    for seg in scenario["segments"]:
        q = {"key": seg["key"], "type": "single", "text": f"Segment {seg['key']}",
             "segment": True, "options": [{"value": v, "label": v} for v in seg["values"]]}
        if seg["show_if"]:
            q["show_if"] = seg["show_if"]
        questions.append(q)
    questions += [{"key": f"need{k}", "type": "need", "text": f"Need {k}"}
                  for k in range(scenario["n_needs"])]
    questions.append({"key": "story", "type": "text", "text": "Anything else?"})
    return {"slug": f"privacy-{next(_slugs)}", "title": "Privacy", "anonymous": True,
            "status": "open", "min_cell_size": scenario["min_cell"], "questions": questions}


def _rated_both(rows, need_key) -> int:
    return sum(1 for r in rows if r.get(need_key) and None not in r[need_key])


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(scenario=scenarios())
def test_published_reports_never_reveal_a_small_group(session, scenario):
    survey = make_survey(session, _doc(scenario))
    add_responses(session, survey, scenario["rows"])
    report = insights.compute(session, survey, resamples=20)
    session.rollback()  # every example starts from an empty database again

    min_cell = scenario["min_cell"]
    rows = scenario["rows"]
    respondents = len(rows)

    # (e) too few respondents: no numbers at all.
    if respondents < min_cell:
        event("too few respondents")
        assert report["respondents"] is None
        assert report["status"] == "insufficient data"
        assert numbers_in(report) == []
        return
    assert report["respondents"] == respondents

    overall_n = {}
    for need in report["needs"]:
        if "n" in need:
            assert need["n"] >= min_cell
            assert need["n"] == _rated_both(rows, need["key"])
            overall_n[need["key"]] = need["n"]
        else:
            assert set(need) == {"key", "text", "category", "status"}

    for seg in scenario["segments"]:
        cells = [c for c in report["segments"] if c["question"] == seg["key"]]
        truth = Counter(r.get(seg["key"]) for r in rows)
        published = [c for c in cells if not c["suppressed"]]
        event(f"{len(cells) - len(published)} of {len(cells)} cells suppressed")
        for cell in cells:
            if cell["suppressed"]:
                # (d) a suppressed cell carries no numbers at all.
                assert set(cell) == {"question", "value", "label", "suppressed"}
                continue
            # (a) every published cell is large enough, and true.
            assert cell["n"] >= min_cell
            assert cell["n"] == truth[cell["value"]]
            for need in cell["needs"]:
                if "n" in need:
                    assert need["n"] >= min_cell
                else:
                    event("a need hidden in a published cell")
                    assert set(need) == {"key", "text", "category", "status"}
        # (b) the respondents hidden in this question's cells ("no answer" is a cell) are
        # none or at least the minimum.
        hidden = respondents - sum(c["n"] for c in published)
        assert hidden == 0 or hidden >= min_cell, (seg["key"], hidden)
        # (c) per need, the raters hidden from the published cells are none or enough.
        for k in range(scenario["n_needs"]):
            key = f"need{k}"
            in_cells = sum(n["n"] for c in published for n in c["needs"]
                           if n["key"] == key and "n" in n)
            if key in overall_n:
                hidden_raters = overall_n[key] - in_cells
                assert hidden_raters == 0 or hidden_raters >= min_cell, (seg["key"], key)
            else:
                assert in_cells == 0  # nothing about a need unpublished overall

    # (f) themes and keywords only with enough respondents behind them.
    assert all(t["respondents"] >= min_cell for t in report["themes"])
    assert all(k["respondents"] >= min_cell for k in report["keywords"])
