"""page-reading indexes: result entries by rank, submitted responses by survey

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 20:45:00.000000
"""

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('result_entry', schema=None) as batch_op:
        batch_op.create_index('ix_result_entry_snapshot_rank', ['snapshot_id', 'rank', 'id'],
                              unique=False)
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.create_index('ix_survey_response_survey_status', ['survey_id', 'status'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        batch_op.drop_index('ix_survey_response_survey_status')
    with op.batch_alter_table('result_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_result_entry_snapshot_rank')
