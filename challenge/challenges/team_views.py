"""Team pages: form a team, invite, ask to join, manage members, accept an invitation.

Thin routes: load, check who may act (the services check again), call one service,
commit, redirect. Authorization failures (NotFound, Forbidden) become error pages; other
domain errors re-render the page with the message and their 4xx status.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required

from challenge.challenges import teams
from challenge.challenges.team_forms import (
    ActionForm,
    InviteEmailForm,
    InviteLinkForm,
    JoinRequestForm,
    TeamForm,
)
from challenge.clock import now
from challenge.dashboard import Panel, register_panel
from challenge.db import db_session
from challenge.errors import DomainError, Forbidden, NotFound
from challenge.pagination import PER_PAGE, Page, page_number
from challenge.security import role_required

bp = Blueprint("teams", __name__)

_NEW_LINK_KEY = "team_new_invite_link"
_AUTHORIZATION_ERRORS = (NotFound, Forbidden)


def _field_error(form, exc: DomainError) -> bool:
    """Put a service error beside the field it names; False when it names none."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is None:
        return False
    field.errors = list(field.errors) + list(getattr(exc, "problems", [exc.message]))
    return True


def _phase(challenge) -> dict:
    moment = now()
    return {
        "registration_open": teams.registration_open(challenge, moment),
        "not_yet_open": moment < challenge.registration_opens,
        "changes_allowed": teams.team_changes_allowed(challenge, moment),
    }


# --- a challenge's team page --------------------------------------------------------------

def _render_for_challenge(challenge, *, form=None, link_form=None, status: int = 200):
    dbs = db_session()
    organizer = current_user.has_role("organizer")
    number = page_number()
    rows, total = teams.open_teams_page(dbs, challenge, current_user, limit=PER_PAGE,
                                        offset=(number - 1) * PER_PAGE)
    return render_template(
        "challenges/teams/for_challenge.html",
        challenge=challenge,
        phase=_phase(challenge),
        organizer=organizer,
        form=form or TeamForm(formdata=None),
        link_form=link_form or InviteLinkForm(formdata=None),
        page=Page(rows, total, number, PER_PAGE),
        action_form=ActionForm(formdata=None),
    ), status


@bp.get("/c/<slug>/team", endpoint="for_challenge")
@role_required("entrant", "organizer")
def for_challenge(slug: str):
    """The viewer's team in this challenge, or how to create or join one."""
    dbs = db_session()
    challenge = teams.get_challenge(dbs, slug, current_user)
    mine = teams.team_for_user(dbs, current_user, challenge)
    if mine is not None:
        return redirect(url_for("teams.show", team_id=mine.id))
    return _render_for_challenge(challenge)


@bp.post("/c/<slug>/teams")
@role_required("entrant", "organizer")
def create(slug: str):
    """Create a team; the creator becomes its captain."""
    dbs = db_session()
    challenge = teams.get_challenge(dbs, slug, current_user)
    form = TeamForm()
    if form.validate_on_submit():
        try:
            team = teams.create_team(dbs, challenge, current_user, form.name.data)
        except DomainError as exc:
            dbs.rollback()
            if not _field_error(form, exc):
                flash(exc.message, "error")
            return _render_for_challenge(challenge, form=form, status=exc.status_code)
        dbs.commit()
        flash("Your team is created and you are its captain. Invite your teammates below.",
              "success")
        return redirect(url_for("teams.show", team_id=team.id))
    return _render_for_challenge(challenge, form=form, status=422)


@bp.post("/c/<slug>/team/invite-link")
@role_required("entrant", "organizer")
def open_invite_link(slug: str):
    """Open a pasted invitation link."""
    dbs = db_session()
    challenge = teams.get_challenge(dbs, slug, current_user)
    link_form = InviteLinkForm()
    if link_form.validate_on_submit():
        try:
            token = teams.token_from_link(link_form.link.data)
        except DomainError as exc:
            link_form.link.errors = list(link_form.link.errors) + [exc.message]
        else:
            return redirect(url_for("teams.accept_invite", token=token))
    return _render_for_challenge(challenge, link_form=link_form, status=422)


# --- one team ---------------------------------------------------------------------------

def _render_team(team, level: str, *, invite_form=None, status: int = 200):
    dbs = db_session()
    captain = level == "captain"
    new_link = session.pop(_NEW_LINK_KEY, None)
    if not (isinstance(new_link, dict) and new_link.get("team_id") == team.id):
        new_link = None
    return render_template(
        "challenges/teams/show.html",
        team=team,
        challenge=team.challenge,
        level=level,
        members=team.memberships,
        phase=_phase(team.challenge),
        invitations=teams.active_invitations(dbs, team) if captain else [],
        requests=teams.pending_requests(dbs, team) if captain else [],
        member_total=len(team.memberships),
        invite_form=invite_form or InviteEmailForm(formdata=None),
        action_form=ActionForm(formdata=None),
        new_link=new_link["url"] if new_link else None,
    ), status


