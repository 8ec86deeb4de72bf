"""Results pages: the organizer's dashboard and publication, the public results, team
feedback, and the winning projects on the survey's "what your answers led to" page.

Thin routes: `results` computes and publishes, the view commits or rolls back. Public pages
read published snapshots only; they never recompute.
"""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from challenge import audit, clock, pagecache
from challenge.challenges.models import Challenge, Team
from challenge.db import db_session, set_write_intent
from challenge.errors import DomainError, Forbidden, NotFound, ValidationFailed
from challenge.judging import charts, published, results
from challenge.judging.models import ResultSnapshot
from challenge.pagination import PER_PAGE, Page, page_number
from challenge.security import current_actor, role_required
from surveys import guidelines
from surveys.models import Survey
from surveys.views import register_outcome_section

ORGANIZER = "organizer"
#: A second publish POST by the same person this soon after theirs is a double click.
DUPLICATE_WINDOW = timedelta(minutes=10)
#: How many entries of each challenge the survey's outcome page shows.
OUTCOME_TOP = 3

admin_bp = Blueprint("results_admin", __name__,
                     url_prefix="/organize/challenges/<slug>/results")
bp = Blueprint("results", __name__)



def _is_organizer() -> bool:
    return current_user.is_authenticated and current_user.has_role(ORGANIZER)


# --------------------------------------------------------------------------- organizer


def _charts(computed: results.Computed, shown: list):
    """The judges' chart (every judge) and the entries' chart (the entries `shown`)."""
    by_judge = computed.scores_by_judge()
    judge_chart = charts.judge_strips([
        charts.JudgeScores(label=j.judge, scores=tuple(by_judge.get(j.judge, ())), mean=j.mean)
        for j in computed.results.judges])
    by_entry = computed.scores_by_entry()
    entry_chart = charts.entry_spreads([
        charts.EntryRow(rank=e.rank, label=e.entry, mean=e.raw_score,
                        low=min(by_entry[e.entry]), high=max(by_entry[e.entry]),
                        flagged=e.flagged)
        for e in shown])
    return judge_chart, entry_chart, by_judge, by_entry


