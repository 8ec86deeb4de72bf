"""The safety queue pages: who may see them, status changes, pagination, escaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from challenge import clock
from challenge.audit import AuditEvent
from challenge.db import session_scope
from challenge.safety import services
from challenge.safety.models import Flag, FlagEvent
from tests.conftest import login

FRIDAY_10 = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)  # a Friday


def add_flag(app, text="Since Lantus I get dizzy spells at work.", ref="survey:s/r1/story"):
    """Screen a text as a survey answer would; return the flag id."""
    with app.app_context(), session_scope(app) as s:
        flag = services.screen(s, source="survey-response", source_ref=ref, text=text)
        assert flag is not None
        return flag.id


def at(client, moment, email="officer@example.org"):
    """Freeze the clock at `moment` and log in again (sessions expire across the jump)."""
    clock.freeze(moment)
    client.post("/logout")
    login(client, email)


def load(app, flag_id):
    with app.app_context(), session_scope(app) as s:
        flag = s.get(Flag, flag_id)
        history = [(e.from_status, e.to_status, e.actor_id, e.note) for e in flag.history]
        return flag.status, flag.reviewer_id, history


@pytest.fixture
def officer(make_user, client):
    user = make_user("officer@example.org", "safety")
    login(client, "officer@example.org")
    return user


@pytest.mark.parametrize("role", ["organizer", "safety"])
def test_queue_visible_to_organizers_and_safety_officers(app, client, make_user, role):
    add_flag(app)
    make_user("staff@example.org", role)
    login(client, "staff@example.org")
    page = client.get("/safety/flags")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<mark>Lantus</mark>" in html and "<mark>dizzy spells</mark>" in html
    assert "lantus" in html and "dizzy spells" in html  # the terms are listed too
    assert "survey-response" in html and "New" in html
    assert 'href="/safety/flags/1"' in html
    assert 'href="/safety/flags"' in client.get("/").get_data(as_text=True)  # navigation
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "Safety flags" in dashboard and "1</strong> new" in dashboard


@pytest.mark.parametrize("role", ["patient", "entrant", "judge"])
def test_queue_and_flags_forbidden_to_other_roles(app, client, make_user, role):
    flag_id = add_flag(app)
    make_user("someone@example.org", role)
    login(client, "someone@example.org")
    assert client.get("/safety/flags").status_code == 403
    assert client.get(f"/safety/flags/{flag_id}").status_code == 403
    refused = client.post(f"/safety/flags/{flag_id}", data={"status": "not_adverse_event"})
    assert refused.status_code == 403
    assert load(app, flag_id)[0] == "new"
    assert 'href="/safety/flags"' not in client.get("/").get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_login(app, client):
    flag_id = add_flag(app)
    for path in ("/safety/flags", f"/safety/flags/{flag_id}"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    posted = client.post(f"/safety/flags/{flag_id}", data={"status": "reviewed"})
    assert posted.status_code == 302 and "/login" in posted.headers["Location"]
    assert load(app, flag_id)[0] == "new"


def test_status_change_by_post_is_saved_audited_and_shown(app, client, officer):
    flag_id = add_flag(app)
    detail = client.get(f"/safety/flags/{flag_id}").get_data(as_text=True)
    assert 'type="radio" value="reviewed"' in detail
    assert 'type="radio" value="not_adverse_event"' in detail
    assert "screening (automatic)" in detail
    response = client.post(f"/safety/flags/{flag_id}",
                           data={"status": "reviewed", "note": "Plausible; asking for more.",
                                 "expected_status": "new"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/safety/flags/{flag_id}")
    status, reviewer, history = load(app, flag_id)
    assert status == "reviewed" and reviewer == officer.id
    assert history[-1] == ("new", "reviewed", officer.id, "Plausible; asking for more.")
    with app.app_context(), session_scope(app) as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "safety.flag_status"))
        assert event.actor_id == officer.id and event.target == f"flag:{flag_id}"
        assert event.details == {"before": "new", "after": "reviewed",
                                 "reviewer_id": officer.id, "note_added": True}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "is now “Reviewed”" in page  # the flash message
    assert "officer@example.org" in page and "Plausible; asking for more." in page
    assert 'type="radio" value="forwarded"' in page
    assert 'type="radio" value="reviewed"' not in page


def test_illegal_transition_is_a_clear_message_not_a_500(app, client, officer):
    flag_id = add_flag(app)
    client.post(f"/safety/flags/{flag_id}", data={"status": "forwarded", "note": "PV-7"})
    assert load(app, flag_id)[0] == "forwarded"
    final = client.get(f"/safety/flags/{flag_id}").get_data(as_text=True)
    assert "that status is final" in final and "Save status" not in final
    response = client.post(f"/safety/flags/{flag_id}",
                           data={"status": "reviewed", "note": "I typed this"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "cannot become “Reviewed”" in html
    assert "I typed this" in html  # nothing typed is lost
    bogus = client.post(f"/safety/flags/{flag_id}", data={"status": "deleted"})
    assert bogus.status_code == 422 and "Unknown status" in bogus.get_data(as_text=True)
    missing = client.post(f"/safety/flags/{add_flag(app, ref='other')}",
                          data={"note": "kept"})
    assert missing.status_code == 422
    assert "Choose the new status." in missing.get_data(as_text=True)
    assert "kept" in missing.get_data(as_text=True)
    with app.app_context(), session_scope(app) as s:
        assert s.scalar(select(func.count(FlagEvent.id))) == 3  # two raised, one forwarded


def test_stale_page_is_refused_with_an_explanation(app, client, officer, make_user):
    flag_id = add_flag(app)
    make_user("org@example.org", "organizer")
    other = client.application.test_client()
    login(other, "org@example.org")
    other.post(f"/safety/flags/{flag_id}", data={"status": "not_adverse_event",
                                                 "expected_status": "new"})
    response = client.post(f"/safety/flags/{flag_id}",
                           data={"status": "reviewed", "expected_status": "new"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "while you were looking" in html
    assert 'name="expected_status" type="hidden" value="not_adverse_event"' in html
    assert load(app, flag_id)[0] == "not_adverse_event"


def test_unknown_flag_is_404_and_there_is_no_delete(app, client, officer):
    assert client.get("/safety/flags/999").status_code == 404
    assert client.post("/safety/flags/999", data={"status": "reviewed"}).status_code == 404
    flag_id = add_flag(app)
    assert client.delete(f"/safety/flags/{flag_id}").status_code == 405
    assert client.post(f"/safety/flags/{flag_id}/delete").status_code == 404
    rules = [r for r in client.application.url_map.iter_rules() if r.endpoint.startswith("safety.")]
    assert all("DELETE" not in r.methods and "delete" not in r.rule for r in rules)


def test_empty_states(client, officer):
    html = client.get("/safety/flags").get_data(as_text=True)
    assert "No flags yet." in html
    filtered = client.get("/safety/flags?status=forwarded").get_data(as_text=True)
    assert "No flags match “Forwarded to pharmacovigilance”." in filtered
    assert "No flags to review." in client.get("/dashboard").get_data(as_text=True)
    assert client.get("/safety/flags?status=nonsense&page=-3").status_code == 200


def test_queue_paginates_newest_first_and_filters(app, client, officer):
    for i in range(30):
        clock.freeze(FRIDAY_10 + timedelta(minutes=i))
        add_flag(app, text=f"Flag {i:02d}: metformin gives me nausea.", ref=f"r{i}")
    at(client, FRIDAY_10 + timedelta(hours=1))
    first = client.get("/safety/flags").get_data(as_text=True)
    assert "Page 1 of 2" in first
    assert "Flag 29" in first and "Flag 05" in first and "Flag 04" not in first
    second = client.get("/safety/flags?page=2").get_data(as_text=True)
    assert "Flag 04" in second and "Flag 00" in second and "Flag 29" not in second
    client.post("/safety/flags/1", data={"status": "forwarded"})
    forwarded = client.get("/safety/flags?status=forwarded").get_data(as_text=True)
    assert "Flag 00" in forwarded and "Flag 01" not in forwarded
    assert "Page 1 of" not in forwarded
    new_page_2 = client.get("/safety/flags?status=new&page=2").get_data(as_text=True)
    assert "status=new" in new_page_2  # the pager keeps the filter
    assert client.get("/safety/flags?per_page=100000").status_code == 200


def test_overdue_marker_after_one_business_day(app, client, officer):
    clock.freeze(FRIDAY_10)
    flag_id = add_flag(app)
    at(client, FRIDAY_10 + timedelta(days=2))  # Sunday
    assert "Overdue</strong>" not in client.get("/safety/flags").get_data(as_text=True)
    at(client, FRIDAY_10 + timedelta(days=3, minutes=1))  # Monday 10:01
    queue = client.get("/safety/flags").get_data(as_text=True)
    assert 'class="badge badge-overdue">Overdue</strong>' in queue
    assert "1</strong> overdue" in queue
    assert "Overdue</strong>" in client.get(f"/safety/flags/{flag_id}").get_data(as_text=True)
    only = client.get("/safety/flags?status=overdue").get_data(as_text=True)
    assert f'href="/safety/flags/{flag_id}"' in only
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "1 flag waited more than one business day" in dashboard
    client.post(f"/safety/flags/{flag_id}", data={"status": "not_adverse_event"})
    assert "Overdue</strong>" not in client.get("/safety/flags").get_data(as_text=True)


def test_excerpts_are_escaped(app, client, officer):
    flag_id = add_flag(app, text='<script>alert("x")</script> Lantus made me dizzy '
                                 '<img src=x onerror=alert(1)>')
    for path in ("/safety/flags", f"/safety/flags/{flag_id}"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert" in html and "&lt;img src=x" in html
        assert "<mark>Lantus</mark>" in html
