"""Guidelines for entrants, drafted from an insight report and published as versions.

A draft is generated from a stored report (underserved needs ranked by opportunity, each
with its evidence), edited by organizers, and published. Publishing freezes the version;
the next edit starts a new draft copied from it. Each item keeps its need's key as a stable
id, so submissions and rubric criteria can cite it across versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from challenge import audit, clock
from challenge.errors import Conflict, DomainError, NotFound
from surveys.models import GuidelineDocument, GuidelineItem, InsightReport, Survey

_WORD = re.compile(r"[a-z]{4,}")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def evidence_for(report: dict[str, Any], need: dict[str, Any]) -> dict[str, Any]:
    """The evidence behind one need, taken only from the (already suppressed) report."""
    strongest = []
    for cell in report.get("segments", []):
        if cell.get("suppressed"):
            continue
        match = next((n for n in cell.get("needs", []) if n["key"] == need["key"]), None)
        if match and match.get("opportunity") is not None and match["status"] == "underserved":
            strongest.append({"question": cell["question"], "value": cell["value"],
                              "label": cell["label"], "n": cell["n"],
                              "opportunity": match["opportunity"]})
    strongest.sort(key=lambda c: -c["opportunity"])
    need_words = _words(need.get("text", "")) | _words(need.get("category", ""))
    related = [t for t in report.get("themes", []) if need_words & set(t.get("terms", []))]
    fields = ("n", "importance", "satisfaction", "opportunity", "importance_ci",
              "satisfaction_ci", "opportunity_ci", "status", "robust")
    return {
        **{name: need[name] for name in fields if name in need},
        "respondents": report.get("respondents"),
        "computed_at": report.get("computed_at"),
        "strongest_segments": strongest[:3],
        "related_themes": related[:3],
    }


def _sentence_case(text: str) -> str:
    """'Keeping my glucose steady when I exercise.' -> 'keeping my glucose steady when I
    exercise' (only the first letter is lowered, so "I" and names stay as written)."""
    text = text.rstrip(".")
    return text[:1].lower() + text[1:]


def _default_body(need: dict[str, Any]) -> str:
    return (
        f"People living with the condition rate *{_sentence_case(need['text'])}* as "
        f"important, and few are satisfied with how they can do it today. Projects that "
        f"address this need should show how they make it easier in daily life."
    )


def drafts_and_versions(session: Session, survey: Survey) -> list[GuidelineDocument]:
    """Every version of the survey's guidelines, newest first."""
    return list(session.scalars(select(GuidelineDocument)
                                .where(GuidelineDocument.survey_id == survey.id)
                                .order_by(GuidelineDocument.version.desc())))


def current_draft(session: Session, survey: Survey) -> GuidelineDocument | None:
    """The draft being edited, if any."""
    return session.scalar(select(GuidelineDocument).where(
        GuidelineDocument.survey_id == survey.id, GuidelineDocument.status == "draft"))


def published(session: Session, survey: Survey) -> GuidelineDocument | None:
    """The guidelines entrants see: the newest published version."""
    return session.scalar(select(GuidelineDocument).where(
        GuidelineDocument.survey_id == survey.id, GuidelineDocument.status == "published"))


def _next_version(session: Session, survey: Survey) -> int:
    return (session.scalar(select(func.max(GuidelineDocument.version))
                           .where(GuidelineDocument.survey_id == survey.id)) or 0) + 1


def generate_draft(session: Session, survey: Survey, report: InsightReport | None, *,
                   actor=None) -> GuidelineDocument:
    """A new draft from a stored report: underserved needs ranked, each with evidence."""
    if report is None:
        raise DomainError("Compute the insight report first: guidelines are drawn from it.")
    if current_draft(session, survey) is not None:
        raise Conflict("A draft already exists. Edit it, or discard it to start again.")
    data = report.data
    underserved = [n for n in data.get("needs", []) if n.get("status") == "underserved"]
    if not underserved:
        raise DomainError("The report shows no underserved need yet, so there is nothing to "
                          "draft. Wait for more responses or review the questions.")
    now = clock.now()
    doc = GuidelineDocument(
        survey_id=survey.id, version=_next_version(session, survey), status="draft",
        title=f"Guidelines: {survey.title}"[:200],
        intro=(f"These guidelines come from the answers of {data.get('respondents')} people "
               f"to the survey “{survey.title}”. Each one is a need that people rated as "
               f"important but poorly served today, ranked by opportunity."),
        report_id=report.id, created_at=now, updated_at=now,
    )
    doc.items = [
        GuidelineItem(key=need["key"], position=i, title=need["text"][:300],
                      body=_default_body(need), evidence=evidence_for(data, need))
        for i, need in enumerate(underserved)
    ]
    session.add(doc)
    session.flush()
    audit.record(session, "guidelines.drafted", actor=actor, target=f"survey:{survey.slug}",
                 version=doc.version)
    return doc


