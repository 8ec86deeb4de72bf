"""Demo judging for the finished demo challenge: assignments, scored reviews from expert
and patient judges, published results with awards, and feedback released to teams."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from challenge.accounts.models import User
from challenge.challenges.models import Challenge, Submission, Team
from challenge.judging import access, assignments, results, reviews
from challenge.judging.models import Assignment, JudgeSeat, ResultSnapshot

FEEDBACK = [
    "Strong link to what patients said; show a pilot with real users next.",
    "A clear idea. The evidence for feasibility is thin: who builds and maintains it?",
    "Lovely design. Consider people who do not own a smartphone.",
    "Addresses an underserved need directly. Safety review of the alerts is essential.",
]


def load(session: Session, slug: str) -> None:
    """Judge and publish the finished demo challenge (idempotent)."""
    challenge = session.scalar(select(Challenge).where(Challenge.slug == slug))
    if challenge is None or session.scalar(select(ResultSnapshot.id).where(
            ResultSnapshot.challenge_id == challenge.id)) is not None:
        return
    assignments.assign(session, challenge)
    rubric = access.current_rubric(session, challenge)
    rng = random.Random(2026)  # noqa: S311 - demo data, not security
    teams = {t.id: t for t in session.scalars(select(Team).where(
        Team.challenge_id == challenge.id))}
    quality = {team_id: rng.uniform(0.3, 0.95) for team_id in teams}
    seats = {s.user_id: s for s in session.scalars(select(JudgeSeat).where(
        JudgeSeat.challenge_id == challenge.id))}
    leniency = {user_id: rng.uniform(-0.12, 0.12) for user_id in seats}
    when = challenge.judging_closes - timedelta(days=5)
    pairs = session.execute(select(Assignment, User).join(User, User.id == Assignment.user_id)
                            .where(Assignment.challenge_id == challenge.id)
                            .order_by(Assignment.id)).all()
    for assignment, judge in pairs:
        submission = session.get(Submission, assignment.submission_id)
        level = quality[submission.team_id] + leniency[judge.id]
        scores = {}
        for criterion in rubric.criteria:
            span = criterion.max_score - criterion.min_score
            value = criterion.min_score + span * min(1.0, max(0.0, rng.gauss(level, 0.12)))
            scores[criterion.key] = str(round(value))
        reviews.save_review(session, judge, submission.id, scores=scores,
                            comment_to_organizers="", feedback_to_team=rng.choice(FEEDBACK),
                            submit=True, now=when)
    computed = results.compute(session, challenge).as_json()
    ranked = [e["team"] for e in computed["entries"]]
    awards = {ranked[0]: "Grand prize", ranked[1]: "Runner-up"}
    patient_choice = next((t for t in ranked[2:5]), None)
    if patient_choice:
        awards[patient_choice] = "Patient panel's choice"
    snapshot = results.publish(session, challenge, None, awards, confirm_unscored=True)
    results.release_feedback(session, snapshot)
    session.flush()
