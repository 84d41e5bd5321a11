"""Fee schedule versions, quotes, exchange rates; a transaction's fee rule and an exchange's target.

Revision ID: 0006_fees_fx
Revises: 0005_stepup
Create Date: 2026-11-29 19:57:35.407435
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paydesk.core.db import UTCDateTime, UUIDType

revision = '0006_fees_fx'
down_revision = '0005_stepup'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fee_schedules',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('effective_at', UTCDateTime(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('created_by', UUIDType(), nullable=True),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_fee_schedules'))
    )
    op.create_table('fx_rates',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('currency', sa.String(length=10), nullable=False),
    sa.Column('per_eur', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('as_of', UTCDateTime(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fx_rates'))
    )
    with op.batch_alter_table('fx_rates', schema=None) as batch_op:
        batch_op.create_index('ix_fx_rates_currency_as_of', ['currency', 'as_of'], unique=False)

    op.create_table('quotes',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('user_id', UUIDType(), nullable=False),
    sa.Column('operation', sa.String(length=12), nullable=False),
    sa.Column('binding', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=10), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('fee', sa.BigInteger(), nullable=False),
    sa.Column('fee_rule', sa.String(length=80), nullable=True),
    sa.Column('to_currency', sa.String(length=10), nullable=True),
    sa.Column('to_amount', sa.BigInteger(), nullable=True),
    sa.Column('rate', sa.String(length=40), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.Column('used_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_quotes_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quotes'))
    )
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.create_index('ix_quotes_user_id', ['user_id'], unique=False)

    with op.batch_alter_table('wallet_transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fee_rule', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('to_currency', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('to_amount', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('rate', sa.String(length=40), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('wallet_transactions', schema=None) as batch_op:
        batch_op.drop_column('rate')
        batch_op.drop_column('to_amount')
        batch_op.drop_column('to_currency')
        batch_op.drop_column('fee_rule')

    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.drop_index('ix_quotes_user_id')

    op.drop_table('quotes')
    with op.batch_alter_table('fx_rates', schema=None) as batch_op:
        batch_op.drop_index('ix_fx_rates_currency_as_of')

    op.drop_table('fx_rates')
    op.drop_table('fee_schedules')
