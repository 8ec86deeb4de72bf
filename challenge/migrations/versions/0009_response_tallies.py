"""response tallies: each submitted response's answers condensed for the insight report

The report used to regroup every answer (two dozen per response) on each recomputation;
it now writes one condensed row per response once (segment values, packed need ratings)
and counts those. See surveys/insight_counts.py.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 09:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_WORDS = ('tally_w0', 'tally_w1', 'tally_w2', 'tally_w3')


def upgrade() -> None:
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tally_layout', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('tally_segments', sa.Text(), nullable=True))
        for word in _WORDS:
            batch_op.add_column(sa.Column(word, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        for column in ('tally_layout', 'tally_segments', *_WORDS):
            batch_op.drop_column(column)
