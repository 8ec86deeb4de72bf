"""Account forms (Flask-WTF: CSRF on every one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    RadioField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from challenge.accounts.models import ROLE_LABELS, ROLES
from challenge.security import PASSWORD_MAX, password_problems


def strip(value):
    """Trim surrounding whitespace from typed text."""
    return value.strip() if isinstance(value, str) else value


class StrongPassword:
    """WTForms validator wrapping the platform's password policy."""

    def __call__(self, form, field) -> None:
        email = form.email.data if hasattr(form, "email") else None
        problems = password_problems(field.data or "", email=email)
        if problems:
            raise ValidationError(" ".join(problems))


class LoginForm(FlaskForm):
    email = EmailField("E-mail", filters=[strip], validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=PASSWORD_MAX)])
    submit = SubmitField("Log in")


class RegisterForm(FlaskForm):
    name = StringField("Your name (optional)", validators=[Optional(), Length(max=120)])
    email = EmailField(
        "E-mail",
        filters=[strip],
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=320)],
    )
    password = PasswordField(
        "Password",
        description="At least 8 characters. A few unrelated words make a strong password.",
        validators=[DataRequired(), StrongPassword()],
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
    )
    role = RadioField(
        "I am joining as",
        choices=[
            SelectChoice("patient", "A person living with a condition, or a carer: I want to "
                                    "share my experience in surveys"),
            SelectChoice("entrant", "An innovator: I want to join a team and submit a project"),
        ],
        validators=[DataRequired(message="Choose how you are joining.")],
    )
    accept = BooleanField(
        "I have read the privacy notice",
        validators=[DataRequired(message="Please confirm you have read the privacy notice.")],
    )
    submit = SubmitField("Create my account")


class ForgotPasswordForm(FlaskForm):
    email = EmailField("E-mail", filters=[strip], validators=[DataRequired(), Length(max=320)])
    submit = SubmitField("Send me a reset link")


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), StrongPassword()])
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
    )
    submit = SubmitField("Set password")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    password = PasswordField("New password", validators=[DataRequired(), StrongPassword()])
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
    )
    submit = SubmitField("Change password")


class RolesForm(FlaskForm):
    roles = SelectMultipleField(
        "Roles",
        choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    submit = SubmitField("Save roles")


class ConfirmForm(FlaskForm):
    """An empty form: a POST button with CSRF (logout, confirmations)."""

    submit = SubmitField("Confirm")


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Your password, to confirm", validators=[DataRequired()])
    confirm = BooleanField(
        "I understand this cannot be undone",
        validators=[DataRequired(message="Please tick to confirm.")],
    )
    submit = SubmitField("Delete my account")
