"""Demo challenges: one finished ("Data Design Diabetes 2026", judged and published, for the
results, gallery and outcomes pages) and one open now ("... 2027", teams drafting).

Built through the same services as real use (bundle import, submissions, files), with the
clock passed explicitly for what happened in the past.
"""

from __future__ import annotations

import io
import zlib
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from challenge import clock
from challenge.accounts.services import find_user
from challenge.challenges import bundle, submissions
from challenge.challenges import teams as team_services
from challenge.challenges.models import Challenge, Team

FINISHED = "ddd-2026"
OPEN = "ddd-2027"

PROJECTS = [
    ("GlucoGo", "A running companion that predicts lows 20 minutes ahead from CGM trends "
                "and suggests a snack before the drop.", ["exercise"]),
    ("NightOwl", "A bedside light that wakes the right person in the house when a night-time "
                 "low is coming, not the whole family.", ["night_lows"]),
    ("CalmCarb", "Photo-based carb estimates that learn a family's usual meals.", ["meals"]),
    ("SickDay Coach", "Step-by-step sick-day rules agreed with your clinic, on your phone.",
     ["sick_days"]),
    ("BurnOut Buddy", "Peer support circles and a weekly check-in that spots diabetes "
                      "distress early.", ["emotional"]),
    ("SteadyStride", "Exercise plans that adapt basal advice to the workout you choose.",
     ["exercise", "meals"]),
    ("HypoHalo", "A smartwatch face that turns CGM trends into one calm colour.",
     ["night_lows", "exercise"]),
    ("ClinicLink", "Shares the week's patterns with your nurse before the appointment.",
     ["emotional", "sick_days"]),
    ("MealMap", "Restaurant menus with carbohydrate estimates, crowd-checked.", ["meals"]),
    ("FamilyLoop", "One shared alarm plan for parents of children with type 1.",
     ["night_lows", "emotional"]),
    ("TrailMix", "Route planner for hikers that places snack stops by predicted glucose.",
     ["exercise"]),
    ("MoodSugar", "Links mood notes to glucose so people see their own patterns.",
     ["emotional"]),
]

RUBRIC = {"criteria": [
    {"key": "impact", "name": "Impact on daily life", "weight": 40, "min": 1, "max": 5,
     "guidelines": ["exercise", "night_lows", "emotional"],
     "levels": {"1": "No clear benefit", "3": "Helps some days", "5": "Transforms a routine"}},
    {"key": "evidence", "name": "Fit with what patients said", "weight": 25, "min": 1, "max": 5,
     "guidelines": ["exercise", "night_lows", "sick_days", "emotional", "meals"],
     "levels": {"1": "Unrelated to the guidelines", "5": "Squarely on an underserved need"}},
    {"key": "feasibility", "name": "Feasibility", "weight": 20, "min": 1, "max": 5},
    {"key": "design", "name": "Design for real people", "weight": 15, "min": 1, "max": 5},
]}

JUDGES = [
    {"email": "judge@demo.example", "name": "Demo judge", "panel": "expert"},
    {"email": "dr.okafor@demo.example", "name": "Dr Okafor", "panel": "expert"},
    {"email": "m.lindqvist@demo.example", "name": "Maja Lindqvist", "panel": "expert"},
    {"email": "p.reyes@demo.example", "name": "Pablo Reyes", "panel": "expert"},
    {"email": "patient.judge1@demo.example", "name": "Sam (lives with type 1)",
     "panel": "patient"},
    {"email": "patient.judge2@demo.example", "name": "Ruth (carer)", "panel": "patient"},
]


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pdf(title: str) -> bytes:
    """A tiny valid one-page PDF naming the project (for demo uploads)."""
    text = f"BT /F1 18 Tf 72 720 Td ({title} - project brief) Tj ET".encode()
    stream = zlib.compress(text)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))
    return out.getvalue()


