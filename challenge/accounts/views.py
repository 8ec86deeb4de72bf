"""Account pages: register, log in and out, reset and change passwords, dashboard."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from challenge import audit, clock, dashboard
from challenge.accounts import mydata, services
from challenge.accounts.forms import (
    ChangePasswordForm,
    ConfirmForm,
    DeleteAccountForm,
    ForgotPasswordForm,
    LoginForm,
    RegisterForm,
    SetPasswordForm,
)
from challenge.db import db_session
from challenge.errors import DomainError
from challenge.extensions import limiter, login_manager
from challenge.security import is_safe_redirect

bp = Blueprint("accounts", __name__)


@login_manager.user_loader
def _load_user(cookie_id: str):
    return services.load_user_for_session(db_session(), cookie_id)


def _account_key() -> str:
    return "account:" + services.normalize_email(request.form.get("email", ""))


def _login_failed(response) -> bool:
    # Only failed attempts count against the per-account limit (a success redirects).
    return response.status_code != 302


def _ip_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_IP"]


def _account_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"]


def _start_session(user) -> None:
    session.clear()
    login_user(user)
    stamp = clock.now().timestamp()
    session["login_at"] = stamp
    session["seen_at"] = stamp
    session.permanent = True


def _form_errors_to_field(form, exc: DomainError) -> None:
    """Show a service's error beside the field it names, or above the form."""
    field = getattr(form, exc.field, None) if exc.field else None
    problems = getattr(exc, "problems", [exc.message])
    if field is not None:
        field.errors = list(field.errors) + problems
    else:
        for problem in problems:
            flash(problem, "error")


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Create a patient or entrant account."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.dashboard"))
    form = RegisterForm()
    if form.validate_on_submit():
        dbs = db_session()
        try:
            user = services.register(dbs, email=form.email.data, password=form.password.data,
                                     role=form.role.data, name=form.name.data or "")
        except DomainError as exc:
            dbs.rollback()
            if exc.field == "email":
                # Say no more than "try logging in": do not confirm who has an account.
                exc = DomainError("You may already have an account: try logging in, or reset "
                                  "your password.", field="email")
            _form_errors_to_field(form, exc)
        else:
            dbs.commit()
            _start_session(user)
            flash("Welcome! Your account is ready.", "success")
            target = request.args.get("next")
            return redirect(target if is_safe_redirect(target) else url_for("accounts.dashboard"))
    return render_template("accounts/register.html", form=form), 200 if not form.errors else 422


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_ip_limit, methods=["POST"], deduct_when=_login_failed)
@limiter.limit(_account_limit, key_func=_account_key, methods=["POST"],
               deduct_when=_login_failed)
def login():
    """Log in with e-mail and password; the same message for every failure."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.dashboard"))
    form = LoginForm()
    if session.pop("expired", False):
        flash("Your session ended. Please log in again.", "info")
    if form.validate_on_submit():
        dbs = db_session()
        user = services.authenticate(dbs, form.email.data, form.password.data,
                                     ip=request.remote_addr)
        dbs.commit()
        if user is not None:
            _start_session(user)
            target = request.args.get("next")
            return redirect(target if is_safe_redirect(target) else url_for("accounts.dashboard"))
        form.password.errors = ["The e-mail or password is not correct."]
    status = 200 if request.method == "GET" else 401 if form.errors else 422
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    """Log out everywhere: the session token rotates, so old cookies stop working."""
    if ConfirmForm().validate_on_submit():
        dbs = db_session()
        services.end_all_sessions(current_user)
        audit.record(dbs, "logout", actor=current_user, target=f"user:{current_user.id}")
        dbs.commit()
        logout_user()
        session.clear()
        flash("You are logged out.", "success")
    return redirect(url_for("pages.home"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_ip_limit, methods=["POST"])
@limiter.limit(_account_limit, key_func=_account_key, methods=["POST"])
def forgot_password():
    """Ask for a reset link; the answer is the same whether the account exists or not."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        dbs = db_session()
        services.request_password_reset(
            dbs, form.email.data,
            lambda token: url_for("accounts.reset_password", token=token, _external=True),
        )
        dbs.commit()
        return render_template("accounts/forgot_sent.html")
    return render_template("accounts/forgot.html", form=form)


def _set_password_page(token: str, purpose: str, template: str):
    dbs = db_session()
    user = services.user_for_password_token(dbs, token, purpose)  # NotFound → 404 page
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            services.set_password_with_token(dbs, token, form.password.data, purpose)
        except DomainError as exc:
            dbs.rollback()
            _form_errors_to_field(form, DomainError(exc.message, field="password"))
        else:
            dbs.commit()
            logout_user()
            session.clear()
            flash("Your password is set. Please log in.", "success")
            return redirect(url_for("accounts.login"))
    return render_template(template, form=form, user=user)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_ip_limit, methods=["POST"])
def reset_password(token: str):
    """Set a new password from an e-mailed link (single use, expires after an hour)."""
    return _set_password_page(token, "reset", "accounts/reset.html")


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit(_ip_limit, methods=["POST"])
def accept_invite(token: str):
    """An invited judge or member sets their first password."""
    return _set_password_page(token, "invite", "accounts/invite.html")


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change the password; every session, this one included, ends."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        dbs = db_session()
        try:
            services.change_password(dbs, current_user, form.current_password.data,
                                     form.password.data)
        except DomainError as exc:
            dbs.rollback()
            _form_errors_to_field(form, exc)
        else:
            dbs.commit()
            logout_user()
            session.clear()
            flash("Your password is changed. Please log in with the new one.", "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/change_password.html", form=form)


@bp.get("/account/data")
@login_required
def my_data():
    """Download everything held about me, or delete my account."""
    return render_template("accounts/my_data.html", form=DeleteAccountForm())


@bp.get("/account/data.json")
@login_required
def my_data_download():
    """Everything the platform holds about the signed-in person, as JSON."""
    dbs = db_session()
    document = mydata.export(dbs, current_user)
    dbs.commit()
    response = jsonify(document)
    response.headers["Content-Disposition"] = "attachment; filename=my-data.json"
    return response


@bp.post("/account/delete")
@login_required
def delete_account():
    """Delete the account after the password is confirmed; every session ends."""
    form = DeleteAccountForm()
    dbs = db_session()
    if form.validate_on_submit():
        if services.check_password(current_user, form.password.data):
            mydata.delete_account(dbs, current_user)
            dbs.commit()
            logout_user()
            session.clear()
            flash("Your account and personal data are deleted.", "success")
            return redirect(url_for("pages.home"))
        form.password.errors = ["The password is not correct."]
    return render_template("accounts/my_data.html", form=form), 422


@bp.get("/dashboard", endpoint="dashboard")
@login_required
def dashboard_page():
    """The signed-in person's home: one panel per role they hold."""
    panels = dashboard.panels_for(current_user, db_session())
    return render_template("accounts/dashboard.html", panels=panels, logout_form=ConfirmForm())