def _dashboard(challenge: Challenge, *, typed: dict[int, str] | None = None,
               confirm: bool = False, error: str | None = None, problems=(),
               status: int = 200):
    dbs = db_session()
    try:
        computed = results.compute(dbs, challenge)
        compute_error = None
    except DomainError as exc:
        computed, compute_error = None, exc.message
    latest = published.newest(dbs, challenge)
    context = {}
    if computed is not None:
        ranked = computed.results.entries
        number = page_number()
        if request.method == "POST":  # a refused publication: the ranking may have shrunk
            number = min(number, max(1, -(-len(ranked) // PER_PAGE)))
        offset = (number - 1) * PER_PAGE
        page = Page(list(ranked[offset:offset + PER_PAGE]), len(ranked), number, PER_PAGE)
        judge_chart, entry_chart, by_judge, by_entry = _charts(computed, page.items)
        rel = computed.results.reliability
        awards = typed
        if awards is None:  # start from the newest publication's awards
            prior = ({e.team_name: e.award for e in published.awarded(dbs, latest)}
                     if latest else {})
            awards = {computed.entries[e.entry].team_id: prior[e.entry]
                      for e in ranked if e.entry in prior}
        # The award form: this page's entries and every entry that has an award already,
        # so publishing from any page keeps the awards given on the others.
        on_page = {e.entry for e in page.items}
        awarded_elsewhere = [e for e in ranked if e.entry not in on_page
                             and awards.get(computed.entries[e.entry].team_id, "").strip()]
        context = dict(
            computed=computed, page=page, judge_chart=judge_chart, entry_chart=entry_chart,
            max_dots=charts.MAX_DOTS,
            by_judge=by_judge, by_entry=by_entry, awards=awards,
            award_rows=[*awarded_elsewhere, *page.items] if number > 1
            else [*page.items, *awarded_elsewhere],
            explanation=results.alpha_explanation(rel.krippendorff_alpha,
                                                  computed.results.reviews_for_alpha_08))
    return render_template(
        "judging/results/dashboard.html", challenge=challenge, compute_error=compute_error,
        latest=latest, versions=results.history(dbs, challenge), confirm=confirm,
        error=error, problems=list(problems), suggestions=results.AWARD_SUGGESTIONS,
        award_max=results.AWARD_MAX, flag_spread=results.scoring.FLAG_SPREAD,
        judging_open=clock.now() < challenge.judging_closes, **context), status


@admin_bp.get("")
@role_required(ORGANIZER)
def dashboard(slug: str):
    """Entries ranked, reliability, judges, charts, the publish form and the history."""
    return _dashboard(results.get_challenge(db_session(), slug))


def _typed_awards(dbs: Session, challenge: Challenge) -> tuple[dict[int, str], dict[str, str]]:
    """The award fields as typed (by team id) and as the service wants them (by name)."""
    names = dict(dbs.execute(select(Team.id, Team.name)
                             .where(Team.challenge_id == challenge.id)).all())
    typed: dict[int, str] = {}
    for key, value in request.form.items():
        if key.startswith("award-") and key[6:].isdigit() and int(key[6:]) in names:
            typed[int(key[6:])] = value
    return typed, {names[tid]: text for tid, text in typed.items()}


@admin_bp.post("/publish")
@role_required(ORGANIZER)
def publish(slug: str):
    """Publish the results as computed now: a new immutable version."""
    dbs = db_session()
    challenge = results.get_challenge(dbs, slug)
    typed, awards = _typed_awards(dbs, challenge)
    confirm = request.form.get("confirm_unscored") == "yes"
    based_on = request.form.get("based_on", type=int)
    try:
        snapshot = results.publish(dbs, challenge, current_actor(), awards,
                                   confirm_unscored=confirm, based_on=based_on)
    except results.AlreadyPublished as exc:
        dbs.rollback()
        first = exc.snapshot
        if (first.published_by == current_user.id
                and clock.now() - first.published_at <= DUPLICATE_WINDOW):
            flash(f"Version {first.version} of the results is published.", "success")
            return redirect(url_for("results_admin.dashboard", slug=slug, _anchor="history"))
        return _dashboard(challenge, typed=typed, confirm=confirm, error=exc.message,
                          status=exc.status_code)
    except ValidationFailed as exc:
        dbs.rollback()
        return _dashboard(challenge, typed=typed, confirm=confirm, problems=exc.problems,
                          status=exc.status_code)
    except DomainError as exc:
        dbs.rollback()
        return _dashboard(challenge, typed=typed, confirm=confirm, error=exc.message,
                          status=exc.status_code)
    dbs.commit()
    flash(f"Version {snapshot.version} of the results is published.", "success")
    return redirect(url_for("results_admin.dashboard", slug=slug, _anchor="history"))


@admin_bp.post("/versions/<int:version>/release-feedback")
@role_required(ORGANIZER)
def release_feedback(slug: str, version: int):
    """Let every team read the feedback its reviews carry (newest version only)."""
    dbs = db_session()
    challenge = results.get_challenge(dbs, slug)
    snapshot = results.snapshot_version(dbs, challenge, version)
    try:
        results.release_feedback(dbs, snapshot, current_actor())
    except DomainError as exc:
        dbs.rollback()
        flash(exc.message, "error")
        return redirect(url_for("results_admin.dashboard", slug=slug, _anchor="history"))
    dbs.commit()
    flash("Feedback is released: each team can now read the feedback on its own entry.",
          "success")
    return redirect(url_for("results_admin.dashboard", slug=slug, _anchor="history"))


@admin_bp.get("/export.csv")
@role_required(ORGANIZER)
def export(slug: str):
    """The newest (or ?version=N) published results as formula-safe CSV; audited."""
    dbs = db_session()
    dbs.commit()  # end the read transaction: the audit event below writes (SQLite)
    set_write_intent(True)
    challenge = results.get_challenge(dbs, slug)
    version = _version_arg()
    snapshot = (results.snapshot_version(dbs, challenge, version) if version
                else results.latest_snapshot(dbs, challenge))
    if snapshot is None:
        raise NotFound("No results are published yet.")
    body = results.export_csv(snapshot)
    audit.record(dbs, "results.exported", actor=current_actor(),
                 target=f"challenge:{challenge.slug}", ip=request.remote_addr,
                 version=snapshot.version)
    dbs.commit()
    filename = f"{challenge.slug}-results-v{snapshot.version}.csv"
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --------------------------------------------------------------------------- public


def _version_arg() -> int | None:
    raw = request.args.get("version")
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        abort(404)
    return int(raw)


def _visible_challenge(dbs: Session, slug: str) -> Challenge:
    challenge = results.get_challenge(dbs, slug)
    if not challenge.published and not _is_organizer():
        raise NotFound("There is no challenge at this address.")
    return challenge


@bp.get("/c/<slug>/results")
def public(slug: str):
    """The published results (newest, or ?version=N), read from the snapshot only: one
    page of the ranking (?page=N), the awards on the first, the unranked after the last.

    Anonymous visitors get the page rendered once per process for the same challenge row,
    newest snapshot (immutable: publishing makes a new one), version and page number."""
    dbs = db_session()
    challenge = _visible_challenge(dbs, slug)
    number = page_number()
    version = _version_arg()
    newest_snapshot = published.newest(dbs, challenge)
    key = None
    if pagecache.for_anonymous():
        key = ("results", challenge.id, challenge.slug, challenge.updated_at,
               newest_snapshot.id if newest_snapshot else None, version, number)
        cached = pagecache.get(key)
        if cached is not None:
            return cached
    html = _public_page(dbs, challenge, newest_snapshot, version, number)
    return pagecache.put(key, html) if key is not None else html


def _public_page(dbs: Session, challenge: Challenge, newest_snapshot: ResultSnapshot | None,
                 version: int | None, number: int) -> str:
    snapshot = published.version(dbs, challenge, version) if version else newest_snapshot
    if snapshot is None:
        return render_template("judging/results/not_published.html", challenge=challenge)
    rows, total = published.ranking(dbs, snapshot, limit=PER_PAGE,
                                    offset=(number - 1) * PER_PAGE)
    page = Page(rows, total, number, PER_PAGE)
    versions = published.versions(dbs, challenge)
    my_team = results.team_of(dbs, current_user, challenge) if (
        current_user.is_authenticated) else None
    return render_template("judging/results/public.html", challenge=challenge,
                           snapshot=snapshot, page=page, versions=versions, my_team=my_team,
                           awards=published.awarded(dbs, snapshot) if number == 1 else [],
                           # after the last rank, like a printed list
                           unranked=published.unranked(dbs, snapshot) if (
                               number == page.pages) else [],
                           newest=versions[0].version if versions else snapshot.version)


@bp.get("/c/<slug>/results/feedback")
def feedback(slug: str):
    """A team's own feedback from the judges, once the organizers release it."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    dbs = db_session()
    challenge = _visible_challenge(dbs, slug)
    team = results.team_of(dbs, current_user, challenge)
    if team is None:
        raise Forbidden("Only members of a team in this challenge can read its feedback.")
    texts = results.team_feedback(dbs, team)
    latest = published.newest(dbs, challenge)
    mine = published.entry_of_team(dbs, latest, team.id)
    return render_template("judging/results/feedback.html", challenge=challenge, team=team,
                           texts=texts, latest=latest, mine=mine)


# --------------------------------------------------------------------------- outcomes


def outcome_section(session: Session, survey: Survey) -> Markup | str:
    """The winning projects of every published challenge built on this survey, with the
    guidelines they address (from the snapshots), for "what your answers led to"."""
    newest = (select(ResultSnapshot.challenge_id, func.max(ResultSnapshot.version).label("v"))
              .group_by(ResultSnapshot.challenge_id).subquery())
    rows = session.execute(
        select(Challenge, ResultSnapshot.id)
        .join(newest, newest.c.challenge_id == Challenge.id)
        .join(ResultSnapshot, (ResultSnapshot.challenge_id == Challenge.id)
              & (ResultSnapshot.version == newest.c.v))
        .where(Challenge.survey_id == survey.id, Challenge.published.is_(True))
        .order_by(ResultSnapshot.published_at.desc())).all()
    if not rows:
        return ""
    doc = guidelines.published(session, survey)
    titles = {item.key: item.title for item in doc.items} if doc else {}
    winners = published.top_entries(session, [sid for _c, sid in rows], OUTCOME_TOP)
    blocks = [(challenge, winners[sid]) for challenge, sid in rows]
    html = render_template("judging/results/_outcomes.html", blocks=blocks, titles=titles)
    return Markup(html)  # noqa: S704 - rendered by Jinja with autoescape on


def init_app(app: Flask) -> None:
    """Register the blueprints and the outcome section."""
    app.register_blueprint(admin_bp)
    app.register_blueprint(bp)
    register_outcome_section(app, outcome_section)