def _load(team_id: int):
    dbs = db_session()
    team = teams.get_team(dbs, team_id)
    return team, teams.require_member(dbs, current_user, team)


@bp.get("/teams/<int:team_id>")
@login_required
def show(team_id: int):
    """The team: members, and for its captain invitations and requests."""
    team, level = _load(team_id)
    return _render_team(team, level)


def _act(team_id: int, action, success: str | None, *, after=None):
    """Run one state-changing service call for a team page button."""
    team, level = _load(team_id)
    if not ActionForm().validate_on_submit():
        flash("The form had expired. Please try again.", "error")
        return _render_team(team, level, status=400)
    dbs = db_session()
    try:
        result = action(dbs, team)
    except _AUTHORIZATION_ERRORS:
        dbs.rollback()
        raise
    except DomainError as exc:
        dbs.rollback()
        flash(exc.message, "error")
        team, level = _load(team_id)
        return _render_team(team, level, status=exc.status_code)
    dbs.commit()
    if success:
        flash(success, "success")
    if after is not None:
        return after(result)
    return redirect(url_for("teams.show", team_id=team_id))


@bp.post("/teams/<int:team_id>/invitations/email")
@login_required
def invite_email(team_id: int):
    """The captain invites someone by e-mail."""
    team, level = _load(team_id)
    form = InviteEmailForm()
    if not form.validate_on_submit():
        return _render_team(team, level, invite_form=form, status=422)
    dbs = db_session()
    try:
        teams.invite_by_email(dbs, team, current_user, form.email.data)
    except _AUTHORIZATION_ERRORS:
        dbs.rollback()
        raise
    except DomainError as exc:
        dbs.rollback()
        if not _field_error(form, exc):
            flash(exc.message, "error")
        team, level = _load(team_id)
        return _render_team(team, level, invite_form=form, status=exc.status_code)
    dbs.commit()
    flash(f"An invitation was sent to {form.email.data}.", "success")
    return redirect(url_for("teams.show", team_id=team_id))


@bp.post("/teams/<int:team_id>/invitations/link")
@login_required
def create_link(team_id: int):
    """The captain creates a shareable invitation link (shown once)."""
    def action(dbs, team):
        created = teams.create_invite_link(dbs, team, current_user)
        return created.url

    def after(url):
        session[_NEW_LINK_KEY] = {"team_id": team_id, "url": url}
        return redirect(url_for("teams.show", team_id=team_id) + "#new-link")

    return _act(team_id, action, None, after=after)


@bp.post("/teams/<int:team_id>/invitations/<int:invitation_id>/revoke")
@login_required
def revoke_invitation(team_id: int, invitation_id: int):
    """The captain withdraws an invitation."""
    return _act(team_id, lambda dbs, team: teams.revoke_invitation(
        dbs, team, invitation_id, current_user), "The invitation was revoked: it no longer works.")


@bp.post("/teams/<int:team_id>/requests/<int:request_id>/accept")
@login_required
def accept_request(team_id: int, request_id: int):
    """The captain lets a requester in."""
    return _act(team_id, lambda dbs, team: teams.accept_request(
        dbs, team, request_id, current_user), "The request was accepted: welcome them!")


@bp.post("/teams/<int:team_id>/requests/<int:request_id>/decline")
@login_required
def decline_request(team_id: int, request_id: int):
    """The captain declines a request."""
    return _act(team_id, lambda dbs, team: teams.decline_request(
        dbs, team, request_id, current_user), "The request was declined.")


@bp.post("/teams/<int:team_id>/members/<int:user_id>/remove")
@login_required
def remove_member(team_id: int, user_id: int):
    """The captain removes a member."""
    return _act(team_id, lambda dbs, team: teams.remove_member(
        dbs, team, user_id, current_user), "The member was removed from the team.")


@bp.post("/teams/<int:team_id>/members/<int:user_id>/captain")
@login_required
def hand_over(team_id: int, user_id: int):
    """The captain hands captaincy to another member."""
    return _act(team_id, lambda dbs, team: teams.hand_over(
        dbs, team, user_id, current_user), "Captaincy was handed over.")


@bp.post("/teams/<int:team_id>/leave")
@login_required
def leave(team_id: int):
    """A member leaves (the last one deletes the team)."""
    slug_holder = {}

    def action(dbs, team):
        slug_holder["slug"] = team.challenge.slug
        return teams.leave(dbs, team, current_user)

    def after(result):
        flash("You left the team and it was deleted." if result.team_deleted
              else "You left the team.", "success")
        return redirect(url_for("teams.for_challenge", slug=slug_holder["slug"]))

    return _act(team_id, action, None, after=after)


