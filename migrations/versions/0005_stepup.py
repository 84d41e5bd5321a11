"""Step-up confirmations for payments, the low-value exemption's counters, saved withdrawal destinations,
and the country of a sign-in.

Revision ID: 0005_stepup
Revises: 0004_freeze
Create Date: 2026-11-29 19:24:57.508270
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paydesk.core.db import UTCDateTime, UUIDType

revision = '0005_stepup'
down_revision = '0004_freeze'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('step_up_challenges',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('user_id', UUIDType(), nullable=False),
    sa.Column('binding', sa.String(length=64), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_step_up_challenges_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_step_up_challenges'))
    )
    with op.batch_alter_table('step_up_challenges', schema=None) as batch_op:
        batch_op.create_index('ix_step_up_challenges_user_id', ['user_id'], unique=False)

    op.create_table('wallet_destinations',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('user_id', UUIDType(), nullable=False),
    sa.Column('label', sa.String(length=60), nullable=False),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('destination', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('removed_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_wallet_destinations_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wallet_destinations'))
    )
    with op.batch_alter_table('wallet_destinations', schema=None) as batch_op:
        batch_op.create_index('ix_wallet_destinations_user_id', ['user_id'], unique=False)

    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('country', sa.String(length=2), server_default='', nullable=False))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sca_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('sca_eur_cents', sa.BigInteger(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('sca_eur_cents')
        batch_op.drop_column('sca_count')

    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_column('country')

    with op.batch_alter_table('wallet_destinations', schema=None) as batch_op:
        batch_op.drop_index('ix_wallet_destinations_user_id')

    op.drop_table('wallet_destinations')
    with op.batch_alter_table('step_up_challenges', schema=None) as batch_op:
        batch_op.drop_index('ix_step_up_challenges_user_id')

    op.drop_table('step_up_challenges')
