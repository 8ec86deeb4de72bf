"""idempotency keys

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 20:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import challenge.db


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idempotency_key',
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('endpoint', sa.String(length=300), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('location', sa.String(length=500), nullable=False),
    sa.Column('created_at', challenge.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key_hash', name=op.f('pk_idempotency_key'))
    )
    with op.batch_alter_table('idempotency_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_key_created_at'), ['created_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('idempotency_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_key_created_at'))

    op.drop_table('idempotency_key')
