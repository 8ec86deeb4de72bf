"""Organizer forms for building surveys (Flask-WTF: CSRF on every one).

The forms check only what a form can know (a number is a number, a length fits its
column); the survey rules themselves are checked by `surveys.definition` through
`surveys.admin_services`, whose messages are placed back on these fields.
"""

from __future__ import annotations

from datetime import UTC

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from surveys.admin_services import (
    TYPE_LABELS,
    ConditionGroup,
    QuestionData,
    SurveySettings,
)
from surveys.models import QUESTION_TYPES

# datetime-local inputs need the "T" form to show a stored value.
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                    "%Y-%m-%d %H:%M:%S"]
NO_CONDITION = ""


def strip(value):
    """Trim surrounding whitespace from typed text."""
    return value.strip() if isinstance(value, str) else value


def newlines(value):
    """Browsers send textarea line breaks as CRLF; store them as LF like imported texts."""
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


def strip_lower(value):
    """Trim and lower-case (addresses and keys are lower-case)."""
    return value.strip().lower() if isinstance(value, str) else value


def _utc_field(label: str, description: str) -> DateTimeLocalField:
    return DateTimeLocalField(
        label, format=DATETIME_FORMATS, tz=UTC, validators=[Optional()],
        description=description,
        invalid_value_message="Enter a date and time, for example 2027-01-10 09:00.",
    )


class SurveySettingsForm(FlaskForm):
    """A survey's settings: what respondents read before they start, and its privacy."""

    title = StringField("Title", filters=[strip], validators=[
        DataRequired(message="Give the survey a title."), Length(max=200)])
    slug = StringField(
        "Web address", filters=[strip_lower], validators=[Optional(), Length(max=80)],
        description="The survey's address: /s/<this part>. Lower-case letters, digits and "
                    "hyphens, for example daily-life-2027. Leave empty to make one from the "
                    "title. It cannot change once someone has answered.",
    )
    intro = TextAreaField(
        "Introduction (Markdown)", filters=[newlines], validators=[Length(max=20000)],
        description="Shown on the survey's first page, before consent: why this survey, "
                    "how long it takes.")
    sponsor_disclosure = TextAreaField(
        "Who runs and funds this survey (Markdown)", filters=[newlines],
        validators=[Length(max=20000)],
        description="Name every sponsor and their interest, for example a company that makes "
                    "diabetes products.")
    usage = TextAreaField(
        "How answers are used (Markdown)", filters=[newlines], validators=[Length(max=20000)],
        description="What happens to the answers, who sees them, how long they are kept.")
    consent_text = TextAreaField(
        "Consent text (Markdown)", filters=[newlines, strip],
        validators=[DataRequired(message="Respondents must have a text to agree to."),
                    Length(max=20000)],
        description="Each respondent agrees to this text before starting. Changing it after "
                    "people have answered starts a new consent version.")
    anonymous = BooleanField(
        "Anonymous: answers are stored without any link to the person",
        description="Untick to link answers to accounts (respondents must log in and can "
                    "then see or delete their answers). Cannot change once someone has "
                    "answered.")
    opens_at = _utc_field(
        "Opens at, in UTC (optional)",
        "A date and time in UTC, not your local time. Leave empty to accept answers as soon "
        "as the survey is open.")
    closes_at = _utc_field(
        "Closes at, in UTC (optional)",
        "A date and time in UTC, not your local time. After it no one can answer or submit, "
        "even while the survey is open.")
    min_cell_size = IntegerField(
        "Minimum group size", default=11,
        validators=[InputRequired(message="Enter a whole number from 3 to 1000."),
                    NumberRange(min=3, max=1000,
                                message="Enter a whole number from 3 to 1000.")],
        description="No figure about fewer people than this is shown in any report or "
                    "publication. 11 is the usual choice.")
    submit = SubmitField("Save settings")

    def to_settings(self) -> SurveySettings:
        return SurveySettings(
            title=self.title.data or "", slug=self.slug.data or "",
            intro=self.intro.data or "", sponsor_disclosure=self.sponsor_disclosure.data or "",
            usage=self.usage.data or "", consent_text=self.consent_text.data or "",
            anonymous=bool(self.anonymous.data), min_cell_size=self.min_cell_size.data,
            opens_at=self.opens_at.data, closes_at=self.closes_at.data,
        )


class NumberText:
    """A text field that must hold a number (kept as typed, converted by `to_number`)."""

    message = "Enter a number, for example 5 or 2.5."

    def __call__(self, form, field) -> None:
        if field.data and to_number(field.data) is None:
            raise ValidationError(self.message)


def to_number(text: str | None) -> int | float | None:
    """'5' → 5, '2,5' → 2.5, '' → None; None also for text that is not a finite number."""
    if text is None or not text.strip():
        return None
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return int(value) if value.is_integer() else value


def _number_text(value) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def options_text(options: list[dict[str, str]]) -> str:
    """Options as the textarea shows them: one per line, value|label."""
    lines = []
    for option in options or []:
        value, label = option["value"], option.get("label", option["value"])
        lines.append(value if label == value else f"{value}|{label}")
    return "\n".join(lines)


def parse_options(text: str | None) -> list[dict[str, str]]:
    """Textarea lines → options; 'value|label', or one text used for both. Blank lines are
    skipped; everything else is passed on, so the survey rules can name what is wrong."""
    options = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        value, bar, label = line.partition("|")
        value, label = value.strip(), label.strip()
        options.append({"value": value, "label": label if bar else value})
    return options


def condition_value(key: str, equals: str) -> str:
    """The select value standing for show_if {key, equals} (keys never contain ':')."""
    return f"{key}:{equals}"


