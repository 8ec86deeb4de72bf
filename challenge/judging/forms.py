"""Forms of the judging set-up (organizer pages and a judge's conflicts); CSRF on all.

Numbers are typed as text and parsed here, so a refused form shows exactly what was typed
and the services give the messages (one place for the rules).
"""

from __future__ import annotations

import math

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    Form,
    FormField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from challenge.judging import rubrics
from challenge.judging.conflicts import REASON_MAX


def strip(value):
    return value.strip() if isinstance(value, str) else value


def newlines(value):
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


def to_number(text: str | None) -> float | None:
    """A typed number (a comma as decimal point is accepted), or None."""
    try:
        value = float((text or "").strip().replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def to_whole(text: str | None) -> int | None:
    value = to_number(text)
    return int(value) if value is not None and value.is_integer() else None


class JudgingMultiCheckboxField(SelectMultipleField):
    """Several choices shown as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# --- rubric ---------------------------------------------------------------------------------

class RubricCriterionForm(Form):
    """One criterion row of the rubric editor (no CSRF of its own: the RubricForm has it)."""

    key = StringField("Key", filters=[strip], validators=[Length(max=64)],
                      description="Short and stable, such as impact (letters, digits, _).")
    name = StringField("Name", filters=[strip], validators=[Length(max=rubrics.NAME_MAX)])
    description = TextAreaField("Description for judges", filters=[newlines],
                                validators=[Length(max=rubrics.TEXT_MAX)])
    plain_description = TextAreaField(
        "Plain-language description (patient panel)", filters=[newlines],
        validators=[Length(max=rubrics.TEXT_MAX)],
        description="What patient judges read instead: everyday words, no jargon.")
    weight = StringField("Weight", filters=[strip], description="Greater than 0.")
    min = StringField("Lowest score", filters=[strip], default="1")
    max = StringField("Highest score", filters=[strip], default="5")
    levels = TextAreaField("Words for levels", filters=[newlines],
                           description="One per line or comma-separated, such as "
                                       "1=No clear benefit, 5=Transforms a daily routine.")
    guidelines = JudgingMultiCheckboxField("Guidelines this criterion cites", choices=[],
                                           validate_choice=False)
    remove = BooleanField("Remove this criterion")

    def is_blank(self) -> bool:
        return not any((self[name].data or "").strip() for name in
                       ("key", "name", "description", "plain_description", "weight",
                        "levels")) and not self.guidelines.data


class RubricForm(FlaskForm):
    criteria = FieldList(FormField(RubricCriterionForm), min_entries=0)

    def set_guidelines(self, keys: list[str]) -> None:
        for entry in self.criteria:
            entry.form.guidelines.choices = [(k, k) for k in keys]

    @classmethod
    def for_inputs(cls, items: list[rubrics.CriterionInput], blank_rows: int = 1):
        data = [{"key": i.key, "name": i.name, "description": i.description,
                 "plain_description": i.plain_description,
                 "weight": f"{i.weight:g}" if i.weight is not None else "",
                 "min": str(i.min), "max": str(i.max),
                 "levels": rubrics.format_levels(i.levels), "guidelines": i.guidelines}
                for i in items]
        data += [{"min": "1", "max": "5"} for _ in range(blank_rows)]
        return cls(formdata=None, data={"criteria": data})

    def to_inputs(self) -> tuple[list[rubrics.CriterionInput], list[int],
                                 dict[int, list[str]]]:
        """Criteria to save, the form row of each, and level-parsing problems by row.
        Blank rows and rows marked for removal are left out."""
        items: list[rubrics.CriterionInput] = []
        rows: list[int] = []
        level_problems: dict[int, list[str]] = {}
        for row, entry in enumerate(self.criteria):
            f = entry.form
            if f.remove.data or f.is_blank():
                continue
            levels, problem = rubrics.parse_levels(f.levels.data or "")
            if problem:
                level_problems[row] = [problem[0].upper() + problem[1:] + "."]
            items.append(rubrics.CriterionInput(
                key=f.key.data or "", name=f.name.data or "",
                weight=to_number(f.weight.data), min=to_whole(f.min.data),
                max=to_whole(f.max.data), description=f.description.data or "",
                plain_description=f.plain_description.data or "", levels=levels,
                guidelines=list(f.guidelines.data or [])))
            rows.append(row)
        return items, rows, level_problems


# --- judges and panels ----------------------------------------------------------------------

class JudgeInviteForm(FlaskForm):
    email = EmailField("E-mail address", filters=[strip], validators=[
        DataRequired(message="Enter the judge's e-mail address."),
        Email(check_deliverability=False, message="Enter an e-mail address like "
                                                  "name@example.org."),
        Length(max=320)])
    name = StringField("Name (optional)", filters=[strip], validators=[Optional(),
                                                                      Length(max=120)],
                       description="Used when a new account is created.")
    panel = SelectField("Panel", choices=[])


class JudgePanelForm(FlaskForm):
    panel = SelectField("Panel", choices=[])


class PanelForm(FlaskForm):
    name = StringField("Panel name", filters=[strip], validators=[Length(max=40)],
                       description="Lower-case, such as expert or patient.")
    weight = StringField("Weight in the final score", filters=[strip],
                         description="Greater than 0; panels' scores are weight-averaged.")


# --- conflicts ------------------------------------------------------------------------------

class ConflictForm(FlaskForm):
    """An organizer records a conflict for a judge."""

    user_id = SelectField("Judge", coerce=int, choices=[])
    team_id = SelectField("Team", coerce=int, choices=[])
    reason = StringField("Reason (optional)", filters=[strip],
                         validators=[Optional(), Length(max=REASON_MAX)],
                         description="Seen by organizers only, never by the team.")


class JudgeConflictForm(FlaskForm):
    """A judge declares a conflict with a team."""

    team_id = SelectField("Team", coerce=int, choices=[])
    reason = StringField("Reason (optional)", filters=[strip],
                         validators=[Optional(), Length(max=REASON_MAX)],
                         description="For example: a friend, a colleague, my employer. Only "
                                     "the organizers read it; the team never sees it.")


# --- assignments ----------------------------------------------------------------------------

class AssignmentOverrideForm(FlaskForm):
    user_id = SelectField("Judge", coerce=int, choices=[])
    submission_id = SelectField("Entry", coerce=int, choices=[])


class JudgingActionForm(FlaskForm):
    """A bare POST (CSRF only): assign, remove, sync."""
