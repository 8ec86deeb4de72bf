"""Security baseline: headers, CSRF, roles, error pages, rate limits."""

from __future__ import annotations

import pytest

from challenge import create_app
from tests.conftest import PASSWORD, csrf_token_from, login


def test_security_headers_on_every_response(client):
    for path in ("/", "/login", "/no-such-page"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"]
        assert "Strict-Transport-Security" not in headers  # only in production


def test_session_cookie_flags(client, make_user):
    make_user("lee@example.org", "entrant")
    response = login(client, "lee@example.org")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_requires_secret_and_sets_hsts(monkeypatch, database_url):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"APP_ENV": "production", "SECRET_KEY": None, "DATABASE_URL": database_url})
    prod = create_app({"APP_ENV": "production", "SECRET_KEY": "x" * 32,
                       "DATABASE_URL": database_url})
    response = prod.test_client().get("/")
    assert "max-age" in response.headers["Strict-Transport-Security"]
    assert prod.config["SESSION_COOKIE_SECURE"] is True
    prod.extensions["db_engine"].dispose()


def test_unknown_route_404_anonymous_redirect_wrong_role_403(client, make_user):
    assert client.get("/nowhere").status_code == 404
    assert b"could not find" in client.get("/nowhere").data
    anonymous = client.get("/admin/users")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    make_user("pat@example.org", "patient")
    login(client, "pat@example.org")
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/users/1/roles").status_code == 403


def test_logout_is_post_only(client):
    assert client.get("/logout").status_code == 405


@pytest.fixture
def csrf_app(app_config):
    app_config["WTF_CSRF_ENABLED"] = True
    application = create_app(app_config)
    yield application
    application.extensions["db_engine"].dispose()


def test_csrf_is_enforced_on_forms(csrf_app, make_user):
    client = csrf_app.test_client()
    refused = client.post("/login", data={"email": "a@example.org", "password": "x" * 10})
    assert refused.status_code == 400
    assert b"expired" in refused.data
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    accepted = client.post("/login", data={"email": "a@example.org", "password": "x" * 10,
                                           "csrf_token": token})
    assert accepted.status_code == 401  # reached the credential check


def test_login_rate_limited_per_account(app_config, make_user):
    app_config.update(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT_ACCOUNT="3 per minute",
                      LOGIN_RATE_LIMIT_IP="100 per minute")
    application = create_app(app_config)
    client = application.test_client()
    with application.app_context():
        from challenge.accounts import services
        from challenge.db import session_scope

        with session_scope(application) as s:
            services.create_user(s, "lee@example.org", password=PASSWORD, roles=["entrant"])
    for _ in range(3):
        assert login(client, "lee@example.org", "wrong password!").status_code == 401
    blocked = login(client, "lee@example.org", PASSWORD)
    assert blocked.status_code == 429
    assert b"Too many attempts" in blocked.data
    # another account from the same address is not blocked by this account's limit
    assert login(client, "other@example.org", "wrong password!").status_code == 401
    application.extensions["db_engine"].dispose()


def test_organizer_changes_roles_audited_and_cannot_drop_own(client, make_user, session):
    from sqlalchemy import select

    from challenge.audit import AuditEvent

    make_user("org@example.org", "organizer")
    lee = make_user("lee@example.org", "entrant")
    login(client, "org@example.org")
    page = client.get("/admin/users")
    assert b"lee@example.org" in page.data
    response = client.post(f"/admin/users/{lee.id}/roles", data={"roles": ["entrant", "judge"]})
    assert response.status_code == 302
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "roles.changed"))
    assert event.details == {"before": ["entrant"], "after": ["entrant", "judge"]}
    me = session.scalar(select(AuditEvent.actor_id).where(AuditEvent.action == "roles.changed"))
    own = client.post(f"/admin/users/{me}/roles", data={"roles": ["judge"]})
    assert own.status_code == 200 and b"cannot remove your own organizer role" in own.data
    bogus = client.post(f"/admin/users/{lee.id}/roles", data={"roles": ["emperor"]})
    assert bogus.status_code == 200 and b"not a valid choice" in bogus.data
    assert client.get("/admin/users/99999/roles").status_code == 404


def test_organizer_pages_paginate_and_have_empty_states(client, make_user):
    make_user("org@example.org", "organizer")
    for i in range(30):
        make_user(f"p{i:02d}@example.org", "patient")
    login(client, "org@example.org")
    first = client.get("/admin/users").get_data(as_text=True)
    assert "Page 1 of 2" in first
    second = client.get("/admin/users?page=2").get_data(as_text=True)
    assert "p29@example.org" in second and "p00@example.org" not in second
    assert "No one matches" in client.get("/admin/users?q=zzz").get_data(as_text=True)
    assert client.get("/admin/users?page=-5&per_page=100000").status_code == 200
    assert client.get("/admin/outbox").status_code == 200
    audit = client.get("/admin/audit?action=login.succeeded").get_data(as_text=True)
    assert "login.succeeded" in audit


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}
