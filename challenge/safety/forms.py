"""Safety queue forms (Flask-WTF: CSRF on every one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from challenge.safety.models import STATUS_LABELS
from challenge.safety.services import NOTE_MAX


def strip(value):
    """Trim surrounding whitespace from typed text."""
    return value.strip() if isinstance(value, str) else value


class StatusForm(FlaskForm):
    """Move a flag to its next status; the choices are set per flag by the view.

    Choices are not validated here: a status the flag cannot take is refused by the
    service with a message naming the statuses it can take.
    """

    expected_status = HiddenField()
    status = RadioField(
        "New status",
        choices=[],
        validate_choice=False,
        validators=[InputRequired(message="Choose the new status.")],
    )
    note = TextAreaField(
        "Note (optional)",
        filters=[strip],
        description="Why you decided this, or where you forwarded it (for example the "
                    "pharmacovigilance case number). Do not copy the patient's text here.",
        validators=[Optional(), Length(max=NOTE_MAX)],
    )
    submit = SubmitField("Save status")

    def set_choices(self, statuses) -> None:
        """Offer `statuses` (the flag's allowed transitions), with their labels."""
        self.status.choices = [(s, STATUS_LABELS.get(s, s)) for s in statuses]
