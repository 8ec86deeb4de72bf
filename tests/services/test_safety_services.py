"""Safety services: screening, the reviewed lifecycle, overdue flags, the CLI contract."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from challenge import clock
from challenge.accounts import services as accounts
from challenge.audit import AuditEvent
from challenge.errors import Conflict, Forbidden, NotFound, ValidationFailed
from challenge.safety import services
from challenge.safety.lexicon import business_days_overdue
from challenge.safety.models import FLAG_STATUSES, TRANSITIONS, Flag, FlagEvent

# 2027-01-11 is a Monday.
MONDAY = datetime(2027, 1, 11, 9, 0, tzinfo=UTC)
FRIDAY_10 = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)
TEXT = "Since I started Lantus I get dizzy every afternoon and my doctor is on holiday."


@pytest.fixture
def officer(session):
    user = accounts.create_user(session, "officer@example.org", password=None,
                                roles=["safety"])
    session.flush()
    return user


def raise_flag(session, text=TEXT, ref="survey:s/response:r1/question:story",
               source="survey-response"):
    return services.screen(session, source=source, source_ref=ref, text=text)


# ---------------------------------------------------------------------------------------
# Screening
# ---------------------------------------------------------------------------------------


def test_screen_creates_a_flag_with_terms_excerpt_and_first_seen(session, caplog):
    caplog.set_level(logging.DEBUG)
    clock.freeze(MONDAY)
    flag = raise_flag(session)
    session.commit()
    assert flag.id is not None
    stored = session.get(Flag, flag.id)
    assert stored.source == "survey-response"
    assert stored.source_ref == "survey:s/response:r1/question:story"
    assert stored.products == ["lantus"] and stored.events == ["dizzy"]
    assert stored.excerpt == TEXT  # short texts are kept whole
    assert stored.first_seen == MONDAY
    assert stored.status == "new" and stored.is_open
    assert stored.reviewer_id is None and stored.reviewed_at is None
    assert stored.forwarded_at is None
    [event] = stored.history
    assert (event.from_status, event.to_status, event.actor_id, event.at) == (
        None, "new", None, MONDAY)
    assert "dizzy" not in caplog.text and "Lantus" not in caplog.text  # text never logged


def test_long_text_is_stored_as_an_excerpt_only(session):
    filler = "We walk to the market every Sunday and buy vegetables for the week. "
    text = filler * 10 + "Then Ozempic made me throw up for days. " + filler * 10
    flag = raise_flag(session, text=text)
    assert len(flag.excerpt) <= 160
    assert "Ozempic made me throw up" in flag.excerpt
    assert flag.products == ["ozempic"] and flag.events == ["throw up"]


@pytest.mark.parametrize("text", [
    "I take Lantus twice a day and it works well.",  # product only
    "I felt dizzy after my morning run.",  # event only
    "The hypothesis is that insulinoma is rare.",  # neither (substrings)
    "",
    None,
])
def test_no_flag_without_both_a_product_and_an_event(session, text):
    assert raise_flag(session, text=text) is None
    assert session.scalar(select(func.count(Flag.id))) == 0


def test_same_text_saved_again_returns_the_same_flag(session, officer):
    first = raise_flag(session)
    again = raise_flag(session, text=TEXT)
    assert again.id == first.id
    # also once the flag is closed
    services.change_status(session, first, "not_adverse_event", actor=officer)
    assert raise_flag(session).id == first.id
    assert session.scalar(select(func.count(Flag.id))) == 1
    # a changed text, or the same text elsewhere, is a new flag
    changed = raise_flag(session, text=TEXT + " Also nausea.")
    elsewhere = raise_flag(session, ref="survey:s/response:r2/question:story")
    other_source = raise_flag(session, source="survey-import")
    assert len({first.id, changed.id, elsewhere.id, other_source.id}) == 4


def test_screen_rejects_bad_source_arguments(session):
    with pytest.raises(ValueError):
        services.screen(session, source="", source_ref="x", text=TEXT)
    with pytest.raises(ValueError):
        services.screen(session, source="survey-response", source_ref="x" * 201, text=TEXT)


def test_sponsor_products_come_from_config(app, session):
    text = "GlucoFix XR gives me headaches."
    assert raise_flag(session, text=text) is None
    app.config["SPONSOR_PRODUCTS"] = ["GlucoFix XR", "Diabetrol"]
    flag = raise_flag(session, text=text)
    assert flag.products == ["glucofix xr"] and flag.events == ["headaches"]
    assert services.lexicon_for_app() is services.lexicon_for_app()  # compiled once
    app.config["SPONSOR_PRODUCTS"] = "Diabetrol, Other Med"  # a string works too
    assert "other med" in services.lexicon_for_app().products
    assert "glucofix xr" not in services.lexicon_for_app().products
    assert "lantus" in services.lexicon_for_app().products  # the defaults stay


# ---------------------------------------------------------------------------------------
# Status changes
# ---------------------------------------------------------------------------------------


def test_allowed_transitions_set_reviewer_and_times(session, officer):
    clock.freeze(MONDAY)
    flag = raise_flag(session)
    clock.freeze(MONDAY + timedelta(hours=2))
    event = services.change_status(session, flag, "reviewed", actor=officer, note=" checked ")
    assert (event.from_status, event.to_status, event.actor_id, event.note) == (
        "new", "reviewed", officer.id, "checked")
    assert flag.status == "reviewed" and flag.reviewer_id == officer.id
    assert flag.reviewed_at == MONDAY + timedelta(hours=2) and flag.forwarded_at is None
    clock.freeze(MONDAY + timedelta(hours=3))
    services.change_status(session, flag, "forwarded", actor=officer, note="case PV-1")
    assert flag.status == "forwarded" and not flag.is_open
    assert flag.forwarded_at == MONDAY + timedelta(hours=3)
    assert flag.reviewed_at == MONDAY + timedelta(hours=2)  # kept from the review
    session.commit()
    history = session.scalars(
        select(FlagEvent).where(FlagEvent.flag_id == flag.id).order_by(FlagEvent.id)).all()
    assert [(e.from_status, e.to_status) for e in history] == [
        (None, "new"), ("new", "reviewed"), ("reviewed", "forwarded")]


def test_forwarding_straight_from_new_records_the_reviewer(session, officer):
    flag = raise_flag(session)
    services.change_status(session, flag, "forwarded", actor=officer)
    assert flag.reviewer_id == officer.id and flag.reviewed_at is not None
    assert flag.forwarded_at is not None


def test_not_an_adverse_event_can_be_reopened_as_reviewed(session, officer):
    flag = raise_flag(session)
    services.change_status(session, flag, "not_adverse_event", actor=officer)
    assert flag.reviewer_id == officer.id and not flag.is_open
    services.change_status(session, flag, "reviewed", actor=officer, note="on second look")
    assert flag.status == "reviewed" and flag.is_open


@pytest.mark.parametrize("start", FLAG_STATUSES)
def test_every_transition_outside_the_table_is_refused(session, officer, start):
    for target in FLAG_STATUSES:
        if target in TRANSITIONS[start]:
            continue
        flag = raise_flag(session, ref=f"r-{start}-{target}")
        path = {"new": [], "reviewed": ["reviewed"], "forwarded": ["forwarded"],
                "not_adverse_event": ["not_adverse_event"]}[start]
        for step in path:
            services.change_status(session, flag, step, actor=officer)
        before = len(flag.history)
        with pytest.raises(Conflict) as refused:
            services.change_status(session, flag, target, actor=officer)
        assert "cannot become" in refused.value.message or "already" in refused.value.message
        assert flag.status == start and len(flag.history) == before


def test_refusals_name_the_reason(session, officer):
    flag = raise_flag(session)
    services.change_status(session, flag, "forwarded", actor=officer)
    with pytest.raises(Conflict, match="“Forwarded to pharmacovigilance” cannot become "
                                       "“Reviewed”. That status is final."):
        services.change_status(session, flag, "reviewed", actor=officer)
    with pytest.raises(ValidationFailed, match="Unknown status 'deleted'"):
        services.change_status(session, flag, "deleted", actor=officer)
    with pytest.raises(ValidationFailed, match="note"):
        services.change_status(session, raise_flag(session, ref="other"), "reviewed",
                               actor=officer, note="x" * 2001)
    patient = accounts.create_user(session, "pat@example.org", password=None,
                                   roles=["patient"])
    with pytest.raises(Forbidden):
        services.change_status(session, flag, "reviewed", actor=patient)


def test_stale_form_is_refused_but_a_repeated_post_returns_the_first_change(session, officer):
    flag = raise_flag(session)
    first = services.change_status(session, flag, "reviewed", actor=officer,
                                   expected_status="new")
    # the same change sent twice (double click): the first change stands
    again = services.change_status(session, flag, "reviewed", actor=officer,
                                   expected_status="new")
    assert again.id == first.id and len(flag.history) == 2
    # someone chose from a page showing "new" while the flag had moved on
    with pytest.raises(Conflict, match="while you were looking"):
        services.change_status(session, flag, "not_adverse_event", actor=officer,
                               expected_status="new")
    assert flag.status == "reviewed"


def test_status_change_is_audited_without_text(session, officer):
    flag = raise_flag(session)
    services.change_status(session, flag, "reviewed", actor=officer,
                           note="Lantus and dizzy: plausible")
    session.commit()
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "safety.flag_status"))
    assert event.actor_id == officer.id and event.target == f"flag:{flag.id}"
    assert event.details == {"before": "new", "after": "reviewed", "reviewer_id": officer.id,
                             "note_added": True}
    dumped = json.dumps(event.details).lower()
    assert "lantus" not in dumped and "dizzy" not in dumped and "plausible" not in dumped


def test_history_is_append_only_and_flags_are_never_deleted(app, session, officer):
    flag = raise_flag(session)
    services.change_status(session, flag, "reviewed", actor=officer)
    session.commit()
    event = flag.history[-1]
    event.note = "rewritten"
    with pytest.raises(RuntimeError, match="append-only"):
        session.flush()
    session.rollback()
    session.delete(session.get(FlagEvent, event.id))
    with pytest.raises(RuntimeError, match="append-only"):
        session.flush()
    session.rollback()
    session.delete(session.get(Flag, flag.id))
    with pytest.raises(RuntimeError):
        session.flush()
    session.rollback()
    # a bulk delete skips the ORM, but the history's foreign key still protects the flag
    with pytest.raises(Exception, match="(?i)foreign key"):
        session.execute(delete(Flag).where(Flag.id == flag.id))
    session.rollback()
    assert session.scalar(select(func.count(FlagEvent.id))) == 2
    assert session.get(Flag, flag.id).status == "reviewed"


def test_get_flag_unknown_id_is_not_found(session):
    with pytest.raises(NotFound):
        services.get_flag(session, 12345)


# ---------------------------------------------------------------------------------------
# Overdue flags and the queue
# ---------------------------------------------------------------------------------------


def test_friday_flag_is_overdue_only_after_monday_same_time(session, officer):
    clock.freeze(FRIDAY_10)
    flag = raise_flag(session)
    reviewed = raise_flag(session, ref="reviewed-one")
    services.change_status(session, reviewed, "reviewed", actor=officer)
    closed = raise_flag(session, ref="closed-one")
    services.change_status(session, closed, "not_adverse_event", actor=officer)
    session.commit()
    saturday, sunday = FRIDAY_10 + timedelta(days=1), FRIDAY_10 + timedelta(days=2, hours=13)
    monday_before = FRIDAY_10 + timedelta(days=3, minutes=-1)
    monday_after = FRIDAY_10 + timedelta(days=3, minutes=1)
    for moment in (FRIDAY_10, saturday, sunday, monday_before):
        assert not services.is_overdue(flag, moment)
        assert services.flag_counts(session, moment)["overdue"] == 0
    assert services.is_overdue(flag, monday_after)
    assert services.is_overdue(reviewed, monday_after)  # reviewed is still open
    assert not services.is_overdue(closed, monday_after)  # closed flags never are
    assert services.flag_counts(session, monday_after) == {
        "total": 3, "new": 1, "open": 2, "overdue": 2}
    clock.freeze(monday_after)
    assert services.is_overdue(flag)  # default: the clock's now
    rows, total = services.list_flags(session, status="overdue", limit=10, offset=0)
    assert total == 2 and {r.id for r in rows} == {flag.id, reviewed.id}


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(2026, 12, 1), max_value=datetime(2027, 3, 1)),
    st.integers(min_value=-5 * 86_400_000_000, max_value=0),
)
def test_overdue_cutoff_agrees_with_the_reporting_rule(now, offset_us):
    now = now.replace(tzinfo=UTC)
    first_seen = now + timedelta(microseconds=offset_us)
    cutoff = services.overdue_cutoff(now)
    assert (first_seen < cutoff) == business_days_overdue(first_seen, now)
    assert business_days_overdue(cutoff - timedelta(microseconds=1), now)
    assert not business_days_overdue(cutoff, now)


def test_list_flags_newest_first_filtered_and_counted(session, officer):
    ids = []
    for i in range(5):
        clock.freeze(MONDAY + timedelta(minutes=i))
        ids.append(raise_flag(session, ref=f"r{i}").id)
    services.change_status(session, session.get(Flag, ids[0]), "forwarded", actor=officer)
    rows, total = services.list_flags(session, limit=2, offset=0)
    assert total == 5 and [r.id for r in rows] == [ids[4], ids[3]]
    rows, total = services.list_flags(session, limit=2, offset=4)
    assert [r.id for r in rows] == [ids[0]]
    rows, total = services.list_flags(session, status="new", limit=10, offset=0)
    assert total == 4 and ids[0] not in [r.id for r in rows]
    rows, total = services.list_flags(session, status="forwarded", limit=10, offset=0)
    assert [r.id for r in rows] == [ids[0]]
    assert services.list_flags(session, status="open", limit=10, offset=0)[1] == 4
    with pytest.raises(ValidationFailed):
        services.list_flags(session, status="bogus", limit=10, offset=0)


def test_highlight_marks_matched_terms():
    pieces = services.highlight("Lantus made me DIZZY.", services.lx.default_lexicon())
    assert pieces == [("Lantus", True), (" made me ", False), ("DIZZY", True), (".", False)]
    assert services.highlight("", services.lx.default_lexicon()) == []


# ---------------------------------------------------------------------------------------
# CLI: flask --app challenge safety flags
# ---------------------------------------------------------------------------------------


def test_cli_flags_json_matches_the_contract(app, session, officer):
    runner = app.test_cli_runner()
    empty = runner.invoke(args=["safety", "flags", "--format", "json"])
    assert empty.exit_code == 0, empty.output
    assert json.loads(empty.stdout) == {"flags": []}
    clock.freeze(datetime(2027, 1, 12, 10, 0, 0, 123456, tzinfo=UTC))
    flag = raise_flag(session, text="My Lantus made me dizzy.")
    other = raise_flag(session, text="Metformin gives me nausea.", ref="r2")
    services.change_status(session, other, "reviewed", actor=officer)
    session.commit()
    result = runner.invoke(args=["safety", "flags", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # exactly one JSON document, nothing else
    assert list(document) == ["flags"]
    first = document["flags"][0]
    contract = {"id", "source", "excerpt", "products", "events", "first_seen", "status"}
    assert contract <= set(first)
    assert {k: first[k] for k in contract} == {
        "id": flag.id, "source": "survey-response", "excerpt": "My Lantus made me dizzy.",
        "products": ["lantus"], "events": ["dizzy"], "first_seen": "2027-01-12T10:00:00Z",
        "status": "new",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["first_seen"])
    assert first["overdue"] is False
    assert [f["status"] for f in document["flags"]] == ["new", "reviewed"]
    only_new = runner.invoke(args=["safety", "flags", "--format", "json", "--status", "new"])
    assert [f["id"] for f in json.loads(only_new.stdout)["flags"]] == [flag.id]


def test_cli_flags_text_and_usage_errors(app, session):
    runner = app.test_cli_runner()
    assert "no flags" in runner.invoke(args=["safety", "flags"]).stdout
    raise_flag(session, text="My Lantus made me dizzy.")
    session.commit()
    text = runner.invoke(args=["safety", "flags"])
    assert text.exit_code == 0 and "#1 new" in text.stdout and "lantus" in text.stdout
    assert runner.invoke(args=["safety", "flags", "--format", "xml"]).exit_code == 2
