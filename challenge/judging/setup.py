"""Materialise a challenge's imported judging settings into judging rows.

A challenge bundle keeps its rubric, panels and judges as JSON on the Challenge
(`Challenge.rubric`, `.panels`, `.judges`); `sync_from_challenge` turns them into Panel,
Rubric + Criterion and JudgeSeat rows. It runs at the end of every import and is
idempotent: a second run with the same settings changes nothing.

- Panels: every configured panel exists with the configured weight ("expert" at 1.0 when
  the challenge names none). Panels are never deleted here (judges may sit on them).
- Rubric: version 1 is created from the criteria when the challenge has no rubric yet.
  When the configured criteria differ from the current version, the current version is
  updated in place while no score refers to it, otherwise a new version is created.
  Plain-language descriptions (not part of a bundle) are kept, matched by criterion key.
- Judges: each listed judge (the import created the account) gets the "judge" role if
  missing and a seat on the listed panel (moved there if seated elsewhere). Seats of
  judges the list no longer names are left alone: an organizer removes judges by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from challenge import audit, clock
from challenge.accounts.models import User, UserRole
from challenge.accounts.services import normalize_email
from challenge.challenges.models import Challenge
from challenge.judging import access
from challenge.judging.models import Criterion, JudgeSeat, Panel, Rubric

DEFAULT_PANEL = "expert"
DEFAULT_PANEL_WEIGHT = 1.0
#: The fields a bundle's criterion carries; the rubric's "config" is these, in order.
BUNDLE_CRITERION_FIELDS = ("key", "name", "description", "weight", "min", "max",
                           "guidelines", "levels")


@dataclass
class SyncResult:
    """What a sync changed (empty lists and False when nothing)."""

    panels_added: list[str] = field(default_factory=list)
    panels_changed: list[str] = field(default_factory=list)
    rubric: str = ""  # "", "created", "updated", "versioned"
    seats_added: list[str] = field(default_factory=list)
    seats_moved: list[str] = field(default_factory=list)
    roles_added: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.panels_added or self.panels_changed or self.rubric
                    or self.seats_added or self.seats_moved or self.roles_added)


# --- criteria as plain dicts --------------------------------------------------------------

def _number(value: Any) -> float | int:
    """Whole floats as int, so 40.0 and 40 compare and export alike."""
    value = float(value)
    return int(value) if value.is_integer() else value


def criterion_config(criterion: Criterion) -> dict[str, Any]:
    """A criterion row as a bundle criterion (the keys of `BUNDLE_CRITERION_FIELDS`)."""
    return {
        "key": criterion.key,
        "name": criterion.name,
        "description": criterion.description or "",
        "weight": _number(criterion.weight),
        "min": _number(criterion.min_score),
        "max": _number(criterion.max_score),
        "guidelines": list(criterion.guidelines or []),
        "levels": {str(k): v for k, v in sorted((criterion.levels or {}).items(),
                                                key=lambda kv: int(kv[0]))},
    }


def normalize_config(item: dict[str, Any]) -> dict[str, Any]:
    """A bundle criterion with defaults filled in, comparable with `criterion_config`."""
    levels = item.get("levels") or {}
    return {
        "key": item["key"],
        "name": (item.get("name") or "").strip(),
        "description": item.get("description") or "",
        "weight": _number(item["weight"]),
        "min": _number(item.get("min", 1)),
        "max": _number(item.get("max", 5)),
        "guidelines": list(item.get("guidelines") or []),
        "levels": {str(k): v for k, v in sorted(levels.items(), key=lambda kv: int(kv[0]))},
    }


def rubric_config(rubric: Rubric | None) -> list[dict[str, Any]]:
    """The rubric's criteria as bundle criteria, in order."""
    return [criterion_config(c) for c in rubric.criteria] if rubric is not None else []


def export_config(rubric: Rubric) -> dict[str, Any]:
    """The rubric as `Challenge.rubric` JSON (a bundle's "rubric"): empty parts omitted."""
    criteria = []
    for c in rubric_config(rubric):
        item = {k: c[k] for k in ("key", "name")}
        if c["description"]:
            item["description"] = c["description"]
        item.update(weight=c["weight"], min=c["min"], max=c["max"])
        if c["guidelines"]:
            item["guidelines"] = c["guidelines"]
        if c["levels"]:
            item["levels"] = c["levels"]
        criteria.append(item)
    return {"criteria": criteria}


def _criterion_row(item: dict[str, Any], position: int, plain: str) -> Criterion:
    return Criterion(key=item["key"], name=item["name"], description=item["description"],
                     plain_description=plain, weight=float(item["weight"]),
                     min_score=float(item["min"]), max_score=float(item["max"]),
                     levels=dict(item["levels"]), guidelines=list(item["guidelines"]),
                     position=position)


