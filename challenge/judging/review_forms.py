"""The scoring form: one field per rubric criterion, the two comments, two buttons.

The criteria differ per challenge, so the form class is built per rubric (`review_form`).
A whole-number scale of up to 11 steps is a set of radio buttons; a wider scale is a
number input. Score fields are named ``score_<criterion key>``; the view reads every
posted ``score_*`` name, so a tampered key reaches the service and is refused there.

The form checks what a form can know (CSRF, comment length, a radio value that is one of
the levels shown); the scores' rules (numbers within the scale, all criteria to submit)
are checked by `challenge.judging.reviews`, whose messages are put back on these fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, ValidationError
from wtforms.widgets import NumberInput

from challenge.judging.reviews import COMMENT_MAX, CriterionView, format_score

SCORE_PREFIX = "score_"


def newlines(value):
    """Browsers send textarea line breaks as CRLF; store LF."""
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


def field_name(key: str) -> str:
    """The form field of a criterion."""
    return SCORE_PREFIX + key


class ReviewForm(FlaskForm):
    """The fixed part of the scoring form (score fields are added per rubric)."""

    comment_to_organizers = TextAreaField(
        "Comment to the organizers", filters=[newlines],
        validators=[Length(max=COMMENT_MAX)],
        description="Optional. Only organizers read this: reasons for your scores, doubts, "
                    "anything they should know.")
    feedback_to_team = TextAreaField(
        "Feedback to the team", filters=[newlines], validators=[Length(max=COMMENT_MAX)],
        description="Optional. The team may read this if the organizers release feedback "
                    "after the results; write it for them.")
    save_draft = SubmitField("Save draft")
    submit_review = SubmitField("Submit review")

    criteria: Sequence[CriterionView] = ()

    def score_fields(self) -> list[tuple[CriterionView, object]]:
        """(criterion, bound field) pairs, in rubric order."""
        return [(c, self[field_name(c.key)]) for c in self.criteria]

    @property
    def submitting(self) -> bool:
        """True when "Submit review" was pressed (else the draft button, or Enter)."""
        return bool(self.submit_review.data)

    def add_score_errors(self, fields: Mapping[str, list[str]]) -> list[str]:
        """Put service messages on their score / comment fields; return the rest."""
        rest = []
        names = {c.key: c.name for c in self.criteria}
        for key, messages in fields.items():
            name = key if key in ("comment_to_organizers", "feedback_to_team") else \
                field_name(key)
            if name not in self._fields:
                rest.extend(messages)
                continue
            # Beside its field a message need not repeat the criterion's name.
            prefix = f"{names[key]}: " if key in names else ""
            shown = [_capitalized(m[len(prefix):]) if prefix and m.startswith(prefix) else m
                     for m in messages]
            self[name].errors = list(self[name].errors) + shown
        return rest


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _one_of(choices: Iterable[int]):
    allowed = {str(v) for v in choices}

    def check(_form, field) -> None:
        if field.data not in (None, "") and str(field.data) not in allowed:
            raise ValidationError("Choose one of the levels shown.")

    return check


def _radio_label(criterion: CriterionView, value: int) -> str:
    word = criterion.level_word(value)
    return f"{value} – {word}" if word else str(value)


def review_form(criteria: Sequence[CriterionView], *, values: Mapping[str, str] | None = None,
                review=None, formdata=None, posted: bool = False) -> ReviewForm:
    """The scoring form for these criteria.

    `posted`: bind to the request's form data (POST). Otherwise prefilled from `values`
    (criterion key -> typed score) and the review's comments.
    """
    class _Form(ReviewForm):
        pass

    _Form.criteria = tuple(criteria)
    for c in criteria:
        label = f"{c.name} ({format_score(c.min)}–{format_score(c.max)})"
        if c.radio:
            unbound = RadioField(label, choices=[SelectChoice(str(v), _radio_label(c, v))
                                          for v in c.choices],
                                 validate_choice=False, validators=[_one_of(c.choices)])
        else:
            unbound = StringField(label, widget=NumberInput(step="any", min=format_score(c.min),
                                                     max=format_score(c.max)),
                                  render_kw={"inputmode": "decimal"})
        setattr(_Form, field_name(c.key), unbound)
    if posted:
        return _Form() if formdata is None else _Form(formdata=formdata)
    data = {field_name(k): v or None for k, v in (values or {}).items()}
    if review is not None:
        data["comment_to_organizers"] = review.comment_to_organizers
        data["feedback_to_team"] = review.feedback_to_team
    return _Form(formdata=None, data=data)


def posted_scores(form_data) -> tuple[dict[str, str], list[str]]:
    """Every posted ``score_*`` value by criterion key, and problems (a key sent twice)."""
    scores: dict[str, str] = {}
    problems = []
    for name, values in form_data.lists():
        if not name.startswith(SCORE_PREFIX):
            continue
        key = name[len(SCORE_PREFIX):]
        if len(values) > 1:
            problems.append(f"The form sent more than one score for “{key[:64]}”. Please "
                            f"reload the page and score again; nothing was changed.")
        scores[key] = values[-1]
    return scores, problems
