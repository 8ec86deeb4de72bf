"""Judging's contributions to other packages: the judge's dashboard panel, and the rule
that lets assigned, unconflicted judges read an entry's files."""

from __future__ import annotations

from flask import Flask

from challenge.challenges.submissions import register_reviewer_rule
from challenge.dashboard import Panel, register_panel
from challenge.judging import access, reviews


def _may_review(session, user, submission) -> bool:
    return access.is_assigned(session, user.id, submission.id) and not access.is_conflicted(
        session, user.id, submission.team_id, submission.challenge_id)


def _judge_panel(session, user) -> dict:
    return {"queues": reviews.queue_for(session, user)}


def init_app(app: Flask) -> None:
    """Register the judge panel and the reviewer rule."""
    register_reviewer_rule(app, _may_review)
    register_panel(app, Panel("judge", "Your judging queue", "dashboard/_judge.html", order=30,
                              loader=_judge_panel))
