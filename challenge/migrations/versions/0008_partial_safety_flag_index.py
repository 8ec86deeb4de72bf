"""survey answers: index safety_flag_id only where it is set

Almost every answer has no safety flag, yet the full index took an entry for each of the
two dozen answers a submission writes. A partial index finds the flagged answers just as
well (every lookup is by a flag id, which implies NOT NULL) and costs inserts nothing.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 22:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_FLAGGED = sa.text('safety_flag_id IS NOT NULL')


def upgrade() -> None:
    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_answer_safety_flag_id')
        batch_op.create_index('ix_survey_answer_safety_flag_id', ['safety_flag_id'],
                              unique=False, postgresql_where=_FLAGGED, sqlite_where=_FLAGGED)


def downgrade() -> None:
    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_answer_safety_flag_id')
        batch_op.create_index('ix_survey_answer_safety_flag_id', ['safety_flag_id'],
                              unique=False)
