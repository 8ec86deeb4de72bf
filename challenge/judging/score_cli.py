"""`flask --app challenge judging import-scores SLUG FILE.csv` (CONTRACTS.md "Judging").

Thin: read the file, validate all of it and write it in one transaction (see
`challenge.judging.score_import`), commit once. Problems go to stderr, one line each,
naming the file, row and column; exit status 1 and nothing changed. The summary goes to
stderr too (stdout stays empty).
"""

from __future__ import annotations

from pathlib import Path

import click

from challenge.challenges.services import get_challenge
from challenge.cli import fail, run_service
from challenge.errors import NotFound
from challenge.judging.cli import judging_cli


@judging_cli.command("import-scores")
@click.argument("slug")
@click.argument("file", type=click.Path(dir_okay=False))
def import_scores_command(slug: str, file: str) -> None:
    """Import scores for challenge SLUG from FILE.csv.

    Header judge,team,criterion,score[,comment]; one row per judge x team x criterion.
    Creates missing assignments and the reviews (submitted when every criterion is
    scored, else draft). The whole file is checked first; importing it again changes
    nothing.
    """
    from challenge.judging import score_import

    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        fail(f"{file}: cannot be read ({exc.strerror or exc})")

    def _import(session):
        try:
            get_challenge(session, slug)
        except NotFound:
            raise NotFound(f"there is no challenge with slug “{slug}”") from None
        return score_import.import_scores(session, slug, data, name=file)

    result = run_service(_import)
    click.echo(score_import.describe(result, file), err=True)
