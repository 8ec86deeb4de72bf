"""Account use cases. Services take a Session, flush, and never commit."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from challenge import audit, clock, outbox
from challenge.accounts.models import (
    ROLES,
    SELF_SERVICE_ROLES,
    ConsentRecord,
    User,
    UserRole,
    new_session_token,
)
from challenge.errors import Conflict, DomainError, NotFound, ValidationFailed
from challenge.security import password_problems

PRIVACY_NOTICE_VERSION = "2026-11"

# Hash checked when the e-mail is unknown, so a failed login costs the same either way.
_DUMMY_HASH_CACHE: dict[str, str] = {}


def normalize_email(email: str) -> str:
    """E-mail addresses are compared trimmed and lower-cased."""
    return email.strip().lower()


def _hash(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def _dummy_hash() -> str:
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _DUMMY_HASH_CACHE:
        _DUMMY_HASH_CACHE[method] = generate_password_hash("not-a-real-password", method=method)
    return _DUMMY_HASH_CACHE[method]


def email_fingerprint(email: str) -> str:
    """A keyed hash of a typed e-mail address, for the audit log of unknown accounts.

    Repeated attempts at one unknown address can be told apart from many addresses, yet
    the address itself is not stored and cannot be guessed back without the secret key.
    """
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, normalize_email(email).encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def find_user(session: Session, email: str) -> User | None:
    """The user with this e-mail, or None."""
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def create_user(
    session: Session,
    email: str,
    *,
    password: str | None,
    roles: list[str] | tuple[str, ...],
    name: str = "",
    actor: User | None = None,
) -> User:
    """Create an account; `password` None leaves it to be set through an invitation link."""
    email = normalize_email(email)
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValidationFailed([f"unknown role {r!r}; roles: {', '.join(ROLES)}" for r in unknown])
    if password is not None:
        problems = password_problems(password, email=email)
        if problems:
            raise ValidationFailed(problems)
    if find_user(session, email) is not None:
        raise Conflict("An account with this e-mail already exists.", field="email")
    user = User(
        email=email,
        name=name.strip(),
        password_hash=_hash(password) if password is not None else None,
        created_at=clock.now(),
    )
    user.role_rows = [UserRole(role=r) for r in dict.fromkeys(roles)]
    session.add(user)
    session.flush()
    audit.record(session, "user.created", actor=actor, target=f"user:{user.id}",
                 roles=sorted(user.roles))
    return user


def register(
    session: Session, *, email: str, password: str, role: str, name: str = ""
) -> User:
    """Self-service registration: only patient or entrant may be chosen."""
    if role not in SELF_SERVICE_ROLES:
        raise DomainError("Choose patient or entrant.", field="role")
    user = create_user(session, email, password=password, roles=[role], name=name, actor=None)
    session.add(ConsentRecord(user_id=user.id, subject="privacy",
                              text_version=PRIVACY_NOTICE_VERSION, given_at=clock.now()))
    return user


def authenticate(session: Session, email: str, password: str, *, ip: str | None = None):
    """The user when the credentials match, else None; both outcomes are audited.

    A failure names the account when it exists (as the target: the actor is anonymous),
    else only a keyed hash of the e-mail typed; the password typed is never recorded.
    """
    user = find_user(session, email)
    stored = user.password_hash if user is not None else None
    ok = check_password_hash(stored or _dummy_hash(), password) and stored is not None
    if not ok:
        # Whoever typed is not signed in: the actor is anonymous, the account the target.
        if user is None:
            audit.record(session, "login.failed", ip=ip, email_hash=email_fingerprint(email))
        else:
            audit.record(session, "login.failed", target=f"user:{user.id}", ip=ip)
        return None
    user.last_login_at = clock.now()
    audit.record(session, "login.succeeded", actor=user, target=f"user:{user.id}", ip=ip)
    return user


def check_password(user: User, password: str) -> bool:
    """Whether `password` is the user's current password."""
    return bool(user.password_hash) and check_password_hash(user.password_hash, password)


def end_all_sessions(user: User) -> None:
    """Rotate the session token: every cookie issued before stops working."""
    user.session_token = new_session_token()


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """Change a password after checking the current one; ends every other session."""
    if not user.password_hash or not check_password_hash(user.password_hash, current):
        raise DomainError("Your current password is not correct.", field="current_password")
    problems = password_problems(new, email=user.email)
    if problems:
        raise ValidationFailed(problems)
    user.password_hash = _hash(new)
    end_all_sessions(user)
    audit.record(session, "password.changed", actor=user, target=f"user:{user.id}")


