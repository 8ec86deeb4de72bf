"""Results commands (CONTRACTS.md "Judging"):

- `judging results SLUG --format json|text` computes the results now (publishes nothing);
- `results publish SLUG [--award TEAM=AWARD ...] [--confirm-unscored]` writes a new
  immutable snapshot version;
- `results export SLUG [--version N]` prints the newest (or version N) snapshot as
  formula-safe CSV.

Documents go to stdout, summaries and problems to stderr (exit status 1).
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import AppGroup

from challenge.cli import audit_export, fail, run_service
from challenge.db import db_session
from challenge.errors import DomainError, ValidationFailed
from challenge.judging import results
from challenge.judging.cli import judging_cli

results_cli = AppGroup("results", help="Published results: publish and export snapshots.")


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_text(data: dict[str, Any]) -> str:
    """A readable rendering of the results document (numbers rounded for reading)."""
    zscore = data["normalization"] == "zscore"
    lines = [f"results of {data['challenge']} (normalization: {data['normalization']}; "
             f"not published)", ""]
    if not data["entries"]:
        lines.append("no entry has a complete review yet")
    for e in data["entries"]:
        flag = "  FLAGGED (judges disagree)" if e["flagged"] else ""
        score = (f"z {_fmt(e['normalized_score'], 2)}  raw {_fmt(e['raw_score'])}" if zscore
                 else f"score {_fmt(e['raw_score'])}")
        lines.append(f"  {e['rank']:>3}. {e['team']}: {e['title']}  {score}  "
                     f"reviews {e['reviews']}  spread {_fmt(e['spread'])}{flag}")
    if data.get("unscored"):
        lines += ["", "no complete review (unranked): "
                  + ", ".join(u["team"] for u in data["unscored"])]
    rel = data["reliability"]
    lines += ["", f"reliability: Krippendorff's alpha {_fmt(rel['krippendorff_alpha'], 2)}"]
    lines += [f"  {key}: {_fmt(alpha, 2)}" for key, alpha in rel["per_criterion"].items()]
    if data.get("reviews_for_alpha_08"):
        lines.append(f"  about {data['reviews_for_alpha_08']} reviews per entry would reach "
                     f"alpha 0.8")
    lines += ["", "judges:"]
    lines += [f"  {j['email']}: reviews {j['reviews']}  mean {_fmt(j['mean'])}  "
              f"leniency {_fmt(j['leniency'])}" for j in data["judges"]]
    return "\n".join(lines)


@judging_cli.command("results")
@click.argument("slug")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="text",
              show_default=True, help="json: one JSON document with unrounded numbers.")
def results_command(slug: str, fmt: str) -> None:
    """Compute the results of challenge SLUG now (does not publish)."""
    session = db_session()
    try:
        data = results.compute(session, results.get_challenge(session, slug)).as_json()
    except DomainError as exc:
        fail(getattr(exc, "problems", [exc.message]))
    finally:
        session.rollback()  # read only
    # Not published, but the document (scores, judges' e-mails) leaves the platform.
    audit_export("results.exported", f"challenge:{slug}", what="computed", format=fmt)
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, allow_nan=False))
    else:
        click.echo(render_text(data))


@results_cli.command("publish")
@click.argument("slug")
@click.option("--award", "awards", multiple=True, metavar="TEAM=AWARD",
              help='An award shown beside a team, e.g. --award "GlucoGo=Grand prize".')
@click.option("--confirm-unscored", is_flag=True,
              help="Publish even though some submitted entries have no complete review "
                   "(they stay unranked).")
def publish_command(slug: str, awards: tuple[str, ...], confirm_unscored: bool) -> None:
    """Publish the results of challenge SLUG as a new immutable version."""

    def _publish(session):
        challenge = results.get_challenge(session, slug)
        named = results.parse_award_options(session, challenge, awards)
        try:
            return results.publish(session, challenge, None, named,
                                   confirm_unscored=confirm_unscored)
        except results.UnscoredEntries as exc:
            raise ValidationFailed([
                f"{slug}: these entries have no complete review: {', '.join(exc.teams)}",
                "add --confirm-unscored to publish anyway (they stay unranked)"]) from exc

    snapshot = run_service(_publish)
    unranked = len(snapshot.data.get("unscored", []))
    extra = f", {unranked} unranked" if unranked else ""
    click.echo(f"published version {snapshot.version} of the results of {slug} "
               f"({len(snapshot.entries)} entries{extra})", err=True)


@results_cli.command("export")
@click.argument("slug")
@click.option("--version", "version", type=click.IntRange(min=1), default=None,
              help="A published version (default: the newest).")
def export_command(slug: str, version: int | None) -> None:
    """Print the published results of challenge SLUG as CSV (formula-safe)."""
    session = db_session()
    try:
        challenge = results.get_challenge(session, slug)
        snapshot = (results.snapshot_version(session, challenge, version) if version
                    else results.latest_snapshot(session, challenge))
        if snapshot is None:
            fail(f"{slug}: no results are published yet (run `results publish {slug}`)")
        body = results.export_csv(snapshot)
    except DomainError as exc:
        fail(getattr(exc, "problems", [exc.message]))
    finally:
        session.rollback()
    audit_export("results.exported", f"challenge:{slug}", version=snapshot.version)
    click.echo(body, nl=False)
