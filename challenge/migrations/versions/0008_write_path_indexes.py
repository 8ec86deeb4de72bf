"""write-path indexes: fewer index entries per survey submission

- survey_answer.safety_flag_id: almost no answer is flagged, yet the full index took an
  entry for each of the two dozen answers a submission writes. A partial index finds the
  flagged answers just as well (every lookup is by a flag id, which implies NOT NULL).
- survey_response: the single-column indexes on survey_id, status and submitted_on served
  no query the (survey_id, status) index does not (every query names the survey first),
  and submitting a response rewrote entries in all three.

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
_RESPONSE_COLUMNS = ('status', 'submitted_on', 'survey_id')


def upgrade() -> None:
    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_answer_safety_flag_id')
        batch_op.create_index('ix_survey_answer_safety_flag_id', ['safety_flag_id'],
                              unique=False, postgresql_where=_FLAGGED, sqlite_where=_FLAGGED)
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        for column in _RESPONSE_COLUMNS:
            batch_op.drop_index(f'ix_survey_response_{column}')


def downgrade() -> None:
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        for column in _RESPONSE_COLUMNS:
            batch_op.create_index(f'ix_survey_response_{column}', [column], unique=False)
    with op.batch_alter_table('survey_answer', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_answer_safety_flag_id')
        batch_op.create_index('ix_survey_answer_safety_flag_id', ['safety_flag_id'],
                              unique=False)