# --- password reset and invitation links -------------------------------------------------

def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _fingerprint(user: User) -> str:
    # The link is bound to the current password hash and session token: once the password
    # is set (or sessions rotated) the fingerprint changes, so each link works only once.
    raw = f"{user.password_hash or ''}|{user.session_token}".encode()
    return hashlib.sha256(raw).hexdigest()[:20]


def make_password_token(user: User, purpose: str = "reset") -> str:
    """A signed, expiring, single-use token for setting the password of `user`."""
    return _serializer(f"password-{purpose}").dumps({"u": user.id, "f": _fingerprint(user)})


@dataclass(frozen=True)
class ResetRequest:
    """What happened to a reset request (the page shows the same message either way)."""

    sent: bool


def request_password_reset(session: Session, email: str, link_for) -> ResetRequest:
    """Queue a reset link when the account exists; callers answer identically either way."""
    user = find_user(session, email)
    if user is None:
        audit.record(session, "password.reset_requested", email_hash=email_fingerprint(email))
        return ResetRequest(sent=False)
    link = link_for(make_password_token(user))
    outbox.send(
        session, user.email, "Reset your password",
        f"Someone asked to reset the password of your account.\n\nSet a new password here "
        f"(valid for one hour, once):\n{link}\n\nIf it was not you, ignore this message.",
        kind="password-reset",
    )
    # Anyone may ask: the actor is anonymous, the account the target.
    audit.record(session, "password.reset_requested", target=f"user:{user.id}")
    return ResetRequest(sent=True)


def user_for_password_token(
    session: Session, token: str, purpose: str = "reset", max_age: int | None = None
) -> User:
    """The user a valid token was issued to; NotFound when invalid, used or expired."""
    if max_age is None:
        key = "PASSWORD_RESET_MAX_AGE" if purpose == "reset" else "INVITE_MAX_AGE"
        max_age = current_app.config[key]
    try:
        data = _serializer(f"password-{purpose}").loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise NotFound("This link has expired. Ask for a new one.") from exc
    except BadSignature as exc:
        raise NotFound("This link is not valid.") from exc
    user = session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or data.get("f") != _fingerprint(user):
        raise NotFound("This link has already been used or is no longer valid.")
    return user


def set_password_with_token(session: Session, token: str, new: str, purpose: str = "reset"):
    """Set a password through a reset or invitation link (which then stops working)."""
    user = user_for_password_token(session, token, purpose)
    problems = password_problems(new, email=user.email)
    if problems:
        raise ValidationFailed(problems)
    user.password_hash = _hash(new)
    end_all_sessions(user)
    audit.record(session, f"password.{purpose}_completed", actor=user, target=f"user:{user.id}")
    return user


# --- roles ----------------------------------------------------------------------------------

def set_roles(session: Session, user: User, roles: list[str], *, actor: User) -> None:
    """Replace a user's roles (organizers only, enforced by the view); audited."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValidationFailed([f"unknown role {r!r}" for r in unknown])
    if user.id == actor.id and "organizer" not in roles:
        raise DomainError("You cannot remove your own organizer role.")
    before = sorted(user.roles)
    wanted = set(roles)
    user.role_rows = [r for r in user.role_rows if r.role in wanted] + [
        UserRole(role=r) for r in sorted(wanted - user.roles)
    ]
    if before != sorted(wanted):
        end_all_sessions(user)  # the person logs in again and sees their new powers
        audit.record(session, "roles.changed", actor=actor, target=f"user:{user.id}",
                     before=before, after=sorted(wanted))


def list_users(session: Session, *, query: str = "", limit: int, offset: int):
    """A page of users (optionally filtered by e-mail or name) and the total count."""
    stmt = select(User)
    count = select(func.count(User.id))
    if query:
        like = f"%{query.strip().lower()}%"
        cond = func.lower(User.email).like(like) | func.lower(User.name).like(like)
        stmt, count = stmt.where(cond), count.where(cond)
    total = session.scalar(count) or 0
    rows = session.scalars(stmt.order_by(User.email).limit(limit).offset(offset))
    return list(rows), total


def load_user_for_session(session: Session, cookie_id: str) -> User | None:
    """Flask-Login's loader: `id:token`; a stale token means the session has ended."""
    user_id, _, token = cookie_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    # The roles in the same statement: every logged-in request checks them.
    user = session.get(User, int(user_id), options=[joinedload(User.role_rows)])
    if user is None or user.session_token != token:
        return None
    return user