def _bundle(slug: str, title: str, survey_slug: str, phases: dict, teams: list[dict]) -> dict:
    return {
        "slug": slug, "title": title,
        "description": (
            "Build something that makes **daily life with diabetes** easier. The brief comes "
            "from what people living with diabetes told us in the survey: read the guidelines "
            "below, say which ones your project addresses, and show how."),
        "rules": "Teams of 1 to 5. One entry per team. Entries are judged on the rubric below.",
        "ip_terms": "Teams keep their intellectual property. The sponsor may showcase entries "
                    "that opted in to the gallery.",
        "sponsor_disclosure": "Sponsored by a pharmaceutical company that makes diabetes "
                              "medicines. Judges declare conflicts of interest.",
        "survey": survey_slug,
        "team_size": {"min": 1, "max": 5},
        "phases": {name: _iso(at) for name, at in phases.items()},
        "rubric": RUBRIC,
        "normalization": "zscore",
        "reviews_per_entry": 3,
        "panels": {"expert": 0.7, "patient": 0.3},
        "judges": JUDGES,
        "teams": teams,
    }


def load(session: Session, survey_slug: str) -> None:
    """Create both demo challenges (idempotent)."""
    now = clock.now()
    if session.scalar(select(Challenge).where(Challenge.slug == FINISHED)) is None:
        _finished(session, survey_slug, now)
    if session.scalar(select(Challenge).where(Challenge.slug == OPEN)) is None:
        _open(session, survey_slug, now)


def _finished(session: Session, survey_slug: str, now) -> None:
    phases = {"registration_opens": now - timedelta(days=120),
              "submission_deadline": now - timedelta(days=60),
              "judging_closes": now - timedelta(days=30),
              "results_at": now - timedelta(days=20)}
    teams = []
    for i, (name, summary, needs) in enumerate(PROJECTS):
        members = [f"member{i * 3 + k + 1:02d}@demo.example" for k in range(1 + i % 3)]
        if name == "GlucoGo":
            members = ["entrant@demo.example", *members]
        teams.append({"name": name, "members": members,
                      "submission": {"title": name, "summary": summary, "needs": needs}})
    bundle.apply(session, _bundle(FINISHED, "Data Design Diabetes 2026", survey_slug, phases,
                                  teams))
    challenge = session.scalar(select(Challenge).where(Challenge.slug == FINISHED))
    challenge.gallery_open = True
    # A few teams attached their brief before the deadline and submitted again.
    before_deadline = phases["submission_deadline"] - timedelta(days=2)
    for team in session.scalars(select(Team).where(Team.challenge_id == challenge.id)
                                .order_by(Team.name)).all()[:5]:
        captain = team.captain
        submissions.add_file(session, team, io.BytesIO(_pdf(team.name)),
                             f"{team.name} brief.pdf", actor=captain, now=before_deadline)
        submissions.submit(session, team, actor=captain, now=before_deadline)
        submissions.set_gallery_opt_in(session, team, True, actor=captain, now=before_deadline)
    session.flush()


def _open(session: Session, survey_slug: str, now) -> None:
    phases = {"registration_opens": now - timedelta(days=10),
              "submission_deadline": now + timedelta(days=30),
              "judging_closes": now + timedelta(days=60),
              "results_at": now + timedelta(days=75)}
    bundle.apply(session, _bundle(OPEN, "Data Design Diabetes 2027", survey_slug, phases, [
        {"name": "Night Shift", "members": ["member40@demo.example", "member41@demo.example"]},
        {"name": "Carb Compass", "members": ["member42@demo.example"]},
    ]))
    challenge = session.scalar(select(Challenge).where(Challenge.slug == OPEN))
    # The demo entrant captains a team with a draft (not yet submitted).
    entrant = find_user(session, "entrant@demo.example")
    team = team_services.create_team(session, challenge, entrant, "Pulse Pals")
    submissions.save_draft(session, team, submissions.Draft(
        title="Pulse Pals", summary="Buddy alerts for people who exercise alone.",
        needs=["exercise"]), actor=entrant)
    session.flush()
