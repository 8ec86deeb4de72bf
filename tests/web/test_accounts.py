"""Registration, login, logout, password reset and change, through the real pages."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from challenge import clock
from challenge.accounts.models import ConsentRecord, User
from challenge.audit import AuditEvent
from challenge.outbox import OutboxMessage
from tests.conftest import PASSWORD, login

GOOD = {
    "name": "Rosa",
    "email": "rosa@example.org",
    "password": PASSWORD,
    "confirm": PASSWORD,
    "role": "patient",
    "accept": "y",
}


def test_register_creates_patient_records_consent_and_logs_in(client, session):
    response = client.post("/register", data=GOOD)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard")
    user = session.scalar(select(User).where(User.email == "rosa@example.org"))
    assert user.roles == {"patient"}
    assert user.password_hash and PASSWORD not in user.password_hash
    consent = session.scalar(select(ConsentRecord).where(ConsentRecord.user_id == user.id))
    assert consent.subject == "privacy"
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert b"Your surveys" in page.data


def test_register_refuses_privileged_role_even_if_posted(client, session):
    response = client.post("/register", data={**GOOD, "role": "organizer"})
    assert response.status_code == 422
    assert session.scalar(select(func.count(User.id))) == 0


def test_invalid_registration_keeps_what_was_typed_and_shows_errors(client, session):
    response = client.post(
        "/register", data={**GOOD, "password": "password1", "confirm": "nope", "accept": ""}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="rosa@example.org"' in html
    assert 'value="Rosa"' in html
    assert "too common" in html
    assert "The passwords do not match." in html
    assert "privacy notice" in html
    assert 'aria-invalid="true"' in html
    assert session.scalar(select(func.count(User.id))) == 0


def test_duplicate_email_does_not_reveal_more_than_try_logging_in(client, make_user):
    make_user("rosa@example.org", "patient")
    response = client.post("/register", data={**GOOD, "email": "ROSA@example.org "})
    assert response.status_code == 422
    assert b"try logging in" in response.data


def test_login_wrong_password_and_unknown_email_look_identical(client, make_user):
    make_user("lee@example.org", "entrant")
    wrong = login(client, "lee@example.org", "not the password")
    unknown = login(client, "nobody@example.org", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda r: re.sub(r'value="[^"]*"', "", r.get_data(as_text=True))  # noqa: E731
    assert strip(wrong) == strip(unknown)


def test_login_redirects_only_to_local_next(client, make_user):
    make_user("lee@example.org", "entrant")
    evil = client.post("/login?next=//evil.example/x",
                       data={"email": "lee@example.org", "password": PASSWORD})
    assert evil.headers["Location"].endswith("/dashboard")
    client.post("/logout")


def test_login_audited_success_and_failure(client, make_user, session):
    make_user("lee@example.org", "entrant")
    login(client, "lee@example.org", "wrong password!")
    login(client, "lee@example.org")
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["login.failed", "login.succeeded"]


def test_logout_ends_every_session_and_replayed_cookie_fails(app, make_user):
    make_user("lee@example.org", "entrant")
    first, second = app.test_client(), app.test_client()
    login(first, "lee@example.org")
    login(second, "lee@example.org")
    stolen = first.get_cookie("session").value
    assert first.get("/dashboard").status_code == 200
    assert first.post("/logout").status_code == 302
    assert first.get("/dashboard").status_code == 302
    assert second.get("/dashboard").status_code == 302  # the other device is logged out too
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/dashboard").status_code == 302


def test_password_reset_flow_single_use(client, make_user, session):
    make_user("lee@example.org", "entrant")
    response = client.post("/password/forgot", data={"email": "lee@example.org"})
    unknown = client.post("/password/forgot", data={"email": "nobody@example.org"})
    assert response.data == unknown.data  # same answer whether the account exists or not
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.to == "lee@example.org"))
    link = re.search(r"http://localhost(/password/reset/\S+)", message.body).group(1)
    assert client.get(link).status_code == 200
    new = "a brand new passphrase"
    weak = client.post(link, data={"password": "12345678", "confirm": "12345678"})
    assert weak.status_code == 200 and b"too common" in weak.data
    done = client.post(link, data={"password": new, "confirm": new})
    assert done.status_code == 302
    assert client.get(link).status_code == 404  # used once
    assert login(client, "lee@example.org", new).status_code == 302


def test_password_reset_link_expires(client, make_user, session):
    from datetime import timedelta

    make_user("lee@example.org", "entrant")
    client.post("/password/forgot", data={"email": "lee@example.org"})
    body = session.scalar(select(OutboxMessage.body))
    link = re.search(r"http://localhost(/password/reset/\S+)", body).group(1)
    import itsdangerous.timed

    real = itsdangerous.timed.time.time
    itsdangerous.timed.time.time = lambda: real() + 3601
    try:
        assert client.get(link).status_code == 404
    finally:
        itsdangerous.timed.time.time = real
    assert client.get("/password/reset/garbage").status_code == 404
    assert clock.now()  # clock untouched
    assert timedelta(hours=1)


def test_change_password_requires_current_and_ends_sessions(app, client, make_user):
    make_user("lee@example.org", "entrant")
    other = app.test_client()
    login(client, "lee@example.org")
    login(other, "lee@example.org")
    bad = client.post("/account/password", data={
        "current_password": "wrong one!", "password": "another good phrase",
        "confirm": "another good phrase"})
    assert bad.status_code == 200 and b"current password is not correct" in bad.data
    ok = client.post("/account/password", data={
        "current_password": PASSWORD, "password": "another good phrase",
        "confirm": "another good phrase"})
    assert ok.status_code == 302
    assert other.get("/dashboard").status_code == 302
    assert login(client, "lee@example.org", "another good phrase").status_code == 302


def test_idle_and_absolute_session_timeouts(app, client, make_user):
    from datetime import UTC, datetime, timedelta

    make_user("lee@example.org", "entrant")
    start = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
    clock.freeze(start)
    login(client, "lee@example.org")
    clock.advance(timedelta(minutes=30))
    assert client.get("/dashboard").status_code == 200
    clock.advance(timedelta(minutes=61))
    assert client.get("/dashboard").status_code == 302  # idle too long
    login(client, "lee@example.org")
    for _ in range(14):  # active every 55 minutes, but 12 hours is the absolute limit
        clock.advance(timedelta(minutes=55))
        client.get("/")
    assert client.get("/dashboard").status_code == 302


def test_register_returns_to_a_safe_next_page(client):
    response = client.post("/register?next=/surveys", data=GOOD)
    assert response.headers["Location"].endswith("/surveys")
    client.post("/logout")
    evil = client.post("/register?next=https://evil.example/",
                       data={**GOOD, "email": "other@example.org"})
    assert evil.headers["Location"].endswith("/dashboard")