def has_scores(session: Session, rubric: Rubric) -> bool:
    """True once any criterion score was given under this rubric version."""
    from challenge.judging.models import CriterionScore, Review

    return session.scalar(
        select(CriterionScore.id).join(Review, Review.id == CriterionScore.review_id)
        .where(Review.rubric_id == rubric.id).limit(1)) is not None


def write_criteria(session: Session, challenge: Challenge, items: list[dict[str, Any]],
                   plain: dict[str, str]) -> tuple[Rubric, str]:
    """Make `items` (normalised criteria) the current rubric; `plain` maps a key to its
    plain-language text. Returns the rubric and "created", "updated", "versioned" or ""
    (nothing differed). Replaces the criteria in place while the current version has no
    scores, else adds a new version."""
    current = access.current_rubric(session, challenge)
    if current is not None:
        same = (rubric_config(current) == items
                and [c.plain_description or "" for c in current.criteria]
                == [plain.get(i["key"], "") for i in items])
        if same:
            return current, ""
    rows = [_criterion_row(item, i, plain.get(item["key"], "")) for i, item in enumerate(items)]
    if current is not None and not has_scores(session, current):
        current.criteria.clear()
        session.flush()  # the (rubric, key) unique constraint: delete before re-adding
        current.criteria.extend(rows)
        session.flush()
        return current, "updated"
    rubric = Rubric(challenge_id=challenge.id,
                    version=(current.version + 1) if current is not None else 1,
                    created_at=clock.now())
    rubric.criteria = rows
    session.add(rubric)
    session.flush()
    return rubric, "versioned" if current is not None else "created"


# --- the sync -----------------------------------------------------------------------------

def _sync_panels(session: Session, challenge: Challenge, result: SyncResult) -> dict[str, Panel]:
    wanted = dict(challenge.panels or {}) or {DEFAULT_PANEL: DEFAULT_PANEL_WEIGHT}
    panels = {p.name: p for p in session.scalars(
        select(Panel).where(Panel.challenge_id == challenge.id))}
    for name, weight in wanted.items():
        panel = panels.get(name)
        if panel is None:
            panel = Panel(challenge_id=challenge.id, name=name, weight=float(weight))
            session.add(panel)
            panels[name] = panel
            result.panels_added.append(name)
        elif panel.weight != float(weight):
            panel.weight = float(weight)
            result.panels_changed.append(name)
    session.flush()
    return panels


def _sync_rubric(session: Session, challenge: Challenge, result: SyncResult) -> None:
    items = [normalize_config(c) for c in (challenge.rubric or {}).get("criteria", [])]
    current = access.current_rubric(session, challenge)
    if current is None and not items:
        return
    plain = {c.key: c.plain_description for c in current.criteria} if current else {}
    _rubric, what = write_criteria(session, challenge, items, plain)
    result.rubric = what


def _sync_judges(session: Session, challenge: Challenge, panels: dict[str, Panel],
                 result: SyncResult) -> None:
    seats = {s.user_id: s for s in session.scalars(
        select(JudgeSeat).where(JudgeSeat.challenge_id == challenge.id))}
    for item in challenge.judges or []:
        email = normalize_email(item["email"])
        user = session.scalar(select(User).where(User.email == email))
        if user is None:  # the import creates accounts first; nothing to seat otherwise
            continue
        if "judge" not in user.roles:
            user.role_rows.append(UserRole(role="judge"))
            result.roles_added.append(email)
        panel_name = item.get("panel") or DEFAULT_PANEL
        panel = panels.get(panel_name)
        if panel is None:  # a judge on a panel the config forgot: make it, weight 1
            panel = Panel(challenge_id=challenge.id, name=panel_name,
                          weight=DEFAULT_PANEL_WEIGHT)
            session.add(panel)
            session.flush()
            panels[panel_name] = panel
            result.panels_added.append(panel_name)
        seat = seats.get(user.id)
        if seat is None:
            seat = JudgeSeat(challenge_id=challenge.id, user_id=user.id, panel_id=panel.id,
                             created_at=clock.now())
            session.add(seat)
            seats[user.id] = seat
            result.seats_added.append(email)
        elif seat.panel_id != panel.id:
            seat.panel_id = panel.id
            seat.panel = panel
            result.seats_moved.append(email)
    session.flush()


def sync_from_challenge(session: Session, challenge: Challenge, *, actor=None) -> SyncResult:
    """Create or update panels, the rubric and judge seats from the challenge's JSON
    settings (see the module docstring). Flush only; audited when something changed."""
    result = SyncResult()
    panels = _sync_panels(session, challenge, result)
    _sync_rubric(session, challenge, result)
    _sync_judges(session, challenge, panels, result)
    if result.changed:
        audit.record(session, "judging.synced", actor=actor,
                     target=f"challenge:{challenge.slug}",
                     panels_added=result.panels_added, panels_changed=result.panels_changed,
                     rubric=result.rubric, seats_added=len(result.seats_added),
                     seats_moved=len(result.seats_moved),
                     roles_added=len(result.roles_added))
        session.flush()
    return result
