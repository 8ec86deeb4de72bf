"""Forms of the submission page (Flask-WTF: CSRF on every one).

The forms check what a form can know; the rules (title, guideline keys, links, deadline,
file types and sizes) are checked by `challenge.challenges.submissions` and `files`, whose
messages are put back on these fields.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from challenge.challenges.submissions import SUMMARY_MAX, TITLE_MAX, URL_MAX


def strip(value):
    """Trim surrounding whitespace from typed text."""
    return value.strip() if isinstance(value, str) else value


def newlines(value):
    """Browsers send textarea line breaks as CRLF; store LF."""
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


class MultiCheckboxField(SelectMultipleField):
    """Several choices shown as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SubmissionForm(FlaskForm):
    """The draft: everything but the files (uploaded one at a time)."""

    title = StringField("Project title", filters=[strip], validators=[
        DataRequired(message="Give your project a title."), Length(max=TITLE_MAX)])
    summary = TextAreaField(
        "Summary (Markdown)", filters=[newlines], validators=[Length(max=SUMMARY_MAX)],
        description="What the project does and for whom. Markdown is allowed; links and "
                    "formatting are kept, scripts are removed.")
    # Choices are the published guideline items, set by the view; unknown keys are
    # refused by the service with a clear message (hence no choice validation here).
    needs = MultiCheckboxField("Guideline items this project addresses", choices=[],
                               validate_choice=False)
    demo_url = StringField("Demo video link", filters=[strip],
                           validators=[Length(max=URL_MAX)],
                           description="Optional. A web address starting with https://")
    repo_url = StringField("Repository link", filters=[strip],
                           validators=[Length(max=URL_MAX)],
                           description="Optional. A web address starting with https://")


class UploadForm(FlaskForm):
    """One file for the draft."""

    file = FileField("File", validators=[FileRequired(message="Choose a file to upload.")])


class GalleryForm(FlaskForm):
    """The team's consent to show its entry in the public gallery."""

    gallery_opt_in = BooleanField("Show our submitted entry in the public gallery")
