"""The Flask application factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from config import CONFIGS, INSTANCE_DIR

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; `config` (a mapping) overrides the environment's Config class."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(INSTANCE_DIR),
    )
    env_name = (config or {}).get("APP_ENV") or os.environ.get("APP_ENV", "development")
    if env_name not in CONFIGS:
        raise RuntimeError(f"APP_ENV must be one of {', '.join(CONFIGS)}, not {env_name!r}")
    app.config.from_object(CONFIGS[env_name])
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY must be set in the environment (production requires it).")
    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        Path(app.config["DATABASE_URL"][len("sqlite:///"):]).parent.mkdir(
            parents=True, exist_ok=True
        )

    from challenge import (
        db,
        errorpages,
        extensions,
        idempotency,
        logredact,
        security,
        templating,
    )

    db.init_app(app)
    idempotency.init_app(app)
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)
    extensions.login_manager.init_app(app)
    security.init_app(app)
    templating.init_app(app)
    errorpages.init_app(app)
    logredact.init_app(app)

    from challenge import cli, pages
    from challenge.accounts import views as accounts_views
    from challenge.accounts.admin import bp as admin_bp
    from challenge.accounts.panels import register_core_panels
    from challenge.challenges import admin_views as challenge_admin_views
    from challenge.challenges import submission_views, team_views
    from challenge.challenges import views as challenge_views
    from challenge.challenges.bundle import register_import_step
    from challenge.judging import admin_views as judging_admin_views
    from challenge.judging import judge_setup_views, judge_views, results_views
    from challenge.judging import panels as judging_panels
    from challenge.judging.setup import sync_from_challenge
    from challenge.safety import views as safety_views
    from challenge.safety.panels import register_safety_panels
    from surveys import admin_views as survey_admin_views
    from surveys import guideline_views, insights_views
    from surveys import personal as survey_personal
    from surveys import views as survey_views
    from surveys.panels import register_survey_admin_panels

    app.register_blueprint(pages.bp)
    app.register_blueprint(accounts_views.bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(survey_views.bp)
    app.register_blueprint(survey_admin_views.bp)
    app.register_blueprint(guideline_views.bp)
    app.register_blueprint(insights_views.bp)
    app.register_blueprint(safety_views.bp)
    app.register_blueprint(challenge_views.bp)
    app.register_blueprint(challenge_admin_views.bp)
    app.register_blueprint(team_views.bp)
    app.register_blueprint(submission_views.bp)
    app.register_blueprint(judging_admin_views.bp)
    app.register_blueprint(judge_setup_views.bp)
    app.register_blueprint(judge_views.bp)
    register_core_panels(app)
    register_survey_admin_panels(app)
    survey_personal.init_app(app)
    register_safety_panels(app)
    team_views.register_team_panels(app)
    results_views.init_app(app)
    judging_panels.init_app(app)
    register_import_step(app, sync_from_challenge)
    cli.init_app(app)
    return app
