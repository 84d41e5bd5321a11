"""`users.frozen_at`: outgoing money stops after a "this wasn't me" report (nullable: safe on a live table).

Revision ID: 0004_freeze
Revises: 0003_security
Create Date: 2026-11-29 17:56:07.093217
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paydesk.core.db import UTCDateTime

revision = "0004_freeze"
down_revision = "0003_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('frozen_at', UTCDateTime(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('frozen_at')