# --- asking to join ---------------------------------------------------------------------------

def _joinable_team(team_id: int):
    dbs = db_session()
    team = teams.get_team(dbs, team_id)
    if not team.challenge.published:
        raise NotFound("There is no such team.")
    return team


def _render_request(team, form, *, problem=None, status: int = 200):
    dbs = db_session()
    return render_template(
        "challenges/teams/request.html", team=team, challenge=team.challenge, form=form,
        problem=problem, member_total=teams.member_count(dbs, team),
        pending=teams.pending_request(dbs, team, current_user),
        action_form=ActionForm(formdata=None),
    ), status


@bp.route("/teams/<int:team_id>/request", methods=["GET", "POST"])
@role_required("entrant")
def request_to_join(team_id: int):
    """Ask a team's captain to let you in, with an optional message."""
    dbs = db_session()
    team = _joinable_team(team_id)
    if teams.is_member(dbs, current_user, team):
        return redirect(url_for("teams.show", team_id=team.id))
    form = JoinRequestForm()
    if request.method == "GET":
        pending = teams.pending_request(dbs, team, current_user)
        problem = None if pending else teams.join_problem(dbs, team, current_user)
        return _render_request(team, form, problem=problem)
    if form.validate_on_submit():
        try:
            teams.request_to_join(dbs, team, current_user, form.message.data or "")
        except DomainError as exc:
            dbs.rollback()
            if not _field_error(form, exc):
                flash(exc.message, "error")
            return _render_request(team, form, status=exc.status_code)
        dbs.commit()
        flash("Your request was sent to the captain. You will hear by e-mail.", "success")
        return redirect(url_for("teams.for_challenge", slug=team.challenge.slug))
    return _render_request(team, form, status=422)


@bp.post("/teams/<int:team_id>/request/cancel")
@role_required("entrant")
def cancel_request(team_id: int):
    """Withdraw your pending request."""
    dbs = db_session()
    team = _joinable_team(team_id)
    if ActionForm().validate_on_submit():
        teams.cancel_request(dbs, team, current_user)  # NotFound → 404 page
        dbs.commit()
        flash("Your request was withdrawn.", "success")
    return redirect(url_for("teams.for_challenge", slug=team.challenge.slug))


# --- accepting an invitation --------------------------------------------------------------

@bp.route("/invite/team/<token>", methods=["GET", "POST"], endpoint="accept_invite")
def accept_invite(token: str):
    """Show the team an invitation opens, and let a logged-in entrant join it."""
    dbs = db_session()
    try:
        invitation = teams.invitation_for_token(dbs, token)
    except DomainError as exc:
        return render_template("challenges/teams/invite_invalid.html",
                               message=exc.message, status=exc.status_code), exc.status_code
    team = teams.get_team(dbs, invitation.team_id)
    context = {"team": team, "challenge": team.challenge, "invitation": invitation,
               "member_total": teams.member_count(dbs, team),
               "action_form": ActionForm(formdata=None)}
    if not current_user.is_authenticated:
        if request.method == "POST":
            return current_app.login_manager.unauthorized()
        return render_template("challenges/teams/invite.html", problem=None, **context)
    if teams.is_member(dbs, current_user, team):
        flash("You are already in this team.", "info")
        return redirect(url_for("teams.show", team_id=team.id))
    if request.method == "POST" and ActionForm().validate_on_submit():
        try:
            teams.accept_invitation(dbs, token, current_user)
        except DomainError as exc:
            dbs.rollback()
            return render_template("challenges/teams/invite.html", problem=exc.message,
                                   **context), exc.status_code
        dbs.commit()
        flash(f"Welcome to {team.name}!", "success")
        return redirect(url_for("teams.show", team_id=team.id))
    problem = teams.invitation_problem(dbs, invitation, current_user)
    if problem is not None:
        return render_template("challenges/teams/invite.html", problem=problem.message,
                               **context), problem.status_code
    return render_template("challenges/teams/invite.html", problem=None, **context)


# --- the entrant's dashboard panel --------------------------------------------------------

PANEL_TITLE = "Your teams"


def _panel(dbs, user) -> dict:
    return {"teams": teams.teams_of(dbs, user),
            "open_challenges": teams.challenges_open_for_registration(dbs, user)}


def register_team_panels(app: Flask) -> None:
    """The entrant's "Your teams" panel on the dashboard."""
    register_panel(app, Panel("entrant", PANEL_TITLE, "challenges/teams/_panel.html",
                              order=20, loader=_panel))
