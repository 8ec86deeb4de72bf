"""Configuration classes, read from the environment.

`create_app()` picks one by `APP_ENV` (development, test, production); an explicit
mapping passed to `create_app(config)` overrides any key.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'challenge.db'}")
    # How long a write waits for the database lock before the person is told to retry (503).
    DB_LOCK_TIMEOUT_SECONDS = float(os.environ.get("DB_LOCK_TIMEOUT_SECONDS", "5"))
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(INSTANCE_DIR / "uploads"))
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # Namespaces the counters in a shared Redis (another site, another test run).
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "challenge")
    RATELIMIT_ENABLED = os.environ.get("RATELIMIT_ENABLED", "1").lower() not in ("0", "false")
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_STRATEGY = "moving-window"
    LOGIN_RATE_LIMIT_IP = os.environ.get("LOGIN_RATE_LIMIT_IP", "20 per minute")
    LOGIN_RATE_LIMIT_ACCOUNT = os.environ.get("LOGIN_RATE_LIMIT_ACCOUNT", "5 per minute")
    MIN_CELL_SIZE = _int("MIN_CELL_SIZE", 11)
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")  # links in CLI messages
    MAX_FILE_MB = _int("MAX_FILE_MB", 25)
    TEAM_QUOTA_MB = _int("TEAM_QUOTA_MB", 100)
    SPONSOR_PRODUCTS = [
        p.strip() for p in os.environ.get("SPONSOR_PRODUCTS", "").split(",") if p.strip()
    ]

    # Sessions: HttpOnly and SameSite everywhere; Secure in production (below).
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    PERMANENT_SESSION_LIFETIME = timedelta(hours=_int("SESSION_ABSOLUTE_HOURS", 12))
    SESSION_IDLE_MINUTES = _int("SESSION_IDLE_MINUTES", 60)
    REMEMBER_COOKIE_HTTPONLY = True

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # the session lifetime bounds the token already
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH_MB", MAX_FILE_MB + 1) * 1024 * 1024  # 1 file

    PASSWORD_HASH_METHOD = "scrypt"
    PASSWORD_RESET_MAX_AGE = _int("PASSWORD_RESET_MAX_AGE", 3600)
    INVITE_MAX_AGE = _int("INVITE_MAX_AGE", 14 * 24 * 3600)
    INVITE_LINK_DAYS = _int("INVITE_LINK_DAYS", 7)  # team invitations (e-mail and links)
    OUTBOX_ECHO = False
    HSTS = False
    DEMO_ALLOWED = True


class DevelopmentConfig(Config):
    """Local use: SQLite file under instance/, outbox printed to the console."""

    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")
    OUTBOX_ECHO = True


class TestConfig(Config):
    """The test suite: fast password hashing, no rate limits unless a test asks."""

    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key"
    DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"


class ProductionConfig(Config):
    """Production: SECRET_KEY and DATABASE_URL must come from the environment."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    HSTS = True
    DEMO_ALLOWED = False


CONFIGS = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}
