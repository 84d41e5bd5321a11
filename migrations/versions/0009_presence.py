"""Agents' presence: the last beat from a process holding an agent's console open.

Revision ID: 0009_presence
Revises: 0008_support
Create Date: 2026-11-29 22:44:36.066369
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paydesk.core.db import UTCDateTime

revision = '0009_presence'
down_revision = '0008_support'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('support_agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seen_at', UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('support_agents', schema=None) as batch_op:
        batch_op.drop_column('seen_at')
