"""Every password-reset request, for a known account or not: a job sends the links; the per-address cap
counts them.

Revision ID: 0011_reset_requests
Revises: 0010_help
Create Date: 2026-11-30 01:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paydesk.core.db import UTCDateTime, UUIDType

revision = '0011_reset_requests'
down_revision = '0010_help'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('password_reset_requests',
    sa.Column('id', UUIDType(), nullable=False),
    sa.Column('user_id', UUIDType(), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('handled_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_reset_requests'))
    )
    op.create_index('ix_password_reset_requests_ip_at', 'password_reset_requests', ['ip', 'at'], unique=False)
    op.create_index('ix_password_reset_requests_handled_at', 'password_reset_requests', ['handled_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_password_reset_requests_handled_at', table_name='password_reset_requests')
    op.drop_index('ix_password_reset_requests_ip_at', table_name='password_reset_requests')
    op.drop_table('password_reset_requests')