class QuestionForm(FlaskForm):
    """One question, for every type; fields a type does not use stay empty."""

    text = TextAreaField("Question", filters=[newlines, strip], validators=[
        DataRequired(message="Write the question."), Length(max=1000)],
        render_kw={"rows": 3})
    type = SelectField("Type", choices=[SelectChoice(t, TYPE_LABELS[t]) for t in QUESTION_TYPES],
                       default="single")
    key = StringField(
        "Key (optional)", filters=[strip_lower], validators=[Optional(), Length(max=64)],
        description="A short, stable name used in exports, imports and reports: lower-case "
                    "letters, digits and _, starting with a letter (for example dtype). Leave "
                    "empty to make one from the question. It cannot change once the question "
                    "has answers.")
    help = TextAreaField("Help text (optional)", filters=[newlines, strip],
                         validators=[Length(max=2000)], render_kw={"rows": 2},
                         description="Shown under the question, for example what a term means.")
    section = StringField(
        "Section (optional)", filters=[strip], validators=[Length(max=120)],
        description="Questions next to each other with the same section share a page, under "
                    "this heading. Without sections, each page holds 4 questions.")
    required = BooleanField("Required: respondents must answer this question")
    show_if = SelectField(
        "Show only to people who answered (optional)", choices=[], validate_choice=False,
        description="Ask this question only after a given answer to an earlier single- or "
                    "multiple-choice question.")
    options = TextAreaField(
        "Options (single and multiple choice)", validators=[Length(max=20000)],
        render_kw={"rows": 6},
        description="One option per line, written value|label, for example t1|Type 1. The "
                    "value is what exports and reports use (no ';'); the label is what "
                    "respondents read. A line without | uses the same text for both. Leave "
                    "empty for other types.")
    segment = BooleanField(
        "Segment: also report results for each option separately (single choice only)")
    min_value = StringField(
        "Lowest value (scale and number)", filters=[strip],
        validators=[NumberText(), Length(max=20)], render_kw={"inputmode": "decimal"},
        description="Scale: a whole number from 0, default 1. Number: leave empty for no limit.")
    max_value = StringField(
        "Highest value (scale and number)", filters=[strip],
        validators=[NumberText(), Length(max=20)], render_kw={"inputmode": "decimal"},
        description="Scale: a whole number up to 10, default 5. Number: leave empty for no "
                    "limit.")
    min_label = StringField("Words at the lowest point (scale only)", filters=[strip],
                            validators=[Length(max=80)],
                            description="Default: “Not at all”.")
    max_label = StringField("Words at the highest point (scale only)", filters=[strip],
                            validators=[Length(max=80)],
                            description="Default: “Extremely”.")
    category = StringField(
        "Category (need only)", filters=[strip], validators=[Length(max=64)],
        description="Groups needs in reports, for example activity, sleep or food.")
    submit = SubmitField("Save question")

    def set_conditions(self, groups: list[ConditionGroup], current: dict | None = None) -> None:
        """Offer each option of the earlier choice questions as a condition. The current
        condition stays selectable even if it is no longer valid, so it is never dropped
        unseen (the survey rules then say what is wrong with it)."""
        choices = [SelectChoice(NO_CONDITION, "Everyone (no condition)")]
        for group in groups:
            label = f"{group.key}: {_shorten(group.text)}"
            choices += [SelectChoice(condition_value(group.key, value), f"{value}: {text}",
                                     optgroup=label) for value, text in group.options]
        known = {c.value for c in choices}
        if current:
            value = condition_value(current.get("key", ""), current.get("equals", ""))
            if value not in known:
                choices.append(SelectChoice(value, f"{current.get('key')} is "
                                                   f"{current.get('equals')} (current)"))
        self.show_if.choices = choices

    @classmethod
    def for_question(cls, data: QuestionData) -> QuestionForm:
        """A form filled from a stored question."""
        show_if = condition_value(data.show_if["key"], data.show_if["equals"]) if (
            data.show_if) else NO_CONDITION
        return cls(data={
            "text": data.text, "type": data.type, "key": data.key, "help": data.help,
            "section": data.section, "required": data.required, "show_if": show_if,
            "options": options_text(data.options), "segment": data.segment,
            "min_value": _number_text(data.min), "max_value": _number_text(data.max),
            "min_label": data.min_label, "max_label": data.max_label,
            "category": data.category,
        })

    def to_question(self) -> QuestionData:
        show_if = None
        if self.show_if.data:
            key, _, equals = self.show_if.data.partition(":")
            show_if = {"key": key, "equals": equals}
        return QuestionData(
            text=self.text.data or "", type=self.type.data, key=self.key.data or "",
            help=self.help.data or "", section=self.section.data or "",
            category=self.category.data or "", options=parse_options(self.options.data),
            required=bool(self.required.data), segment=bool(self.segment.data),
            show_if=show_if, min=to_number(self.min_value.data),
            max=to_number(self.max_value.data), min_label=self.min_label.data or "",
            max_label=self.max_label.data or "",
        )


def _shorten(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class GuidelineItemForm(Form):
    """One guideline item in the draft editor (a sub-form: the outer form carries CSRF)."""

    key = HiddenField()
    title = StringField("Guideline", validators=[DataRequired(), Length(max=300)])
    body = TextAreaField("What entrants should know (Markdown)", validators=[Length(max=5000)])
    remove = BooleanField("Leave this need out")


class GuidelineDocumentForm(FlaskForm):
    """The draft guideline document: title, introduction and its items."""

    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    intro = TextAreaField("Introduction (Markdown)", validators=[Length(max=10000)])
    items = FieldList(FormField(GuidelineItemForm))
