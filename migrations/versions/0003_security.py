"""Account security: lockout counters and 2-step on users, login failures, password resets, recovery codes,
the activity log. New user columns have server defaults, so the migration is safe on a live table.

Revision ID: 0003_security
Revises: 0002_wallet
Create Date: 2026-11-29 17:47:36.988390
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paydesk.core.db import UTCDateTime, UUIDType

revision = "0003_security"
down_revision = "0002_wallet"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_failures',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('user_id', UUIDType(), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures'))
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index('ix_login_failures_ip_at', ['ip', 'at'], unique=False)
        batch_op.create_index('ix_login_failures_user_at', ['user_id', 'at'], unique=False)

    op.create_table('password_resets',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', UUIDType(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.Column('used_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_password_resets_user_id_users')),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_password_resets'))
    )
    op.create_table('recovery_codes',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('user_id', UUIDType(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('used_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes'))
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index('ix_recovery_codes_user_id', ['user_id'], unique=False)

    op.create_table('security_events',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('user_id', UUIDType(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_security_events_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_security_events'))
    )
    with op.batch_alter_table('security_events', schema=None) as batch_op:
        batch_op.create_index('ix_security_events_user_time', ['user_id', 'created_at'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('lock_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_enabled')
        batch_op.drop_column('totp_secret')
        batch_op.drop_column('locked_until')
        batch_op.drop_column('lock_count')
        batch_op.drop_column('failed_logins')

    with op.batch_alter_table('security_events', schema=None) as batch_op:
        batch_op.drop_index('ix_security_events_user_time')

    op.drop_table('security_events')
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_recovery_codes_user_id')

    op.drop_table('recovery_codes')
    op.drop_table('password_resets')
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failures_user_at')
        batch_op.drop_index('ix_login_failures_ip_at')

    op.drop_table('login_failures')
