"""Organizer forms for challenges (Flask-WTF: CSRF on every one).

The forms check what a form can know (a number is a number, a time is a time, the zone
exists); the challenge rules are checked by `services`, whose messages are placed back on
these fields. Times are typed as wall-clock times in a chosen time zone and stored in UTC.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, available_timezones

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length

from challenge.challenges.models import PHASES
from challenge.challenges.services import TEXT_MAX, TITLE_MAX, ChallengeData

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                    "%Y-%m-%d %H:%M:%S"]
TIME_MESSAGE = "Enter a date and time, for example 2027-03-01 17:00."
NO_SURVEY = ""


@functools.cache
def zone_choices() -> tuple[SelectChoice, ...]:
    """Every IANA time zone by region (Europe, America, ...), UTC first."""
    zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
    return (SelectChoice("UTC", "UTC (Coordinated Universal Time)"),
            *(SelectChoice(z, z.split("/", 1)[1].replace("_", " "), optgroup=z.split("/")[0])
              for z in zones))


@functools.cache
def zone_names() -> frozenset[str]:
    """The zone names a form accepts (those of `zone_choices`)."""
    return frozenset(choice.value for choice in zone_choices())


ZONE_LIST_ID = "time-zones"  # the page's one <datalist> of zone names (see ExtensionForm)
ZONE_MESSAGE = "Choose a time zone from the list, for example UTC or Europe/Paris."


def newlines(value):
    """Browsers send textarea line breaks as CRLF; store LF like imported texts."""
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


def strip(value):
    return value.strip() if isinstance(value, str) else value


def strip_lower(value):
    return value.strip().lower() if isinstance(value, str) else value


def to_utc(local: datetime, zone_name: str) -> datetime:
    """A wall-clock time typed in `zone_name` as aware UTC.

    Raises ValueError for a time the clocks skip (the hour lost when summer time starts).
    An hour that happens twice (when summer time ends) is read as its first occurrence.
    """
    zone = ZoneInfo(zone_name)
    aware = local.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        raise ValueError(f"This time does not exist in {zone_name}: the clocks go forward "
                         f"then. Choose a time outside that hour.")
    return aware.astimezone(UTC)


def to_local(value: datetime | None, zone_name: str) -> datetime | None:
    """A stored UTC time as a wall-clock time in `zone_name` (for the inputs)."""
    return value.astimezone(ZoneInfo(zone_name)).replace(tzinfo=None) if value else None


def _time_field(label: str, description: str) -> DateTimeLocalField:
    return DateTimeLocalField(label, format=DATETIME_FORMATS, description=description,
                              validators=[InputRequired(message=TIME_MESSAGE)],
                              invalid_value_message=TIME_MESSAGE)


def _zone_field(label: str, description: str) -> SelectField:
    return SelectField(label, choices=list(zone_choices()), default="UTC",
                       description=description)


def _markdown(label: str, description: str) -> TextAreaField:
    return TextAreaField(label, filters=[newlines], validators=[Length(max=TEXT_MAX)],
                         description=description)


class ChallengeForm(FlaskForm):
    """A challenge's brief, team limits, phases, linked survey and visibility."""

    title = StringField("Title", filters=[strip], validators=[
        DataRequired(message="Give the challenge a title."), Length(max=TITLE_MAX)])
    slug = StringField(
        "Web address", filters=[strip_lower],
        validators=[DataRequired(message="Choose the challenge's address."), Length(max=80)],
        description="The public page is /c/<this part>. Lower-case letters, digits and "
                    "hyphens, for example ddd-2027. It cannot change once teams have "
                    "registered.")
    description = _markdown(
        "The brief (Markdown)",
        "What entrants should build and why: the first thing on the public page.")
    rules = _markdown("Rules (Markdown)", "Who may enter, what a submission contains, how "
                                          "it is judged.")
    ip_terms = _markdown("Intellectual property terms (Markdown)",
                         "Who owns what entrants build, and what the sponsor may do with it.")
    sponsor_disclosure = _markdown(
        "Sponsor disclosure (Markdown)",
        "Name every sponsor and their interest, for example a company that makes diabetes "
        "products.")
    team_min = IntegerField("Smallest team", default=1, validators=[
        InputRequired(message="Enter a whole number from 1 to 20.")])
    team_max = IntegerField("Largest team", default=5, validators=[
        InputRequired(message="Enter a whole number from 1 to 20.")])
    registration_opens = _time_field(
        "Registration opens", "From this time entrants can form teams and start their "
                              "submission.")
    submission_deadline = _time_field(
        "Submission deadline", "Submissions and team changes must reach the server before "
                               "this time.")
    judging_closes = _time_field("Judging closes", "Judges score the entries until then.")
    results_at = _time_field("Results", "When results are announced.")
    timezone = _zone_field(
        "Time zone of these times",
        "The four times are read as clock times in this zone and stored in UTC. Everyone "
        "sees them in their own time zone, with UTC beside.")
    survey = SelectField(
        "Guidelines from the survey", choices=[], validate_choice=True,
        description="The challenge shows this survey's published guidelines; submissions and "
                    "rubric criteria cite their keys.")
    published = BooleanField(
        "Published: anyone can see the challenge page",
        description="Untick to keep the page visible only to organizers while you prepare "
                    "it.")
    gallery_open = BooleanField(
        "Gallery open before results",
        description="Show submitted projects that opted in, even before results are "
                    "published.")
    blind_judging = BooleanField(
        "Blind judging: judges do not see team names or members")

    def set_surveys(self, choices: list[tuple[str, str]]) -> None:
        self.survey.choices = [SelectChoice(NO_SURVEY, "No survey (no guidelines)")] + [
            SelectChoice(value, label) for value, label in choices]

    @classmethod
    def for_challenge(cls, data: ChallengeData, zone: str = "UTC") -> ChallengeForm:
        values = {name: getattr(data, name) for name in (
            "title", "slug", "description", "rules", "ip_terms", "sponsor_disclosure",
            "team_min", "team_max", "published", "gallery_open", "blind_judging")}
        values.update({name: to_local(getattr(data, name), zone) for name in PHASES})
        values["survey"] = data.survey or NO_SURVEY
        values["timezone"] = zone
        return cls(data=values)

    def to_data(self) -> ChallengeData | None:
        """The typed settings; None (with errors on the fields) when a time cannot be read."""
        times = {}
        for name in PHASES:
            try:
                times[name] = to_utc(self[name].data, self.timezone.data)
            except ValueError as exc:
                self[name].errors = [*self[name].errors, str(exc)]
        if len(times) != len(PHASES):
            return None
        return ChallengeData(
            title=self.title.data or "", slug=self.slug.data or "",
            description=self.description.data or "", rules=self.rules.data or "",
            ip_terms=self.ip_terms.data or "",
            sponsor_disclosure=self.sponsor_disclosure.data or "",
            team_min=self.team_min.data, team_max=self.team_max.data,
            survey=self.survey.data or None, published=bool(self.published.data),
            gallery_open=bool(self.gallery_open.data),
            blind_judging=bool(self.blind_judging.data), **times)


class ExtensionForm(FlaskForm):
    """A later deadline for one team."""

    until = DateTimeLocalField("New deadline for this team", format=DATETIME_FORMATS,
                               validators=[InputRequired(message=TIME_MESSAGE)],
                               invalid_value_message=TIME_MESSAGE)
    # The overview has one of these forms per team: a text field suggesting from the
    # page's one list of zones, instead of a 520-option select in every row (50 rows were
    # 1.4 MB of HTML). The value must still be one of the zones.
    timezone = StringField("Time zone", default="UTC", filters=[strip],
                           validators=[InputRequired(message=ZONE_MESSAGE),
                                       AnyOf(zone_names(), message=ZONE_MESSAGE)],
                           description="The time is read in this zone and stored in UTC.",
                           render_kw={"list": ZONE_LIST_ID, "autocomplete": "off",
                                      "spellcheck": "false"})

    def to_utc(self) -> datetime | None:
        try:
            return to_utc(self.until.data, self.timezone.data)
        except ValueError as exc:
            self.until.errors = [*self.until.errors, str(exc)]
            return None

