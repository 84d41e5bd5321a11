"""Promotions and their redemptions; the promotion behind a quote or a transaction.

Revision ID: 0007_promotions
Revises: 0006_fees_fx
Create Date: 2026-11-29 20:14:06.728787
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paydesk.core.db import UTCDateTime, UUIDType

revision = '0007_promotions'
down_revision = '0006_fees_fx'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('promotions',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=True),
    sa.Column('label', sa.JSON(), nullable=False),
    sa.Column('starts_at', UTCDateTime(), nullable=False),
    sa.Column('ends_at', UTCDateTime(), nullable=False),
    sa.Column('operation', sa.String(length=12), nullable=True),
    sa.Column('currency', sa.String(length=10), nullable=True),
    sa.Column('method', sa.String(length=32), nullable=True),
    sa.Column('new_users_days', sa.Integer(), nullable=True),
    sa.Column('first_n', sa.Integer(), nullable=True),
    sa.Column('percent_off', sa.String(length=12), nullable=False),
    sa.Column('cap', sa.JSON(), nullable=False),
    sa.Column('per_user_limit', sa.Integer(), nullable=False),
    sa.Column('total_limit', sa.Integer(), nullable=True),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotions')),
    sa.UniqueConstraint('code', name=op.f('uq_promotions_code'))
    )
    op.create_table('promotion_redemptions',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('promotion_id', UUIDType(), nullable=False),
    sa.Column('user_id', UUIDType(), nullable=False),
    sa.Column('discount', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=10), nullable=False),
    sa.Column('transaction_id', UUIDType(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['promotion_id'], ['promotions.id'],
                            name=op.f('fk_promotion_redemptions_promotion_id_promotions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_promotion_redemptions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_redemptions'))
    )
    with op.batch_alter_table('promotion_redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_promotion_redemptions_promotion_user', ['promotion_id', 'user_id'], unique=False)

    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('promotion_id', UUIDType(), nullable=True))
        batch_op.add_column(sa.Column('fee_before', sa.BigInteger(), nullable=True))

    with op.batch_alter_table('wallet_transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('promotion_id', UUIDType(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('wallet_transactions', schema=None) as batch_op:
        batch_op.drop_column('promotion_id')

    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.drop_column('fee_before')
        batch_op.drop_column('promotion_id')

    with op.batch_alter_table('promotion_redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_promotion_redemptions_promotion_user')

    op.drop_table('promotion_redemptions')
    op.drop_table('promotions')
