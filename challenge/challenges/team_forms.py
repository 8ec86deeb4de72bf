"""Team forms (Flask-WTF: CSRF on every one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from challenge.challenges.teams import MESSAGE_MAX, NAME_MAX


def strip(value):
    """Trim surrounding whitespace from typed text."""
    return value.strip() if isinstance(value, str) else value


class TeamForm(FlaskForm):
    name = StringField(
        "Team name",
        filters=[strip],
        description="Unique in this challenge. You can invite people once the team exists.",
        validators=[DataRequired(message="Give the team a name."), Length(max=NAME_MAX)],
    )
    submit = SubmitField("Create the team")


class InviteEmailForm(FlaskForm):
    email = EmailField(
        "E-mail address",
        filters=[strip],
        description="They get a link that works once, for this address only.",
        validators=[DataRequired(message="Enter the address to invite."),
                    Email(check_deliverability=False,
                          message="Enter an e-mail address like name@example.org."),
                    Length(max=320)],
    )
    submit = SubmitField("Send the invitation")


class JoinRequestForm(FlaskForm):
    message = TextAreaField(
        "A message for the captain (optional)",
        filters=[strip],
        description="Say what you would bring to the team. Only the captain reads it.",
        validators=[Optional(), Length(max=MESSAGE_MAX)],
    )
    submit = SubmitField("Ask to join")


class InviteLinkForm(FlaskForm):
    link = StringField(
        "Invitation link",
        filters=[strip],
        description="Paste the link the captain shared with you.",
        validators=[DataRequired(message="Paste the invitation link."), Length(max=500)],
    )
    submit = SubmitField("Open the invitation")


class ActionForm(FlaskForm):
    """A POST button with CSRF only (join, revoke, accept, remove, leave...)."""

    submit = SubmitField("Confirm")