def new_version_from_published(session: Session, survey: Survey, *, actor=None
                               ) -> GuidelineDocument:
    """Start a new draft copied from the published version (to revise it)."""
    source = published(session, survey)
    if source is None:
        raise DomainError("Nothing is published yet: generate a draft from the report.")
    if current_draft(session, survey) is not None:
        raise Conflict("A draft already exists. Edit it, or discard it to start again.")
    now = clock.now()
    doc = GuidelineDocument(survey_id=survey.id, version=_next_version(session, survey),
                            status="draft", title=source.title, intro=source.intro,
                            report_id=source.report_id, created_at=now, updated_at=now)
    doc.items = [GuidelineItem(key=i.key, position=i.position, title=i.title, body=i.body,
                               evidence=dict(i.evidence)) for i in source.items]
    session.add(doc)
    session.flush()
    audit.record(session, "guidelines.drafted", actor=actor, target=f"survey:{survey.slug}",
                 version=doc.version, copied_from=source.version)
    return doc


@dataclass(frozen=True)
class ItemEdit:
    """An organizer's edit of one item."""

    key: str
    title: str
    body: str
    remove: bool = False


def update_draft(session: Session, doc: GuidelineDocument, *, title: str, intro: str,
                 items: list[ItemEdit], actor=None) -> GuidelineDocument:
    """Edit a draft: wording, order (the order of `items`) and which items to keep."""
    if doc.status != "draft":
        raise Conflict("Published guidelines cannot change; start a new version instead.")
    by_key = {i.key: i for i in doc.items}
    unknown = [e.key for e in items if e.key not in by_key]
    if unknown:
        raise DomainError(f"Unknown guideline item {unknown[0]!r}.")
    kept = [e for e in items if not e.remove]
    if not kept:
        raise DomainError("Keep at least one guideline.")
    if not title.strip():
        raise DomainError("Give the guidelines a title.", field="title")
    doc.title = title.strip()[:200]
    doc.intro = intro
    for position, edit in enumerate(kept):
        item = by_key[edit.key]
        item.title = edit.title.strip()[:300] or item.title
        item.body = edit.body
        item.position = position
    removed = {e.key for e in items if e.remove}
    doc.items = sorted((i for i in doc.items if i.key not in removed), key=lambda i: i.position)
    doc.updated_at = clock.now()
    session.flush()
    return doc


def publish(session: Session, doc: GuidelineDocument, *, actor=None) -> GuidelineDocument:
    """Publish a draft; the previously published version is superseded (kept, read-only)."""
    if doc.status != "draft":
        raise Conflict("Only a draft can be published.")
    if not doc.items:
        raise DomainError("A guideline document needs at least one item.")
    previous = session.scalars(select(GuidelineDocument).where(
        GuidelineDocument.survey_id == doc.survey_id,
        GuidelineDocument.status == "published")).all()
    for old in previous:
        old.status = "superseded"
    session.flush()  # at most one published version at any time
    doc.status = "published"
    doc.published_at = clock.now()
    session.flush()
    survey = session.get(Survey, doc.survey_id)
    audit.record(session, "guidelines.published", actor=actor, target=f"survey:{survey.slug}",
                 version=doc.version)
    return doc


def discard_draft(session: Session, doc: GuidelineDocument, *, actor=None) -> None:
    """Delete a draft (published versions are never deleted)."""
    if doc.status != "draft":
        raise Conflict("Only a draft can be discarded.")
    survey = session.get(Survey, doc.survey_id)
    session.delete(doc)
    audit.record(session, "guidelines.discarded", actor=actor, target=f"survey:{survey.slug}",
                 version=doc.version)
    session.flush()


def get_version(session: Session, survey: Survey, version: int) -> GuidelineDocument:
    """One version of a survey's guidelines, or NotFound."""
    doc = session.scalar(select(GuidelineDocument).where(
        GuidelineDocument.survey_id == survey.id, GuidelineDocument.version == version))
    if doc is None:
        raise NotFound("There is no such version of the guidelines.")
    return doc


def published_keys(session: Session, survey: Survey) -> list[str]:
    """Keys of the published guideline items, in order (what entrants can cite)."""
    doc = published(session, survey)
    return [i.key for i in doc.items] if doc else []
